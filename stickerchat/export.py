"""Exports a trained model directory as a TensorFlow SavedModel for TF Serving.

    python -m stickerchat.export --model_dir=runs/demo_pesrs --out=export/pesrs/1

Reloads `model_dir/model.keras` (safe mode), writes a SavedModel whose
`serving_default` signature takes the named inputs of
`stickerchat.specs.input_specs` and returns `scores`, copies `config.json`
to `assets.extra/config.json`, then checks that the reloaded SavedModel
reproduces the Keras scores on a test batch within `--atol` (non-zero exit
otherwise). `stickerchat.serving.export` documents the signature.
"""

from __future__ import annotations

from stickerchat.cli import runner

runner.quiet_tensorflow()

from absl import app, flags  # noqa: E402

from stickerchat.serving.export import ExportError, export_model_dir  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.")
    flags.DEFINE_string("out", None, "Where to write the SavedModel (e.g. export/pesrs/1 for TF Serving).")
    flags.DEFINE_string("data_dir", None, "Data directory of the check batch (default: the run's own).")
    flags.DEFINE_float("atol", 1e-5, "Largest accepted |SavedModel score - Keras score|.")
    flags.DEFINE_boolean("overwrite", False, "Replace a non-empty --out.")
    flags.mark_flags_as_required(["model_dir", "out"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        export_model_dir(FLAGS.model_dir, FLAGS.out, FLAGS.data_dir, atol=FLAGS.atol, overwrite=FLAGS.overwrite)
    except (ExportError, FileExistsError) as e:
        raise runner.UserError(f"export failed: {e}") from None


def run():
    define_flags()
    runner.run(main)


if __name__ == "__main__":
    run()
