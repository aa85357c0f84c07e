import numpy as np
import pytest
import tensorflow as tf

from stickerchat import specs
from stickerchat.config import get_preset
from stickerchat.data import pipeline
from stickerchat.data.corpus import load_corpus
from tests.data import tiny


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    config = get_preset("test")
    config.data.cache_dir = str(tmp / "cache")
    corpus = load_corpus(tiny.write_tiny_corpus(tmp / "d"), config.data, verbose=False)
    return corpus, config


def _check_specs(structure, expected):
    assert set(structure) == set(expected)
    for name, spec in expected.items():
        assert structure[name].dtype == tf.as_dtype(spec.dtype), name
        assert tuple(structure[name].shape[1:]) == spec.shape, name


def test_shapes_and_dtypes_equal_specs(setup):
    corpus, config = setup
    ds = pipeline.make_dataset(corpus, "val", config.data, training=False, batch_size=4, with_meta=True)
    inputs, targets, meta = ds.element_spec
    _check_specs(inputs, specs.input_specs(config.data))
    _check_specs(targets, specs.target_specs(config.data))
    _check_specs(meta, specs.meta_specs(config.data))
    inputs, targets, meta = next(iter(ds))
    _check_specs(inputs, specs.input_specs(config.data))
    assert inputs[specs.CANDIDATE_IMAGES].shape[0] == 4
    train_ds = pipeline.make_dataset(corpus, "train", config.data, training=True, batch_size=config.train.batch_size)
    assert len(train_ds.element_spec) == 2
    assert train_ds.element_spec[0][specs.CONTEXT].shape[0] == config.train.batch_size  # drop_remainder


def test_eval_order_is_file_order_and_complete(setup):
    corpus, config = setup
    ds = pipeline.make_dataset(corpus, "train", config.data, training=False, batch_size=4, with_meta=True)
    examples, ids = [], []
    for _, targets, meta in ds:
        examples += meta[specs.EXAMPLE].numpy().tolist()
        ids.append(meta[specs.CANDIDATE_IDS].numpy())
        labels = targets[specs.LABEL].numpy()
        assert (labels >= 0).all()
    assert examples == list(range(21))
    ids = np.concatenate(ids)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, corpus.split("train").candidate_ids)
    assert 556029562811581404 in ids[0].tolist()  # 18-digit id, exact, end to end


def _order(corpus, config, seed, epochs=2):
    config.data.seed = seed
    ds = pipeline.make_dataset(corpus, "train", config.data, training=True, batch_size=3, with_meta=True, repeat=True)
    out = []
    for _, _, meta in ds.take(epochs * 7):
        out += meta[specs.EXAMPLE].numpy().tolist()
    config.data.seed = 0
    return out


def test_training_shuffle_is_seeded_and_reshuffles(setup):
    corpus, config = setup
    a, b, c = _order(corpus, config, 0), _order(corpus, config, 0), _order(corpus, config, 1)
    assert a == b and a != c
    assert sorted(a[:21]) == list(range(21)) and a[:21] != a[21:]


def test_features_match_corpus(setup):
    corpus, config = setup
    feats = pipeline.batch_features(corpus, "test", [0, 4])
    data = corpus.split("test")
    i = 4
    row = data.candidate_rows[i, data.label[i]]
    np.testing.assert_array_equal(feats[specs.CANDIDATE_IMAGES][1, data.label[i]], np.load(corpus.store.path, mmap_mode="r")[row])
    hist = data.history[i]
    mask = feats[specs.HISTORY_MASK][1].astype(bool)
    assert mask.tolist() == (hist >= 0).tolist() and mask[0]
    np.testing.assert_array_equal(feats[specs.HISTORY_CONTEXT][1, 0], corpus.contexts[hist[0]])
    np.testing.assert_array_equal(feats[specs.HISTORY_IMAGES][1, 0], corpus.sticker_image(corpus.selected[hist[0]]))
    assert (feats[specs.HISTORY_IMAGES][1][~mask] == 0).all() and (feats[specs.HISTORY_CONTEXT][1][~mask] == 0).all()


def test_gather_op_same_eagerly_and_in_tf_data(setup):
    corpus, _ = setup
    positions = tf.constant([2, 0, 3], tf.int64)
    eager = pipeline.gather_op(corpus, "val", positions)
    mapped = next(iter(tf.data.Dataset.from_tensors(positions).map(lambda p: pipeline.gather_op(corpus, "val", p))))
    reference = pipeline.batch_features(corpus, "val", [2, 0, 3])
    for name in eager:
        np.testing.assert_array_equal(eager[name].numpy(), mapped[name].numpy())
        np.testing.assert_array_equal(eager[name].numpy(), reference[name])


