"""A run killed at any moment resumes with the same command; damaged files are named, never used.

Kills are simulated in-process: a save is cut short (part of the file is
written, then `KeyboardInterrupt` stands for the kill), or a file is
truncated afterwards, as a kill of a non-atomic writer would have left it.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from stickerchat.cli import flags as sc_flags
from stickerchat.rundir import runfiles
from stickerchat.training import callbacks as callbacks_lib
from stickerchat.training import trainer
from tests.training.kills import Kill, Steps
from tests.training.kills import config as _config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cut_short(monkeypatch, method, at_call, keep_bytes=907):
    """Makes the `at_call`-th call of `keras.Model.<method>` write `keep_bytes` of its file, then be killed."""
    original = getattr(keras.Model, method)
    calls = {"n": 0}

    def cut(self, filepath, *args, **kwargs):
        calls["n"] += 1
        original(self, filepath, *args, **kwargs)
        if calls["n"] == at_call:
            with open(filepath, "r+b") as f:
                f.truncate(keep_bytes)
            raise KeyboardInterrupt(f"killed while writing {filepath}")

    monkeypatch.setattr(keras.Model, method, cut)
    return calls


def test_kill_while_writing_the_backup_resumes_from_the_last_complete_one(tmp_path, monkeypatch):
    model_dir = str(tmp_path / "run")
    _cut_short(monkeypatch, "save_weights", at_call=2)  # the backup of the second interval
    with pytest.raises(KeyboardInterrupt):
        trainer.train(_config(), model_dir, verbose=0)
    monkeypatch.undo()
    steps = Steps()
    trainer.train(_config(), model_dir, verbose=0, extra_callbacks=[steps])
    assert min(steps.losses) == 5  # resumed after the first interval's complete backup
    assert max(steps.losses) == 12
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))


def test_kill_while_saving_the_model_leaves_the_previous_complete_file(tmp_path, monkeypatch):
    import itertools

    from stickerchat.evaluation import scoring

    model_dir = str(tmp_path / "run")
    improving = itertools.count(1)
    metrics_of = scoring.metrics_of
    # Every validation is the best so far, so the second one saves model.keras again: it is killed then.
    monkeypatch.setattr(scoring, "metrics_of", lambda p, seed=0: dict(metrics_of(p, seed), MAP=next(improving)))
    _cut_short(monkeypatch, "save", at_call=2)
    cfg = _config()
    with pytest.raises(KeyboardInterrupt):
        trainer.train(cfg, model_dir, verbose=0)
    monkeypatch.undo()
    model_path = os.path.join(model_dir, "model.keras")
    assert os.path.getsize(model_path) > 10_000  # the first validation's file, not 907 bytes of the second
    runfiles.load_model(model_path)  # what evaluate, recommend and export do
    assert callbacks_lib.best_model_is_intact(model_dir)
    assert json.load(open(os.path.join(model_dir, "best.json")))["step"] == 4
    trainer.train(cfg, model_dir, verbose=0)
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))


def test_damaged_run_files_are_named(tmp_path):
    model_dir = str(tmp_path / "run")
    cfg = _config(train_steps=8)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[Kill(6)])
    best = os.path.join(model_dir, "best.json")
    text = open(best).read()
    open(best, "w").write(text[: len(text) // 2])
    with pytest.raises(runfiles.CorruptRunFile, match="best.json.*corrupt"):
        trainer.train(cfg, model_dir, verbose=0)
    open(best, "w").write(text)

    model_path = os.path.join(model_dir, "model.keras")
    content = open(model_path, "rb").read()
    open(model_path, "wb").write(content[:907])
    with pytest.raises(runfiles.CorruptRunFile, match="model.keras.*corrupt"):
        runfiles.load_model(model_path)
    # evaluate (and so recommend and export, which load the same way): one line naming the file, exit 2.
    proc = subprocess.run(
        [sys.executable, "-m", "stickerchat.evaluate", f"--model_dir={model_dir}"],
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "model.keras: the model file is corrupt" in proc.stderr

    # The trainer does not test a damaged model: the rerun saves a good one (here: the final model).
    trainer.train(cfg, model_dir, verbose=0)
    runfiles.load_model(model_path)
    assert callbacks_lib.best_model_is_intact(model_dir)
    assert json.load(open(os.path.join(model_dir, "metrics.json")))["num_examples"] > 0


def test_resumed_run_sees_the_batches_of_an_uninterrupted_one(tmp_path):
    whole = Steps()
    trainer.train(_config(), str(tmp_path / "whole"), verbose=0, extra_callbacks=[whole])
    with pytest.raises(KeyboardInterrupt):
        trainer.train(_config(), str(tmp_path / "killed"), verbose=0, extra_callbacks=[Kill(6)])
    resumed = Steps()
    trainer.train(_config(), str(tmp_path / "killed"), verbose=0, extra_callbacks=[resumed])
    assert sorted(resumed.losses) == list(range(5, 13))
    # Same weights, same optimizer state, same batches: the same losses (up to float reduction order).
    np.testing.assert_allclose([resumed.losses[s] for s in range(5, 13)], [whole.losses[s] for s in range(5, 13)], rtol=1e-4)


def test_skip_batches_continues_the_seeded_order(tmp_path):
    from stickerchat import data as data_lib
    from stickerchat.data import pipeline

    cfg = _config()
    corpus = data_lib.load_corpus(None, cfg.data, verbose=False)
    kw = dict(training=True, repeat=True, with_meta=True, batch_size=8, shuffle_buffer=cfg.train.shuffle_buffer)
    whole = [m["example"].numpy().tolist() for _, _, m in pipeline.make_dataset(corpus, "train", cfg.data, **kw).take(7)]
    later = [m["example"].numpy().tolist() for _, _, m in pipeline.make_dataset(corpus, "train", cfg.data, skip_batches=4, **kw).take(3)]
    assert later == whole[4:]


def test_rerunning_a_finished_run_says_so_and_stops(tmp_path, capsys):
    model_dir = str(tmp_path / "run")
    cfg = _config(train_steps=4)
    first = trainer.train(cfg, model_dir, verbose=0)
    steps = Steps()
    again = trainer.train(_config(train_steps=4), model_dir, verbose=1, extra_callbacks=[steps])
    assert again == first
    assert steps.losses == {}
    assert "holds a complete run" in capsys.readouterr().out
    with pytest.raises(trainer.TrainingError, match="different configuration"):
        trainer.train(_config(train_steps=8), model_dir, verbose=0)


def test_rejected_values_and_empty_splits_write_nothing(tmp_path):
    from stickerchat.data import DataError
    from tests.data import tiny

    model_dir = tmp_path / "run"
    with pytest.raises(trainer.TrainingError, match="mixed_precision"):
        trainer.train(_config(mixed_precision="bf16"), str(model_dir), verbose=0)
    assert not model_dir.exists()
    missing = _config()
    missing.data_dir = str(tmp_path / "nowhere")
    with pytest.raises(DataError, match="not found"):
        trainer.train(missing, str(model_dir), verbose=0)
    assert not model_dir.exists()
    for split in ("val", "test"):
        root = tiny.write_tiny_corpus(tmp_path / f"no_{split}", **{f"{split}_lines": []})
        cfg = sc_flags.resolve_config("test", root, "srs", batch_size=4, train_steps=2, image_size=16, num_candidates=5)
        cfg.data.cache_dir = str(tmp_path / "cache")
        with pytest.raises(trainer.TrainingError, match=f"the {split} split .*has no usable examples"):
            trainer.train(cfg, str(model_dir), verbose=0)
        assert not model_dir.exists()
