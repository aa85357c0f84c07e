import numpy as np

from stickerchat.layers import SinusoidalPositionEncoding
from testing import TestCase, to_numpy


class TestSinusoidalPositionEncoding(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            SinusoidalPositionEncoding,
            init_kwargs={"max_wavelength": 10000.0},
            input_data={"inputs": np.zeros((2, 5, 8), np.float32)},
            expected_output_shape=(2, 5, 8),
            expected_num_trainable_weights=0,
        )

    def test_values_match_the_transformer(self):
        out = to_numpy(SinusoidalPositionEncoding()(np.zeros((1, 4, 6), np.float32)))[0]
        pos, i = np.arange(4)[:, None], np.arange(6)[None, :]
        angle = pos / np.power(10000.0, (2 * (i // 2)) / 6)
        want = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
        np.testing.assert_allclose(out, want, atol=1e-5)
