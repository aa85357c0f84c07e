"""Training the catalogue's recall stage on the ranker (`CatalogueRecommender.from_model_dir` runs it when needed).

The recall model (`stickerchat.serving.recall`) is trained after the ranker,
on the ranker's frozen sticker features: for each training dialog, a softmax
over its pool of catalogue stickers (the whole catalogue up to `pool_size`
stickers, else the chosen sticker, its set and a random sample) against a
target that mixes the chosen sticker (weight 1 - `distill`) with the
ranker's own score distribution over the pool (weight `distill`, softmax of
the ranker's logits / `temperature`). `train_recall` writes `recall.keras`
and `recall.json` into the model directory.
"""

from __future__ import annotations

import math
import os
import time
from typing import Dict, Optional

import numpy as np

from stickerchat.data import features as features_lib
from stickerchat.rundir import RunDir, runfiles
from stickerchat.serving.catalogue import RECALL_FILE, RECALL_INFO_FILE, ids_digest, logit, score_many
from stickerchat.serving.recommender import Recommender


def _history_rows(rec: Recommender, split: str, row_of: Dict[int, int]):
    history = rec.corpus.split(split).history
    mask = features_lib.history_mask(history)
    selected = features_lib.history_sticker_ids(rec.corpus, history)
    rows = np.vectorize(lambda i: row_of.get(int(i), 0), otypes=[np.int64])(selected) if selected.size else selected
    return np.where(mask, rows, 0).astype(np.int32), mask.astype(np.int32)


