import numpy as np

from stickerchat.layers import TransformerBlock
from testing import TestCase, to_numpy


class TestTransformerBlock(TestCase):
    def test_layer_behaviors(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            TransformerBlock,
            init_kwargs={"hidden_dim": 8, "num_heads": 2, "ffn_dim": 12, "dropout": 0.0, "init_stddev": 0.1},
            input_data={
                "inputs": rng.normal(size=(2, 5, 8)).astype(np.float32),
                "padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
            },
            expected_output_shape=(2, 5, 8),
            # query, key, value, ffn_inner, ffn_outer (kernel + bias) + layer norm (2).
            expected_num_trainable_weights=12,
        )

    def test_padded_positions_do_not_change_real_ones(self):
        rng = np.random.default_rng(1)
        block = TransformerBlock(8, 2, init_stddev=0.3)
        x = rng.normal(size=(1, 3, 8)).astype(np.float32)
        padded = np.concatenate([x, rng.normal(size=(1, 2, 8)).astype(np.float32)], axis=1)
        short = to_numpy(block(x, padding_mask=np.ones((1, 3), bool)))
        long = to_numpy(block(padded, padding_mask=np.array([[1, 1, 1, 0, 0]], bool)))
        np.testing.assert_allclose(short, long[:, :3], atol=1e-5)

    def test_init_stddev_zero_selects_glorot(self):
        x = np.zeros((1, 3, 64), np.float32)
        mask = np.ones((1, 3), bool)
        paper, glorot = TransformerBlock(64, 4, init_stddev=0.02), TransformerBlock(64, 4, init_stddev=0.0)
        paper(x, padding_mask=mask), glorot(x, padding_mask=mask)
        kernel = lambda block: to_numpy(next(w for w in block.weights if w.shape == (64, 64)))
        # Truncated at 2 std: std 0.88 x 0.02; Glorot-uniform: sqrt(2 / (64 + 64)) = 0.125.
        self.assertAllClose(kernel(paper).std(), 0.0176, atol=0.002)
        self.assertAllClose(kernel(glorot).std(), 0.125, atol=0.01)

    def test_rejects_indivisible_heads(self):
        try:
            TransformerBlock(10, 3)
        except ValueError:
            return
        raise AssertionError("expected a ValueError")
