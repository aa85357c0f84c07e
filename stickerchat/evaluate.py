"""Re-evaluates a trained model directory.

    python -m stickerchat.evaluate --model_dir=runs/pesrs [--data_dir=DIR] [--split=test|val]

Reloads `model_dir/model.keras` in safe mode and the run's `config.json`,
scores the split and writes `metrics.json` and `predictions.tsv` (for the
test split, exactly what training wrote; for `val`, `val_metrics.json` and
`val_predictions.tsv`). `--data_dir` points a trained model at another copy
of the data (default: the run's own).
"""

from __future__ import annotations

import os

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.", required=True)
flags.DEFINE_string("data_dir", None, "Data directory (default: the one in the run's config.json).")
flags.DEFINE_enum("split", "test", ["test", "val", "train"], "Split to evaluate.")
flags.DEFINE_integer("batch_size", None, "Evaluation batch size (default: the run's).")


def evaluate(model_dir: str, data_dir=None, split: str = "test", batch_size=None, verbose: bool = True) -> dict:
    from stickerchat import data as data_lib
    from stickerchat.training import evaluation, trainer

    config = trainer.load_run_config(model_dir)
    if data_dir is not None:
        config.data_dir = data_dir
    corpus = data_lib.load_corpus(config.data_dir, config.data)
    predictions = trainer.evaluate_model_file(
        os.path.join(model_dir, "model.keras"), corpus, config, split, batch_size=batch_size
    )
    prefix = "" if split == "test" else f"{split}_"
    result = evaluation.write_evaluation(model_dir, predictions, seed=config.data.seed, prefix=prefix)
    if verbose:
        print(f"{split}: {evaluation.format_metrics(result)}")
    return result


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    evaluate(FLAGS.model_dir, FLAGS.data_dir, FLAGS.split, FLAGS.batch_size)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
