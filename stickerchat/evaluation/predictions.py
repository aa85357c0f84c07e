"""`predictions.tsv`: one row per evaluated example.

A header line, then tab-separated columns:

* `example`: the example's line number in its split's file, from 0;
* `user`: its `current.from_id`;
* `label`: the ground truth's index among the candidates;
* `sticker_ids`: comma-separated candidate sticker ids, in candidate order;
* `scores`: comma-separated scores, same order (`repr` of float32 values, so
  they round-trip exactly).

Ids are written and read as Python ints: never through a float.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

COLUMNS = ("example", "user", "label", "sticker_ids", "scores")


@dataclasses.dataclass
class Predictions:
    """Scores of a split, in example order."""

    examples: np.ndarray  # (n,) int64
    users: list  # n Python ints
    labels: np.ndarray  # (n,) int64
    sticker_ids: list  # n lists of Python ints
    scores: np.ndarray  # (n, candidates) float32

    def subset(self, examples: Sequence[int]) -> "Predictions":
        where = {int(e): i for i, e in enumerate(self.examples)}
        idx = [where[int(e)] for e in examples]
        return Predictions(
            examples=self.examples[idx],
            users=[self.users[i] for i in idx],
            labels=self.labels[idx],
            sticker_ids=[self.sticker_ids[i] for i in idx],
            scores=self.scores[idx],
        )


def write_predictions(path: str, predictions: Predictions) -> None:
    """Writes the file atomically (a temporary file renamed over `path`)."""
    from stickerchat.rundir.runfiles import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for i in range(len(predictions.examples)):
            scores = ",".join(repr(float(np.float32(s))) for s in predictions.scores[i])
            ids = ",".join(str(int(s)) for s in predictions.sticker_ids[i])
            f.write(
                f"{int(predictions.examples[i])}\t{int(predictions.users[i])}\t"
                f"{int(predictions.labels[i])}\t{ids}\t{scores}\n"
            )


def read_predictions(path: str) -> Predictions:
    examples, users, labels, ids, scores = [], [], [], [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}:1: expected header {COLUMNS}, got {header}")
        for lineno, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(COLUMNS):
                raise ValueError(f"{path}:{lineno}: expected {len(COLUMNS)} columns, got {len(parts)}")
            try:
                examples.append(int(parts[0]))
                users.append(int(parts[1]))
                labels.append(int(parts[2]))
                ids.append([int(s) for s in parts[3].split(",")])
                scores.append([float(s) for s in parts[4].split(",")])
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: {e}") from None
    return Predictions(
        examples=np.asarray(examples, np.int64),
        users=users,
        labels=np.asarray(labels, np.int64),
        sticker_ids=ids,
        scores=np.asarray(scores, np.float32),
    )
