"""Trains a sticker-ranking model.

    python -m stickerchat.train --model=pesrs                     # demo corpus, cpu preset
    python -m stickerchat.train --model=srs --data_dir=DATA --model_dir=runs/srs
    python -m stickerchat.train --flagfile=run.flags

Without `--data_dir` the built-in demo corpus is built once into the cache and
used, with the `cpu` preset (a small CNN, trains on 2 CPU cores in minutes).
With `--data_dir` the default preset is `paper` (§6.4: Inception-v3 at
128×128). Any preset value can be overridden by its flag; the resolved
configuration is written to `model_dir/config.json`. Starting the same
command again resumes an interrupted run. See `stickerchat.training.trainer`
for what is written to the model directory.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from stickerchat import flags as sc_flags

FLAGS = flags.FLAGS
sc_flags.define_train_flags()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # Logical CPU devices must exist before TensorFlow initialises anything.
    from stickerchat.training import distribution

    distribution.configure_cpu_devices(FLAGS.cpu_devices)
    from stickerchat.models import MODEL_NAMES
    from stickerchat.training import trainer

    if FLAGS.model not in MODEL_NAMES:
        raise app.UsageError(f"unknown --model={FLAGS.model}; registered: {', '.join(MODEL_NAMES)}")
    config = sc_flags.config_from_flags()
    model_dir = FLAGS.model_dir or os.path.join("runs", FLAGS.model)
    try:
        trainer.train(config, model_dir)
    except trainer.TrainingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
