"""A user's history as model inputs, from corpus rows or from raw text: built here for every caller.

The training pipeline (`pipeline.batch_features`), the recommender
(`Recommender.score_split`, `.encode_history`), `example_inputs` and the
recall stage read a history through these functions, so a history slot means
the same everywhere:

* slots are oldest first, real ones before the padding;
* a padded slot has an all-`PAD_ID` context, mask 0 and sticker id / store
  row -1 (a store row of -1 reads a zero image);
* a history utterance is encoded like a dialog (`Corpus.encode_context`).

Corpus histories are `SplitData.history` rows: indices into the corpus-wide
example table, -1 padding.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np


def history_mask(history: np.ndarray) -> np.ndarray:
    """bool `(..., history_len)`: the real slots of example-table rows `history` (-1: padding)."""
    return np.asarray(history) >= 0


def history_context(corpus, history: np.ndarray) -> np.ndarray:
    """int32 `(..., history_len, context_len, max_words)`: the dialogs of the history items, zeros in padded slots."""
    history = np.asarray(history)
    mask = history_mask(history)
    return (corpus.contexts[np.maximum(history, 0)] * mask[..., None, None].astype(np.int32)).astype(np.int32)


def history_sticker_ids(corpus, history: np.ndarray) -> np.ndarray:
    """int64 `(..., history_len)`: the sticker chosen in each history item, -1 in padded slots."""
    history = np.asarray(history)
    return np.where(history_mask(history), corpus.selected[np.maximum(history, 0)], -1)


def history_store_rows(corpus, history: np.ndarray) -> np.ndarray:
    """int64 `(..., history_len)`: packed-store rows of the history stickers, -1 in padded slots."""
    history = np.asarray(history)
    return np.where(history_mask(history), corpus.selected_rows[np.maximum(history, 0)], -1)


def raw_history(
    corpus, items: Iterable[Tuple[Sequence[Optional[str]], int]]
) -> Tuple[np.ndarray, List[int], np.ndarray]:
    """A history given as raw text: `(history_context, sticker_ids, mask)`.

    Args:
        corpus: the corpus (its vocabulary and shapes).
        items: `(utterances, sticker_id)` pairs, oldest first; the last
            `history_len` are kept.

    Returns:
        `history_context` int32 `(history_len, context_len, max_words)`,
        `sticker_ids` the kept items' ids (one per real slot, oldest first)
        and `mask` bool `(history_len,)`.
    """
    c = corpus.config
    items = list(items)[-c.history_len :] if c.history_len else []
    context = np.zeros((c.history_len, c.context_len, c.max_words), np.int32)
    mask = np.zeros((c.history_len,), bool)
    for j, (utterances, _) in enumerate(items):
        context[j] = corpus.encode_context(utterances)
        mask[j] = True
    return context, [int(sticker_id) for _, sticker_id in items], mask


def example_inputs(corpus, split: str, position: int) -> dict:
    """The encoded pieces of the `position`-th example of a corpus split.

    Returns a dict with `context`, `history_context`, `history_ids` (the real
    slots' sticker ids, oldest first), `history_mask`, `candidate_ids` (the
    split's fixed candidates) and `label` (slot of the ground truth), as the
    training pipeline sees them.
    """
    data = corpus.split(split)
    history = data.history[position]
    mask = history_mask(history)
    return {
        "context": corpus.contexts[data.index[position]],
        "history_context": history_context(corpus, history),
        "history_ids": [int(i) for i in history_sticker_ids(corpus, history)[mask]],
        "history_mask": mask,
        "candidate_ids": [int(i) for i in data.candidate_ids[position]],
        "label": int(data.label[position]),
    }
