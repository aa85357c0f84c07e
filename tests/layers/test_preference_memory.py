import numpy as np
import pytest
import tensorflow as tf

from stickerchat.layers import LookAlikeEvidence, PreferenceMemory
from testing import TestCase, to_numpy

B, H, D = 3, 4, 5


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "query": rng.normal(size=(B, D)).astype(np.float32),
        "values": rng.normal(size=(B, H, D)).astype(np.float32),
        "history_mask": np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], bool),
        "keys": rng.normal(size=(B, H, D)).astype(np.float32),
    }


class TestPreferenceMemory(TestCase):
    @pytest.mark.parametrize("memory,weights", [("attention", 1), ("weighted", 1), ("average", 0)])
    def test_layer_behaviors(self, memory, weights):
        self.run_layer_test(
            PreferenceMemory,
            init_kwargs={"hidden_dim": D, "memory": memory, "init_stddev": 0.3},
            input_data=_inputs(),
            expected_output_shape=((B, D), (B, H)),
            expected_num_trainable_weights=weights,
            float32_outputs=(1,),
        )

    def test_attention_matches_eq_23_24(self):
        x = _inputs(1)
        layer = PreferenceMemory(D, init_stddev=0.3)
        read, delta = (to_numpy(o) for o in layer(**x))
        w = to_numpy(layer.read_kernel)
        logits = np.einsum("d,de,ke->k", x["query"][0], w, x["keys"][0])[:3]
        want = np.exp(logits - logits.max())
        want /= want.sum()
        np.testing.assert_allclose(delta[0], np.append(want, 0.0), atol=1e-6)
        np.testing.assert_allclose(read[0], want @ x["values"][0, :3], atol=1e-5)
        np.testing.assert_allclose(delta[1], [1, 0, 0, 0], atol=1e-6)

    @pytest.mark.parametrize("memory", ["attention", "average", "weighted"])
    def test_empty_history_is_zero_and_finite(self, memory):
        read, delta = (to_numpy(o) for o in PreferenceMemory(D, memory=memory)(**_inputs()))
        np.testing.assert_array_equal(read[2], 0.0)
        np.testing.assert_array_equal(delta[2], 0.0)

    def test_average_is_uniform_over_real_slots(self):
        x = _inputs()
        read, delta = (to_numpy(o) for o in PreferenceMemory(D, memory="average")(**x))
        np.testing.assert_allclose(delta[0], [1 / 3, 1 / 3, 1 / 3, 0])
        np.testing.assert_allclose(read[0], x["values"][0, :3].mean(0), atol=1e-6)

    def test_weighted_ignores_keys(self):
        x = _inputs()
        layer = PreferenceMemory(D, memory="weighted", init_stddev=0.3)
        a = to_numpy(layer(**x)[1])
        x["keys"] = x["keys"] * 10
        np.testing.assert_allclose(a, to_numpy(layer(**x)[1]))

    def test_unknown_memory(self):
        with pytest.raises(ValueError):
            PreferenceMemory(D, memory="lstm")

    @pytest.mark.parametrize("memory", ["attention", "weighted"])
    def test_zero_read_starts_as_the_average_and_learns_the_addressing(self, memory):
        """zero_read: W_δ = 0, so δ is uniform over the real slots (AverageMem's read) until W_δ moves."""
        x = _inputs(2)
        layer = PreferenceMemory(D, memory=memory, zero_read=True)
        read, delta = (to_numpy(o) for o in layer(**x))
        average_read, average_delta = (to_numpy(o) for o in PreferenceMemory(D, memory="average")(**x))
        np.testing.assert_allclose(delta, average_delta, atol=1e-6)
        np.testing.assert_allclose(read, average_read, atol=1e-6)
        with tf.GradientTape() as tape:
            read, _ = layer(**x)
            loss = tf.reduce_sum(read * np.random.default_rng(3).normal(size=read.shape).astype(np.float32))
        (grad,) = tape.gradient(loss, [layer.read_kernel])
        assert np.abs(to_numpy(grad)).max() > 1e-3  # the addressing gets a gradient at step 0
        glorot = PreferenceMemory(D, memory=memory, init_stddev=0.0)
        assert np.ptp(to_numpy(glorot(**x)[1])[0, :3]) > 1e-3  # the layer initialiser starts non-uniform


C = 6


def _candidate_inputs(seed=0):
    rng = np.random.default_rng(seed + 10)
    x = _inputs(seed)
    x["candidates"] = rng.normal(size=(B, C, D)).astype(np.float32)
    x["history_stickers"] = rng.normal(size=(B, H, D)).astype(np.float32)
    return x


