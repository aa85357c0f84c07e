import numpy as np
import keras
import pytest

from stickerchat.layers import WordDropout
from testing import TestCase, to_numpy


class TestWordDropout(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            WordDropout,
            init_kwargs={"rate": 0.3, "seed": 1},
            input_data={"ids": np.array([[3, 4, 0], [5, 0, 0]], "int32")},
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=0,
            run_mixed_precision_check=False,  # ids in, ids out: checked below
        )

    def test_ids_stay_ints_under_mixed_precision(self):
        ids = np.array([[3, 4, 0], [5, 0, 0]], "int32")
        out = WordDropout(0.5, seed=0, dtype="mixed_bfloat16")(ids, training=True)
        assert keras.backend.standardize_dtype(out.dtype) == "int32"

    def test_training_replaces_real_words_by_unk_at_the_rate_and_keeps_padding(self):
        rng = np.random.default_rng(0)
        ids = rng.integers(2, 50, size=(40, 8, 12)).astype("int32")
        ids[:, :, 9:] = 0  # padding words
        ids[:, 6:] = 0  # padding utterances
        out = to_numpy(WordDropout(0.25, pad_id=0, unk_id=1, seed=3)(ids, training=True))
        real = ids != 0
        np.testing.assert_array_equal(out != 0, real)  # the masks are unchanged
        changed = out != ids
        assert np.all(out[changed] == 1)  # a dropped word becomes the unknown word
        assert abs(changed[real].mean() - 0.25) < 0.03

    def test_inference_and_rate_zero_pass_the_ids_unchanged(self):
        ids = np.array([[3, 4, 0], [5, 0, 0]], "int32")
        np.testing.assert_array_equal(to_numpy(WordDropout(0.5, seed=0)(ids)), ids)
        np.testing.assert_array_equal(to_numpy(WordDropout(0.0, seed=0)(ids, training=True)), ids)

    def test_rejects_a_rate_outside_0_1(self):
        with pytest.raises(ValueError, match="rate"):
            WordDropout(1.0)
