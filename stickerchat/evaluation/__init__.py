"""Scoring a split and reading the scores: metrics, predictions, paired comparison, attention pictures.

* `metrics`: MAP, MRR, R10@k, R2@1, P@1 (§6.3), per example and averaged.
* `predictions`: the `predictions.tsv` format, written atomically.
* `scoring`: runs a model over a split's batches and writes `predictions.tsv`
  and `metrics.json` (what training, validation and `python -m
  stickerchat.evaluate` use).
* `compare`: the paired t-test between two runs (`python -m stickerchat.compare`).
* `visualize`: pictures of what the model attends to (Figures 10 and 11).
"""
