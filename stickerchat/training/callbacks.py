"""Callbacks of the trainer: validation with ranking metrics, summaries, safety."""

from __future__ import annotations

import glob
import math
import os
import re
import sys
from typing import Callable, Optional

import keras
import tensorflow as tf

from stickerchat.evaluation import scoring
from stickerchat.rundir import RunDir, runfiles

BACKUP_STATE = "state.json"
PREVIOUS_STATE = "state.previous.json"
KEEP_BACKUPS = 2  # the newest backup and the one before: a damaged newest one falls back
_READ = object()  # AtomicBackup(resume=...) not given: read the state at the start of training


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


class StopAtStep(keras.callbacks.Callback):
    """Ends training at exactly `total_steps` optimizer steps.

    `fit` runs whole intervals of `eval_every` steps; when `eval_every` does
    not divide the total, the last interval is cut short here (Keras checks
    `stop_training` after every batch), so the run takes the steps it was
    asked for and its learning-rate schedule ends where it should. Only the
    last interval is watched, by its batch index (no read of the step
    counter per batch). Whether a run finished is the trainer's to say from
    its step count, not from `stop_training` (`AtomicBackup.remove`).
    """

    def __init__(self, total_steps: int, eval_every: int):
        super().__init__()
        self.last_interval = math.ceil(total_steps / eval_every) - 1
        self.last_interval_steps = total_steps - self.last_interval * eval_every
        self._watch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._watch = epoch == self.last_interval

    def on_train_batch_end(self, batch, logs=None):
        # `batch`: the index within the interval of the step just taken.
        if self._watch and batch + 1 >= self.last_interval_steps:
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

    Each backup is a new file `backup/interval-<n>.weights.h5`, written under a
    temporary name, read back in full (every HDF5 dataset) and its sha256
    taken before it is renamed into place. Then `backup/state.json` is
    replaced (atomically) by a state that lists the complete backups, newest
    first, each with its epoch (completed intervals), optimizer step and
    sha256: the new one and the `keep - 1` before it. Only then are weight
    files that list does not name removed. The state it replaces is kept as
    `backup/state.previous.json` (also written atomically, before it). At
    every instant `state.json` names complete, verified weights files, so a
    run killed at any moment restarts from its last complete backup. (Keras'
    `BackupAndRestore` rewrites `latest.weights.h5` in place: a kill during
    that write left a file no rerun could open.)

    A backup damaged afterwards (changed by something else than this
    callback: a copy cut short, a full disk) is not used: `read_state` takes
    the newest listed backup whose file still has its recorded sha256; if
    `state.json` itself is damaged or missing, the list of
    `state.previous.json`; if none is left, the run starts from step 0. Either
    way one warning line on stderr names the damaged files and what the run
    resumes from. A file that is intact but does not fit the model (another
    version of the code) is an error, `runfiles.CorruptRunFile`, naming it.
    The callback never removes its backups: the trainer calls `remove` once
    the run has taken every step it was asked for (not when a non-finite
    loss, a kill or another callback stopped it short).

    Args:
        backup_dir: str. The run's `backup/` directory.
        resume: the state `read_state(backup_dir)` returned (the trainer reads
            it first, to start the data where the backup stopped); by default
            `on_train_begin` reads it.
        keep: int. How many complete backups are kept (at least 1).
    """

    def __init__(self, backup_dir: str, resume=_READ, keep: int = KEEP_BACKUPS):
        super().__init__()
        self.backup_dir = backup_dir
        self.resume = resume
        self.keep = max(1, int(keep))
        self._backups = []  # complete backups, newest first (entries of state.json's "backups")

    @staticmethod
    def read_state(backup_dir: str) -> Optional[dict]:
        """The backup a run resumes from, or None (start from step 0); a damaged backup is skipped with one warning.

        Returns `{"epoch": completed intervals, "weights": file name, "step":
        optimizer step, "sha256": of the weights file, "backups": the complete
        backups from this one on, newest first}`.
        """
        state, problems, source = None, [], None
        for name in (BACKUP_STATE, PREVIOUS_STATE):
            path = os.path.join(backup_dir, name)
            entries, problem = _state_entries(path)
            if entries is None and problem is None:  # no such file
                if name == BACKUP_STATE and os.path.exists(os.path.join(backup_dir, PREVIOUS_STATE)):
                    problems.append(f"{path} (missing)")
                continue
            if problem is not None:
                problems.append(f"{path} ({problem})")
                continue
            source = path
            for i, entry in enumerate(entries):
                weights = os.path.join(backup_dir, entry["weights"])
                problem = _weights_problem(weights, entry.get("sha256"), path)
                if problem is None:
                    state = dict(entry, backups=entries[i:])
                    break
                problems.append(f"{weights} ({problem})")
            break  # a readable state file is used alone: the previous one lists older, removed backups
        if problems:
            if state is None:
                outcome = "no complete backup is left: starting from step 0"
            else:
                recorded = "" if source.endswith(BACKUP_STATE) else f" (as {source} records)"
                outcome = (
                    f"resuming from {os.path.join(backup_dir, state['weights'])}{recorded} "
                    f"at step {state.get('step', '?')}"
                )
            print(f"warning: damaged backup not used: {', '.join(problems)}; {outcome}", file=sys.stderr, flush=True)
        return state

    def on_train_begin(self, logs=None):
        state = self.read_state(self.backup_dir) if self.resume is _READ else self.resume
        self._backups = list(state["backups"]) if state else []
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
        try:
            self.model.load_weights(weights)
        except Exception as e:  # noqa: BLE001 - reported with the file's name.
            raise runfiles.CorruptRunFile(
                f"{weights}: cannot restore the backup ({type(e).__name__}: {e}); the file is the one the backup "
                f"state records, so it was written by another model or version of the code; "
                f"delete {self.backup_dir} to start over"
            ) from e
        self.model._initial_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"interval-{epoch + 1}.weights.h5"
        path = os.path.join(self.backup_dir, name)
        with runfiles.atomic_path(path) as tmp:
            self.model.save_weights(tmp)
            problem = _h5_problem(tmp)
            if problem is not None:  # the previous backups are untouched
                raise runfiles.CorruptRunFile(f"{path}: the backup just written cannot be read back ({problem})")
            sha256 = runfiles.file_sha256(tmp)
        step = int(self.model.optimizer.iterations.numpy())
        entry = {"epoch": epoch + 1, "weights": name, "step": step, "sha256": sha256}
        older = [e for e in self._backups if e["weights"] != name]
        previous_state = os.path.join(self.backup_dir, PREVIOUS_STATE)
        if self._backups:
            runfiles.write_json(previous_state, _state_of(self._backups))
        elif os.path.exists(previous_state):  # from a damaged backup that was not resumed from
            os.remove(previous_state)
        self._backups = [entry] + older[: self.keep - 1]
        runfiles.write_json(os.path.join(self.backup_dir, BACKUP_STATE), _state_of(self._backups))
        listed = {e["weights"] for e in self._backups}
        for old in glob.glob(os.path.join(self.backup_dir, "interval-*.weights.h5")):
            if os.path.basename(old) not in listed:
                os.remove(old)
        for stale in glob.glob(os.path.join(self.backup_dir, ".tmp-*")):  # left by a kill during a write
            os.remove(stale)

    @staticmethod
    def remove(backup_dir: str) -> None:
        """Removes a finished run's backups (nothing is left to resume)."""
        if os.path.isdir(backup_dir):
            import shutil

            shutil.rmtree(backup_dir, ignore_errors=True)


