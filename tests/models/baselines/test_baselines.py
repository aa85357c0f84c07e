"""The baselines of §6.2 and §7.8 on the `test` preset: build, train a step, score, save."""

import json

import keras
import numpy as np
import pytest

from stickerchat import config as config_lib
from stickerchat import specs
from stickerchat.models import MODEL_NAMES, StickerRanker, build_model
from stickerchat.models.baselines import BASELINE_NAMES, MostSelected
from stickerchat.training.task import RankingTask
from testing import TestCase, random_batch, random_targets, scores_under_backend, to_numpy

TRAINED = tuple(name for name in BASELINE_NAMES if name != "most_selected")


def _config():
    # A larger initialiser than §6.4's 0.02 so that differences between
    # candidates are far above float32 noise in these checks.
    return config_lib.get_preset("test").replace(init_stddev=0.2)


def _batch(config, seed=0, batch_size=4, min_history=1):
    return random_batch(config.data, config.model.vocab_size, batch_size=batch_size, seed=seed, min_history=min_history)


def _with_repeats(batch, seed=0):
    """Makes some candidates equal to history stickers (for MostSelected)."""
    batch = {k: np.array(v) for k, v in batch.items()}
    rng = np.random.default_rng(seed)
    for b in range(batch[specs.CANDIDATE_IMAGES].shape[0]):
        real = np.flatnonzero(batch[specs.HISTORY_MASK][b])
        for c in rng.choice(batch[specs.CANDIDATE_IMAGES].shape[1], size=2, replace=False):
            if len(real):
                batch[specs.CANDIDATE_IMAGES][b, c] = batch[specs.HISTORY_IMAGES][b, rng.choice(real)]
    return batch


