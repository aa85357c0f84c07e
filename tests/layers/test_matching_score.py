import numpy as np

from stickerchat.layers import MatchingScore
from testing import TestCase, to_numpy


def _interaction(seed=0):
    return np.random.default_rng(seed).normal(size=(2, 3, 4)).astype(np.float32)


class TestMatchingScore(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            MatchingScore,
            init_kwargs={"init_stddev": 0.3},
            input_data={"interaction": _interaction()},
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=2,
            float32_outputs=(0,),
        )

    def test_matches_eq_32_without_memory(self):
        layer = MatchingScore(init_stddev=0.5)
        g = _interaction(1)
        y = to_numpy(layer(g))
        kernel, bias = (to_numpy(w) for w in layer.score_dense.weights)
        expected = 1.0 / (1.0 + np.exp(-(g @ kernel + bias)[..., 0]))
        np.testing.assert_allclose(y, expected, atol=1e-6)
