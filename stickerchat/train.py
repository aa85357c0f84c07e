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

from stickerchat.cli import runner

runner.quiet_tensorflow()  # Before TensorFlow is imported (stickerchat.models imports Keras).

from absl import app, flags  # noqa: E402

from stickerchat.cli import flags as sc_flags  # noqa: E402
from stickerchat.models import MODEL_NAMES  # noqa: E402

FLAGS = flags.FLAGS
sc_flags.define_train_flags(MODEL_NAMES)
# `--help` lists the training flags (they are defined in stickerchat.cli.flags).
flags.adopt_module_key_flags(sc_flags)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from stickerchat.training import trainer

    # Every flag and input path is checked before anything is written or TensorFlow starts.
    try:
        config = sc_flags.config_from_flags()
    except ValueError as e:
        raise runner.UserError(str(e)) from None
    trainer.check_inputs(config)
    # Logical CPU devices must exist before TensorFlow initialises anything.
    from stickerchat.training import distribution

    distribution.configure_cpu_devices(FLAGS.cpu_devices)
    model_dir = FLAGS.model_dir or os.path.join("runs", FLAGS.model)
    trainer.train(config, model_dir)
    return 0


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
