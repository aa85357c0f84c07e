"""What the model looked at for one dialog: attentions ready for `stickerchat.evaluation.visualize`.

`explain(recommender, dialog, user_history, candidates)` (raw text) or
`explain_example(recommender, split, position)` (an example of the corpus)
scores the candidates with the model's matcher and its attentions
(`Recommender.attention_model`: `StickerMatcher.with_attention`, the same
layers and weights, cached sticker features) and returns an `Explanation`. The three figure functions turn it
into the paper's pictures with `stickerchat.evaluation.visualize`:

* `figure10(explanation)`: the chosen sticker (the ground truth of a corpus
  example, else the best-scored one) and the three best other candidates,
  each with its sticker-wise attention τ_s (Eq. 12) overlaid.
* `figure11(explanation)`: the utterance words shaded by the utterance-wise
  attention τ_u (Eq. 11) of the chosen sticker.
* `memory_figure(explanation)`: the user's history stickers with the
  preference-memory read weights δ (Eq. 23).
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

import numpy as np

from stickerchat import specs
from stickerchat.data.features import example_inputs
from stickerchat.data.vocab import context_words, utterance_words
from stickerchat.evaluation import visualize
from stickerchat.serving.requests import utterance_texts


@dataclasses.dataclass
class Explanation:
    """Scores and attentions of one dialog's candidates.

    Attributes:
        words: the words of each real utterance as the model saw them
            (truncated; unknown words of corpus examples read `<unk>`).
        context: int32 `(context_len, max_words)` word ids.
        candidate_ids: the candidates' sticker ids.
        candidate_images: uint8 `(cands, S, S, 3)`.
        scores: float32 `(cands,)`.
        utterance_attention: float32 `(cands, context_len, max_words)`, τ_u.
        sticker_attention: float32 `(cands, context_len, p, p)`, τ_s.
        history_ids: sticker ids of the user's history, oldest first.
        history_images: uint8 `(history, S, S, 3)`.
        memory_weights: float32 `(history,)`, δ over the real history items,
            or `(cands, history)`, one δ per candidate, for a memory queried
            by each candidate (`ModelConfig.memory_query='candidate'`); None
            for models without a memory.
        label: index of the ground truth among the candidates (None for raw
            dialogs).
    """

    words: List[List[str]]
    context: np.ndarray
    candidate_ids: List[int]
    candidate_images: np.ndarray
    scores: np.ndarray
    utterance_attention: np.ndarray
    sticker_attention: np.ndarray
    history_ids: List[int]
    history_images: np.ndarray
    memory_weights: Optional[np.ndarray]
    label: Optional[int] = None

    @property
    def chosen(self) -> int:
        """Index of the chosen sticker: the ground truth if known, else the best score."""
        return int(self.label) if self.label is not None else int(np.argmax(self.scores))

    def shown(self, num_others: int = 3) -> List[int]:
        """The chosen candidate then the `num_others` best-scored others."""
        chosen = self.chosen
        others = [int(j) for j in np.argsort(-self.scores, kind="stable") if j != chosen]
        return [chosen] + others[:num_others]


def _explain_encoded(recommender, context, history_context, history_ids, history_mask, candidate_ids, words, label=None):
    inputs = recommender.encoded_matcher_inputs(context, history_context, history_ids, history_mask, candidate_ids)
    outputs = recommender.attention_model().predict_on_batch(inputs)

    def flat(name):  # the given candidates (the row may be padded: `Recommender.compiled_width`)
        return np.asarray(outputs[name], np.float32)[0, : len(candidate_ids)]

    delta = None
    if specs.MEMORY_WEIGHTS in outputs:
        mask = np.asarray(history_mask, bool)
        delta = np.asarray(outputs[specs.MEMORY_WEIGHTS], np.float32)[0]
        delta = delta[: len(candidate_ids), mask] if delta.ndim == 2 else delta[mask]
    corpus = recommender.corpus
    size = recommender.config.data.image_size
    history_images = [corpus.sticker_image(i) for i in history_ids]
    return Explanation(
        words=words,
        context=np.asarray(context),
        candidate_ids=[int(i) for i in candidate_ids],
        candidate_images=np.stack([corpus.sticker_image(i) for i in candidate_ids]),
        scores=flat(specs.SCORES),
        utterance_attention=flat(specs.UTTERANCE_ATTENTION),
        sticker_attention=flat(specs.STICKER_ATTENTION),
        history_ids=[int(i) for i in history_ids],
        history_images=np.stack(history_images) if history_images else np.zeros((0, size, size, 3), np.uint8),
        memory_weights=delta,
        label=label,
    )


def dialog_words(dialog: Sequence[str], context_len: int, max_words: int) -> List[List[str]]:
    """The words the model sees of raw utterances (as `Recommender.encode_dialog` encodes them)."""
    return context_words(utterance_words(utterance_texts(dialog)), context_len, max_words)


def explain(recommender, dialog: Sequence[str], user_history=None, candidates=None, sticker_set=None) -> Explanation:
    """Scores and attentions for raw text (arguments as `Recommender.rank`)."""
    ids = recommender._candidate_ids(candidates, sticker_set)
    context = recommender.encode_dialog(dialog)
    history_context, history_ids, history_mask = recommender.encode_history(
        user_history if recommender.model.reads_history else None
    )
    c = recommender.config.data
    words = dialog_words(dialog, c.context_len, c.max_words)
    return _explain_encoded(recommender, context, history_context, history_ids, history_mask, ids, words)


def explain_example(recommender, split: str, position: int) -> Explanation:
    """Scores and attentions of the `position`-th example of a corpus split (its own candidates)."""
    ex = example_inputs(recommender.corpus, split, position)
    vocab = recommender.corpus.vocab
    words = [vocab.decode(row) for row in ex["context"] if np.any(row != specs.PAD_ID)]
    history = (ex["history_context"], ex["history_ids"], ex["history_mask"])
    if not recommender.model.reads_history:
        history = (np.zeros_like(ex["history_context"]), [], np.zeros_like(ex["history_mask"]))
    return _explain_encoded(recommender, ex["context"], *history, ex["candidate_ids"], words, label=ex["label"])


def pick_examples(recommender, split: str = "test", count: int = 3, min_history: int = 1) -> List[int]:
    """Positions of the first `count` examples of a split with at least `min_history` history items."""
    data = recommender.corpus.split(split)
    lengths = (data.history >= 0).sum(axis=1)
    chosen = [int(i) for i in np.flatnonzero(lengths >= min_history)[:count]]
    return chosen or list(range(min(count, len(data))))


def figure10(explanation: Explanation, num_others: int = 3):
    """The chosen sticker and `num_others` other candidates with τ_s overlaid (Figure 10)."""
    e = explanation
    order = e.shown(num_others)
    maps = [visualize.sticker_attention_map(e.sticker_attention[j], e.context) for j in order]
    first = "ground truth" if e.label is not None else "top ranked"
    titles = [f"{first}\n{e.candidate_ids[order[0]]}"] + [f"candidate\n{e.candidate_ids[j]}" for j in order[1:]]
    return visualize.plot_stickers(
        [e.candidate_images[j] for j in order], maps, [float(e.scores[j]) for j in order], titles
    )


def figure11(explanation: Explanation, candidate: Optional[int] = None):
    """The utterance words shaded by τ_u of a candidate (default: the chosen one; Figure 11)."""
    e = explanation
    j = e.chosen if candidate is None else int(candidate)
    title = f"τ_u for sticker {e.candidate_ids[j]} (score {float(e.scores[j]):.3f})"
    return visualize.plot_utterance_attention(e.words, e.utterance_attention[j], title=title)


def memory_figure(explanation: Explanation, candidate: Optional[int] = None):
    """The user's history stickers with their read weights δ (Eq. 23); a per-candidate δ: the candidate's (default: the chosen one)."""
    e = explanation
    delta = e.memory_weights if e.memory_weights is not None else np.zeros(len(e.history_ids), np.float32)
    if delta.ndim == 2:
        delta = delta[e.chosen if candidate is None else int(candidate)]
    return visualize.plot_memory_weights(list(e.history_images), delta)
