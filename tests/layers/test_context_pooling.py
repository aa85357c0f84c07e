import numpy as np

from stickerchat.layers import ContextPooling
from testing import TestCase, to_numpy


class TestContextPooling(TestCase):
    def test_layer_behaviors(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            ContextPooling,
            init_kwargs={},
            input_data={
                "encodings": rng.normal(size=(2, 3, 4, 5)).astype(np.float32),
                "padding_mask": rng.random((2, 3, 4)) > 0.3,
            },
            expected_output_shape=(2, 5),
            expected_num_trainable_weights=0,
        )

    def test_values(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(1, 2, 3, 3, 4)).astype(np.float32)
        mask = np.zeros((1, 2, 3, 3), bool)
        mask[0, 0, 0, :2] = True
        mask[0, 0, 1, :3] = True  # utterance 2 of context 0 is padding
        out = to_numpy(ContextPooling()(x, mask))
        want = np.maximum(x[0, 0, 0, :2].mean(0), x[0, 0, 1, :3].mean(0))
        np.testing.assert_allclose(out[0, 0], want, atol=1e-6)
        np.testing.assert_array_equal(out[0, 1], 0.0)  # an empty context
