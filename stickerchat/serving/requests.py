"""What a request means in the corpus's terms: sticker ids, sticker sets, words, a user's history.

`Recommender` (and through it the catalogue and the HTTP service) checks and
encodes every request here, so a bad one fails the same way everywhere:
`RecommenderError` naming the unknown sticker id or set, the empty dialog or
the malformed history item. Raw text is encoded as the training data was
(`Corpus.encode_context`, the vocabulary's `encode_context`).
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from stickerchat import specs
from stickerchat.data import features as features_lib
from stickerchat.data.release import parse_id

StickerId = Union[int, str]
History = Sequence[Tuple[Sequence[str], StickerId]]


class RecommenderError(ValueError):
    """A request the recommender cannot answer (unknown sticker or set, empty dialog)."""


class UnknownWordsWarning(UserWarning):
    """No word of the dialog is in the model's vocabulary."""


def parse_sticker_id(value) -> int:
    """An exact int sticker id from an int or a string of digits (never via float): `release.parse_id`.

    Raises:
        RecommenderError: floats, booleans, non-numeric strings and ids
            outside the 64-bit range.
    """
    try:
        return parse_id(value, "sticker id")
    except TypeError as e:
        raise RecommenderError(str(e)) from None


def utterance_texts(utterances) -> List[str]:
    """Raw utterances as text: `None` (a JSON null) is an empty utterance, as in the corpus; other values are `str()`-ed."""
    return ["" if u is None else str(u) for u in utterances]


class RequestEncoder:
    """Checks and encodes requests against `self.corpus` (a mix-in of `Recommender`).

    The class using it sets `corpus` (the `stickerchat.data` corpus),
    `history_len` (int) and `_known_ids` (None).
    """

    def known_sticker_ids(self) -> set:
        if self._known_ids is None:
            self._known_ids = {int(i) for i in self.corpus.sticker_set_of}
        return self._known_ids

    def check_sticker_ids(self, sticker_ids: Iterable[StickerId], what: str = "candidate") -> List[int]:
        """Exact int ids; raises `RecommenderError` naming the first unknown one."""
        ids = [parse_sticker_id(i) for i in sticker_ids]
        known = self.known_sticker_ids()
        unknown = [i for i in ids if i not in known]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise RecommenderError(f"unknown {what} sticker id {unknown[0]}{more}: not a sticker of the corpus")
        return ids

    def set_stickers(self, set_id) -> List[int]:
        """The sticker ids of a sticker set, in the corpus's order."""
        sets = self.corpus.sticker_sets
        try:
            key = parse_sticker_id(set_id)
        except RecommenderError:
            raise RecommenderError(f"unknown sticker set {set_id!r}") from None
        if key not in sets:
            raise RecommenderError(f"unknown sticker set {set_id!r}; the corpus has {len(sets)} sets")
        return [int(i) for i in sets[key]]

    def known_words(self, dialog: Sequence[str]) -> Tuple[int, int]:
        """`(known, total)`: words of the dialog's kept utterances that are in the vocabulary."""
        if isinstance(dialog, str):
            dialog = [dialog]
        context = np.asarray(self.corpus.encode_context(utterance_texts(dialog)))
        total = int((context != specs.PAD_ID).sum())
        return total - int((context == specs.UNK_ID).sum()), total

    def sticker_label(self, sticker_id: int) -> str:
        """The sticker's emoji label from its set's `emoji_mapping.txt` ("" when it has none)."""
        return self.corpus.sticker_alt.get(int(sticker_id), "")

    def encode_dialog(self, dialog: Sequence[str]) -> np.ndarray:
        """`(context_len, max_words)` int32 word ids of raw utterances, oldest first."""
        if isinstance(dialog, str):
            raise RecommenderError("the dialog must be a list of utterances, not one string")
        if not any(t.split() for t in utterance_texts(dialog)):
            raise RecommenderError("empty dialog: every utterance is empty; give at least one word")
        return np.asarray(self.corpus.encode_context(utterance_texts(dialog)), np.int32)

    def encode_history(self, user_history: Optional[History]):
        """`(history_context, history_ids, history_mask)` of the last `history_len` items.

        `history_context` is `(history_len, context_len, max_words)`;
        `history_ids` the real items' sticker ids, oldest first.
        """
        history = list(user_history or [])[-self.history_len :] if self.history_len else []
        items = []
        for k, item in enumerate(history):
            try:
                utterances, sticker_id = item
            except (TypeError, ValueError):
                raise RecommenderError(f"history item {k} must be (utterances, sticker_id); got {item!r}") from None
            if isinstance(utterances, str):
                raise RecommenderError(f"history item {k}: utterances must be a list of strings")
            items.append(utterance_texts(utterances))
        ids = self.check_sticker_ids([sticker_id for _, sticker_id in history], "history")
        contexts, ids, mask = features_lib.raw_history(self.corpus, zip(items, ids))
        return contexts, ids, mask
