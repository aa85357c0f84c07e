"""A damaged backup is skipped with one warning: the run goes on from the last good one, or from step 0.

The backup (`callbacks.AtomicBackup`) keeps the newest complete backup and
the one before, each with its sha256 in `backup/state.json`; the state it
replaced is kept as `backup/state.previous.json`. Damage is simulated by
truncating a file afterwards, as a copy cut short would leave it.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from stickerchat.rundir import runfiles
from stickerchat.training import callbacks as callbacks_lib
from stickerchat.training import trainer
from tests.training.kills import CopyAt, Kill, Steps
from tests.training.kills import config as _config


def _truncate_to_half(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _warnings(err):
    return [line for line in err.splitlines() if "damaged backup" in line]


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory):
    """Model directories of the 12-step run (a backup every 4 steps) killed at step 6 and at step 10.

    One run: killed at step 10, its model directory copied at step 6 as a kill there would have left it.
    """
    root = tmp_path_factory.mktemp("killed")
    runs = {at_step: str(root / f"at-{at_step}") for at_step in (6, 10)}
    with pytest.raises(KeyboardInterrupt):
        trainer.train(_config(), runs[10], verbose=0, extra_callbacks=[CopyAt(6, runs[10], runs[6]), Kill(10)])
    return runs


@pytest.fixture
def killed_run(killed_runs, tmp_path):
    """`killed_run(at_step)`: a copy of that killed run's model directory, and its backup directory."""

    def copy(at_step):
        model_dir = str(tmp_path / "run")
        shutil.copytree(killed_runs[at_step], model_dir)
        return model_dir, os.path.join(model_dir, "backup")

    return copy


def test_a_damaged_latest_backup_falls_back_to_the_previous_one(killed_run, capsys):
    model_dir, backup = killed_run(10)
    assert sorted(f for f in os.listdir(backup) if f.endswith(".h5")) == ["interval-1.weights.h5", "interval-2.weights.h5"]
    latest = os.path.join(backup, "interval-2.weights.h5")
    _truncate_to_half(latest)
    capsys.readouterr()
    steps = Steps()
    trainer.train(_config(), model_dir, verbose=0, extra_callbacks=[steps])
    assert sorted(steps.losses) == list(range(5, 13))  # from the first interval's backup, step 4
    assert json.load(open(os.path.join(model_dir, "metrics.json")))["num_examples"] > 0
    (line,) = _warnings(capsys.readouterr().err)
    assert line.startswith("warning: ")
    assert f"{latest} (its sha256 is not the one state.json records)" in line
    assert f"resuming from {os.path.join(backup, 'interval-1.weights.h5')} at step 4" in line


def test_the_only_backup_damaged_starts_from_step_0(killed_run, capsys):
    # The reproduction: killed after the first backup, which is then cut to half.
    model_dir, backup = killed_run(6)
    only = os.path.join(backup, "interval-1.weights.h5")
    _truncate_to_half(only)
    capsys.readouterr()
    steps = Steps()
    trainer.train(_config(), model_dir, verbose=0, extra_callbacks=[steps])
    assert sorted(steps.losses) == list(range(1, 13))
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))
    (line,) = _warnings(capsys.readouterr().err)
    assert only in line and line.endswith("no complete backup is left: starting from step 0")


def test_both_backups_damaged_starts_from_step_0(killed_run, capsys):
    model_dir, backup = killed_run(10)
    damaged = [os.path.join(backup, f"interval-{n}.weights.h5") for n in (2, 1)]
    for path in damaged:
        _truncate_to_half(path)
    capsys.readouterr()
    steps = Steps()
    trainer.train(_config(), model_dir, verbose=0, extra_callbacks=[steps])
    assert sorted(steps.losses) == list(range(1, 13))
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))
    (line,) = _warnings(capsys.readouterr().err)
    assert all(path in line for path in damaged)
    assert line.index(damaged[0]) < line.index(damaged[1])  # newest first
    assert line.endswith("no complete backup is left: starting from step 0")


