"""Whole-model behaviour of PESRS / SRS on the `test` preset."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from stickerchat import config as config_lib
from stickerchat import specs
from stickerchat.models import PESRS, build_model, losses, matcher_inputs
from testing import (
    TestCase,
    pad_batch,
    random_batch,
    random_targets,
    scores_under_backend,
    to_numpy,
    with_repeated_stickers,
)



def _config(**overrides):
    # A larger initialiser than §6.4's 0.02 so that differences between
    # candidates are far above float32 noise in these checks.
    return config_lib.test().replace(init_stddev=0.2, **overrides)


def _batch(config, **kwargs):
    return random_batch(config.data, config.model.vocab_size, **kwargs)


class TestPESRS(TestCase):
    def test_outputs(self):
        config = _config()
        model = build_model("pesrs", config, return_attention=True)
        assert isinstance(model, PESRS)
        out = model(_batch(config))
        d, m = config.data, config.model
        p = model.map_size
        want = {
            specs.SCORES: (3, d.num_candidates),
            specs.EMOJI_LOGITS: (3, d.num_candidates, m.num_emoji),
            specs.UTTERANCE_ATTENTION: (3, d.num_candidates, d.context_len, d.max_words),
            specs.STICKER_ATTENTION: (3, d.num_candidates, d.context_len, p, p),
            specs.MEMORY_WEIGHTS: (3, d.history_len),
            specs.FUSION_GATE: (3, d.num_candidates, 1),
            specs.MEMORY_SCORES: (3, d.num_candidates),  # `memory_loss` > 0
            specs.CONTEXT_EMOJI_LOGITS: (3, m.num_emoji),  # `context_classify` > 0
        }
        assert {k: tuple(v.shape) for k, v in out.items()} == want
        for v in out.values():
            assert keras.backend.standardize_dtype(v.dtype) == "float32"
            assert np.all(np.isfinite(to_numpy(v)))
        scores = to_numpy(out[specs.SCORES])
        assert np.all((scores > 0) & (scores < 1))
        assert np.ptp(scores, axis=1).min() > 1e-4  # candidates are told apart
        # The auxiliary heads of `memory_loss` and `context_classify` are on by default; at 0 they are not built.
        assert {specs.MEMORY_SCORES, specs.CONTEXT_EMOJI_LOGITS} <= set(build_model("pesrs", config)(_batch(config)))
        plain = build_model("pesrs", config.replace(memory_loss=0.0, context_classify=0.0))
        assert set(plain(_batch(config)).keys()) == {specs.SCORES, specs.EMOJI_LOGITS}

    def test_auxiliary_heads(self):
        """memory_loss adds the memory's own scores, context_classify the query's emoji logits; neither changes the rest."""
        config = _config(memory_loss=1.0, context_classify=1.0)
        model = build_model("pesrs", config)
        batch = _batch(config, min_history=2)
        out = model(batch)
        d, m = config.data, config.model
        assert tuple(out[specs.MEMORY_SCORES].shape) == (3, d.num_candidates)
        assert tuple(out[specs.CONTEXT_EMOJI_LOGITS].shape) == (3, m.num_emoji)
        memory = to_numpy(out[specs.MEMORY_SCORES])
        assert np.all((memory > 0) & (memory < 1)) and np.ptp(memory, axis=1).min() > 1e-5
        # The memory's scores read the history only through the memory: another history changes them.
        other = dict(batch)
        other[specs.HISTORY_IMAGES] = 255 - batch[specs.HISTORY_IMAGES]
        assert not np.allclose(memory, to_numpy(model(other)[specs.MEMORY_SCORES]))
        # The query's head reads the dialog, not the history.
        self.assertAllClose(out[specs.CONTEXT_EMOJI_LOGITS], model(other)[specs.CONTEXT_EMOJI_LOGITS], atol=1e-6)
        # Without key addressing there is no query head; the literal memory has no memory scores.
        assert specs.CONTEXT_EMOJI_LOGITS not in build_model("average_mem", config)(batch)
        assert specs.MEMORY_SCORES not in build_model("pesrs", config.replace(preference="literal"))(batch)
        assert set(build_model("srs", config)(batch)) == {specs.SCORES, specs.EMOJI_LOGITS}

    @pytest.mark.parametrize("name", ["pesrs", "srs", "weighted_mem"])
    def test_padding_does_not_change_scores(self, name):
        config = _config()
        bigger = config.replace(context_len=7, max_words=9, history_len=6)
        model = build_model(name, config)
        padded_model = build_model(name, bigger)
        padded_model.set_weights(model.get_weights())
        batch = _batch(config, seed=3)
        padded = pad_batch(batch, bigger.data)
        self.assertAllClose(model(batch)[specs.SCORES], padded_model(padded)[specs.SCORES], atol=1e-5)

    def test_permuting_candidates_permutes_scores(self):
        config = _config()
        model = build_model("pesrs", config)
        batch = _batch(config, seed=4)
        perm = np.array([3, 0, 4, 2, 1])
        permuted = dict(batch)
        permuted[specs.CANDIDATE_IMAGES] = batch[specs.CANDIDATE_IMAGES][:, perm]
        a, b = model(batch), model(permuted)
        self.assertAllClose(to_numpy(a[specs.SCORES])[:, perm], b[specs.SCORES], atol=1e-5)
        self.assertAllClose(to_numpy(a[specs.EMOJI_LOGITS])[:, perm], b[specs.EMOJI_LOGITS], atol=1e-5)

    def test_history_changes_pesrs_but_not_srs(self):
        config = _config()
        batch = _batch(config, seed=5, min_history=2)
        other = dict(batch)
        other[specs.HISTORY_IMAGES] = 255 - batch[specs.HISTORY_IMAGES]
        pesrs, srs = build_model("pesrs", config), build_model("srs", config)
        assert not np.allclose(to_numpy(pesrs(batch)[specs.SCORES]), to_numpy(pesrs(other)[specs.SCORES]))
        self.assertAllClose(srs(batch)[specs.SCORES], srs(other)[specs.SCORES])

    @pytest.mark.parametrize(
        "name, overrides",
        [
            ("pesrs", {}),  # today's defaults: the cosine address, the utterance GRU, keys-only history encoder
            # The printed wiring: a bilinear W_δ (from the initialiser: from zero, the default, it
            # leaves the key encoder without a gradient at step 0 only), max pooling, Eq. 19–20's RNNs.
            (
                "pesrs",
                dict(memory_address="bilinear", memory_read_init="default", context_encoding="max", history_encoding="rnn"),
            ),
            ("srs", {}),
        ],
    )
    def test_every_weight_gets_a_gradient(self, name, overrides):
        # The auxiliary heads are on so that their weights are checked too.
        config = _config(memory_loss=1.0, context_classify=1.0, **overrides)
        model = build_model(name, config)
        batch = _batch(config, seed=6, min_history=2)
        targets = random_targets(config.data, config.model.num_emoji)
        with tf.GradientTape() as tape:
            total, _, _ = losses.model_loss(
                model(batch, training=True),
                targets,
                0.1,
                True,
                1.0,
                memory_weight=config.model.memory_loss,
                context_weight=config.model.context_classify,
            )
        grads = tape.gradient(total, model.trainable_variables)
        missing = [
            v.path for v, g in zip(model.trainable_variables, grads) if g is None or not np.any(to_numpy(g) != 0)
        ]
        assert not missing, missing

    @pytest.mark.parametrize("name", ["pesrs", "srs"])
    def test_lexical_match_starts_as_the_papers_score(self, name):
        """`lexical_match` adds a zero-initialised term: a fresh model scores as the paper's with the same weights."""
        config = _config()
        on = build_model(name, config.replace(lexical_match=True))
        off = build_model(name, config.replace(lexical_match=False))
        by_path = {v.path: v for v in on.weights}
        assert set(by_path) - {v.path for v in off.weights} == {"lexical_match/word_sticker"}
        for v in off.weights:
            v.assign(by_path[v.path])
        batch = _batch(config, seed=8, min_history=2)
        self.assertAllClose(on(batch)[specs.SCORES], off(batch)[specs.SCORES], atol=1e-6)
        table = np.random.default_rng(0).normal(size=(config.model.vocab_size, config.model.hidden_dim))
        by_path["lexical_match/word_sticker"].assign(table.astype("float32"))
        assert not np.allclose(to_numpy(on(batch)[specs.SCORES]), to_numpy(off(batch)[specs.SCORES]), atol=1e-3)

    def test_empty_history_gives_finite_scores(self):
        config = _config()
        model = build_model("pesrs", config, return_attention=True)
        batch = _batch(config, seed=7)
        batch[specs.HISTORY_MASK][:] = False
        batch[specs.HISTORY_CONTEXT][:] = 0
        batch[specs.HISTORY_IMAGES][:] = 0
        out = model(batch)
        assert np.all(np.isfinite(to_numpy(out[specs.SCORES])))
        np.testing.assert_array_equal(to_numpy(out[specs.MEMORY_WEIGHTS]), 0.0)

    def test_matcher_on_encoded_stickers_equals_the_model(self):
        config = _config()
        model = build_model("pesrs", config, return_attention=True)
        batch = _batch(config, seed=8, min_history=1)
        candidate_map, candidate_vector = model.sticker_encoder(batch[specs.CANDIDATE_IMAGES])
        _, history_vector = model.sticker_encoder(batch[specs.HISTORY_IMAGES])
        # Keras layers take all-tensor (or all-numpy) nested inputs.
        tensor = keras.ops.convert_to_tensor
        matched = model.matcher(
            matcher_inputs(
                tensor(batch[specs.CONTEXT]),
                candidate_map,
                candidate_vector,
                tensor(batch[specs.HISTORY_CONTEXT]),
                history_vector,
                tensor(batch[specs.HISTORY_MASK]),
            )
        )
        full = model(batch)
        for name in (specs.SCORES, specs.MEMORY_WEIGHTS, specs.STICKER_ATTENTION):
            self.assertAllClose(matched[name], full[name], atol=1e-5)
        self.assertAllClose(model.emoji_classifier(candidate_vector), full[specs.EMOJI_LOGITS], atol=1e-5)

    @pytest.mark.parametrize("name", ["pesrs", "srs", "pesrs_fr2t", "pesrs_no_din", "average_mem"])
    def test_saving(self, name):
        config = _config()
        model = build_model(name, config, return_attention=True)
        restored = self.run_model_saving_test(model, _batch(config, seed=9), atol=1e-6)
        assert restored.get_config() == model.get_config()

    def test_mixed_bfloat16_gives_float32_scores(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        config = _config()
        model = build_model("pesrs", config, return_attention=True)
        out = model(_batch(config))
        for v in out.values():
            assert keras.backend.standardize_dtype(v.dtype) == "float32"
            assert np.all(np.isfinite(to_numpy(v)))
        for w in model.weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32"

    def test_same_scores_under_jax(self):
        pytest.importorskip("jax")
        config = _config()
        model = build_model("pesrs", config)
        batch = _batch(config, seed=10, min_history=1)
        jax_scores = scores_under_backend({"pesrs": model}, batch, "jax")["pesrs"]
        self.assertAllClose(model(batch)[specs.SCORES], jax_scores, atol=1e-4)


def _gradients(model, config, inputs, call, training):
    targets = random_targets(config.data, config.model.num_emoji, batch_size=inputs[specs.CONTEXT].shape[0])
    with tf.GradientTape() as tape:
        out = call(inputs, training=training)
        loss = losses.hinge_ranking_loss(out[specs.SCORES], targets[specs.LABEL], 0.1)
        loss += losses.emoji_classification_loss(out[specs.EMOJI_LOGITS], targets[specs.CANDIDATE_EMOJI])
    grads = tape.gradient(loss, model.trainable_variables)
    # A head outside this loss (the query's emoji head of `context_classify`) has no gradient: zeros.
    return out, [np.zeros(v.shape, np.float32) if g is None else to_numpy(tf.convert_to_tensor(g)) for v, g in zip(model.trainable_variables, grads)]


class TestUniqueStickers(TestCase):
    """`call_on_unique_stickers` (each distinct image encoded once) is the full model."""

    def _check(self, model, config, full, unique, training, atol=1e-5):
        out_full, grads_full = _gradients(model, config, full, model, training)
        out_unique, grads_unique = _gradients(model, config, unique, model.call_on_unique_stickers, training)
        assert set(out_unique) == set(out_full)
        for name in out_full:
            np.testing.assert_allclose(to_numpy(out_unique[name]), to_numpy(out_full[name]), atol=atol, err_msg=name)
        assert len(grads_full) == len(model.trainable_variables) and len(grads_full) > 10
        touched = 0
        for variable, g_full, g_unique in zip(model.trainable_variables, grads_full, grads_unique):
            scale = max(1.0, float(np.abs(g_full).max()))
            np.testing.assert_allclose(g_unique, g_full, atol=atol * scale, err_msg=variable.path)
            touched += bool(np.abs(g_full).max() > 0)
        # The sticker encoder's kernels get gradients through the gathered rows.
        encoder = {v.path for v in model.sticker_encoder.trainable_variables}
        assert any(
            np.abs(g).max() > 0 for v, g in zip(model.trainable_variables, grads_unique) if v.path in encoder
        )
        assert touched > len(grads_full) // 2

    @pytest.mark.parametrize("name", ["pesrs", "srs", "pesrs_no_tar", "average_mem"])
    def test_scores_and_gradients_equal_the_full_model(self, name):
        config = _config(dropout=0.0)
        model = build_model(name, config, return_attention=True)
        full, unique = with_repeated_stickers(config)
        if not model.reads_history:
            del unique[specs.HISTORY_SLOTS]  # SRS does not read the history images
        self._check(model, config, full, unique, training=True)

    def test_inception_in_inference_mode(self):
        # Batch normalisation in inference mode uses its moving statistics, so
        # the Inception-v3 encoder is also the same function on unique images.
        config = _config(dropout=0.0, image_encoder="inception_v3").replace(
            image_size=75, num_candidates=3, history_len=2
        )
        model = build_model("pesrs", config)
        full, unique = with_repeated_stickers(config, batch_size=2, pool=4)
        self._check(model, config, full, unique, training=False, atol=1e-4)

    def test_memory_model_needs_history_slots(self):
        config = _config()
        model = build_model("pesrs", config)
        _, unique = with_repeated_stickers(config)
        del unique[specs.HISTORY_SLOTS]
        with pytest.raises(ValueError, match="history_slots"):
            model.call_on_unique_stickers(unique)


class TestOrderAwareCosineMemory(TestCase):
    """`context_encoding='rnn'` (a GRU over the utterances for the query and keys) and `memory_address='cosine'`."""

    def _config(self):
        return _config(context_encoding="rnn", memory_address="cosine", context_classify=1.0)

    def test_padding_permutation_saving_and_backends(self):
        config = self._config()
        model = build_model("pesrs", config, return_attention=True)
        batch = _batch(config, seed=21, min_history=2)
        out = model(batch)
        delta = to_numpy(out[specs.MEMORY_WEIGHTS])
        real = to_numpy(batch[specs.HISTORY_MASK]).astype(bool)
        np.testing.assert_allclose(delta.sum(-1), real.any(-1), atol=1e-5)
        assert np.all(delta[~real] == 0)
        # Padding utterances, words and history slots changes nothing (the GRU skips padded utterances).
        bigger = config.replace(context_len=7, max_words=9, history_len=6)
        padded_model = build_model("pesrs", bigger)
        padded_model.set_weights(model.get_weights())
        self.assertAllClose(out[specs.SCORES], padded_model(pad_batch(batch, bigger.data))[specs.SCORES], atol=1e-5)
        perm = np.array([3, 0, 4, 2, 1])
        permuted = dict(batch, **{specs.CANDIDATE_IMAGES: batch[specs.CANDIDATE_IMAGES][:, perm]})
        self.assertAllClose(to_numpy(out[specs.SCORES])[:, perm], model(permuted)[specs.SCORES], atol=1e-5)
        restored = self.run_model_saving_test(model, batch, atol=1e-6)
        assert restored.get_config() == model.get_config()
        plain = build_model("pesrs", config)
        plain.set_weights(model.get_weights())
        pytest.importorskip("jax")
        other = scores_under_backend({"pesrs": plain}, batch, "jax")["pesrs"]
        self.assertAllClose(plain(batch)[specs.SCORES], other, atol=1e-4)

    def test_the_order_of_the_utterances_reaches_the_read(self):
        # Swapping two utterances of the dialog moves δ under the GRU; the max of Eq. 22 cannot see it.
        config = self._config()
        batch = _batch(config, seed=22, min_history=3)
        context = np.array(batch[specs.CONTEXT])
        context[:, :2] = 0
        context[:, 0, :2] = [5, 6]
        context[:, 1, :2] = [7, 8]
        swapped = context.copy()
        swapped[:, [0, 1]] = context[:, [1, 0]]
        for encoding, moves in (("rnn", True), ("max", False)):
            model = build_model("pesrs", config.replace(context_encoding=encoding), return_attention=True)
            a = to_numpy(model(dict(batch, **{specs.CONTEXT: context}))[specs.MEMORY_WEIGHTS])
            b = to_numpy(model(dict(batch, **{specs.CONTEXT: swapped}))[specs.MEMORY_WEIGHTS])
            assert (np.abs(a - b).max() > 1e-4) == moves, (encoding, np.abs(a - b).max())


class TestCandidateQuery(TestCase):
    """`memory_query='candidate'`: each candidate joins the memory's query (one read and one δ per candidate)."""

    def test_outputs_permutation_padding_and_saving(self):
        config = _config(memory_query="candidate")
        model = build_model("pesrs", config, return_attention=True)
        batch = _batch(config, seed=11, min_history=2)
        out = model(batch)
        d = config.data
        assert tuple(out[specs.MEMORY_WEIGHTS].shape) == (3, d.num_candidates, d.history_len)
        delta = to_numpy(out[specs.MEMORY_WEIGHTS])
        real = to_numpy(batch[specs.HISTORY_MASK]).astype(bool)
        np.testing.assert_allclose(delta.sum(-1), np.repeat(real.any(-1, keepdims=True), d.num_candidates, 1), atol=1e-5)
        assert np.all(delta[np.repeat(~real[:, None], d.num_candidates, 1)] == 0)  # padded slots are never read
        # Candidates still score independently: a permutation permutes the scores and their reads.
        perm = np.array([3, 0, 4, 2, 1])
        permuted = dict(batch)
        permuted[specs.CANDIDATE_IMAGES] = batch[specs.CANDIDATE_IMAGES][:, perm]
        other = model(permuted)
        self.assertAllClose(to_numpy(out[specs.SCORES])[:, perm], other[specs.SCORES], atol=1e-5)
        self.assertAllClose(delta[:, perm], other[specs.MEMORY_WEIGHTS], atol=1e-5)
        # Padding the history or the words does not change the scores.
        bigger = config.replace(context_len=7, max_words=9, history_len=6)
        padded_model = build_model("pesrs", bigger)
        padded_model.set_weights(model.get_weights())
        self.assertAllClose(out[specs.SCORES], padded_model(pad_batch(batch, bigger.data))[specs.SCORES], atol=1e-5)
        restored = self.run_model_saving_test(model, batch, atol=1e-6)
        assert restored.get_config() == model.get_config()

    def test_the_read_differs_by_candidate(self):
        # W_c starts as W_δ does: at the identity with the cosine address (with the bilinear one from
        # zero, its default, every read would start uniform).
        config = _config(memory_query="candidate")
        model = build_model("pesrs", config, return_attention=True)
        delta = to_numpy(model(_batch(config, seed=12, min_history=3))[specs.MEMORY_WEIGHTS])
        assert np.ptp(delta, axis=1).max() > 1e-3  # not one read for every candidate, as with the dialog's query alone
        dialog = build_model("pesrs", config.replace(memory_query="dialog"), return_attention=True)
        assert tuple(dialog(_batch(config, seed=12, min_history=3))[specs.MEMORY_WEIGHTS].shape) == (3, config.data.history_len)


class TestLookAlike(TestCase):
    """`memory_lookalike > 0`: the read's share on each candidate's look-alikes is added to Eq. 32's logit."""

    def test_adds_the_evidence_to_the_logit_and_keeps_permutation_and_saving(self):
        config = _config(memory_lookalike=5.0)
        model = build_model("pesrs", config, return_attention=True)
        batch = _batch(config, seed=31, min_history=2)
        out = model(batch)
        plain = build_model("pesrs", config.replace(memory_lookalike=0.0), return_attention=True)
        weights = {w.path: w for w in model.weights}
        for w in plain.weights:  # the same model without the evidence
            w.assign(weights[w.path])
        logit = lambda y: np.log(to_numpy(y) / (1 - to_numpy(y)))  # noqa: E731
        added = logit(out[specs.SCORES]) - logit(plain(batch)[specs.SCORES])
        matcher = model.matcher
        images = np.concatenate([batch[specs.CANDIDATE_IMAGES], batch[specs.HISTORY_IMAGES]], axis=1)
        _, vectors = model.sticker_encoder(images)  # Eq. 1 and 18, as the model encodes them
        h = config.data.history_len
        candidates, history = vectors[:, :-h], vectors[:, -h:]
        evidence = to_numpy(matcher.look_alike(out[specs.MEMORY_WEIGHTS], candidates, history))
        np.testing.assert_allclose(added, evidence, atol=1e-3)
        assert np.all(evidence >= 0) and evidence.max() > 0
        perm = np.array([3, 0, 4, 2, 1])
        permuted = dict(batch, **{specs.CANDIDATE_IMAGES: batch[specs.CANDIDATE_IMAGES][:, perm]})
        self.assertAllClose(to_numpy(out[specs.SCORES])[:, perm], model(permuted)[specs.SCORES], atol=1e-5)
        restored = self.run_model_saving_test(model, batch, atol=1e-6)
        assert restored.get_config() == model.get_config()