class TestBaselines(TestCase):
    def test_registered(self):
        assert set(BASELINE_NAMES) == {"smn", "dam", "mrfn", "synergistic", "psac", "lstur", "most_selected"}
        assert set(BASELINE_NAMES) <= set(MODEL_NAMES)

    @pytest.mark.parametrize("name", BASELINE_NAMES)
    def test_outputs(self, name):
        config = _config()
        model = build_model(name, config, return_attention=True)
        assert isinstance(model, MostSelected if name == "most_selected" else StickerRanker)
        batch = _batch(config, min_history=0)
        out = model(batch)
        d = config.data
        want = {specs.SCORES: (4, d.num_candidates), specs.EMOJI_LOGITS: (4, d.num_candidates, config.model.num_emoji)}
        assert {k: tuple(v.shape) for k, v in out.items()} == want
        for v in out.values():
            assert keras.backend.standardize_dtype(v.dtype) == "float32"
            assert np.all(np.isfinite(to_numpy(v)))
        if name != "most_selected":
            assert np.ptp(to_numpy(out[specs.SCORES]), axis=1).min() > 1e-6  # candidates are told apart

    @pytest.mark.parametrize("name", BASELINE_NAMES)
    def test_ranking_task_trains_one_step(self, name):
        config = _config()
        model = build_model(name, config)
        task = RankingTask(model, margin=config.train.margin, classify_warmup_steps=0)
        task.compile(optimizer=keras.optimizers.Adam(1e-2))
        batch = _batch(config, seed=1)
        targets = random_targets(config.data, config.model.num_emoji, batch_size=4)
        before = [to_numpy(v).copy() for v in model.trainable_variables]
        history = task.fit(batch, targets, batch_size=4, epochs=1, verbose=0)
        loss = history.history["loss"][-1]
        assert np.isfinite(loss)
        if name == "most_selected":
            assert not model.trainable_variables
            np.testing.assert_allclose(history.history["emoji_loss"][-1], np.log(config.model.num_emoji), rtol=1e-5)
            return
        changed = [not np.array_equal(b, to_numpy(v)) for b, v in zip(before, model.trainable_variables)]
        assert sum(changed) >= 0.9 * len(changed), [v.path for v, c in zip(model.trainable_variables, changed) if not c]

    @pytest.mark.parametrize("name", BASELINE_NAMES)
    def test_permuting_candidates_permutes_scores(self, name):
        config = _config()
        model = build_model(name, config)
        batch = _with_repeats(_batch(config, seed=2), seed=2)
        perm = np.array([3, 0, 4, 2, 1])
        permuted = dict(batch)
        permuted[specs.CANDIDATE_IMAGES] = batch[specs.CANDIDATE_IMAGES][:, perm]
        a, b = model(batch), model(permuted)
        self.assertAllClose(to_numpy(a[specs.SCORES])[:, perm], b[specs.SCORES], atol=1e-5, rtol=1e-5)
        self.assertAllClose(to_numpy(a[specs.EMOJI_LOGITS])[:, perm], b[specs.EMOJI_LOGITS], atol=1e-5, rtol=1e-5)

    @pytest.mark.parametrize("name", BASELINE_NAMES)
    def test_saving(self, name):
        config = _config()
        model = build_model(name, config)
        restored = self.run_model_saving_test(model, _with_repeats(_batch(config, seed=3)), atol=1e-6)
        # JSON normalises the tuples of the matcher's build config to lists.
        assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(model.get_config()))
        assert restored.name == name

    @pytest.mark.parametrize("name", TRAINED)
    def test_mixed_bfloat16_gives_float32_outputs(self, name):
        keras.config.set_dtype_policy("mixed_bfloat16")
        config = _config()
        model = build_model(name, config)
        out = model(_batch(config, seed=4))
        for v in out.values():
            assert keras.backend.standardize_dtype(v.dtype) == "float32"
            assert np.all(np.isfinite(to_numpy(v)))
        for w in model.weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32", w.path

    def test_most_selected_ranks_the_most_used_sticker_first(self):
        config = config_lib.get_preset("test").replace(history_len=6)
        s = config.data.image_size
        rng = np.random.default_rng(5)
        a, b, c, x, y = (rng.integers(0, 256, (s, s, 3)).astype(np.uint8) for _ in range(5))
        batch = _batch(config, seed=5, batch_size=1)
        # History, oldest first: a, c, a, b, a (five real slots) and a padded slot holding x.
        batch[specs.HISTORY_IMAGES][0] = np.stack([a, c, a, b, a, x])
        batch[specs.HISTORY_MASK][0] = [True, True, True, True, True, False]
        batch[specs.CANDIDATE_IMAGES][0] = np.stack([c, x, b, a, y])
        scores = to_numpy(build_model("most_selected", config)(batch)[specs.SCORES])[0]
        assert np.argmax(scores) == 3  # a: selected three times
        assert scores[2] > scores[0] > 0  # b and c once each; b more recently
        assert scores[1] == 0 and scores[4] == 0  # x only in a padded slot; y never
        np.testing.assert_allclose(scores[3], 3 + 5 / 7)

    @pytest.mark.slow
    def test_same_scores_under_jax(self):
        pytest.importorskip("jax")
        config = _config()
        batch = _with_repeats(_batch(config, seed=6), seed=6)
        models = {name: build_model(name, config) for name in BASELINE_NAMES}
        jax_scores = scores_under_backend(models, batch, "jax")
        for name, model in models.items():
            self.assertAllClose(to_numpy(model(batch)[specs.SCORES]), jax_scores[name], atol=1e-4)


def test_matcher_arguments_are_stored_cast_and_reported_cast():
    from stickerchat.models.baselines.smn import SMNMatcher

    matcher = SMNMatcher(np.int64(30), 8.0, "16", conv_filters=np.int32(4), init_stddev=1, name="matcher")
    assert (matcher.vocab_size, matcher.emb_dim, matcher.hidden_dim, matcher.conv_filters) == (30, 8, 16, 4)
    assert matcher.matching_dim == 50 and matcher.init_stddev == 1.0
    assert all(type(getattr(matcher, k)) is int for k in ("vocab_size", "emb_dim", "hidden_dim", "conv_filters"))
    assert type(matcher.init_stddev) is float
    config = matcher.get_config()
    assert {k: config[k] for k in ("vocab_size", "emb_dim", "hidden_dim", "conv_filters", "matching_dim")} == {
        "vocab_size": 30,
        "emb_dim": 8,
        "hidden_dim": 16,
        "conv_filters": 4,
        "matching_dim": 50,
    }
    assert type(config["vocab_size"]) is int and type(config["init_stddev"]) is float
    json.dumps(config)  # numpy integers would not serialise
