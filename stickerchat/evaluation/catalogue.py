"""Whole-catalogue evaluation: every sticker of the corpus is a candidate for every dialog of a split.

    python -m stickerchat.evaluate --model_dir=RUN --catalogue [--rerank_depth=100]

`evaluate_catalogue` scores recall + rerank (`stickerchat.serving.catalogue`)
and, on catalogues of at most `EXHAUSTIVE_MAX` stickers, the ranker on every
sticker, with the metrics of `stickerchat.evaluation.metrics` (ties at their
expected rank); `python -m stickerchat.evaluate --catalogue` writes the
result to `catalogue_metrics.json`.
"""

from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np

from stickerchat.data import features as features_lib
from stickerchat.evaluation import metrics as metrics_lib
from stickerchat.serving.catalogue import DEFAULT_RERANK_DEPTH, SCORE_CHUNK, CatalogueRecommender, score_many

CATALOGUE_METRICS_FILE = "catalogue_metrics.json"
EXHAUSTIVE_MAX = 5000  # evaluation scores every sticker with the ranker up to this catalogue size


def _rank_metrics(scores: np.ndarray, label: int, ks=(1, 10)) -> Dict[str, float]:
    """R@k and reciprocal rank of `scores[label]` among all candidates (`metrics`: ties at their expected rank)."""
    scores, labels = np.asarray(scores)[None], np.asarray([label])
    out = {f"R@{k}": float(metrics_lib.recall_at_k_per_example(scores, labels, k)[0]) for k in ks}
    out["RR"] = float(metrics_lib.reciprocal_rank_per_example(scores, labels)[0])
    return out


def evaluate_catalogue(
    cat: CatalogueRecommender,
    split: str = "test",
    rerank_depth: int = DEFAULT_RERANK_DEPTH,
    max_examples: Optional[int] = None,
    exhaustive_max: int = EXHAUSTIVE_MAX,
    warmup: int = 3,
) -> dict:
    """Every catalogue sticker is a candidate for every dialog of the split.

    Returns the dict written to `catalogue_metrics.json`: `R@1`, `R@10` and
    `MRR` of recall + rerank (a ground truth the recall stage missed counts
    as not found: recall 0, reciprocal rank 0); `exhaustive_R@1`,
    `exhaustive_R@10` (the ranker on every sticker) and
    `recall_of_exhaustive_top1` (share of dialogs whose exhaustive top-1 the
    recall stage keeps) when the catalogue has at most `exhaustive_max`
    stickers, else None; per-dialog latency of recall + rerank (warm,
    one dialog at a time) in ms.
    """
    rec = cat.rec
    data = rec.corpus.split(split)
    count = len(data) if max_examples is None else min(len(data), max_examples)
    if count == 0:
        raise ValueError(f"the {split} split has no examples")
    depth = min(int(rerank_depth), len(cat))
    queries = [features_lib.example_inputs(rec.corpus, split, k) for k in range(count)]
    labels = [int(i) for i in rec.corpus.selected[data.index[:count]]]

    def one(query):
        ids = cat.recall_ids(query, depth)
        return ids, score_many(rec, [query], [ids])[0]

    for q in queries[:warmup]:
        one(q)
    latencies = []
    sums = {"R@1": 0.0, "R@10": 0.0, "RR": 0.0}
    recalled = []
    for q, label in zip(queries, labels):
        t0 = time.perf_counter()
        ids, scores = one(q)
        latencies.append(1e3 * (time.perf_counter() - t0))
        recalled.append(set(ids))
        if label in ids:
            m = _rank_metrics(scores, ids.index(label))
            for k in sums:
                sums[k] += m[k]
    result = {
        "num_stickers": len(cat),
        "num_examples": count,
        "R@1": sums["R@1"] / count,
        "R@10": sums["R@10"] / count,
        "MRR": sums["RR"] / count,
        "rerank_depth": depth,
        "recall_of_exhaustive_top1": None,
        "exhaustive_R@1": None,
        "exhaustive_R@10": None,
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p99": float(np.percentile(latencies, 99)),
    }
    if len(cat) <= exhaustive_max:
        every = [int(i) for i in cat.sticker_ids]
        position = {i: k for k, i in enumerate(every)}
        kept, r1, r10 = 0, 0.0, 0.0
        per_call = max(1, SCORE_CHUNK // len(every))
        for start in range(0, count, per_call):
            block = queries[start : start + per_call]
            for k, scores in enumerate(score_many(rec, block, [every] * len(block))):
                n = start + k
                m = _rank_metrics(scores, position[labels[n]])
                r1 += m["R@1"]
                r10 += m["R@10"]
                kept += every[int(np.argmax(scores))] in recalled[n]
        result.update({"recall_of_exhaustive_top1": kept / count, "exhaustive_R@1": r1 / count, "exhaustive_R@10": r10 / count})
    return result
