"""The tf.data pipeline: batches of `(inputs, targets[, meta])` per `stickerchat.specs`.

`make_dataset` starts from the split's example positions (`Dataset.range`),
shuffles them (training: seeded, reshuffled each epoch, deterministic given
`DataConfig.seed`; evaluation: file order, every example), batches the
positions and maps `gather_op` over each batch: one `tf.numpy_function` that
gathers the encoded context, candidates, history and images of the batch
from the corpus arrays and the packed sticker file (`StickerStore.gather`),
in parallel (`num_parallel_calls=AUTOTUNE`, deterministic order) and
prefetched. Memory stays bounded: only positions flow through the pipeline,
and each batch reads its own image rows.

With `unique_stickers=UniqueStickers(...)` (what training uses for PESRS on one replica)
each batch carries every distinct sticker image once, plus per-slot rows
(`specs.unique_sticker_specs`): a sticker that is a candidate of several
dialogs, or in a user's history again, is read and encoded once.
`encoder_calls` counts what that saves on a corpus.

`batch_features` is the same gathering in numpy (for tests and tools) and
`encode_example` builds the model inputs of one raw dialog for a recommender.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
import time
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from stickerchat import specs
from stickerchat.config import DataConfig
from stickerchat.data import features as features_lib
from stickerchat.data.corpus import Corpus

# A tf.data iterator still alive when the interpreter exits keeps calling
# `tf.numpy_function` from its prefetch threads; a call that starts during
# interpreter finalisation never returns and the process hangs at exit. At exit
# (before finalisation) the gathering function therefore starts failing fast,
# which stops the pipelines, and in-flight calls get a moment to finish.
_SHUTTING_DOWN = threading.Event()


@atexit.register
def _stop_pipelines() -> None:
    _SHUTTING_DOWN.set()
    time.sleep(0.2)


def _check_shapes(corpus: Corpus, data_config) -> None:
    for field in ("context_len", "max_words", "num_candidates", "history_len", "image_size"):
        mine, theirs = getattr(corpus.config, field), getattr(data_config, field)
        if mine != theirs:
            raise ValueError(
                f"The corpus was loaded with {field}={mine} but the dataset is asked for {field}={theirs}: "
                "load the corpus with the same DataConfig."
            )


@dataclasses.dataclass(frozen=True)
class UniqueStickers:
    """How a batch carries its sticker images de-duplicated (`specs.unique_sticker_specs`).

    Attributes:
        history: bool. Include the history stickers (False for models that
            do not read them: the batch has no `history_slots` then).
        bucket: int. Pad `sticker_images` with zero images to a multiple of
            this many rows (fewer shapes for XLA to compile).
    """

    history: bool = True
    bucket: int = 1


def feature_specs(data_config, unique_stickers: Optional[UniqueStickers] = None) -> Dict[str, specs.FeatureSpec]:
    """Inputs, targets and meta specs in one dict (names are distinct), in `gather_op`'s order.

    With `unique_stickers`, the inputs hold `specs.unique_sticker_specs`
    instead of `candidate_images` and `history_images`.
    """
    inputs = specs.input_specs(data_config)
    if unique_stickers is not None:
        del inputs[specs.CANDIDATE_IMAGES], inputs[specs.HISTORY_IMAGES]
        inputs.update(specs.unique_sticker_specs(data_config))
        if not unique_stickers.history:
            del inputs[specs.HISTORY_SLOTS]
    return {**inputs, **specs.target_specs(data_config), **specs.meta_specs(data_config)}


def batch_features(
    corpus: Corpus,
    split: str,
    positions: Sequence[int],
    unique_stickers: Optional[UniqueStickers] = None,
) -> Dict[str, np.ndarray]:
    """All features of some examples of a split, as numpy arrays.

    Args:
        corpus: Corpus.
        split: str. `train`, `val` or `test`.
        positions: Sequence[int]. Example positions within the split.
        unique_stickers: Optional[UniqueStickers]. Instead of
            `candidate_images` and `history_images`, return each distinct
            sticker image of the batch once (`sticker_images`) and per slot
            its row (`candidate_slots`, `history_slots`).

    Returns:
        Dict name -> array with a leading batch dimension (`sticker_images`:
        the unique count), for every name of `feature_specs(corpus.config,
        unique_stickers)`, dtypes per the specs.
    """
    data = corpus.split(split)
    positions = np.asarray(positions, dtype=np.int64).reshape(-1)
    rows = data.index[positions]
    history = data.history[positions]  # (b, H) example-table rows, -1 padding
    candidate_rows, history_rows = data.candidate_rows[positions], features_lib.history_store_rows(corpus, history)
    features = {
        specs.CONTEXT: corpus.contexts[rows],
        specs.HISTORY_CONTEXT: features_lib.history_context(corpus, history),
        specs.HISTORY_MASK: features_lib.history_mask(history).astype(np.int32),
        specs.LABEL: data.label[positions],
        specs.CANDIDATE_EMOJI: data.candidate_emoji[positions],
        specs.EXAMPLE: data.line[positions],
        specs.USER: corpus.users[rows],
        specs.CANDIDATE_IDS: data.candidate_ids[positions],
    }
    if unique_stickers is None:
        features[specs.CANDIDATE_IMAGES] = corpus.store.gather(candidate_rows)
        features[specs.HISTORY_IMAGES] = corpus.store.gather(history_rows)
        return features
    slots = [candidate_rows] + ([history_rows] if unique_stickers.history else [])
    flat = np.concatenate([s.reshape(-1) for s in slots])
    unique, inverse = np.unique(flat, return_inverse=True)  # -1 (a padded history slot) reads a zero image
    bucket = max(1, int(unique_stickers.bucket))
    padded = -(-len(unique) // bucket) * bucket
    unique = np.concatenate([unique, np.full(padded - len(unique), -1, np.int64)])
    inverse = inverse.astype(np.int32).reshape(-1)
    features[specs.STICKER_IMAGES] = corpus.store.gather(unique)
    features[specs.CANDIDATE_SLOTS] = inverse[: candidate_rows.size].reshape(candidate_rows.shape)
    if unique_stickers.history:
        features[specs.HISTORY_SLOTS] = inverse[candidate_rows.size :].reshape(history_rows.shape)
    return features


def encoder_calls(corpus: Corpus, split: str, batch_size: int, *, unique_history: bool = True, seed: int = 0):
    """Sticker-encoder calls per batch, without and with de-duplication.

    Draws the split's batches in a seeded random order (as training does)
    and returns `(slots, unique)`: the mean number of sticker images per
    batch that the model encodes without de-duplication (candidates plus,
    with `unique_history`, history slots) and the mean number of distinct
    images among them (a padded history slot counts as one zero image).
    """
    data = corpus.split(split)
    order = np.random.default_rng(seed).permutation(len(data))
    slots, unique = [], []
    for start in range(0, len(order) - batch_size + 1, batch_size):
        positions = order[start : start + batch_size]
        rows = [data.candidate_rows[positions].reshape(-1)]
        if unique_history:
            rows.append(features_lib.history_store_rows(corpus, data.history[positions]).reshape(-1))
        rows = np.concatenate(rows)
        slots.append(rows.size)
        unique.append(len(np.unique(rows)))
    if not slots:
        raise ValueError(f"split '{split}' has fewer than one batch of {batch_size} examples")
    return float(np.mean(slots)), float(np.mean(unique))


def gather_op(
    corpus: Corpus, split: str, positions: tf.Tensor, unique_stickers: Optional[UniqueStickers] = None
) -> Dict[str, tf.Tensor]:
    """TF op: the features of a batch of positions (a 1-D int64 tensor).

    Works eagerly and inside `tf.data.Dataset.map`; shapes are set from the
    specs, the batch dimension from `positions` (static when the batches drop
    their remainder, None otherwise). `unique_stickers` as in
    `batch_features`.
    """
    feature_specs_ = feature_specs(corpus.config, unique_stickers)
    positions = tf.convert_to_tensor(positions, tf.int64)

    def _numpy(p):
        if _SHUTTING_DOWN.is_set():
            raise RuntimeError("the interpreter is exiting: stickerchat input pipelines are stopped")
        features = batch_features(corpus, split, p, unique_stickers)
        return [features[name].astype(spec.dtype, copy=False) for name, spec in feature_specs_.items()]

    outputs = tf.numpy_function(
        _numpy, [positions], [tf.as_dtype(spec.dtype) for spec in feature_specs_.values()], stateful=False
    )
    result = {}
    for (name, spec), tensor in zip(feature_specs_.items(), outputs):
        leading = None if name == specs.STICKER_IMAGES else positions.shape[0]
        tensor.set_shape((leading,) + tuple(spec.shape))
        result[name] = tensor
    return result


def _split_structure(features: Dict[str, tf.Tensor], with_meta: bool):
    inputs = {name: t for name, t in features.items() if name not in specs.TARGET_NAMES + specs.META_NAMES}
    targets = {name: features[name] for name in specs.TARGET_NAMES}
    if with_meta:
        return inputs, targets, {name: features[name] for name in specs.META_NAMES}
    return inputs, targets


def make_dataset(
    corpus: Corpus,
    split: str,
    data_config: DataConfig,
    *,
    batch_size: int,
    training: bool,
    with_meta: bool = False,
    repeat: bool = False,
    shuffle_buffer: Optional[int] = None,
    unique_stickers: Optional[UniqueStickers] = None,
    skip_batches: int = 0,
) -> tf.data.Dataset:
    """Batches of one split as a `tf.data.Dataset`.

    Args:
        corpus: Corpus. Loaded with the same data shapes as `data_config`.
        split: str. `train`, `val` or `test`.
        data_config: DataConfig. The shapes (checked against the corpus) and
            the shuffling seed.
        batch_size: int. Examples per batch (`TrainConfig.batch_size`).
        training: bool. Shuffle (seeded, reshuffled each epoch) and drop the
            last partial batch; False keeps file order and every example.
        with_meta: bool. Also yield the `meta` dict (example, user,
            candidate_ids).
        repeat: bool. Repeat forever (each epoch reshuffled when training).
        shuffle_buffer: Optional[int]. Positions in the shuffle buffer
            (`TrainConfig.shuffle_buffer`); None: the whole split. Only
            positions are buffered (8 bytes each).
        unique_stickers: Optional[UniqueStickers]. De-duplicate each
            batch's sticker images (see `batch_features`); the inputs then
            hold `specs.unique_sticker_specs`.
        skip_batches: int. Start after this many batches (a resumed run goes
            on with the batches an uninterrupted run would see next). Only
            positions are skipped: no example is gathered for them.

    Returns:
        tf.data.Dataset of `(inputs, targets)` or `(inputs, targets, meta)`.
    """
    _check_shapes(corpus, data_config)
    n = corpus.num_examples(split)
    if n == 0:
        raise ValueError(f"split '{split}' of {corpus.data_dir} has no examples")
    dataset = tf.data.Dataset.range(n)
    if training:
        buffer = shuffle_buffer or n
        dataset = dataset.shuffle(min(max(buffer, 1), n), seed=data_config.seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)
    if skip_batches:
        dataset = dataset.skip(int(skip_batches))
    dataset = dataset.map(
        lambda p: _split_structure(gather_op(corpus, split, p, unique_stickers), with_meta),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def encode_example(
    corpus: Corpus,
    utterances: Sequence[Optional[str]],
    history: Iterable[Tuple[Sequence[Optional[str]], int]] = (),
    candidate_ids: Sequence[int] = (),
) -> Dict[str, np.ndarray]:
    """Model inputs of one raw dialog (batch dimension 1), for a recommender.

    Args:
        corpus: Corpus. Gives the vocabulary, the shapes and the sticker images.
        utterances: Sequence[Optional[str]]. The dialog, oldest first, words
            separated by spaces (encoded as `corpus.encode_context`).
        history: Iterable of `(utterances, sticker_id)`: the user's earlier
            selections, oldest first; the last `history_len` are kept.
        candidate_ids: Sequence[int]. Stickers to score, in this order (a
            model built from the specs expects `num_candidates` of them).

    Returns:
        Dict of the `specs.INPUT_NAMES` arrays with a leading dimension of 1.

    Raises:
        KeyError: a sticker id that the corpus does not hold.
    """
    c = corpus.config
    candidate_ids = [int(s) for s in candidate_ids]
    s = c.image_size
    history_context, history_ids, mask = features_lib.raw_history(corpus, history)
    history_rows = np.full((c.history_len,), -1, np.int64)
    history_rows[: len(history_ids)] = [corpus.store.row(i) for i in history_ids]
    candidate_rows = corpus.store.rows(candidate_ids) if candidate_ids else np.zeros((0,), np.int64)
    return {
        specs.CONTEXT: corpus.encode_context(utterances)[None],
        specs.CANDIDATE_IMAGES: corpus.store.gather(candidate_rows).reshape(1, len(candidate_ids), s, s, 3),
        specs.HISTORY_CONTEXT: history_context[None],
        specs.HISTORY_IMAGES: corpus.store.gather(history_rows)[None],
        specs.HISTORY_MASK: mask[None].astype(np.int32),
    }
