"""The corpus's users and their sticker histories, as the service offers them (`GET /users`).

    users = UserHistories.from_corpus(corpus)
    users.summary(limit=10)       # [(user_id, history_size), ...], the largest histories first
    users.history("313808630")    # [{"context": ["hi", "how are you ?"], "sticker_id": "5522..."}, ...]

A user's history is every example of the corpus (train, val and test, in
stream order) in which that user sent the sticker: the dialog it answered and
the sticker. `history` returns the last `history_len` of them (the ones the
model reads), oldest first, in the shape of `POST /recommend`'s `history`
field, so a client can send them back as they are.

The corpus keeps dialogs as word ids only, so an utterance comes back as its
kept words joined by spaces: lower-cased as the data was, cut to the model's
`max_words`, the last `context_len` utterances, unknown words as `<unk>`.
Re-encoded by the recommender (`Corpus.encode_context`) it gives back exactly
the word ids the corpus holds (the tests check this), so a history sent back
means to the model what the corpus's does.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np


class UnknownUser(KeyError):
    """A user id that is not in the corpus (the service answers 404)."""


def parse_user_id(value: str) -> int:
    """A user id from a URL: an optionally signed string of decimal digits -> int (ValueError otherwise)."""
    text = str(value)
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii() or len(digits) > 20:
        raise ValueError(f"user id {value!r} is not a string of digits")
    return int(text)


class UserHistories:
    """Each user's sticker replies in a corpus.

    Args:
        corpus: a loaded `stickerchat.data.Corpus` (its `users`, `selected`,
            `contexts` and vocabulary).
    """

    def __init__(self, corpus):
        self.corpus = corpus
        self.history_len = int(corpus.config.history_len)
        users = np.asarray(corpus.users, np.int64)
        order = np.argsort(users, kind="stable")  # stream order within a user
        ids, starts, counts = np.unique(users[order], return_index=True, return_counts=True)
        self._rows: Dict[int, np.ndarray] = {int(u): order[s : s + n] for u, s, n in zip(ids.tolist(), starts.tolist(), counts.tolist())}
        by_size = sorted(self._rows, key=lambda u: (-len(self._rows[u]), u))
        self._summary: List[Tuple[str, int]] = [(str(u), int(len(self._rows[u]))) for u in by_size]

    @classmethod
    def from_corpus(cls, corpus) -> "UserHistories":
        return cls(corpus)

    def __len__(self) -> int:
        return len(self._rows)

    def summary(self, limit: Optional[int] = None) -> List[Tuple[str, int]]:
        """`[(user_id as a string, history size), ...]`, the largest histories first (ties: by id)."""
        return list(self._summary if limit is None else self._summary[:limit])

    def rows(self, user_id) -> np.ndarray:
        """Example-table rows of a user's sticker replies, oldest first (`UnknownUser` if none)."""
        try:
            return self._rows[int(user_id)]
        except (KeyError, ValueError, TypeError):
            raise UnknownUser(f"unknown user {user_id}: not a user of the corpus") from None

    def utterances(self, row: int) -> List[str]:
        """The kept utterances of an example's dialog, oldest first, as space-joined words."""
        out = []
        for words in self.corpus.contexts[int(row)]:
            tokens = self.corpus.vocab.decode(words)
            if tokens:
                out.append(" ".join(tokens))
        return out

    def history(self, user_id, limit: Optional[int] = None) -> List[dict]:
        """The user's last `limit` (default `history_len`) sticker replies, oldest first.

        Each item is `{"context": [utterances], "sticker_id": "<digits>"}`:
        one item of `POST /recommend`'s `history`.
        """
        rows = self.rows(user_id)
        limit = self.history_len if limit is None else int(limit)
        kept = rows[max(0, len(rows) - limit) :] if limit > 0 else rows[:0]
        return [{"context": self.utterances(r), "sticker_id": str(int(self.corpus.selected[r]))} for r in kept.tolist()]