class TestCandidateQuery(TestCase):
    """`candidate_query=True`: δ_{c,k} = softmax_k(h W_δ ĥᵏ + O_c W_c O_k), one read per candidate."""

    def test_layer_behaviors(self):
        self.run_layer_test(
            PreferenceMemory,
            init_kwargs={"hidden_dim": D, "init_stddev": 0.3, "candidate_query": True},
            input_data=_candidate_inputs(),
            expected_output_shape=((B, C, D), (B, C, H)),
            expected_num_trainable_weights=2,
            float32_outputs=(1,),
        )

    def test_matches_the_two_term_address(self):
        x = _candidate_inputs(1)
        layer = PreferenceMemory(D, init_stddev=0.3, candidate_query=True)
        read, delta = (to_numpy(o) for o in layer(**x))
        w, w_c = to_numpy(layer.read_kernel), to_numpy(layer.candidate_kernel)
        for c in range(C):
            logits = np.einsum("d,de,ke->k", x["query"][0], w, x["keys"][0])
            logits = (logits + np.einsum("d,de,ke->k", x["candidates"][0, c], w_c, x["history_stickers"][0]))[:3]
            want = np.exp(logits - logits.max())
            want /= want.sum()
            np.testing.assert_allclose(delta[0, c], np.append(want, 0.0), atol=1e-5)
            np.testing.assert_allclose(read[0, c], want @ x["values"][0, :3], atol=1e-5)
        np.testing.assert_allclose(delta[1], np.tile([1.0, 0, 0, 0], (C, 1)), atol=1e-6)  # one real slot
        np.testing.assert_array_equal(read[2], 0.0)  # an empty history reads nothing
        np.testing.assert_array_equal(delta[2], 0.0)

    def test_each_candidate_reads_for_itself(self):
        """Permuting the candidates permutes their reads; a candidate's read does not depend on the others."""
        x = _candidate_inputs(2)
        layer = PreferenceMemory(D, init_stddev=0.3, candidate_query=True)
        read = to_numpy(layer(**x)[0])
        order = np.random.default_rng(0).permutation(C)
        y = dict(x, candidates=x["candidates"][:, order])
        np.testing.assert_allclose(to_numpy(layer(**y)[0]), read[:, order], atol=1e-6)
        z = dict(x, candidates=x["candidates"][:, :2])
        np.testing.assert_allclose(to_numpy(layer(**z)[0]), read[:, :2], atol=1e-6)

    def test_without_the_candidate_term_it_is_eq_23(self):
        """With W_c = 0 every candidate reads what the dialog's query alone (Eq. 23) reads."""
        x = _candidate_inputs(3)
        layer = PreferenceMemory(D, init_stddev=0.3, candidate_query=True)
        layer(**x)
        layer.candidate_kernel.assign(np.zeros((D, D), np.float32))
        dialog = PreferenceMemory(D, init_stddev=0.3)
        dialog(**_inputs(3))
        dialog.read_kernel.assign(layer.read_kernel)
        want_read, want_delta = (to_numpy(o) for o in dialog(**_inputs(3)))
        read, delta = (to_numpy(o) for o in layer(**x))
        np.testing.assert_allclose(delta, np.repeat(want_delta[:, None], C, axis=1), atol=1e-6)
        np.testing.assert_allclose(read, np.repeat(want_read[:, None], C, axis=1), atol=1e-5)

    def test_identity_start_reads_the_same_sticker(self):
        """Started at I/√d, a candidate that the user chose before reads that past selection most."""
        x = _candidate_inputs(4)
        x["candidates"][0, 0] = 3.0 * x["history_stickers"][0, 1]
        delta = to_numpy(PreferenceMemory(D, identity_read=True, candidate_query=True)(**x)[1])
        assert int(np.argmax(delta[0, 0])) == 1

    def test_needs_key_addressing(self):
        with pytest.raises(ValueError, match="attention"):
            PreferenceMemory(D, memory="average", candidate_query=True)
        with pytest.raises(ValueError, match="candidate_query needs"):
            PreferenceMemory(D, candidate_query=True)(**_inputs())


