"""The demo corpus's ceilings: what ideal rankers score on it (`python -m stickerchat.data.demo` prints them).

`demo_ceiling` gives the expected R10@k and MAP on a split of Bayes-optimal
rankers that see the candidate images perfectly, with random negatives as
`load_corpus` draws them and ties broken at random (the metrics of
`stickerchat.evaluation.metrics`, scored like any model's):

* *random*: every candidate the same score;
* *text-only*: reads the latest cue word; cannot tell an emotion's variants
  apart;
* *history average*: takes the most frequent accessory among the user's
  up-to-10 earlier selections, whatever their dialogs (what a read that
  averages the history can know);
* *history-aware (from the history)*: with the default `accessory`
  preference the same as the history average; with `per_emotion` the most
  frequent accessory among the earlier selections of the candidate's
  emotion (else the history average): what a memory addressed by the
  dialog can know;
* *history-aware (true preferences)*: also knows each user's favourite
  accessory (per emotion with `per_emotion`).

For the default corpus (seed 0): random R10@1 .100 / MAP .293; text-only
R10@1 .596 / R10@2 .859 / R10@5 .927 / MAP .756; history-aware (from the
history) R10@1 .786 / MAP .872; history-aware (true preferences) R10@1 .788
/ MAP .872.
"""

from __future__ import annotations

import collections
from typing import Dict, List

import numpy as np

from stickerchat.data.demo import EMOTIONS, DemoSpec, generate
from stickerchat.evaluation import metrics as metrics_lib

CEILING_METRICS = ("R10@1", "R10@2", "R10@5", "MAP")


def _mean_metrics(rows: List[np.ndarray]) -> Dict[str, float]:
    """Mean R10@1, R10@2, R10@5 and MAP of score rows whose first candidate is the positive (rounded to 4 places)."""
    per_example = np.zeros((len(rows), len(CEILING_METRICS)))
    by_width = collections.defaultdict(list)
    for i, row in enumerate(rows):
        by_width[len(row)].append(i)
    for positions in by_width.values():
        scores, labels = np.stack([rows[i] for i in positions]), np.zeros(len(positions), np.int64)
        per = [metrics_lib.recall_at_k_per_example(scores, labels, k) for k in (1, 2, 5)]
        per.append(metrics_lib.reciprocal_rank_per_example(scores, labels))
        per_example[positions] = np.stack(per, axis=1)
    sums = np.zeros(len(CEILING_METRICS))
    for values in per_example:  # in example order, as the published numbers were summed
        sums += values
    return dict(zip(CEILING_METRICS, (sums / max(len(rows), 1)).round(4).tolist()))


def _demo_corpus(spec_or_corpus):
    """A DemoCorpus as given, or generated from a DemoSpec (default: `DemoSpec()`)."""
    # Duck-typed: `python -m stickerchat.data.demo` passes the DemoCorpus of its `__main__` module.
    return spec_or_corpus if hasattr(spec_or_corpus, "latent") else generate(spec_or_corpus or DemoSpec())


def _most_common(values):
    """The most frequent value (the first seen among ties), or None for none."""
    return collections.Counter(values).most_common(1)[0][0] if values else None


def demo_ceiling(
    spec_or_corpus=None, split: str = "test", num_candidates: int = 10, history_len: int = 10, seed: int = 0
) -> Dict[str, Dict[str, float]]:
    """Expected metrics of ideal rankers on a demo split (see the module docstring).

    Args:
        spec_or_corpus: DemoSpec or DemoCorpus (default: `DemoSpec()`).
        split: str. Split to score.
        num_candidates: int. Ground truth + random negatives of its set.
        history_len: int. History items the "from the history" ranker sees.
        seed: int. Seed of the simulated negatives.

    Returns:
        {ranker: {"R10@1", "R10@2", "R10@5", "MAP"}} for `random`, `text_only`,
        `history_average`, `history_from_history` and `history_true_preferences`.
    """
    rows, _ = _ceiling_rows(spec_or_corpus, split, num_candidates, history_len, seed)
    return {name: _mean_metrics(r) for name, r in rows.items()}


