import numpy as np
import pytest

from stickerchat.layers import GatedFusion
from testing import TestCase, to_numpy


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "interaction": rng.normal(size=(2, 3, 4)).astype(np.float32),
        "preference": rng.normal(size=(2, 4)).astype(np.float32),
    }


class TestGatedFusion(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            GatedFusion,
            init_kwargs={"init_stddev": 0.3},
            input_data=_inputs(),
            expected_output_shape=((2, 3), (2, 3, 1)),
            expected_num_trainable_weights=4,
            float32_outputs=(0, 1),
        )

    def test_matches_eq_31_32(self):
        x = _inputs(1)
        layer = GatedFusion(init_stddev=0.5)
        score, gate = (to_numpy(o) for o in layer(**x))
        wg, bg = (to_numpy(v) for v in layer.gate_dense.weights)
        ws, bs = (to_numpy(v) for v in layer.score_dense.weights)
        sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        g, r = x["interaction"][1, 2], x["preference"][1]
        f = sigmoid(np.concatenate([r, g]) @ wg + bg)
        np.testing.assert_allclose(gate[1, 2], f, atol=1e-6)
        np.testing.assert_allclose(score[1, 2], sigmoid((f * g + (1 - f) * r) @ ws + bs)[0], atol=1e-6)


    def test_candidate_aware_reads_r_per_candidate(self):
        """r_c = r ⊙ FC(O_flat_c) replaces r in Eq. 31–32; candidates that differ only by sticker differ."""
        x = _inputs(2)
        x["interaction"][:, 1] = x["interaction"][:, 0]  # candidates 0 and 1: the same g_Tu
        rng = np.random.default_rng(3)
        candidates = rng.normal(size=(2, 3, 4)).astype(np.float32)
        literal = GatedFusion(init_stddev=0.5)
        score, _ = (to_numpy(o) for o in literal(**x))
        np.testing.assert_allclose(score[:, 0], score[:, 1], atol=1e-6)  # literal: one r, a tie
        layer = GatedFusion(init_stddev=0.5, candidate_aware=True)
        score, gate = (to_numpy(o) for o in layer(**x, candidate_vector=candidates))
        assert np.all(np.abs(score[:, 0] - score[:, 1]) > 1e-4)
        wg, bg = (to_numpy(v) for v in layer.gate_dense.weights)
        ws, bs = (to_numpy(v) for v in layer.score_dense.weights)
        (wc,) = (to_numpy(v) for v in layer.candidate_projection.weights)
        sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        g, r = x["interaction"][1, 2], x["preference"][1] * (candidates[1, 2] @ wc)
        f = sigmoid(np.concatenate([r, g]) @ wg + bg)
        np.testing.assert_allclose(gate[1, 2], f, atol=1e-6)
        np.testing.assert_allclose(score[1, 2], sigmoid((f * g + (1 - f) * r) @ ws + bs)[0], atol=1e-6)
        self.run_layer_test(
            GatedFusion,
            init_kwargs={"init_stddev": 0.3, "candidate_aware": True},
            input_data=dict(x, candidate_vector=candidates),
            expected_output_shape=((2, 3), (2, 3, 1)),
            expected_num_trainable_weights=5,
            float32_outputs=(0, 1),
        )

    def test_direct_adds_the_candidate_read_to_the_logit_outside_the_gate(self):
        """direct: y = σ(FC(f_g·g + (1 − f_g)·r_c) + FC'(r_c)); FC' starts at zero."""
        x = _inputs(4)
        candidates = np.random.default_rng(5).normal(size=(2, 3, 4)).astype(np.float32)
        gated = GatedFusion(init_stddev=0.5, candidate_aware=True)
        direct = GatedFusion(init_stddev=0.5, candidate_aware=True, direct=True)
        gated(**x, candidate_vector=candidates)
        direct(**x, candidate_vector=candidates)
        for name in ("gate_dense", "score_dense", "candidate_projection"):
            for target, source in zip(getattr(direct, name).weights, getattr(gated, name).weights):
                target.assign(source)
        y_gated, gate_gated = (to_numpy(o) for o in gated(**x, candidate_vector=candidates))
        y, gate = (to_numpy(o) for o in direct(**x, candidate_vector=candidates))
        np.testing.assert_allclose(y, y_gated, atol=1e-6)  # FC' = 0 at initialisation
        w = np.random.default_rng(6).normal(size=(4, 1)).astype(np.float32)
        direct.direct_dense.weights[0].assign(w)
        direct.direct_dense.weights[1].assign(np.array([0.3], np.float32))
        y, gate = (to_numpy(o) for o in direct(**x, candidate_vector=candidates))
        np.testing.assert_allclose(gate, gate_gated, atol=1e-6)  # the gate is unchanged
        (wc,) = (to_numpy(v) for v in direct.candidate_projection.weights)
        r_c = x["preference"][:, None, :] * (candidates @ wc)
        logit = np.log(y_gated / (1 - y_gated)) + (r_c @ w)[..., 0] + 0.3
        np.testing.assert_allclose(y, 1 / (1 + np.exp(-logit)), atol=1e-5)
        self.run_layer_test(
            GatedFusion,
            init_kwargs={"init_stddev": 0.3, "candidate_aware": True, "direct": True},
            input_data=dict(x, candidate_vector=candidates),
            expected_output_shape=((2, 3), (2, 3, 1)),
            expected_num_trainable_weights=7,
            float32_outputs=(0, 1),
        )

    def test_direct_needs_the_candidate_read(self):
        with pytest.raises(ValueError, match="candidate_aware"):
            GatedFusion(direct=True)


