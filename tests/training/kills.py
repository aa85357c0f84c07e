"""Shared helpers of the kill and backup tests (`test_kills.py`, `test_backup.py`): the run, a kill, the steps trained."""

import shutil

import keras

from stickerchat.cli import flags as sc_flags


def config(**overrides):
    """The `test` preset (SRS), 12 steps, a validation (and backup) every 4."""
    base = dict(batch_size=8, train_steps=12, eval_every=4, eval_batches=1, context_len=4, max_words=8, image_size=32)
    base.update(overrides)
    cfg = sc_flags.resolve_config("test", None, "srs", **base)
    cfg.train.attention_images = 0
    return cfg


class Kill(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (a kill) when the optimizer reaches `step`."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise KeyboardInterrupt("simulated kill")


class CopyAt(keras.callbacks.Callback):
    """Copies `model_dir` to `dest` when the optimizer reaches `step`: what a kill there would leave on disk.

    Placed where `Kill` would be (after the trainer's own callbacks), so the
    copy holds what the run had written when a kill at `step` would stop it.
    """

    def __init__(self, step, model_dir, dest):
        super().__init__()
        self.step, self.model_dir, self.dest = step, model_dir, dest

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            shutil.copytree(self.model_dir, self.dest)


class Steps(keras.callbacks.Callback):
    """Records the optimizer step and loss of every batch the run trains."""

    def __init__(self):
        super().__init__()
        self.losses = {}

    def on_train_batch_end(self, batch, logs=None):
        self.losses[int(self.model.optimizer.iterations.numpy())] = float(logs["loss"])