def demo_ceiling_by_cue(
    spec_or_corpus=None, split: str = "test", num_candidates: int = 10, history_len: int = 10, seed: int = 0
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """`demo_ceiling` over the split's dialogs with a cue word and over those without one.

    A dialog without a cue names no emotion: the text-only ranker is at
    chance there, and a history-aware one can still prefer, for each
    candidate, the accessory the user chose for that candidate's emotion.

    Returns:
        {"cue": {ranker: metrics}, "no cue": {ranker: metrics}} (a group with
        no dialog is left out).
    """
    rows, cue = _ceiling_rows(spec_or_corpus, split, num_candidates, history_len, seed)
    groups = {"cue": [i for i, c in enumerate(cue) if c], "no cue": [i for i, c in enumerate(cue) if not c]}
    return {
        group: {name: _mean_metrics([r[i] for i in members]) for name, r in rows.items()}
        for group, members in groups.items()
        if members
    }


def _ceiling_rows(spec_or_corpus, split, num_candidates, history_len, seed):
    """Each ideal ranker's score row per dialog of the split (positive first), and whether the dialog has a cue."""
    corpus = _demo_corpus(spec_or_corpus)
    spec = corpus.spec
    rng = np.random.default_rng([seed, 12345])
    keyed = getattr(spec, "preference", "accessory") == "per_emotion"
    # Per user: (emotion, accessory) of the up-to-`history_len` latest selections.
    recent: Dict[int, collections.deque] = collections.defaultdict(lambda: collections.deque(maxlen=history_len))
    rows, cue = collections.defaultdict(list), []
    for name in ("train", "val", "test"):
        for lat in corpus.latent[name]:
            u, s, sticker = lat["user"], lat["set"], lat["sticker"]
            if name == split:
                pool = [x for x in corpus.stickers[s] if x.sticker_id != sticker.sticker_id]
                negatives = [pool[i] for i in rng.choice(len(pool), size=min(num_candidates - 1, len(pool)), replace=False)]
                candidates = [sticker] + negatives
                history = list(recent[u])
                overall = _most_common([acc for _, acc in history])

                def from_history(emotion):
                    if not keyed:
                        return overall
                    same = [acc for emo, acc in history if emo == emotion]
                    return _most_common(same) if same else overall

                def preference(x, acc):
                    options = [y for y in corpus.stickers[s] if y.emotion == x.emotion]
                    has = acc is not None and any(y.accessory == acc for y in options)
                    return (spec.p_favourite if has and x.accessory == acc else 0.0) + (
                        (1 - spec.p_favourite) if has else 1.0
                    ) / len(options)

                def emotion_p(x):
                    return (1.0 if x.emotion == lat["emotion"] else 0.0) if lat["cue"] else 1.0 / len(EMOTIONS)

                cue.append(bool(lat["cue"]))
                rows["random"].append(np.zeros(len(candidates)))
                rows["text_only"].append(np.array([emotion_p(x) for x in candidates]))
                rows["history_average"].append(np.array([emotion_p(x) * preference(x, overall) for x in candidates]))
                rows["history_from_history"].append(
                    np.array([emotion_p(x) * preference(x, from_history(x.emotion)) for x in candidates])
                )
                rows["history_true_preferences"].append(
                    np.array([emotion_p(x) * preference(x, corpus.emotion_accessory[u][x.emotion]) for x in candidates])
                )
            recent[u].append((sticker.emotion, sticker.accessory))
    return rows, cue


def emoji_accuracy_ceiling(spec_or_corpus=None, split: str = "test") -> float:
    """How often the text can name the emoji of the sticker sent: the ceiling of a query's emoji head.

    The Bayes-optimal guess from the dialog's text alone, with the label
    statistics of the `train` split: where the dialog has a cue word, the
    emoji most often sent for its emotion; where it has none, the emoji most
    often sent overall. It is below the cue rate: the sets drawn with one
    emoji for every sticker, and the stickers labelled with another
    emotion's emoji (`DemoSpec.single_emoji_sets`, `p_wrong_emoji`), send an
    emoji the emotion does not give.

    Returns:
        float: the fraction of the split's dialogs it names right.
    """
    latent = _demo_corpus(spec_or_corpus).latent
    sent: Dict[int, List[str]] = collections.defaultdict(list)
    for lat in latent["train"]:
        sent[lat["emotion"]].append(lat["sticker"].emoji)
    best = {emotion: _most_common(emoji) for emotion, emoji in sent.items()}
    overall = _most_common([lat["sticker"].emoji for lat in latent["train"]])
    right = [
        lat["sticker"].emoji == (best.get(lat["emotion"], overall) if lat["cue"] else overall) for lat in latent[split]
    ]
    return float(np.mean(right))


def format_ceiling(ceiling: Dict[str, Dict[str, float]]) -> str:
    lines = [f"{'ranker':<26}" + "".join(f"{m:>8}" for m in CEILING_METRICS)]
    for name, metrics in ceiling.items():
        lines.append(f"{name:<26}" + "".join(f"{metrics[m]:>8.3f}" for m in CEILING_METRICS))
    return "\n".join(lines)
