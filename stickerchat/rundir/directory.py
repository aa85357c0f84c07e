"""`RunDir`: the one place that knows a model directory's file names.

A model directory written by `python -m stickerchat.train` holds

| file                          | written by                          | marks                          |
|-------------------------------|-------------------------------------|--------------------------------|
| `config.json`                 | the trainer, first                  | the run's resolved `Config`    |
| `model.keras`                 | validation (the best model so far)  |                                |
| `best.json`                   | validation, after `model.keras`     | its step and sha256            |
| `backup/`                     | `AtomicBackup`, at every validation | removed when training ends     |
| `predictions.tsv`             | the final test                      |                                |
| `metrics.json`                | the final test, last                | a complete run                 |
| `eval_<split>_*`              | `python -m stickerchat.evaluate`    |                                |
| `sticker_features.npz`        | the recommender's feature cache     |                                |

Everything is written atomically (`stickerchat.rundir.runfiles`); a damaged
file is reported by `CorruptRunFile` naming it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict

from stickerchat import config as config_lib
from stickerchat.rundir import runfiles

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
BEST_FILE = "best.json"
BACKUP_DIR = "backup"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.tsv"
FEATURE_CACHE_FILE = "sticker_features.npz"


@dataclasses.dataclass(frozen=True)
class RunDir:
    """Paths of a model directory and its reading and writing.

    Args:
        path: str. The model directory.
    """

    path: str

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def config_file(self) -> str:
        return self.file(CONFIG_FILE)

    @property
    def model_file(self) -> str:
        return self.file(MODEL_FILE)

    @property
    def best_file(self) -> str:
        return self.file(BEST_FILE)

    @property
    def backup_dir(self) -> str:
        return self.file(BACKUP_DIR)

    @property
    def feature_cache_file(self) -> str:
        return self.file(FEATURE_CACHE_FILE)

    def metrics_file(self, prefix: str = "") -> str:
        """`metrics.json`, or `<prefix>metrics.json` (`eval_test_` for `stickerchat.evaluate`)."""
        return self.file(prefix + METRICS_FILE)

    def predictions_file(self, prefix: str = "") -> str:
        return self.file(prefix + PREDICTIONS_FILE)

    # ------------------------------------------------------------------ config.json
    def has_config(self) -> bool:
        return os.path.exists(self.config_file)

    def read_config(self) -> config_lib.Config:
        """The run's `config.json`; a missing or damaged one raises an error naming it."""
        path = self.config_file
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: is {self.path} a stickerchat model directory?")
        try:
            return config_lib.Config.from_dict(runfiles.read_json(path, "run configuration"))
        except (ValueError, TypeError, AttributeError) as e:
            raise runfiles.CorruptRunFile(f"{path}: not a stickerchat configuration ({e})") from None

    def write_config(self, config: config_lib.Config) -> None:
        """Writes `config.json` atomically (replacing any)."""
        runfiles.write_text(self.config_file, config.to_json() + "\n")

    # ------------------------------------------------------------------ metrics.json
    def is_complete(self) -> bool:
        """A finished run: `metrics.json` (written last) and `config.json` are there."""
        return os.path.exists(self.metrics_file()) and self.has_config()

    def read_metrics(self, prefix: str = "") -> Dict[str, float]:
        """`metrics.json` (or `<prefix>metrics.json`); a damaged one raises an error naming it."""
        return runfiles.read_json(self.metrics_file(prefix), "test metrics")

    # ------------------------------------------------------------------ model.keras
    def require_model(self) -> str:
        """The path of `model.keras`; FileNotFoundError when training has not written it."""
        path = self.model_file
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: has training finished?")
        return path

    def load_model(self):
        """`model.keras` loaded in safe mode (its layers under the dtype policy they were saved with)."""
        return runfiles.load_model(self.require_model())

    def save_model(self, model) -> None:
        runfiles.save_model(model, self.model_file)

    def model_sha256(self) -> str:
        return runfiles.file_sha256(self.require_model())