class TestCosineAddress(TestCase):
    """`address='cosine'`: δ_k = softmax_k(β cos(h W_δ, ĥᵏ)), W_δ from the identity, β learned."""

    @pytest.mark.parametrize("memory", ["attention", "weighted"])
    def test_layer_behaviors(self, memory):
        self.run_layer_test(
            PreferenceMemory,
            init_kwargs={"hidden_dim": D, "memory": memory, "address": "cosine"},
            input_data=_inputs(),
            expected_output_shape=((B, D), (B, H)),
            expected_num_trainable_weights=2,  # W_δ and β
            float32_outputs=(1,),
        )

    def test_matches_the_formula_and_ignores_the_norms(self):
        x = _inputs(3)
        layer = PreferenceMemory(D, address="cosine", address_scale=4.0)
        read, delta = (to_numpy(o) for o in layer(**x))
        np.testing.assert_allclose(to_numpy(layer.read_kernel), np.eye(D), atol=1e-7)  # starts at the identity
        q = x["query"][0] / np.linalg.norm(x["query"][0])
        k = x["keys"][0, :3] / np.linalg.norm(x["keys"][0, :3], axis=-1, keepdims=True)
        want = np.exp(4.0 * k @ q - (4.0 * k @ q).max())
        want /= want.sum()
        np.testing.assert_allclose(delta[0], np.append(want, 0.0), atol=1e-5)
        np.testing.assert_allclose(read[0], want @ x["values"][0, :3], atol=1e-5)
        # Scaling the query or a key changes nothing: only directions address.
        scaled = dict(x, query=x["query"] * 7.0, keys=x["keys"] * np.array([0.1, 3.0, 9.0, 1.0], np.float32)[None, :, None])
        np.testing.assert_allclose(to_numpy(layer(**scaled)[1]), delta, atol=1e-5)
        assert np.all(delta[2] == 0) and np.all(np.isfinite(read))  # an empty history still reads nothing

    def test_starts_by_reading_the_most_similar_past_dialog(self):
        # Even with the default (zero) start of the bilinear form asked for, the cosine reads by similarity at once.
        x = _inputs(4)
        x["keys"][0, 1] = x["query"][0] * 2.0
        delta = to_numpy(PreferenceMemory(D, address="cosine", zero_read=True)(**x)[1])
        assert delta[0].argmax() == 1 and delta[0, 1] > 0.5

    def test_sharpness_learns(self):
        layer = PreferenceMemory(D, address="cosine")
        x = {k: tf.constant(v) for k, v in _inputs(5).items()}
        with tf.GradientTape() as tape:
            read, _ = layer(**x)
            loss = tf.reduce_sum(read * tf.constant(np.random.default_rng(6).normal(size=(B, D)).astype(np.float32)))
        grads = tape.gradient(loss, [layer.read_kernel, layer.address_sharpness])
        assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)

    def test_unknown_address(self):
        with pytest.raises(ValueError, match="address"):
            PreferenceMemory(D, address="dot")


class TestLookAlikeEvidence(TestCase):
    """e_c = w · Σ_k δ_k exp(τ (cos(Q O_c, O_k) − 1)): the read's share on each candidate's look-alikes."""

    def _inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        weights = rng.random((B, H)).astype(np.float32)
        weights[:, -1] = 0.0  # a padded slot
        return {
            "weights": weights / weights.sum(-1, keepdims=True),
            "candidates": rng.normal(size=(B, 6, D)).astype(np.float32),
            "history_stickers": rng.normal(size=(B, H, D)).astype(np.float32),
        }

    def test_layer_behaviors(self):
        self.run_layer_test(
            LookAlikeEvidence,
            init_kwargs={"hidden_dim": D},
            input_data=self._inputs(),
            expected_output_shape=(B, 6),
            expected_num_trainable_weights=3,
            float32_outputs=(0,),
        )

    def test_value_and_what_it_rewards(self):
        x = self._inputs(1)
        x["candidates"][0, 2] = 4.0 * x["history_stickers"][0, 1]  # candidate 2 looks exactly like slot 1
        x["candidates"][0, 3] = -x["history_stickers"][0, 1]  # candidate 3 is its opposite
        x["candidates"][0, 4] = x["history_stickers"][0, 3]  # candidate 4 looks like the padded slot only
        layer = LookAlikeEvidence(D, sharpness=30.0, weight=5.0)
        e = to_numpy(layer(**x))
        unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
        cos = np.einsum("bcd,bkd->bck", unit(x["candidates"]), unit(x["history_stickers"]))
        want = 5.0 * np.einsum("bk,bck->bc", x["weights"], np.exp(30.0 * (cos - 1.0)))
        np.testing.assert_allclose(e, want, rtol=1e-4, atol=1e-6)
        assert e[0, 2] >= 5.0 * x["weights"][0, 1] - 1e-5  # all the read on its look-alike: w · δ_1 at least
        assert e[0, 3] < 1e-6 and e[0, 4] < 1e-3  # the opposite, and a look-alike of a slot the read skips
        # A read that moves onto another slot moves the evidence with it.
        moved = dict(x, weights=np.tile(np.eye(H, dtype=np.float32)[0], (B, 1)))
        assert to_numpy(layer(**moved))[0, 2] < e[0, 2]

    def test_one_read_per_candidate(self):
        x = self._inputs(2)
        layer = LookAlikeEvidence(D)
        shared = to_numpy(layer(**x))
        tiled = dict(x, weights=np.repeat(x["weights"][:, None], 6, axis=1))
        np.testing.assert_allclose(to_numpy(layer(**tiled)), shared, atol=1e-6)