def _state_of(backups) -> dict:
    """`state.json`'s content: the newest backup's fields (as before lists were kept) and the list."""
    return dict(backups[0], backups=list(backups))


_WEIGHTS_NAME = re.compile(r"interval-[0-9]+\.weights\.h5")


def _state_entries(path: str):
    """`(backups newest first, None)`, `(None, what is wrong)`, or `(None, None)` when there is no file."""
    if not os.path.exists(path):
        return None, None
    try:
        state = runfiles.read_json(path, "backup state")
    except runfiles.CorruptRunFile:
        return None, "corrupt: not complete JSON"
    except OSError as e:
        return None, f"cannot be read: {_one_line(e)}"
    if not isinstance(state, dict):
        return None, "corrupt: not a JSON object"
    # A state written before backups were listed names a single file, without a checksum.
    entries = state.get("backups", [state])
    ok = isinstance(entries, list) and entries and all(
        isinstance(e, dict)
        and isinstance(e.get("epoch"), int)
        and not isinstance(e.get("epoch"), bool)
        and e["epoch"] >= 0
        and isinstance(e.get("weights"), str)
        and _WEIGHTS_NAME.fullmatch(e["weights"])
        and isinstance(e.get("sha256", ""), str)
        for e in entries
    )
    if not ok:
        return None, "corrupt: not a list of backups"
    return entries, None


def _weights_problem(path: str, sha256: Optional[str], state_path: str) -> Optional[str]:
    """Why the backup weights file `path` cannot be used, or None."""
    if not os.path.exists(path):
        return "missing"
    if sha256 is not None:
        if runfiles.file_sha256(path) != sha256:
            return f"its sha256 is not the one {os.path.basename(state_path)} records"
        return None
    return _h5_problem(path)  # an older state without checksums: the file must read in full


def _h5_problem(path: str) -> Optional[str]:
    """None if every dataset of the HDF5 file `path` reads, else what failed (one line)."""
    import h5py

    def read(name, obj):
        if isinstance(obj, h5py.Dataset):
            obj[()]
        return None  # a value would stop the visit

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError... on a damaged file
        return f"cannot be read: {_one_line(e)}"
    return None


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())
