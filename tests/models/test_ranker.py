"""The one outer ranker: a free candidate axis, the unique-stickers call for every model, config from the constructor."""

import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from stickerchat import config as config_lib
from stickerchat import specs
from stickerchat.models import MODEL_NAMES, PESRS, StickerRanker, build_model
from stickerchat.training import trainer
from stickerchat.training.task import RankingTask
from testing import (
    TestCase,
    random_batch,
    random_targets,
    scores_under_backend,
    to_numpy,
    with_repeated_stickers,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def _config(**overrides):
    # §6.4's 0.02 would leave candidates within float32 noise of each other.
    return config_lib.test().replace(init_stddev=0.2, **overrides)


def _candidates(batch, count):
    """`batch` with only its first `count` candidates."""
    return dict(batch, **{specs.CANDIDATE_IMAGES: batch[specs.CANDIDATE_IMAGES][:, :count]})


class TestFreeCandidateAxis(TestCase):
    @pytest.mark.parametrize("name", ["pesrs", "srs", "pesrs_no_din", "pesrs_fr2t", "mrfn", "lstur", "most_selected"])
    def test_a_saved_model_scores_3_10_and_500_candidates(self, name, tmp_path):
        config = _config()
        model = build_model(name, config)
        path = os.path.join(tmp_path, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        batch = random_batch(config.replace(num_candidates=500).data, config.model.vocab_size, batch_size=2, seed=1)
        batch[specs.CANDIDATE_IMAGES][:, 7] = batch[specs.HISTORY_IMAGES][:, 0]  # a selected sticker (MostSelected)
        widest = to_numpy(restored(batch)[specs.SCORES])
        assert widest.shape == (2, 500)
        self.assertAllClose(model(batch)[specs.SCORES], widest, atol=1e-6)
        for count in (3, 10, 500):
            scores = restored.predict(_candidates(batch, count), verbose=0)[specs.SCORES]  # traced per width
            assert scores.shape == (2, count)
            if name == "lstur":
                # A softmax over the candidate set: the same logits, renormalised.
                expected = widest[:, :count] / widest[:, :count].sum(axis=1, keepdims=True)
            else:
                # Every candidate is scored on its own: its score does not
                # depend on the other candidates of the set.
                expected = widest[:, :count]
            np.testing.assert_allclose(scores, expected, atol=1e-5, rtol=1e-4)
        assert np.ptp(widest, axis=1).min() > 1e-4

    @pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n != "most_selected"])
    def test_independent_candidates_is_what_the_matcher_does(self, name):
        # A matcher that declares `independent_candidates` gives each candidate
        # the same score in any set; one that does not (a softmax or a top-k
        # over the set) gives different ones.
        config = _config()
        model = build_model(name, config)
        batch = random_batch(config.replace(num_candidates=8).data, config.model.vocab_size, seed=3, min_history=1)
        alone = to_numpy(model(_candidates(batch, 3))[specs.SCORES])
        within = to_numpy(model(batch)[specs.SCORES])[:, :3]
        same = np.allclose(alone, within, atol=1e-5, rtol=1e-4)
        assert same == model.matcher.independent_candidates, (alone, within)

    def test_another_width_under_jax(self):
        pytest.importorskip("jax")
        config = _config()
        models = {name: build_model(name, config) for name in ("pesrs", "mrfn")}
        batch = random_batch(config.replace(num_candidates=12).data, config.model.vocab_size, seed=2, min_history=1)
        jax_scores = scores_under_backend(models, batch, "jax")
        for name, model in models.items():
            assert jax_scores[name].shape == (3, 12)
            self.assertAllClose(model(batch)[specs.SCORES], jax_scores[name], atol=1e-4)


