"""`RunDir`: the file names of a model directory, `config.json` and `metrics.json`."""

import ast
import json
import os
import pathlib

import pytest

from stickerchat import config as config_lib
from stickerchat.rundir import RunDir
from stickerchat.rundir.runfiles import CorruptRunFile

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "stickerchat"


def test_paths():
    run = RunDir("runs/x")
    assert run.config_file == os.path.join("runs/x", "config.json")
    assert run.model_file == os.path.join("runs/x", "model.keras")
    assert run.best_file == os.path.join("runs/x", "best.json")
    assert run.backup_dir == os.path.join("runs/x", "backup")
    assert run.feature_cache_file == os.path.join("runs/x", "sticker_features.npz")
    assert run.metrics_file() == os.path.join("runs/x", "metrics.json")
    assert run.metrics_file("eval_val_") == os.path.join("runs/x", "eval_val_metrics.json")
    assert run.predictions_file("eval_test_") == os.path.join("runs/x", "eval_test_predictions.tsv")


def test_config_round_trip_leaves_no_temporary_file(tmp_path):
    run = RunDir(str(tmp_path))
    config = config_lib.get_preset("test").replace(batch_size=5)
    assert not run.has_config()
    run.write_config(config)
    assert run.read_config().to_dict() == config.to_dict()
    assert sorted(os.listdir(tmp_path)) == ["config.json"]
    assert json.loads((tmp_path / "config.json").read_text())["train"]["batch_size"] == 5


def test_missing_and_damaged_files_are_named(tmp_path):
    run = RunDir(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        run.read_config()
    with pytest.raises(FileNotFoundError, match="model.keras not found: has training finished"):
        run.require_model()
    (tmp_path / "config.json").write_text('{"data": {')
    with pytest.raises(CorruptRunFile, match=r"config\.json: the run configuration is corrupt"):
        run.read_config()
    (tmp_path / "config.json").write_text('{"data": {"no_such_field": 1}}')
    with pytest.raises(CorruptRunFile, match=r"config\.json: not a stickerchat configuration"):
        run.read_config()
    (tmp_path / "metrics.json").write_text("{")
    with pytest.raises(CorruptRunFile, match=r"metrics\.json: the test metrics is corrupt"):
        run.read_metrics()


def test_a_run_is_complete_with_its_config_and_metrics(tmp_path):
    run = RunDir(str(tmp_path))
    (tmp_path / "metrics.json").write_text('{"MAP": 0.5}')
    assert not run.is_complete()
    run.write_config(config_lib.get_preset("test"))
    assert run.is_complete()
    assert run.read_metrics() == {"MAP": 0.5}


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("module", ["evaluate.py", "export.py", "serving/export.py", "serving/recommender.py"])
def test_readers_of_a_run_do_not_import_the_trainer(module):
    assert not any(name.startswith("stickerchat.training") for name in _imported_modules(PACKAGE / module))


def test_the_run_file_names_are_written_in_one_module():
    holders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if any('"model.keras"' in line or '"config.json"' in line for line in p.read_text().splitlines())
    ]
    assert holders == ["rundir/directory.py"]
