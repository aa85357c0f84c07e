"""A model directory: the files a run writes and reads.

* `directory`: `RunDir`, the file names of a model directory, its
  `config.json`, `metrics.json` and `model.keras`.
* `runfiles`: atomic writers, checked readers (`CorruptRunFile`), saving and
  loading `.keras` files in safe mode.
"""

from stickerchat.rundir.directory import RunDir

__all__ = ["RunDir"]
