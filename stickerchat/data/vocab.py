"""Word and emoji-label vocabularies (`vocab`, `emoji_vocab` of a data directory).

Both files hold one token per line, most frequent first. The corpus description
says "one word per line" while the authors' loader kept only lines of exactly
two whitespace-separated fields (`token count`); both forms are accepted, also
mixed in one file. A line with three or more fields is an error that names the
file and line. Blank lines are ignored. The file must be UTF-8 (a byte-order
mark at its start is dropped; other bytes are an error naming file:line) and
hold at least one token. Id 0 is `<pad>` and id 1 `<unk>`
(`stickerchat.specs.PAD_ID`, `UNK_ID`); the file's tokens follow in file order
(a file that lists `<pad>`/`<unk>` itself, or a token twice, keeps the first id).

How a dialog becomes word ids is decided here, once, for the corpus, the
recommender and `explain`: `utterance_words` splits each utterance at
whitespace and drops the empty ones, `context_words` keeps the last
`context_len` of them, each cut to its first `max_words` words, and
`Vocab.encode_context` writes their ids into a `(context_len, max_words)`
array, padding after.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from stickerchat import specs
from stickerchat.data.errors import DataError


def utterance_words(utterances: Iterable[Optional[str]]) -> List[List[str]]:
    """The whitespace-separated words of each non-empty utterance, oldest first.

    An utterance is empty when it has no word (`None`, `""`, only spaces); empty
    ones are dropped.
    """
    words = [t.split() for t in utterances if t]
    return [w for w in words if w]


def context_words(words: Sequence[Sequence[str]], context_len: int, max_words: int) -> List[List[str]]:
    """What a model reads of `utterance_words`: the last `context_len` utterances, each cut to `max_words` words."""
    return [list(w[:max_words]) for w in words[-context_len:]]


class Vocab:
    """A token <-> id map with reserved `<pad>` = 0 and `<unk>` = 1.

    Args:
        tokens: Sequence[str]. Tokens in id order, without the reserved ones
            (they are skipped if present).
        name: str. Where the tokens came from, for messages.
    """

    def __init__(self, tokens: Iterable[str], name: str = "vocab"):
        self.name = name
        self._tokens: List[str] = [specs.PAD_TOKEN, specs.UNK_TOKEN]
        self._ids: Dict[str, int] = {specs.PAD_TOKEN: specs.PAD_ID, specs.UNK_TOKEN: specs.UNK_ID}
        for token in tokens:
            if token not in self._ids:
                self._ids[token] = len(self._tokens)
                self._tokens.append(token)

    @classmethod
    def from_file(cls, path: str) -> "Vocab":
        """Reads a vocabulary file in `token` or `token count` line form.

        Raises:
            DataError: the file is missing or empty, is not UTF-8, or a line
                has 3+ fields or a non-integer count (the message names file
                and line).
        """
        if not os.path.isfile(path):
            raise DataError(f"{path}: vocabulary file not found", "vocab_missing")
        from stickerchat.data.release import decode_line

        tokens = []
        with open(path, "rb") as f:
            for line_number, raw in enumerate(f, start=1):
                line = decode_line(raw, path, line_number, "malformed_vocab_line")
                fields = line.split()
                if not fields:
                    continue
                if len(fields) > 2:
                    raise DataError(
                        f"{path}:{line_number}: expected 'token' or 'token count', got {len(fields)} fields: {line.rstrip()[:80]!r}",
                        "malformed_vocab_line",
                    )
                if len(fields) == 2:
                    count = fields[1]
                    if not (count.isascii() and count.isdigit()):
                        raise DataError(
                            f"{path}:{line_number}: the count {count!r} of token {fields[0]!r} is not an integer",
                            "malformed_vocab_line",
                        )
                tokens.append(fields[0])
        if not tokens:
            raise DataError(f"{path}: the vocabulary is empty (expected one token per line)", "empty_vocab")
        return cls(tokens, name=path)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    @property
    def tokens(self) -> List[str]:
        """All tokens in id order, `<pad>` and `<unk>` first."""
        return list(self._tokens)

    @property
    def token_to_id(self) -> Dict[str, int]:
        """The token -> id dict (read only by convention; fast path for loaders)."""
        return self._ids

    def lookup(self, token: str) -> int:
        """Id of `token`; `UNK_ID` when unknown."""
        return self._ids.get(token, specs.UNK_ID)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of `tokens` as an int32 array (unknown tokens -> `UNK_ID`)."""
        get = self._ids.get
        return np.asarray([get(t, specs.UNK_ID) for t in tokens], dtype=np.int32)

    def encode_context(self, words: Sequence[Sequence[str]], context_len: int, max_words: int) -> np.ndarray:
        """The ids of a dialog's `utterance_words` as a model reads them.

        Args:
            words: Sequence[Sequence[str]]. `utterance_words` of the dialog,
                oldest first.
            context_len: int. Utterances kept (the last ones).
            max_words: int. Words kept per utterance (the first ones).

        Returns:
            np.ndarray int32 `(context_len, max_words)`: row j holds the j-th
            kept utterance, unknown words `UNK_ID`; padding rows and columns
            `PAD_ID` after the real ones.
        """
        out = np.zeros((context_len, max_words), np.int32)
        for j, ws in enumerate(context_words(words, context_len, max_words)):
            out[j, : len(ws)] = self.encode(ws)
        return out

    def decode(self, ids: Iterable[int]) -> List[str]:
        """Tokens of `ids`, padding dropped."""
        return [self._tokens[int(i)] for i in ids if int(i) != specs.PAD_ID]

    def __repr__(self) -> str:
        return f"Vocab({self.name!r}, size={len(self)})"