class TestUniqueStickersForEveryModel(TestCase):
    @pytest.mark.parametrize("name", MODEL_NAMES)
    def test_the_unique_call_equals_the_full_call(self, name):
        config = _config()
        model = build_model(name, config)
        full, unique = with_repeated_stickers(config)
        if not model.reads_history:
            del unique[specs.HISTORY_SLOTS]
        out_full, out_unique = model(full), model.call_on_unique_stickers(unique)
        assert set(out_full) == set(out_unique)
        for key in out_full:
            self.assertAllClose(out_unique[key], out_full[key], atol=1e-5, rtol=1e-5)

    def test_a_baseline_trains_through_the_unique_call_as_through_the_full_call(self):
        config = _config()
        full, unique = with_repeated_stickers(config)
        targets = random_targets(config.data, config.model.num_emoji, batch_size=4)
        trained = {}
        for kind, inputs in (("full", full), ("unique", unique)):
            keras.utils.set_random_seed(0)
            model = build_model("mrfn", config)
            if kind == "unique":
                model.set_weights(trained["full"][0])
            start = model.get_weights()
            task = RankingTask(model, margin=0.1, classify_warmup_steps=0)
            # SGD: the update is the gradient itself (Adam's first step is its sign).
            task.compile(optimizer=keras.optimizers.SGD(0.5))
            task.fit(tf.data.Dataset.from_tensors((inputs, targets)), epochs=1, verbose=0)
            trained[kind] = (start, model.get_weights(), to_numpy(task(inputs)[specs.SCORES]))
        start, after_full, scores_full = trained["full"]
        _, after_unique, scores_unique = trained["unique"]
        assert sum(not np.array_equal(a, b) for a, b in zip(start, after_full)) > 0.9 * len(start)
        for a, b in zip(after_full, after_unique):
            np.testing.assert_allclose(b, a, atol=1e-5)
        np.testing.assert_allclose(scores_unique, scores_full, atol=1e-5)

    @pytest.mark.parametrize("name, history", [("mrfn", False), ("srs", False), ("lstur", True), ("pesrs", True)])
    def test_the_trainer_deduplicates_for_every_model(self, name, history):
        config = _config()
        config.train.unique_stickers = True
        options = trainer.unique_sticker_options(config, build_model(name, config), tf.distribute.get_strategy())
        assert options is not None and options.history is history
        config.train.unique_stickers = False
        assert trainer.unique_sticker_options(config, build_model(name, config), None) is None


class TestConfig(TestCase):
    def test_the_config_is_the_constructor_arguments(self):
        config = _config()
        model = build_model("pesrs", config, return_attention=True)
        saved = model.get_config()
        d = config.data
        expected = dict(
            dataclasses.asdict(config.model),
            context_len=d.context_len,
            max_words=d.max_words,
            history_len=d.history_len,
            image_size=d.image_size,
            return_attention=True,
        )
        assert {key: saved[key] for key in expected} == expected
        assert set(saved) == set(expected) | {"name", "trainable", "dtype"}
        assert PESRS.from_config(saved).get_config() == saved

    def test_a_baseline_config_holds_its_matcher(self):
        config = _config()
        model = build_model("lstur", config)
        matcher = model.get_config()["matcher"]["config"]
        assert (matcher["seed"], matcher["long_term_mask_rate"], matcher["vocab_size"]) == (0, 0.5, 50)
        revived = StickerRanker.from_config(model.get_config())
        assert revived.reads_history and type(revived.matcher) is type(model.matcher)


class TestPreRedesignFiles(TestCase):
    """`tests/fixtures/make_pre_redesign.py` saved these with the code before the ranker."""

    @pytest.mark.parametrize("name", ["pesrs", "srs"])
    def test_they_load_and_give_the_same_scores(self, name):
        arrays = np.load(os.path.join(FIXTURES, f"pre_redesign_{name}_scores.npz"))
        model = keras.saving.load_model(os.path.join(FIXTURES, f"pre_redesign_{name}.keras"), safe_mode=True)
        assert isinstance(model, StickerRanker) and model.reads_history == (name == "pesrs")
        batch = {key: arrays[key] for key in specs.INPUT_NAMES}
        out = model(batch)
        for key in (specs.SCORES, specs.EMOJI_LOGITS):
            np.testing.assert_allclose(to_numpy(out[key]), arrays["out_" + key], atol=1e-5)
        # Saved with 5 candidates, it now scores any number of them.
        self.assertAllClose(model(_candidates(batch, 2))[specs.SCORES], arrays["out_" + specs.SCORES][:, :2], atol=1e-5)
