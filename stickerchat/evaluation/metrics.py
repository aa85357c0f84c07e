"""Ranking metrics over a `(examples, candidates)` score matrix.

Every metric takes `scores`, a float array `(examples, candidates)`, and
`labels`, the index of the ground-truth candidate per example, and returns
per-example values (`*_per_example`) or their mean.

Ties are broken as a uniformly random tie-break would break them *in
expectation*: if `g` negatives score strictly higher than the positive and `t`
negatives score exactly the same, the positive's rank is uniform on
`g + 1 … g + 1 + t`. So a model that scores every candidate the same gets
R10@1 = 0.1, R10@2 = 0.2, R10@5 = 0.5 and MAP = MRR = (1/10)·Σ_{k=1..10} 1/k
≈ 0.2929 — never 0 or 1 (the trap of arg-sort tie breaking with the ground
truth in a fixed slot).

With exactly one relevant candidate, average precision equals the reciprocal
rank, so MAP = MRR and P@1 = R_n@1; all are reported because the paper and its
authors' evaluation report them.

R2@1 compares the positive with ONE negative. The negative is chosen by a
seeded rule, independent of the scores: for example row `i`, the negative is
`negatives[rng.integers(len(negatives))]` with
`rng = numpy.random.default_rng([seed, i])` and `negatives` the candidate
indices other than the label, in index order. The positive wins 1, a tie ½, a
loss 0.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

METRIC_NAMES = ("MAP", "MRR", "R10@1", "R10@2", "R10@5", "R2@1", "P@1")


def _check(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (examples, candidates); got shape {scores.shape}")
    if labels.shape != (scores.shape[0],):
        raise ValueError(f"labels must be ({scores.shape[0]},); got shape {labels.shape}")
    if scores.shape[0] and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError("labels must index a candidate")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity")
    return scores, labels


def rank_counts(scores, labels):
    """Returns `(greater, ties)` per example: negatives scoring above / equal to the positive."""
    scores, labels = _check(scores, labels)
    rows = np.arange(scores.shape[0])
    pos = scores[rows, labels][:, None]
    negative = np.ones_like(scores, dtype=bool)
    negative[rows, labels] = False
    greater = np.sum((scores > pos) & negative, axis=1)
    ties = np.sum((scores == pos) & negative, axis=1)
    return greater, ties


def recall_at_k_per_example(scores, labels, k: int) -> np.ndarray:
    """P(positive ranked in the top k) per example, ties broken at random in expectation."""
    greater, ties = rank_counts(scores, labels)
    # rank ∈ {greater+1, ..., greater+1+ties}, uniformly; count those <= k.
    hits = np.clip(k - greater, 0, ties + 1)
    return hits / (ties + 1)


def reciprocal_rank_per_example(scores, labels) -> np.ndarray:
    """E[1 / rank] per example under a random tie-break (= average precision with one positive)."""
    greater, ties = rank_counts(scores, labels)
    out = np.empty(greater.shape, dtype=np.float64)
    for i, (g, t) in enumerate(zip(greater, ties)):
        out[i] = np.mean(1.0 / np.arange(g + 1, g + t + 2))
    return out


def r2_at_1_per_example(scores, labels, seed: int = 0) -> np.ndarray:
    """The positive against one seeded negative per example: 1 win, 0.5 tie, 0 loss."""
    scores, labels = _check(scores, labels)
    n = scores.shape[1]
    if n < 2:
        raise ValueError("R2@1 needs at least two candidates")
    out = np.empty(scores.shape[0], dtype=np.float64)
    for i in range(scores.shape[0]):
        negatives = [j for j in range(n) if j != labels[i]]
        j = negatives[np.random.default_rng([seed, i]).integers(len(negatives))]
        pos, neg = scores[i, labels[i]], scores[i, j]
        out[i] = 1.0 if pos > neg else (0.5 if pos == neg else 0.0)
    return out


def per_example_metrics(scores, labels, seed: int = 0) -> Dict[str, np.ndarray]:
    """All metrics per example; keys `METRIC_NAMES` (R10@k means R_n@k with n = candidates)."""
    rr = reciprocal_rank_per_example(scores, labels)
    r1 = recall_at_k_per_example(scores, labels, 1)
    return {
        "MAP": rr,
        "MRR": rr,
        "R10@1": r1,
        "R10@2": recall_at_k_per_example(scores, labels, 2),
        "R10@5": recall_at_k_per_example(scores, labels, 5),
        "R2@1": r2_at_1_per_example(scores, labels, seed=seed),
        "P@1": r1,
    }


def ranking_metrics(scores, labels, seed: int = 0) -> Dict[str, float]:
    """Mean of `per_example_metrics` plus `num_examples`."""
    per = per_example_metrics(scores, labels, seed=seed)
    out = {name: float(np.mean(v)) if len(v) else float("nan") for name, v in per.items()}
    out["num_examples"] = int(np.asarray(labels).shape[0])
    return out
