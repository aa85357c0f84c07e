import numpy as np
import pytest

from stickerchat.layers import FusionNetwork
from testing import TestCase, to_numpy

B, N, T, D = 2, 3, 4, 8


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "interactions": rng.normal(size=(B, N, T, D)).astype(np.float32),
        "utterance_mask": np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool),
    }


class TestFusionNetwork(TestCase):
    @pytest.mark.parametrize(
        "use_fusion_rnn,fusion_rnn_type,weights",
        [(True, "gru", 3 + 12 + 2 + 3), (True, "transformer", 12 + 12 + 2 + 3), (False, "gru", 12 + 2 + 3)],
    )
    def test_layer_behaviors(self, use_fusion_rnn, fusion_rnn_type, weights):
        self.run_layer_test(
            FusionNetwork,
            init_kwargs={
                "hidden_dim": D,
                "num_heads": 2,
                "use_fusion_rnn": use_fusion_rnn,
                "fusion_rnn_type": fusion_rnn_type,
                "init_stddev": 0.2,
            },
            input_data=_inputs(),
            expected_output_shape=(B, N, D),
            expected_num_trainable_weights=weights,
        )

    @pytest.mark.parametrize("fusion_rnn_type", ["gru", "transformer"])
    def test_padding_utterances_change_nothing(self, fusion_rnn_type):
        x = _inputs(1)
        layer = FusionNetwork(D, 2, fusion_rnn_type=fusion_rnn_type, init_stddev=0.3)
        padded = {
            "interactions": np.concatenate([x["interactions"], np.ones((B, N, 3, D), np.float32)], axis=2),
            "utterance_mask": np.pad(x["utterance_mask"], [(0, 0), (0, 3)]),
        }
        np.testing.assert_allclose(to_numpy(layer(**x)), to_numpy(layer(**padded)), atol=1e-5)
        # Padded utterances are also free to hold anything.
        x["interactions"][0, :, 2:] = 5.0
        np.testing.assert_allclose(to_numpy(layer(**x)), to_numpy(layer(**padded)), atol=1e-5)

    def test_candidates_are_independent(self):
        x = _inputs(2)
        layer = FusionNetwork(D, 2, init_stddev=0.3)
        out = to_numpy(layer(**x))
        one = to_numpy(layer(x["interactions"][:, 1:2], x["utterance_mask"]))
        np.testing.assert_allclose(out[:, 1:2], one, atol=1e-5)

    def test_unknown_rnn_type(self):
        with pytest.raises(ValueError):
            FusionNetwork(D, 2, fusion_rnn_type="lstm")
