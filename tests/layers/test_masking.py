import keras
import numpy as np
from keras import ops

from stickerchat.layers import masked_max, masked_mean, masked_softmax
from testing import TestCase, to_numpy


class TestMasking(TestCase):
    def test_masked_softmax_ignores_padding_and_empty_rows_are_zero(self):
        logits = np.array([[1.0, 2.0, 50.0], [3.0, 4.0, 5.0]], np.float32)
        mask = np.array([[True, True, False], [False, False, False]])
        weights = to_numpy(masked_softmax(logits, mask))
        e = np.exp([1.0, 2.0])
        np.testing.assert_allclose(weights[0], [e[0] / e.sum(), e[1] / e.sum(), 0.0], atol=1e-6)
        np.testing.assert_array_equal(weights[1], 0.0)
        assert weights.dtype == np.float32

    def test_masked_softmax_float32_from_bfloat16(self):
        logits = ops.cast(np.array([[1.0, 2.0]]), "bfloat16")
        assert keras.backend.standardize_dtype(masked_softmax(logits, np.array([[True, True]])).dtype) == "float32"

    def test_masked_mean_and_max(self):
        x = np.arange(12, dtype=np.float32).reshape(1, 2, 3, 2)
        mask = np.array([[[True, True, False], [False, False, False]]])
        mean = to_numpy(masked_mean(x, mask, axis=-2))
        np.testing.assert_allclose(mean[0, 0], x[0, 0, :2].mean(0))
        np.testing.assert_array_equal(mean[0, 1], 0.0)
        top = to_numpy(masked_max(-x, mask, axis=-2))
        np.testing.assert_allclose(top[0, 0], (-x[0, 0, :2]).max(0))
        np.testing.assert_array_equal(top[0, 1], 0.0)
