"""What the user's history adds: each run's test metrics with its history, and with the history masked out.

    python -m experiments.history_gain runs/demo/pesrs-seed0 runs/demo/pesrs-seed1 ... [--out_dir=results/history_gain]

For every trained run directory, scores the test split twice with the saved
model: as it is, and with every history slot masked (`history_mask` all
False: the memory reads nothing, `r = 0`). A model that ranks by the
user's history loses MAP without it; one whose memory learned nothing
scores the same. The paired t-test (▲/▼ at α = 0.01) compares the two
scorings dialog by dialog. Writes `history_gain.md` and `history_gain.json`.
"""

import os

import numpy as np
from absl import app, flags

from experiments.common import mask_history
from stickerchat.evaluation import compare as compare_lib
from stickerchat.evaluation import metrics as metrics_lib
from stickerchat.evaluation import scoring
from stickerchat.rundir import RunDir, runfiles

flags.DEFINE_string("out_dir", "results/history_gain", "Where history_gain.md and history_gain.json are written.")
flags.DEFINE_integer("batch_size", 50, "Test dialogs per batch.")
FLAGS = flags.FLAGS


def without_history(dataset):
    """The pipeline's `(inputs, targets, meta)` batches with every history slot masked."""
    for inputs, targets, meta in dataset:
        yield mask_history(inputs), targets, meta


def history_gain(model_dir: str, batch_size: int) -> dict:
    from stickerchat import data as data_lib
    from stickerchat.data import pipeline

    run = RunDir(model_dir)
    config = run.read_config()
    model = run.load_model()
    if not getattr(model, "reads_history", False):
        raise SystemExit(f"{model_dir}: the model ({config.model_name}) does not read the history")
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)

    def dataset():
        return pipeline.make_dataset(corpus, "test", corpus.config, batch_size=batch_size, training=False, with_meta=True)

    full = scoring.predict_dataset(model, dataset())
    masked = scoring.predict_dataset(model, without_history(dataset()))
    seed = config.data.seed
    # Per dialog, once: the means are the metrics, the pairs feed the t-test.
    with_history = metrics_lib.per_example_metrics(full.scores, full.labels, seed=seed)
    without = metrics_lib.per_example_metrics(masked.scores, masked.labels, seed=seed)
    _, mark = compare_lib.paired_test(without["MAP"], with_history["MAP"])
    return {
        "model_dir": model_dir,
        "MAP": float(np.mean(with_history["MAP"])),
        "MAP_without_history": float(np.mean(without["MAP"])),
        "R10@1": float(np.mean(with_history["R10@1"])),
        "R10@1_without_history": float(np.mean(without["R10@1"])),
        "MAP_mark": mark,
    }


def main(argv):
    dirs = argv[1:]
    if not dirs:
        raise app.UsageError("usage: python -m experiments.history_gain RUN_DIR [RUN_DIR ...]")
    rows = [history_gain(d, FLAGS.batch_size) for d in dirs]
    lines = [
        "| run | test MAP | without the history | gain | R10@1 | without the history |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model_dir']} | {r['MAP']:.3f} | {r['MAP_without_history']:.3f} | "
            f"{r['MAP'] - r['MAP_without_history']:+.3f}{r['MAP_mark']} | {r['R10@1']:.3f} | {r['R10@1_without_history']:.3f} |"
        )
    lines.append("\n▲/▼: with the history significantly better/worse than without (paired t-test over the test dialogs, α = 0.01).")
    text = "\n".join(lines)
    print(text)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    runfiles.write_text(os.path.join(FLAGS.out_dir, "history_gain.md"), text + "\n")
    runfiles.write_json(os.path.join(FLAGS.out_dir, "history_gain.json"), rows, indent=1)


if __name__ == "__main__":
    app.run(main)
