"""Callbacks of the trainer: validation with ranking metrics, summaries, safety."""

from __future__ import annotations

import glob
import math
import os
import sys
from typing import Callable, Optional

import keras
import tensorflow as tf

from stickerchat.evaluation import scoring
from stickerchat.rundir import RunDir, runfiles

BACKUP_STATE = "state.json"


def best_model_is_intact(model_dir: str) -> bool:
    """`model.keras` exists and is the file `best.json` records (by sha256)."""
    run = RunDir(model_dir)
    model_path, state_path = run.model_file, run.best_file
    if not (os.path.exists(model_path) and os.path.exists(state_path)):
        return False
    best = runfiles.read_json(state_path, "best-model record")
    return isinstance(best, dict) and best.get("sha256") == runfiles.file_sha256(model_path)


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
        verbose: print a line per validation.
        progress_bar: whether Keras' progress bar runs (the line then starts
            on a new line).
        total_steps: shown as `step N/total`.
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
        progress_bar: bool = True,
        total_steps: Optional[int] = None,
    ):
        super().__init__()
        self.dataset_fn = dataset_fn
        self.model_dir = model_dir
        self.max_batches = max_batches
        self.seed = seed
        self.on_validation = on_validation
        self.verbose = verbose
        self.progress_bar = progress_bar
        self.total_steps = total_steps
        self.writer = tf.summary.create_file_writer(os.path.join(model_dir, "validation"))
        self.best = self._read_best()

    def _read_best(self) -> dict:
        """The best validation so far; a `model.keras` that is not the one `best.json` records starts over."""
        run = RunDir(self.model_dir)
        path = run.best_file
        if os.path.exists(path) or os.path.exists(run.model_file):
            if best_model_is_intact(self.model_dir):
                return runfiles.read_json(path, "best-model record")
            print(
                f"warning: {run.model_file} is missing or is not the file {path} records; "
                "the next validation saves a new best model",
                file=sys.stderr,
                flush=True,
            )
        return {"MAP": -1.0, "step": -1}

    def on_epoch_end(self, epoch, logs=None):
        model = self.model.model
        step = int(self.model.optimizer.iterations.numpy())
        preds = scoring.predict_dataset(model, self.dataset_fn(), self.max_batches)
        result = scoring.metrics_of(preds, seed=self.seed)
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
            self.best = save_best(model, self.model_dir, dict(result, step=step))
        if self.verbose:
            mark = "  (best so far, saved)" if improved else ""
            # Under a progress bar the line starts on a fresh line; without one
            # (stdout is a file or a pipe) it is the only line of the interval.
            lead = "\n" if self.progress_bar else ""
            of = f"/{self.total_steps}" if self.total_steps else ""
            loss = f" loss {float(logs['loss']):.4f}" if logs and "loss" in logs else ""
            print(f"{lead}step {step}{of}{loss} validation: {scoring.format_metrics(result)}{mark}", flush=True)

    def on_train_end(self, logs=None):
        self.writer.close()


def save_best(model, model_dir: str, record: dict) -> dict:
    """Saves `model.keras` and then `best.json` (with the model file's sha256), each atomically."""
    run = RunDir(model_dir)
    run.save_model(model)
    record = dict(record, sha256=run.model_sha256())
    runfiles.write_json(run.best_file, record)
    return record


class AtomicBackup(keras.callbacks.Callback):
    """Backs up weights and optimizer state at the end of every interval; survives a kill at any moment.

    Each backup is a new file `backup/interval-<n>.weights.h5` written under a
    temporary name and renamed; then `backup/state.json` (also replaced
    atomically) is pointed at it; only then are older weight files removed.
    At every instant `state.json` names a complete weights file, so a run
    killed at any moment restarts from its last complete backup. (Keras'
    `BackupAndRestore` rewrites `latest.weights.h5` in place: a kill during
    that write left a file no rerun could open.)

    A damaged backup (changed by something else than this callback) raises
    `runfiles.CorruptRunFile` naming the file. The backup is removed when the
    run ends normally (not when a non-finite loss stopped it).
    """

    def __init__(self, backup_dir: str):
        super().__init__()
        self.backup_dir = backup_dir

    @staticmethod
    def read_state(backup_dir: str) -> Optional[dict]:
        """`{"epoch": completed intervals, "weights": file name, "step": optimizer step}` or None."""
        path = os.path.join(backup_dir, BACKUP_STATE)
        if not os.path.exists(path):
            return None
        state = runfiles.read_json(path, "backup state")
        if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or "weights" not in state:
            raise runfiles.CorruptRunFile(f"{path}: the backup state is corrupt; delete {backup_dir} to start over")
        return state

    def on_train_begin(self, logs=None):
        state = self.read_state(self.backup_dir)
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
        try:
            self.model.load_weights(weights)
        except Exception as e:  # noqa: BLE001 - reported with the file's name.
            raise runfiles.CorruptRunFile(
                f"{weights}: cannot restore the backup ({type(e).__name__}: {e}); delete {self.backup_dir} to start over"
            ) from e
        self.model._initial_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"interval-{epoch + 1}.weights.h5"
        with runfiles.atomic_path(os.path.join(self.backup_dir, name)) as tmp:
            self.model.save_weights(tmp)
        step = int(self.model.optimizer.iterations.numpy())
        runfiles.write_json(
            os.path.join(self.backup_dir, BACKUP_STATE), {"epoch": epoch + 1, "weights": name, "step": step}
        )
        for old in glob.glob(os.path.join(self.backup_dir, "interval-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)

    def on_train_end(self, logs=None):
        if not self.model.stop_training and os.path.isdir(self.backup_dir):
            import shutil

            shutil.rmtree(self.backup_dir, ignore_errors=True)