def test_memory_score_ranks_by_the_read_alone():
    """y_m = σ(FC_m(r_c)): the memory's own score; Eq. 32's y is unchanged by the option."""
    x = _inputs(4)
    candidates = np.random.default_rng(5).normal(size=(2, 3, 4)).astype(np.float32)
    plain = GatedFusion(init_stddev=0.5, candidate_aware=True)
    with_memory = GatedFusion(init_stddev=0.5, candidate_aware=True, memory_score=True)
    score, gate = (to_numpy(o) for o in plain(**x, candidate_vector=candidates))
    with_memory(**x, candidate_vector=candidates)
    for name in ("gate_dense", "score_dense", "candidate_projection"):
        getattr(with_memory, name).set_weights(getattr(plain, name).get_weights())
    score_m, gate_m, memory = (to_numpy(o) for o in with_memory(**x, candidate_vector=candidates))
    np.testing.assert_allclose(score_m, score, atol=1e-6)
    np.testing.assert_allclose(gate_m, gate, atol=1e-6)
    (wc,) = (to_numpy(v) for v in with_memory.candidate_projection.weights)
    wm, bm = (to_numpy(v) for v in with_memory.memory_dense.weights)
    r_c = x["preference"][:, None, :] * (candidates @ wc)
    np.testing.assert_allclose(memory, 1 / (1 + np.exp(-((r_c @ wm)[..., 0] + bm[0]))), atol=1e-6)
    # The text interaction does not reach it.
    x2 = dict(x, interaction=x["interaction"] + 1.0)
    np.testing.assert_allclose(to_numpy(with_memory(**x2, candidate_vector=candidates)[2]), memory, atol=1e-6)
    assert GatedFusion.from_config(with_memory.get_config()).memory_score
    with pytest.raises(ValueError, match="candidate_aware"):
        GatedFusion(memory_score=True)


@pytest.mark.parametrize("candidate_aware", [False, True])
def test_a_read_per_candidate_is_used_per_candidate(candidate_aware):
    """A `(batch, cands, dim)` preference (a memory queried by each candidate): candidate c uses row c."""
    x = _inputs(4)
    rng = np.random.default_rng(5)
    if candidate_aware:
        x["candidate_vector"] = rng.normal(size=(2, 3, 4)).astype(np.float32)
    layer = GatedFusion(init_stddev=0.5, candidate_aware=candidate_aware)
    shared = to_numpy(layer(**x)[0])
    tiled = dict(x, preference=np.repeat(x["preference"][:, None], 3, axis=1))
    np.testing.assert_allclose(to_numpy(layer(**tiled)[0]), shared, atol=1e-6)  # the same read for all: Eq. 24's r
    per = rng.normal(size=(2, 3, 4)).astype(np.float32)
    scores = to_numpy(layer(**dict(x, preference=per))[0])
    for c in range(3):
        one = dict(x, preference=per[:, c])
        np.testing.assert_allclose(scores[:, c], to_numpy(layer(**one)[0])[:, c], atol=1e-6)
