"""Re-evaluates a trained model directory.

    python -m stickerchat.evaluate --model_dir=runs/pesrs [--data_dir=DIR] [--split=test|val]
    python -m stickerchat.evaluate --model_dir=runs/pesrs --catalogue [--rerank_depth=100]

Reloads `model_dir/model.keras` in safe mode and the run's `config.json`,
scores the split and writes `metrics.json` and `predictions.tsv` (for the
test split, exactly what training wrote; for `val`, `val_metrics.json` and
`val_predictions.tsv`). `--data_dir` points a trained model at another copy
of the data (default: the run's own).

`--catalogue` instead treats every sticker of the corpus as a candidate for
every dialog of the split: recall, then the ranker on the top
`--rerank_depth` (`stickerchat.serving.catalogue`; the recall stage is
trained first if the run has none). It writes only
`catalogue_metrics.json` (`{split}_catalogue_metrics.json` for val/train).
"""

from __future__ import annotations

import os

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.", required=True)
flags.DEFINE_string("data_dir", None, "Data directory (default: the one in the run's config.json).")
flags.DEFINE_enum("split", "test", ["test", "val", "train"], "Split to evaluate.")
flags.DEFINE_integer("batch_size", None, "Evaluation batch size (default: the run's).")
flags.DEFINE_bool("catalogue", False, "Rank the whole sticker catalogue for each dialog (recall + rerank).")
flags.DEFINE_integer("rerank_depth", 100, "With --catalogue: stickers of the recall stage the ranker scores.", lower_bound=1)


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


def evaluate_catalogue(model_dir: str, data_dir=None, split: str = "test", rerank_depth: int = 100, verbose: bool = True) -> dict:
    """Whole-catalogue evaluation; writes `catalogue_metrics.json` (never `metrics.json`)."""
    import json

    from stickerchat.serving import catalogue

    cat = catalogue.CatalogueRecommender.from_model_dir(model_dir, data_dir, verbose=verbose)
    result = catalogue.evaluate_catalogue(cat, split, rerank_depth=rerank_depth)
    prefix = "" if split == "test" else f"{split}_"
    path = os.path.join(model_dir, prefix + catalogue.CATALOGUE_METRICS_FILE)
    catalogue.write_json_atomic(path, result)
    if verbose:
        print(f"{split}, whole catalogue: {json.dumps(result)}\nwrote {path}")
    return result


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.catalogue:
        evaluate_catalogue(FLAGS.model_dir, FLAGS.data_dir, FLAGS.split, FLAGS.rerank_depth)
        return
    evaluate(FLAGS.model_dir, FLAGS.data_dir, FLAGS.split, FLAGS.batch_size)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
