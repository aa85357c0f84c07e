"""Compares two runs: each metric for both and a two-tailed paired t-test (`python -m stickerchat.compare`).

`RUN_A` and `RUN_B` are model directories (or `predictions.tsv` files) written
by `stickerchat.train` / `stickerchat.evaluate` on the same split. Examples are
paired by their `example` column; the test is `scipy.stats.ttest_rel` over the
per-example values of each metric. As in the paper, ▲ (▼) marks a difference
where B is significantly better (worse) than A at α = 0.01.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

import numpy as np
from scipy import stats

from stickerchat.evaluation import metrics as metrics_lib
from stickerchat.evaluation.predictions import read_predictions

def _predictions_path(run: str) -> str:
    return run if os.path.isfile(run) else os.path.join(run, "predictions.tsv")


def paired_test(a: np.ndarray, b: np.ndarray, alpha: float = 0.01) -> Tuple[float, str]:
    """Two-tailed paired t-test; returns (p-value, '▲', '▼' or '')."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError("paired samples must have the same shape")
    diff = b - a
    if len(diff) < 2 or np.allclose(diff, diff[0]):
        # No variance in the differences: identical runs, or a constant shift.
        p = 1.0 if np.allclose(diff, 0) else 0.0
    else:
        p = float(stats.ttest_rel(b, a).pvalue)
    mark = ""
    if p < alpha:
        mark = "▲" if diff.mean() > 0 else "▼"
    return p, mark


def compare_runs(run_a: str, run_b: str, alpha: float = 0.01, seed: int = 0) -> Dict[str, dict]:
    """Per metric: mean of A, mean of B, p-value and mark of B against A."""
    return compare_run_pairs([(run_a, run_b)], alpha=alpha, seed=seed)


def compare_run_pairs(pairs, alpha: float = 0.01, seed: int = 0) -> Dict[str, dict]:
    """`compare_runs` over several `(run_a, run_b)` pairs, e.g. one pair per training seed.

    Each pair is evaluated on the same examples (its own split: the pairs
    may come from different corpora); the per-example values of all pairs
    are pooled and the paired t-test runs over the pooled examples. "A" and
    "B" are the pooled means.
    """
    pooled_a = {name: [] for name in metrics_lib.METRIC_NAMES}
    pooled_b = {name: [] for name in metrics_lib.METRIC_NAMES}
    for run_a, run_b in pairs:
        ma, mb = _paired_example_metrics(run_a, run_b, seed)
        for name in metrics_lib.METRIC_NAMES:
            pooled_a[name].append(ma[name])
            pooled_b[name].append(mb[name])
    out = {}
    for name in metrics_lib.METRIC_NAMES:
        a, b = np.concatenate(pooled_a[name]), np.concatenate(pooled_b[name])
        p, mark = paired_test(a, b, alpha)
        out[name] = {"A": float(a.mean()), "B": float(b.mean()), "p": p, "mark": mark}
    return out


def _paired_example_metrics(run_a: str, run_b: str, seed: int):
    pa = read_predictions(_predictions_path(run_a))
    pb = read_predictions(_predictions_path(run_b))
    if list(pa.examples) != list(pb.examples):
        common = sorted(set(pa.examples) & set(pb.examples))
        if not common:
            raise ValueError(f"{run_a} and {run_b} share no examples: are they on the same split?")
        pa, pb = pa.subset(common), pb.subset(common)
    if not np.array_equal(pa.labels, pb.labels):
        raise ValueError(
            f"{run_a} and {run_b} disagree on the ground-truth index of some examples: "
            "they were not evaluated on the same candidates"
        )
    ma = metrics_lib.per_example_metrics(pa.scores, pa.labels, seed=seed)
    mb = metrics_lib.per_example_metrics(pb.scores, pb.labels, seed=seed)
    return ma, mb


def format_comparison(result: Dict[str, dict], name_a: str, name_b: str) -> str:
    lines = [f"{'metric':8s} {'A':>8s} {'B':>8s} {'p':>10s}", "-" * 40]
    for name, r in result.items():
        lines.append(f"{name:8s} {r['A']:8.4f} {r['B']:8.4f}{r['mark']:1s} {r['p']:10.3g}")
    lines.append(f"A = {name_a}\nB = {name_b}\n▲/▼: B significantly better/worse than A (two-tailed paired t-test)")
    return "\n".join(lines)