def test_a_corrupt_state_file_falls_back_to_the_previous_state(killed_run, capsys):
    model_dir, backup = killed_run(10)
    state_path = os.path.join(backup, "state.json")
    text = open(state_path).read()
    open(state_path, "w").write(text[: len(text) // 2])
    capsys.readouterr()
    steps = Steps()
    trainer.train(_config(), model_dir, verbose=0, extra_callbacks=[steps])
    # state.previous.json is the state before the second backup: the first interval's.
    assert sorted(steps.losses) == list(range(5, 13))
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))
    (line,) = _warnings(capsys.readouterr().err)
    assert f"{state_path} (corrupt: not complete JSON)" in line
    assert f"as {os.path.join(backup, 'state.previous.json')} records" in line


# Unit level: the callback on a tiny model, without the trainer.


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _callback(backup_dir, model):
    cb = callbacks_lib.AtomicBackup(backup_dir)
    cb.set_model(model)
    cb.on_train_begin()
    return cb


def _state(backup_dir, name="state.json"):
    return json.load(open(os.path.join(backup_dir, name)))


def _h5_files(backup_dir):
    return sorted(f for f in os.listdir(backup_dir) if f.endswith(".h5") or f.startswith(".tmp"))


def test_the_previous_backup_survives_until_the_new_one_is_verified(tmp_path, monkeypatch):
    backup_dir = str(tmp_path / "backup")
    cb = _callback(backup_dir, _tiny_model())
    cb.on_epoch_end(0)
    first = _state(backup_dir)
    assert [b["weights"] for b in first["backups"]] == ["interval-1.weights.h5"]
    assert first["sha256"] == runfiles.file_sha256(os.path.join(backup_dir, "interval-1.weights.h5"))

    # The second save writes a file that does not read back (cut short): it is refused before the rename.
    save_weights = keras.Model.save_weights

    def cut_short(self, filepath, *args, **kwargs):
        save_weights(self, filepath, *args, **kwargs)
        _truncate_to_half(filepath)

    monkeypatch.setattr(keras.Model, "save_weights", cut_short)
    with pytest.raises(runfiles.CorruptRunFile, match="interval-2.weights.h5: the backup just written cannot be read back"):
        cb.on_epoch_end(1)
    monkeypatch.undo()
    assert _h5_files(backup_dir) == ["interval-1.weights.h5"]
    assert _state(backup_dir) == first

    # Killed after the new file is in place but before state.json names it: the previous backup is still used.
    write_json = runfiles.write_json

    def killed_at_state(path, value, **kwargs):
        if path.endswith(os.sep + "state.json"):
            raise KeyboardInterrupt("killed before state.json was replaced")
        write_json(path, value, **kwargs)

    monkeypatch.setattr(runfiles, "write_json", killed_at_state)
    with pytest.raises(KeyboardInterrupt):
        cb.on_epoch_end(1)
    monkeypatch.undo()
    assert _h5_files(backup_dir) == ["interval-1.weights.h5", "interval-2.weights.h5"]
    assert _state(backup_dir) == first
    resumed = callbacks_lib.AtomicBackup.read_state(backup_dir)
    assert (resumed["epoch"], resumed["weights"]) == (1, "interval-1.weights.h5")

    # Verified and recorded: the new backup and the one before are kept, older ones removed.
    cb = _callback(backup_dir, _tiny_model())
    cb.on_epoch_end(1)
    assert _h5_files(backup_dir) == ["interval-1.weights.h5", "interval-2.weights.h5"]
    state = _state(backup_dir)
    assert [(b["epoch"], b["weights"]) for b in state["backups"]] == [(2, "interval-2.weights.h5"), (1, "interval-1.weights.h5")]
    for b in state["backups"]:
        assert b["sha256"] == runfiles.file_sha256(os.path.join(backup_dir, b["weights"]))
    assert _state(backup_dir, "state.previous.json") == first
    cb.on_epoch_end(2)
    assert _h5_files(backup_dir) == ["interval-2.weights.h5", "interval-3.weights.h5"]
    assert [b["epoch"] for b in _state(backup_dir)["backups"]] == [3, 2]
    assert [b["epoch"] for b in _state(backup_dir, "state.previous.json")["backups"]] == [2, 1]


