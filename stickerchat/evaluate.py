"""Re-evaluates a trained model directory.

    python -m stickerchat.evaluate --model_dir=runs/pesrs [--data_dir=DIR] [--split=test|val|train]
    python -m stickerchat.evaluate --model_dir=runs/pesrs --catalogue [--rerank_depth=100]

Reloads `model_dir/model.keras` in safe mode (under the dtype policy it was
trained with) and the run's `config.json`, scores the split and writes
`eval_<split>_metrics.json` and `eval_<split>_predictions.tsv`. It never
touches the training run's own `metrics.json` and `predictions.tsv`: for the
test split it compares its numbers with them and says whether they match (a
difference means the model, the data or the software changed since
training, and is reported on stderr with both values). `--data_dir` points
a trained model at another copy of the data (default: the run's own).

`--catalogue` instead treats every sticker of the corpus as a candidate for
every dialog of the split: recall, then the ranker on the top
`--rerank_depth` (`stickerchat.serving.catalogue`; the recall stage is
trained first if the run has none). It writes only
`catalogue_metrics.json` (`{split}_catalogue_metrics.json` for val/train).
"""

from __future__ import annotations

import os
import sys

from stickerchat.cli import runner
from stickerchat.rundir import RunDir, runfiles

runner.quiet_tensorflow()

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.", required=True)
flags.DEFINE_string("data_dir", None, "Data directory (default: the one in the run's config.json).")
flags.DEFINE_enum("split", "test", ["test", "val", "train"], "Split to evaluate.")
flags.DEFINE_integer("batch_size", None, "Evaluation batch size (default: the run's).")
flags.DEFINE_bool("catalogue", False, "Rank the whole sticker catalogue for each dialog (recall + rerank).")
flags.DEFINE_integer("rerank_depth", 100, "With --catalogue: stickers of the recall stage the ranker scores.", lower_bound=1)

METRICS_TOLERANCE = 1e-9


def output_prefix(split: str) -> str:
    """`eval_<split>_`: evaluate's files never replace the training run's."""
    return f"eval_{split}_"


def compare_with_training(model_dir: str, result: dict) -> tuple:
    """`(same, differences)` against the training run's `metrics.json` (None when it has none)."""
    run = RunDir(model_dir)
    if not os.path.exists(run.metrics_file()):
        return None, []
    trained = run.read_metrics()
    differences = [
        f"{k} {trained[k]:.4f} -> {result[k]:.4f}"
        for k in sorted(set(trained) & set(result))
        if abs(float(trained[k]) - float(result[k])) > METRICS_TOLERANCE
    ]
    return not differences, differences


def evaluate(model_dir: str, data_dir=None, split: str = "test", batch_size=None, verbose: bool = True) -> dict:
    from stickerchat import data as data_lib
    from stickerchat.evaluation import scoring

    run = RunDir(model_dir)
    config = run.read_config()
    if data_dir is not None:
        config.data_dir = data_dir
    run.require_model()
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=verbose)
    predictions = scoring.score_split(run.load_model(), corpus, config, split, batch_size=batch_size)
    prefix = output_prefix(split)
    result = scoring.write_evaluation(model_dir, predictions, seed=config.data.seed, prefix=prefix)
    if verbose:
        print(f"{split}: {scoring.format_metrics(result)}")
        print(f"wrote {model_dir}/{prefix}predictions.tsv and {model_dir}/{prefix}metrics.json")
    if split == "test":
        same, differences = compare_with_training(model_dir, result)
        if same is False:
            print(
                f"warning: these test metrics differ from the training run's {model_dir}/metrics.json "
                f"({'; '.join(differences)}): the model, the data or the software changed since training; "
                "metrics.json is left as training wrote it",
                file=sys.stderr,
            )
        elif same and verbose:
            print(f"the same as the training run's {model_dir}/metrics.json")
    return result


def evaluate_catalogue(model_dir: str, data_dir=None, split: str = "test", rerank_depth: int = 100, verbose: bool = True) -> dict:
    """Whole-catalogue evaluation; writes `catalogue_metrics.json` (never `metrics.json`)."""
    import json

    from stickerchat.serving import catalogue

    cat = catalogue.CatalogueRecommender.from_model_dir(model_dir, data_dir, verbose=verbose)
    result = catalogue.evaluate_catalogue(cat, split, rerank_depth=rerank_depth)
    prefix = "" if split == "test" else f"{split}_"
    path = os.path.join(model_dir, prefix + catalogue.CATALOGUE_METRICS_FILE)
    runfiles.write_json(path, result, sort_keys=True)
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
    runner.run(main)


if __name__ == "__main__":
    run()
