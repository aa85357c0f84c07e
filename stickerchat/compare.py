"""Compares two runs: each metric for both and a two-tailed paired t-test.

    python -m stickerchat.compare RUN_A RUN_B [--alpha 0.01]

`RUN_A` and `RUN_B` are model directories (or `predictions.tsv` files) written
by `stickerchat.train` / `stickerchat.evaluate` on the same split; ▲ (▼) marks
a metric where B is significantly better (worse) than A. The test is in
`stickerchat.evaluation.compare`.
"""

from __future__ import annotations

import sys

from absl import app, flags

from stickerchat.evaluation.compare import compare_runs, format_comparison

FLAGS = flags.FLAGS
flags.DEFINE_float("alpha", 0.01, "Significance level of the two-tailed paired t-test.")
flags.DEFINE_integer("r2_seed", 0, "Seed of the R2@1 negative choice (must match the runs').")


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("usage: python -m stickerchat.compare RUN_A RUN_B")
    result = compare_runs(argv[1], argv[2], alpha=FLAGS.alpha, seed=FLAGS.r2_seed)
    print(format_comparison(result, argv[1], argv[2]))


def run():
    app.run(main)


if __name__ == "__main__":
    sys.exit(run())