def test_restoring_falls_back_and_restores_the_good_weights(tmp_path, capsys):
    backup_dir = str(tmp_path / "backup")
    model = _tiny_model()
    cb = _callback(backup_dir, model)
    cb.on_epoch_end(0)
    good = [w.numpy().copy() for w in model.weights]
    for w in model.weights:
        w.assign(w.numpy() + 1.0)
    cb.on_epoch_end(1)
    _truncate_to_half(os.path.join(backup_dir, "interval-2.weights.h5"))
    capsys.readouterr()
    restored = _tiny_model()
    cb = _callback(backup_dir, restored)
    assert restored._initial_epoch == 1
    for w, g in zip(restored.weights, good):
        np.testing.assert_array_equal(w.numpy(), g)
    (line,) = _warnings(capsys.readouterr().err)
    assert "interval-2.weights.h5" in line and "resuming from" in line
    # The damaged file is replaced by the next backup of that interval.
    cb.on_epoch_end(1)
    state = _state(backup_dir)
    assert [b["epoch"] for b in state["backups"]] == [2, 1]
    assert callbacks_lib.AtomicBackup.read_state(backup_dir)["epoch"] == 2
    assert _warnings(capsys.readouterr().err) == []


def test_a_state_without_checksums_is_still_read(tmp_path, capsys):
    # The format written before backups were listed: one file, no sha256; it must read back in full.
    backup_dir = str(tmp_path / "backup")
    model = _tiny_model()
    os.makedirs(backup_dir)
    model.save_weights(os.path.join(backup_dir, "interval-3.weights.h5"))
    runfiles.write_json(os.path.join(backup_dir, "state.json"), {"epoch": 3, "weights": "interval-3.weights.h5", "step": 30})
    assert callbacks_lib.AtomicBackup.read_state(backup_dir)["epoch"] == 3
    assert _warnings(capsys.readouterr().err) == []
    _truncate_to_half(os.path.join(backup_dir, "interval-3.weights.h5"))
    assert callbacks_lib.AtomicBackup.read_state(backup_dir) is None
    (line,) = _warnings(capsys.readouterr().err)
    assert "interval-3.weights.h5 (cannot be read: " in line and line.endswith("starting from step 0")


def test_both_state_files_corrupt_start_from_step_0(tmp_path, capsys):
    backup_dir = str(tmp_path / "backup")
    cb = _callback(backup_dir, _tiny_model())
    cb.on_epoch_end(0)
    cb.on_epoch_end(1)
    assert callbacks_lib.AtomicBackup.read_state(backup_dir)["epoch"] == 2
    for name in ("state.json", "state.previous.json"):
        runfiles.write_json(os.path.join(backup_dir, name), {"epoch": "two"})
    assert callbacks_lib.AtomicBackup.read_state(backup_dir) is None
    (line,) = _warnings(capsys.readouterr().err)
    assert "state.json (corrupt: not a list of backups)" in line
    assert "state.previous.json (corrupt: not a list of backups)" in line
    assert line.endswith("no complete backup is left: starting from step 0")
    # A missing state.json with the previous one intact: resumed from what that records, said so.
    os.remove(os.path.join(backup_dir, "state.json"))
    os.remove(os.path.join(backup_dir, "state.previous.json"))
    cb = _callback(backup_dir, _tiny_model())
    cb.on_epoch_end(0)
    cb.on_epoch_end(1)
    os.remove(os.path.join(backup_dir, "state.json"))
    capsys.readouterr()
    assert callbacks_lib.AtomicBackup.read_state(backup_dir)["epoch"] == 1
    (line,) = _warnings(capsys.readouterr().err)
    assert "state.json (missing)" in line and "state.previous.json records" in line
