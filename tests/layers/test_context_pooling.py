import numpy as np
import pytest

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


class TestContextPoolingRNN(TestCase):
    """`utterance_pooling='rnn'`: a GRU over the utterance vectors in place of Eq. 17 / 22's max."""

    def test_layer_behaviors(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            ContextPooling,
            init_kwargs={"utterance_pooling": "rnn"},
            input_data={
                "encodings": rng.normal(size=(2, 3, 4, 5)).astype(np.float32),
                "padding_mask": rng.random((2, 3, 4)) > 0.3,
            },
            expected_output_shape=(2, 5),
            expected_num_trainable_weights=3,  # the GRU's kernel, recurrent kernel and bias
        )

    def _contexts(self):
        rng = np.random.default_rng(2)
        x = rng.normal(size=(1, 2, 4, 3, 6)).astype(np.float32)  # (batch, history, turns, words, dim)
        mask = np.zeros((1, 2, 4, 3), bool)
        mask[0, 0, 0, :2] = True
        mask[0, 0, 1, :3] = True
        mask[0, 0, 2, :1] = True  # context 0: three utterances, then padding; context 1: empty
        return x, mask

    def test_order_matters_and_padding_does_not(self):
        layer = ContextPooling(utterance_pooling="rnn", init_stddev=0.5)
        x, mask = self._contexts()
        out = to_numpy(layer(x, mask))
        assert out.shape == (1, 2, 6)
        np.testing.assert_array_equal(out[0, 1], 0.0)  # an empty context still pools to zero
        # The same utterances, the first two swapped: the max of Eq. 22 cannot tell, the GRU can.
        swapped, swapped_mask = x.copy(), mask.copy()
        swapped[0, 0, [0, 1]] = x[0, 0, [1, 0]]
        swapped_mask[0, 0, [0, 1]] = mask[0, 0, [1, 0]]
        np.testing.assert_allclose(
            to_numpy(ContextPooling()(x, mask))[0, 0], to_numpy(ContextPooling()(swapped, swapped_mask))[0, 0], atol=1e-6
        )
        assert np.abs(to_numpy(layer(swapped, swapped_mask))[0, 0] - out[0, 0]).max() > 1e-4
        # What a padded utterance or padded word holds does not matter.
        noisy = x.copy()
        noisy[~mask] = 100.0
        np.testing.assert_allclose(to_numpy(layer(noisy, mask)), out, atol=1e-5)

    def test_keys_and_query_pool_alike(self):
        # The history axis is only a batch axis: each history context pools as a dialog of its own.
        layer = ContextPooling(utterance_pooling="rnn", init_stddev=0.5)
        x, mask = self._contexts()
        keys = to_numpy(layer(x, mask))
        query = to_numpy(layer(x[:, 0], mask[:, 0]))
        np.testing.assert_allclose(keys[:, 0], query, atol=1e-6)

    def test_unknown_pooling(self):
        with pytest.raises(ValueError, match="utterance_pooling"):
            ContextPooling(utterance_pooling="mean")


class TestContextPoolingDropout(TestCase):
    """`dropout`: the utterance vectors dropped out before Eq. 17 / 22's pooling, in training only."""

    def test_layer_behaviors(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            ContextPooling,
            init_kwargs={"utterance_pooling": "rnn", "dropout": 0.5},
            input_data={
                "encodings": rng.normal(size=(2, 3, 4, 5)).astype(np.float32),
                "padding_mask": rng.random((2, 3, 4)) > 0.3,
            },
            expected_output_shape=(2, 5),
            expected_num_trainable_weights=3,  # the GRU's; the dropout has none
        )

    def test_only_in_training(self):
        rng = np.random.default_rng(4)
        x = rng.normal(size=(2, 3, 4, 8)).astype(np.float32)
        mask = np.ones((2, 3, 4), bool)
        mask[1] = False  # an empty context
        layer = ContextPooling(dropout=0.5)
        np.testing.assert_allclose(to_numpy(layer(x, mask)), to_numpy(ContextPooling()(x, mask)), atol=1e-6)
        trained = to_numpy(layer(x, mask, training=True))
        assert np.abs(trained[0] - to_numpy(layer(x, mask))[0]).max() > 1e-3
        np.testing.assert_array_equal(trained[1], 0.0)  # still zero
