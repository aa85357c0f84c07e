import numpy as np

from stickerchat.layers import UtteranceEncoder
from testing import TestCase, to_numpy


def _ids(shape, words, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 30, shape + (words,)).astype(np.int32)
    ids[..., words - 2 :] = 0
    return ids


class TestUtteranceEncoder(TestCase):
    kwargs = {"vocab_size": 30, "emb_dim": 8, "hidden_dim": 12, "num_heads": 2, "num_layers": 2, "init_stddev": 0.1}

    def test_layer_behaviors(self):
        self.run_layer_test(
            UtteranceEncoder,
            init_kwargs=self.kwargs,
            input_data={"token_ids": _ids((2, 3), 6)},
            expected_output_shape=(2, 3, 6, 12),
            # embedding, projection (2), 2 blocks × 12.
            expected_num_trainable_weights=27,
        )

    def test_history_rank_shares_the_encoding(self):
        layer = UtteranceEncoder(**self.kwargs)
        ids = _ids((2, 4, 3), 6)
        history = to_numpy(layer(ids))
        assert history.shape == (2, 4, 3, 6, 12)
        np.testing.assert_allclose(to_numpy(layer(ids[:, 1]))[:, None], history[:, 1:2], atol=1e-5)

    def test_extra_padding_words_do_not_change_real_words(self):
        layer = UtteranceEncoder(**self.kwargs)
        ids = _ids((2, 3), 6)
        padded = np.pad(ids, [(0, 0), (0, 0), (0, 4)])
        np.testing.assert_allclose(to_numpy(layer(ids))[..., :4, :], to_numpy(layer(padded))[..., :4, :], atol=1e-5)