def test_encode_example_matches_the_corpus_example(setup):
    corpus, config = setup
    data = corpus.split("train")
    i = 0
    history = [(["x"], corpus.selected[h]) for h in data.history[5] if h >= 0]
    inputs = pipeline.encode_example(
        corpus,
        ["我 正在 用 大 套子 ， 好久 没用 了", "", "没 想到 还 能 上 TG"],
        history=history,
        candidate_ids=data.candidate_ids[i],
    )
    _check_specs({k: tf.constant(v) for k, v in inputs.items()}, specs.input_specs(config.data))
    reference = pipeline.batch_features(corpus, "train", [i])
    np.testing.assert_array_equal(inputs[specs.CONTEXT], reference[specs.CONTEXT])
    np.testing.assert_array_equal(inputs[specs.CANDIDATE_IMAGES], reference[specs.CANDIDATE_IMAGES])
    assert inputs[specs.HISTORY_MASK][0].sum() == len(history)
    with pytest.raises(KeyError, match="12345"):
        pipeline.encode_example(corpus, ["a"], candidate_ids=[12345])


def test_shape_mismatch_is_refused(setup):
    corpus, config = setup
    other = get_preset("cpu")
    with pytest.raises(ValueError, match="context_len"):
        pipeline.make_dataset(corpus, "val", other.data, training=False, batch_size=4)


@pytest.mark.parametrize("bucket", [1, 8])
def test_unique_stickers_rebuild_the_full_images(setup, bucket):
    corpus, config = setup
    positions = list(range(corpus.num_examples("train")))
    full = pipeline.batch_features(corpus, "train", positions)
    unique = pipeline.batch_features(corpus, "train", positions, pipeline.UniqueStickers(bucket=bucket))
    assert specs.CANDIDATE_IMAGES not in unique and specs.HISTORY_IMAGES not in unique
    images = unique[specs.STICKER_IMAGES]
    np.testing.assert_array_equal(images[unique[specs.CANDIDATE_SLOTS]], full[specs.CANDIDATE_IMAGES])
    np.testing.assert_array_equal(images[unique[specs.HISTORY_SLOTS]], full[specs.HISTORY_IMAGES])
    for name in specs.INPUT_NAMES + specs.TARGET_NAMES + specs.META_NAMES:
        if name in unique:
            np.testing.assert_array_equal(unique[name], full[name])
    # Each distinct image once (a padded history slot reads the one zero image),
    # then zero padding up to the bucket.
    slots = np.concatenate([unique[specs.CANDIDATE_SLOTS].ravel(), unique[specs.HISTORY_SLOTS].ravel()])
    used = np.unique(slots)
    distinct = {images[i].tobytes() for i in used}
    assert len(distinct) == len(used) < slots.size
    assert len(images) % bucket == 0 and len(images) - len(used) < bucket
    assert not images[np.setdiff1d(np.arange(len(images)), used)].any()
    assert unique[specs.CANDIDATE_SLOTS].dtype == unique[specs.HISTORY_SLOTS].dtype == np.int32


def test_unique_stickers_without_history(setup):
    corpus, _ = setup
    full = pipeline.batch_features(corpus, "train", [0, 1, 2])
    unique = pipeline.batch_features(corpus, "train", [0, 1, 2], pipeline.UniqueStickers(history=False))
    assert specs.HISTORY_SLOTS not in unique
    np.testing.assert_array_equal(
        unique[specs.STICKER_IMAGES][unique[specs.CANDIDATE_SLOTS]], full[specs.CANDIDATE_IMAGES]
    )
    assert len(unique[specs.STICKER_IMAGES]) == len(np.unique(corpus.split("train").candidate_rows[[0, 1, 2]]))


def test_unique_sticker_dataset(setup):
    corpus, config = setup
    ds = pipeline.make_dataset(
        corpus, "train", config.data, training=True, batch_size=config.train.batch_size, unique_stickers=pipeline.UniqueStickers(bucket=4)
    )
    inputs, _ = ds.element_spec
    assert inputs[specs.STICKER_IMAGES].shape.as_list() == [None, 32, 32, 3]
    assert inputs[specs.CANDIDATE_SLOTS].shape.as_list() == [config.train.batch_size, config.data.num_candidates]
    assert inputs[specs.HISTORY_SLOTS].shape.as_list() == [config.train.batch_size, config.data.history_len]
    inputs, _ = next(iter(ds))
    assert inputs[specs.STICKER_IMAGES].shape[0] % 4 == 0
    assert int(tf.reduce_max(inputs[specs.CANDIDATE_SLOTS])) < inputs[specs.STICKER_IMAGES].shape[0]


def test_encoder_calls(setup):
    corpus, _ = setup
    slots, unique = pipeline.encoder_calls(corpus, "train", batch_size=7)
    data = corpus.split("train")
    assert slots == 7 * (data.candidate_rows.shape[1] + data.history.shape[1])
    # Three batches of the 21 examples: at most the distinct stickers plus the zero image.
    assert 1 <= unique <= min(slots, len(corpus.store) + 1)
    _, whole = pipeline.encoder_calls(corpus, "train", batch_size=21)
    features = pipeline.batch_features(corpus, "train", range(21), pipeline.UniqueStickers())
    assert whole == len(features[specs.STICKER_IMAGES])
    no_history = pipeline.encoder_calls(corpus, "train", batch_size=7, unique_history=False)
    assert no_history[0] == 7 * data.candidate_rows.shape[1] and no_history[1] <= unique
    with pytest.raises(ValueError, match="fewer than one batch"):
        pipeline.encoder_calls(corpus, "train", batch_size=22)