def recall_training_data(
    rec: Recommender,
    *,
    pool_size: int = 1024,
    teacher_examples: int = 20000,
    max_examples: Optional[int] = None,
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """The train split as the recall model's training inputs, with the ranker's logits over each pool.

    Returns a dict of numpy arrays: `context`, `history_rows`, `history_mask`,
    `pool_rows` (column 0: the chosen sticker), `pool_mask`,
    `teacher_logits` (the ranker's logits over the pool; NaN rows for
    examples beyond `teacher_examples`) and `vectors` (the catalogue's O_flat,
    rows in sticker id order).
    """
    rng = np.random.default_rng(seed)
    corpus = rec.corpus
    ids = sorted(rec.known_sticker_ids())
    row_of = {i: k for k, i in enumerate(ids)}
    n = len(ids)
    rec.precompute(ids)
    vectors = rec.cache.gather(ids)[1]
    data = corpus.split("train")
    count = len(data) if max_examples is None else min(len(data), max_examples)
    contexts = corpus.contexts[data.index[:count]].astype(np.int32)
    labels = np.asarray([row_of[int(i)] for i in corpus.selected[data.index[:count]]], np.int64)
    history_rows, history_mask = _history_rows(rec, "train", row_of)
    history_rows, history_mask = history_rows[:count], history_mask[:count]

    # Pools: column 0 is always the chosen sticker.
    if n <= pool_size:
        base = np.arange(n)
        pool_rows = np.empty((count, n), np.int64)
        for k in range(count):
            pool_rows[k, 0] = labels[k]
            pool_rows[k, 1:] = base[base != labels[k]]
        pool_mask = np.ones_like(pool_rows, np.int32)
    else:
        set_rows = {s: [row_of[i] for i in members if i in row_of] for s, members in corpus.sticker_sets.items()}
        pool_rows = np.zeros((count, pool_size), np.int64)
        pool_mask = np.ones((count, pool_size), np.int32)
        for k in range(count):
            chosen = labels[k]
            own = [r for r in set_rows[corpus.sticker_set_of[ids[chosen]]] if r != chosen][: pool_size // 4]
            rest = rng.choice(n, pool_size - 1 - len(own), replace=False)
            row = np.concatenate([[chosen], own, rest])
            _, first = np.unique(row, return_index=True)
            keep = np.zeros(len(row), bool)
            keep[first] = True
            keep[1:] &= row[1:] != chosen
            pool_rows[k] = row
            pool_mask[k] = keep.astype(np.int32)
    taught = min(count, max(0, teacher_examples))
    teacher = np.full(pool_rows.shape, np.nan, np.float32)
    t0 = time.time()
    for begin in range(0, taught, 64):
        end = min(taught, begin + 64)
        queries = [features_lib.example_inputs(rec.corpus, "train", k) for k in range(begin, end)]
        candidates = [[ids[r] for r in pool_rows[k]] for k in range(begin, end)]
        teacher[begin:end] = logit(np.stack(score_many(rec, queries, candidates)))
    if verbose and taught:
        print(f"recall: the ranker scored {taught} training dialogs x {pool_rows.shape[1]} stickers in {time.time() - t0:.0f} s", flush=True)
    return {
        "context": contexts,
        "history_rows": history_rows,
        "history_mask": history_mask,
        "pool_rows": pool_rows.astype(np.int32),
        "pool_mask": pool_mask,
        "teacher_logits": teacher,
        "vectors": vectors.astype(np.float32),
        "sticker_ids": np.asarray(ids, np.int64),
    }


def recall_targets(data: dict, distill: float, temperature: float) -> np.ndarray:
    """Target distributions over the pools: (1 - distill)·chosen + distill·softmax(teacher / temperature).

    Examples without teacher logits get the chosen sticker only.
    """
    if not 0.0 <= distill <= 1.0:
        raise ValueError(f"distill must be in [0, 1], got {distill}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    targets = np.zeros(data["pool_rows"].shape, np.float32)
    targets[:, 0] = 1.0
    taught = ~np.isnan(data["teacher_logits"][:, 0])
    if distill > 0 and taught.any():
        z = data["teacher_logits"][taught].astype(np.float64) / temperature
        z = np.where(data["pool_mask"][taught] > 0, z, -np.inf)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        targets[taught] = (1 - distill) * targets[taught] + distill * p
    return targets


def fit_recall(
    data: dict,
    vocab_size: int,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    distill: float = 0.9,
    temperature: float = 0.25,
    embed_dim: int = 64,
    hidden_dim: int = 128,
    learning_rate: float = 3e-3,
    seed: int = 0,
):
    """Trains `RecallModel` on `recall_training_data`; returns `(model, per-epoch losses)`."""
    import keras

    from stickerchat.serving.recall import CONTEXT, HISTORY_MASK, HISTORY_ROWS, POOL_MASK, POOL_ROWS, CatalogueSoftmax, RecallModel

    keras.utils.set_random_seed(seed)
    targets = recall_targets(data, distill, temperature)
    recall = RecallModel(
        vocab_size=vocab_size, sticker_dim=data["vectors"].shape[1], emb_dim=embed_dim, hidden_dim=hidden_dim,
        embed_dim=embed_dim, name="recall",
    )
    recall.build()
    trainer = CatalogueSoftmax(recall, data["vectors"])
    steps = epochs * math.ceil(len(targets) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps))
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    x = {k: data[k] for k in (CONTEXT, HISTORY_ROWS, HISTORY_MASK, POOL_ROWS, POOL_MASK)}
    history = trainer.fit(x, targets, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    return recall, [float(v) for v in history.history["loss"]]


def train_recall(
    rec: Recommender,
    model_dir: str,
    *,
    pool_size: int = 1024,
    teacher_examples: int = 20000,
    max_examples: Optional[int] = None,
    seed: int = 0,
    verbose: int = 1,
    **fit_options,
):
    """Trains the recall towers on the train split; writes `recall.keras` and `recall.json`.

    Args:
        rec: Recommender over the trained ranker (its feature cache provides
            O_flat; the ranker scores each example's pool).
        model_dir: str. Where the ranker lives; the files are written there.
        pool_size: int. Catalogue stickers per example: the whole catalogue
            when it has at most this many, else the chosen sticker, the rest
            of its set (up to a quarter of the pool) and a uniform sample.
        teacher_examples: int. Examples whose pool the ranker scores (the
            first ones of the split; 0 disables distillation).
        max_examples: Optional[int]. Use only the first examples (tests).
        **fit_options: `fit_recall`'s (epochs, batch_size, distill,
            temperature, embed_dim, hidden_dim, learning_rate).

    Returns:
        `(RecallModel, info dict)`.
    """
    start_time = time.time()
    data = recall_training_data(
        rec, pool_size=pool_size, teacher_examples=teacher_examples, max_examples=max_examples, seed=seed, verbose=verbose
    )
    recall, losses = fit_recall(data, len(rec.corpus.vocab), seed=seed, **fit_options)
    if verbose:
        print(f"recall: trained on {len(data['context'])} dialogs, loss {losses[0]:.3f} -> {losses[-1]:.3f} ({time.time() - start_time:.0f} s)", flush=True)
    path = os.path.join(model_dir, RECALL_FILE)
    tmp = os.path.join(model_dir, f".{RECALL_FILE}.tmp{os.getpid()}.keras")
    recall.save(tmp)
    os.replace(tmp, path)
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(fit_recall).parameters.items() if v.default is not inspect.Parameter.empty}
    info = {
        "format": "stickerchat-recall-v1",
        "ranker_sha256": RunDir(model_dir).model_sha256(),
        "catalogue_digest": ids_digest(data["sticker_ids"]),
        "num_stickers": int(len(data["sticker_ids"])),
        "examples": int(len(data["context"])),
        "teacher_examples": int((~np.isnan(data["teacher_logits"][:, 0])).sum()),
        "pool_size": int(data["pool_rows"].shape[1]),
        "options": dict(defaults, seed=seed, **fit_options),
        "loss": losses,
        "seconds": round(time.time() - start_time, 1),
    }
    runfiles.write_json(os.path.join(model_dir, RECALL_INFO_FILE), info, sort_keys=True)
    return recall, info
