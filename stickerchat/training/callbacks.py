"""Callbacks of the trainer: validation with ranking metrics, summaries, safety."""

from __future__ import annotations

import json
import math
import os
from typing import Callable, Optional

import keras
import tensorflow as tf

from stickerchat.training import evaluation

BEST_MODEL = "model.keras"
BEST_STATE = "best.json"


class NonFiniteLoss(keras.callbacks.Callback):
    """Stops training with a clear message as soon as the loss is NaN or infinite."""

    def __init__(self):
        super().__init__()
        self.message: Optional[str] = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            self.message = (
                f"training stopped: the loss became {float(loss)} at step {step}. "
                "Lower --learning_rate, keep gradient clipping on (--clipnorm), or use float32; "
                "the last good checkpoint is kept."
            )
            self.model.stop_training = True


def current_learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))


class StepLosses(keras.callbacks.Callback):
    """Records the hinge loss of every training step.

    Keras logs the mean over the steps so far of the current "epoch"
    (validation interval); step i's own value is i·mean_i − (i−1)·mean_{i−1}.
    `losses` holds one float per optimizer step, in order.
    """

    def __init__(self, key: str = "hinge_loss"):
        super().__init__()
        self.key = key
        self.losses = []
        self._seen, self._mean = 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._seen, self._mean = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs[self.key])
        self._seen += 1
        self.losses.append(self._seen * mean - (self._seen - 1) * self._mean)
        self._mean = mean


def takeoff_step(losses, plateau: float, start: int = 0, window: int = 20, fraction: float = 0.9):
    """The first step at which a model has left its initial plateau, or None.

    The plateau is the hinge loss of a model that scores every candidate
    alike: `(num_candidates − 1) × margin`. A run has left it at step s
    (counted from 1) once the mean hinge of the `window` steps ending at s,
    all at or after `start`, falls below `fraction × plateau` (by default
    10% under it, about three standard errors of a 20-step mean of the
    demo corpus's per-step loss on the plateau; `fraction=0.5` gives the
    step where it is halfway down).

    Args:
        losses: per-step hinge losses (`StepLosses.losses`).
        plateau: float. The tied-scores loss.
        start: int. Steps before it (the emoji warm-up) are not counted.
        window: int. Smoothing window in steps.
        fraction: float. How far under the plateau counts as off it.
    """
    values = [float(v) for v in losses]
    for end in range(start + window, len(values) + 1):
        if sum(values[end - window : end]) / window < fraction * plateau:
            return end
    return None


class TrainSummaries(keras.callbacks.Callback):
    """TensorBoard scalars of training: loss, hinge and emoji losses, learning rate.

    Values are Keras's running means since the start of the current
    validation interval, written every `every` optimizer steps at that step.
    """

    def __init__(self, log_dir: str, every: int):
        super().__init__()
        self.every = max(1, int(every))
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every:
            return
        with self.writer.as_default(step=step):
            for key in ("loss", "hinge_loss", "emoji_loss"):
                if logs and key in logs:
                    tf.summary.scalar(key, float(logs[key]))
            tf.summary.scalar("learning_rate", current_learning_rate(self.model.optimizer))
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


class RankingValidation(keras.callbacks.Callback):
    """Validates with the ranking metrics at the end of each interval; keeps the best model.

    The best model by validation MAP is saved as `model_dir/model.keras`;
    `model_dir/best.json` remembers its step and metrics so a resumed run
    keeps comparing against it.

    Args:
        dataset_fn: returns the validation dataset of `(inputs, targets, meta)`.
        model_dir: str. Where the best model and summaries go.
        max_batches: validation batches per validation (None: all).
        seed: R2@1 seed.
        on_validation: optional `fn(model, step, writer)` run after each
            validation inside the validation summary writer (for image
            summaries).
    """

    def __init__(
        self,
        dataset_fn: Callable,
        model_dir: str,
        max_batches: Optional[int] = None,
        seed: int = 0,
        on_validation: Optional[Callable] = None,
        verbose: int = 1,
    ):
        super().__init__()
        self.dataset_fn = dataset_fn
        self.model_dir = model_dir
        self.max_batches = max_batches
        self.seed = seed
        self.on_validation = on_validation
        self.verbose = verbose
        self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "validation"))
        self.best = self._read_best()

    def _read_best(self) -> dict:
        path = os.path.join(self.model_dir, BEST_STATE)
        if os.path.exists(path) and os.path.exists(os.path.join(self.model_dir, BEST_MODEL)):
            with open(path) as f:
                return json.load(f)
        return {"MAP": -1.0, "step": -1}

    def on_epoch_end(self, epoch, logs=None):
        model = self.model.model
        step = int(self.model.optimizer.iterations.numpy())
        preds = evaluation.predict_dataset(model, self.dataset_fn(), self.max_batches)
        result = evaluation.metrics_of(preds, seed=self.seed)
        with self.writer.as_default(step=step):
            for key in ("MAP", "MRR", "R10@1", "R10@2", "R10@5", "R2@1"):
                tf.summary.scalar(key, result[key])
            if self.on_validation is not None:
                self.on_validation(model, step)
        self.writer.flush()
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in result.items() if k != "num_examples"})
        improved = result["MAP"] > self.best["MAP"]
        if improved:
            model.save(os.path.join(self.model_dir, BEST_MODEL))
            self.best = dict(result, step=step)
            with open(os.path.join(self.model_dir, BEST_STATE), "w") as f:
                json.dump(self.best, f, indent=2)
        if self.verbose:
            mark = "  (best so far, saved)" if improved else ""
            print(f"\nstep {step} validation: {evaluation.format_metrics(result)}{mark}", flush=True)

    def on_train_end(self, logs=None):
        self.writer.close()
