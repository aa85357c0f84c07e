import numpy as np

from stickerchat.layers import DeepInteraction, PlainInteraction
from testing import TestCase, to_numpy

B, N, T, W, P, D = 2, 3, 4, 5, 2, 6


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((B, T, W), bool)
    mask[0, 1, 3:] = False
    mask[0, 3] = False  # a padding utterance
    mask[1, 2, 1:] = False
    return {
        "sticker_map": rng.normal(size=(B, N, P, P, D)).astype(np.float32),
        "sticker_vector": rng.normal(size=(B, N, D)).astype(np.float32),
        "utterances": rng.normal(size=(B, T, W, D)).astype(np.float32),
        "padding_mask": mask,
    }


def _softmax(x, mask=None):
    x = np.where(mask, x, -np.inf) if mask is not None else x
    e = np.exp(x - x.max(-1, keepdims=True))
    e = np.where(mask, e, 0.0) if mask is not None else e
    return e / e.sum(-1, keepdims=True)


class TestDeepInteraction(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            DeepInteraction,
            init_kwargs={"hidden_dim": D, "init_stddev": 0.2},
            input_data=_inputs(),
            expected_output_shape=((B, N, T, D), (B, N, T, W), (B, N, T, P, P)),
            # relation kernel + integrate (2) + output (2).
            expected_num_trainable_weights=5,
            float32_outputs=(1, 2),
        )

    def test_matches_the_concatenation_formula(self):
        """Eq. 9–15 against a literal numpy version with wᵀ[O_k ⊕ h_j ⊕ O_k⊗h_j]."""
        x = _inputs(1)
        layer = DeepInteraction(D, init_stddev=0.3)
        q2, tau_u, tau_s = (to_numpy(o) for o in layer(**x))
        w = to_numpy(layer.relation_kernel).reshape(-1)  # [w1; w2; w3]
        wi, bi = (to_numpy(v) for v in layer.integrate_dense.weights)
        wo, bo = (to_numpy(v) for v in layer.output_dense.weights)
        relu = lambda z: np.maximum(z, 0.0)  # noqa: E731
        for b in range(B):
            for n in range(N):
                units = x["sticker_map"][b, n].reshape(P * P, D)
                for t in range(T):
                    mask = x["padding_mask"][b, t]
                    if not mask.any():
                        continue
                    h = x["utterances"][b, t]
                    m = np.array([[w @ np.concatenate([o, hj, o * hj]) for hj in h] for o in units])  # Eq. 9–10
                    tu = _softmax(np.max(m, axis=0), mask)
                    ts = _softmax(np.max(np.where(mask[None], m, -np.inf), axis=1))
                    np.testing.assert_allclose(tau_u[b, n, t], tu, atol=1e-5)
                    np.testing.assert_allclose(tau_s[b, n, t].reshape(-1), ts, atol=1e-5)
                    l_vec = tu @ h  # Eq. 11
                    r_vec = ts @ units  # Eq. 12
                    o_flat = x["sticker_vector"][b, n]
                    q1 = relu(np.concatenate([o_flat, r_vec, o_flat * r_vec, o_flat + r_vec]) @ wi + bi)
                    np.testing.assert_allclose(q2[b, n, t], relu(np.concatenate([q1, l_vec]) @ wo + bo), atol=1e-4)

    def test_text_product_adds_l_times_o_flat_to_eq_15(self):
        """text_product: Q2 = ReLU(FC(Q1 ⊕ l ⊕ l⊗O_flat)); the rest of Eq. 9–14 unchanged."""
        x = _inputs(4)
        layer = DeepInteraction(D, init_stddev=0.3, text_product=True)
        q2, tau_u, _ = (to_numpy(o) for o in layer(**x))
        wi, bi = (to_numpy(v) for v in layer.integrate_dense.weights)
        wo, bo = (to_numpy(v) for v in layer.output_dense.weights)
        assert wo.shape == (3 * D, D)
        relu = lambda z: np.maximum(z, 0.0)  # noqa: E731
        w = to_numpy(layer.relation_kernel).reshape(-1)
        b, n, t = 1, 2, 0
        units = x["sticker_map"][b, n].reshape(P * P, D)
        h, mask = x["utterances"][b, t], x["padding_mask"][b, t]
        m = np.array([[w @ np.concatenate([o, hj, o * hj]) for hj in h] for o in units])
        tu, ts = _softmax(np.max(m, axis=0), mask), _softmax(np.max(m, axis=1))
        np.testing.assert_allclose(tau_u[b, n, t], tu, atol=1e-5)
        l_vec, r_vec, o_flat = tu @ h, ts @ units, x["sticker_vector"][b, n]
        q1 = relu(np.concatenate([o_flat, r_vec, o_flat * r_vec, o_flat + r_vec]) @ wi + bi)
        expected = relu(np.concatenate([q1, l_vec, l_vec * o_flat]) @ wo + bo)
        np.testing.assert_allclose(q2[b, n, t], expected, atol=1e-4)

    def test_dot_relation_init_is_a_scaled_dot_product(self):
        """relation_init='dot': at initialisation M_kj = O_k·h_j/√d, so τᵘ follows the dot products."""
        x = _inputs(5)
        layer = DeepInteraction(D, relation_init="dot")
        _, tau_u, _ = (to_numpy(o) for o in layer(**x))
        np.testing.assert_allclose(to_numpy(layer.relation_kernel), [[0] * D, [0] * D, [D**-0.5] * D], atol=1e-7)
        b, n, t = 0, 1, 0
        units = x["sticker_map"][b, n].reshape(P * P, D)
        m = units @ x["utterances"][b, t].T / np.sqrt(D)
        np.testing.assert_allclose(tau_u[b, n, t], _softmax(m.max(0), x["padding_mask"][b, t]), atol=1e-5)
        # A config round trip keeps the choice (the initial values are not re-drawn from it).
        assert DeepInteraction.from_config(layer.get_config()).relation_init == "dot"

    def test_raw_weights_without_normalisation(self):
        x = _inputs(2)
        layer = DeepInteraction(D, normalize=False, init_stddev=0.3)
        _, tau_u, tau_s = (to_numpy(o) for o in layer(**x))
        assert np.all(tau_u[0, :, 1, 3:] == 0.0)  # padded words weigh 0
        assert np.all(tau_s[0, :, 3] == 0.0)  # a padding utterance
        assert np.all(np.isfinite(tau_s))

    def test_padding_words_change_nothing(self):
        x = _inputs(3)
        layer = DeepInteraction(D, init_stddev=0.3)
        padded = dict(x)
        padded["utterances"] = np.concatenate([x["utterances"], np.ones((B, T, 2, D), np.float32)], axis=2)
        padded["padding_mask"] = np.pad(x["padding_mask"], [(0, 0), (0, 0), (0, 2)])
        a, b = layer(**x), layer(**padded)
        np.testing.assert_allclose(to_numpy(a[0]), to_numpy(b[0]), atol=1e-5)
        np.testing.assert_allclose(to_numpy(a[1]), to_numpy(b[1])[..., :W], atol=1e-6)


class TestPlainInteraction(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            PlainInteraction,
            init_kwargs={"hidden_dim": D, "init_stddev": 0.2},
            input_data=_inputs(),
            expected_output_shape=((B, N, T, D), (B, N, T, W), (B, N, T, P, P)),
            expected_num_trainable_weights=4,
            float32_outputs=(1, 2),
        )

    def test_uniform_attention(self):
        x = _inputs()
        _, tau_u, tau_s = (to_numpy(o) for o in PlainInteraction(D)(**x))
        np.testing.assert_allclose(tau_u[1, 0, 2], [1, 0, 0, 0, 0])
        np.testing.assert_allclose(tau_s, 1.0 / (P * P))
