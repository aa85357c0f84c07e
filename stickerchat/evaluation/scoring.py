"""Scores a split with a model and turns the scores into metrics and predictions."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from stickerchat import specs
from stickerchat.evaluation import metrics as metrics_lib
from stickerchat.evaluation.predictions import Predictions, write_predictions
from stickerchat.rundir import RunDir, runfiles


def predict_dataset(model, dataset, max_batches: Optional[int] = None) -> Predictions:
    """Runs `model` over a dataset of `(inputs, targets, meta)` batches, in order.

    Args:
        model: a ranking model (or `RankingTask`) returning a dict with
            `specs.SCORES`.
        dataset: iterable of `(inputs, targets, meta)` batches (the
            pipeline's `with_meta=True` form).
        max_batches: stop after this many batches (None: all).
    """
    examples, users, labels, ids, scores = [], [], [], [], []
    # Under a multi-replica tf.distribute strategy `predict_on_batch` runs the
    # whole batch on every replica and concatenates the copies; a direct call
    # reads the mirrored weights once.
    strategy = getattr(model, "distribute_strategy", None)
    replicated = strategy is not None and getattr(strategy, "num_replicas_in_sync", 1) > 1
    for i, (inputs, targets, meta) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        out = model(inputs, training=False) if replicated else model.predict_on_batch(inputs)
        scores.append(np.asarray(out[specs.SCORES], dtype=np.float32))
        labels.append(np.asarray(targets[specs.LABEL], dtype=np.int64))
        examples.append(np.asarray(meta[specs.EXAMPLE], dtype=np.int64))
        users.extend(int(u) for u in np.asarray(meta[specs.USER]))
        ids.extend([int(s) for s in row] for row in np.asarray(meta[specs.CANDIDATE_IDS]))
    if not scores:
        raise ValueError("the split has no examples to evaluate")
    return Predictions(
        examples=np.concatenate(examples),
        users=users,
        labels=np.concatenate(labels),
        sticker_ids=ids,
        scores=np.concatenate(scores),
    )


def score_split(model, corpus, config, split: str, batch_size: Optional[int] = None) -> Predictions:
    """Scores every example of a corpus split with `model` (its fixed candidates), in split order.

    Args:
        model: a ranking model taking the pipeline's inputs.
        corpus: the `stickerchat.data` corpus.
        config: the run's `Config`.
        split: `train`, `val` or `test`.
        batch_size: examples per batch (None: the run's training batch size).
    """
    from stickerchat.data import pipeline

    dataset = pipeline.make_dataset(
        corpus, split, config, training=False, batch_size=batch_size or config.train.batch_size, with_meta=True
    )
    return predict_dataset(model, dataset)


def metrics_of(predictions: Predictions, seed: int = 0) -> Dict[str, float]:
    return metrics_lib.ranking_metrics(predictions.scores, predictions.labels, seed=seed)


def write_evaluation(model_dir: str, predictions: Predictions, seed: int = 0, prefix: str = "") -> Dict[str, float]:
    """Writes `predictions.tsv` and `metrics.json` (with an optional file-name prefix), each atomically."""
    result = metrics_of(predictions, seed=seed)
    run = RunDir(model_dir)
    # Predictions first: `metrics.json` marks a finished run, so it is written last.
    write_predictions(run.predictions_file(prefix), predictions)
    runfiles.write_json(run.metrics_file(prefix), result, sort_keys=True)
    return result


def format_metrics(result: Dict[str, float]) -> str:
    keys = [k for k in metrics_lib.METRIC_NAMES if k in result]
    return "  ".join(f"{k} {result[k]:.4f}" for k in keys) + f"  (n={result.get('num_examples', '?')})"
