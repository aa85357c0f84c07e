"""Fusion network over the utterance interactions (Eq. 25–30)."""

import keras
from keras import ops

from stickerchat.layers.initializers import dense, gru
from stickerchat.layers.masking import broadcast_mask
from stickerchat.layers.position_encoding import SinusoidalPositionEncoding
from stickerchat.layers.transformer import transformer_block

FUSION_RNN_TYPES = ("gru", "transformer")


@keras.saving.register_keras_serializable(package="stickerchat")
class FusionNetwork(keras.layers.Layer):
    """Fuses the per-utterance interactions {Q2ⁱ} into one matching vector.

    For every candidate (vectorised) over the utterances, oldest first:

    * Eq. 25, fusion RNN: `gᵢ = GRU(Q2ⁱ, gᵢ₋₁)` (short-term dependency).
      The initial state is zero (the paper: "initialized randomly").
      `fusion_rnn_type='transformer'` (FR2T, Table 3) replaces the GRU by a
      Transformer block with sinusoidal positional encoding;
      `use_fusion_rnn=False` ("w/o FR") replaces it by the identity,
      `gᵢ = Q2ⁱ`, so that everything else is unchanged.
    * Eq. 26–28, fusion Transformer: `ĝᵢ` = the self-attention block of
      Eq. 5–8 over {Q2ⁱ} (no positional encoding: the paper gives none).
    * Eq. 29, SUMULTI: `g̃ᵢ = ReLU(W_s[(gᵢ − ĝᵢ) ⊙ (gᵢ − ĝᵢ) ; gᵢ ⊙ ĝᵢ] + b_s)`.
    * Eq. 30, aggregating GRU over g̃ᵢ; its state after the last *real*
      utterance is g_Tu.

    Padded utterances (after the real ones) are masked everywhere: they
    are never attended to and the GRUs skip them.

    Args:
        hidden_dim: int. Width d.
        num_heads: int. Heads of the Transformer blocks.
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of the Transformer blocks. Defaults to 0.
        use_fusion_rnn: bool. Fusion RNN on (False: "w/o FR"). Defaults to
            True.
        fusion_rnn_type: str. `gru` or `transformer` (FR2T). Defaults to
            `gru`.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        interactions: tensor `(batch, cands, turns, dim)`: Q2ⁱ per candidate.
        utterance_mask: bool tensor `(batch, turns)`, True for real
            utterances.
        training: bool.

    Returns:
        tensor `(batch, cands, dim)`: g_Tu per candidate.

    References:
        Eq. 25–30 (§5.6.1–5.6.3) of the PESRS paper.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        ffn_dim=0,
        dropout=0.0,
        use_fusion_rnn=True,
        fusion_rnn_type="gru",
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fusion_rnn_type not in FUSION_RNN_TYPES:
            raise ValueError(f"Unknown fusion_rnn_type '{fusion_rnn_type}'; choose one of {FUSION_RNN_TYPES}")
        self.hidden_dim = int(hidden_dim)
        self.num_heads = int(num_heads)
        self.ffn_dim = int(ffn_dim)
        self.dropout = float(dropout)
        self.use_fusion_rnn = bool(use_fusion_rnn)
        self.fusion_rnn_type = fusion_rnn_type
        self.init_stddev = float(init_stddev)

    def build(self, interactions_shape, utterance_mask_shape=None):
        d = self.hidden_dim
        self.fusion_rnn = None
        self.fusion_rnn_position = None
        if self.use_fusion_rnn and self.fusion_rnn_type == "gru":
            self.fusion_rnn = gru(self, d, "fusion_rnn")  # Eq. 25
            self.fusion_rnn.build((None, None, d))
        elif self.use_fusion_rnn:
            self.fusion_rnn_position = SinusoidalPositionEncoding(
                dtype=self.dtype_policy, name="fusion_rnn_position_encoding"
            )
            self.fusion_rnn = transformer_block(self, "fusion_rnn_transformer")  # FR2T
        self.fusion_transformer = transformer_block(self, "fusion_transformer")  # Eq. 26–28
        self.combination = dense(self, d, "sumulti", activation="relu")  # Eq. 29, W_s and b_s
        self.combination.build((None, None, 2 * d))
        self.aggregation_rnn = gru(self, d, "aggregation_rnn", return_sequences=False)  # Eq. 30
        self.aggregation_rnn.build((None, None, d))
        self.built = True

    def call(self, interactions, utterance_mask, training=False):
        n, t, d = ops.shape(interactions)[1], interactions.shape[2], interactions.shape[3]  # n: any number of candidates
        x = ops.reshape(interactions, (-1, t, d))  # (batch * cands, turns, d)
        mask = broadcast_mask(ops.expand_dims(utterance_mask, 1), interactions[..., 0])
        mask = ops.reshape(mask, (-1, t))
        if self.fusion_rnn is None:
            g = x  # "w/o FR": gᵢ = Q2ⁱ
        elif self.fusion_rnn_type == "gru":
            g = self.fusion_rnn(x, mask=mask, training=training)  # Eq. 25
        else:
            g = self.fusion_rnn(self.fusion_rnn_position(x), padding_mask=mask, training=training)  # FR2T
        g_hat = self.fusion_transformer(x, padding_mask=mask, training=training)  # Eq. 26–28
        diff = g - g_hat
        combined = self.combination(ops.concatenate([diff * diff, g * g_hat], axis=-1))  # Eq. 29
        final = self.aggregation_rnn(combined, mask=mask, training=training)  # Eq. 30: g_Tu
        return ops.reshape(final, (-1, n, self.hidden_dim))

    def compute_output_shape(self, interactions_shape, utterance_mask_shape=None):
        return (interactions_shape[0], interactions_shape[1], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "ffn_dim": self.ffn_dim,
                "dropout": self.dropout,
                "use_fusion_rnn": self.use_fusion_rnn,
                "fusion_rnn_type": self.fusion_rnn_type,
                "init_stddev": self.init_stddev,
            }
        )
        return config
