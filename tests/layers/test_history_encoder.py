import numpy as np
import pytest

from stickerchat.layers import HistoryEncoder, recency_positions
from testing import TestCase, to_numpy


class TestHistoryEncoder(TestCase):
    def test_layer_behaviors(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            HistoryEncoder,
            init_kwargs={"hidden_dim": 6, "init_stddev": 0.2},
            input_data={
                "inputs": rng.normal(size=(2, 4, 5)).astype(np.float32),
                "history_mask": np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool),
            },
            expected_output_shape=(2, 4, 6),
            expected_num_trainable_weights=3,  # GRU kernel, recurrent kernel, bias
        )

    def test_recency_positions(self):
        mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], bool)
        t = to_numpy(recency_positions(mask))[..., 0]
        np.testing.assert_allclose(t[0], [1 / 3, 1 / 2, 1, 0])
        np.testing.assert_allclose(t[1], [1, 0, 0, 0])
        np.testing.assert_allclose(t[2], [0, 0, 0, 0])

    def test_padding_slots_change_nothing(self):
        rng = np.random.default_rng(1)
        layer = HistoryEncoder(6, init_stddev=0.3)
        x = rng.normal(size=(2, 3, 5)).astype(np.float32)
        mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
        short = to_numpy(layer(x, mask))
        long = to_numpy(
            layer(np.concatenate([x, rng.normal(size=(2, 2, 5)).astype(np.float32)], 1), np.pad(mask, [(0, 0), (0, 2)]))
        )
        np.testing.assert_allclose(short[0, :2], long[0, :2], atol=1e-5)
        np.testing.assert_allclose(short[1], long[1, :3], atol=1e-5)

    def test_residual_adds_each_slots_own_input(self):
        rng = np.random.default_rng(2)
        x = rng.normal(size=(2, 4, 6)).astype(np.float32)
        mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
        plain = HistoryEncoder(6, init_stddev=0.3)
        residual = HistoryEncoder(6, init_stddev=0.3, residual=True)
        plain(x, mask)
        residual(x, mask)
        residual.set_weights(plain.get_weights())
        np.testing.assert_allclose(to_numpy(residual(x, mask)), x + to_numpy(plain(x, mask)), atol=1e-5)
        # The config round trip keeps the mode.
        assert HistoryEncoder.from_config(residual.get_config()).residual

    def test_residual_needs_inputs_of_the_hidden_width(self):
        with pytest.raises(ValueError, match="hidden_dim=6"):
            HistoryEncoder(6, residual=True)(np.zeros((1, 2, 5), np.float32), np.ones((1, 2), bool))
