"""The Transformer self-attention block of the utterance encoder (Eq. 2–8)."""

import math

import keras
from keras import ops

from stickerchat.layers.initializers import dense
from stickerchat.layers.masking import NEG_INF


@keras.saving.register_keras_serializable(package="stickerchat")
class TransformerBlock(keras.layers.Layer):
    """Multi-head self-attention with residual, ReLU feed-forward and layer norm.

    Follows the paper's equations literally:

    * Eq. 2–4: `Q = FC(x)`, `K = FC(x)`, `V = FC(x)`, split into `num_heads`
      heads of `hidden_dim / num_heads`.
    * Eq. 5: `α = softmax(Q·Kᵀ / sqrt(head_dim))` over the real (unpadded)
      keys, computed in float32. The `1/sqrt(head_dim)` scaling is the
      Transformer's [68] (the paper's Eq. 5 omits it).
    * Eq. 6: `β = α·V`; the heads are concatenated ("then concatenate the
      outputs as the final representation": no output projection).
    * Eq. 7: `ĥ = Dropout(x + β)`.
    * Eq. 8: `h = LayerNorm(max(0, ĥW₁ + b₁)W₂ + b₂ + ĥ)`.

    The same block serves the fusion Transformer of Eq. 26–28 and FR2T.

    Args:
        hidden_dim: int. Model width d; inputs must have this size.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        ffn_dim: int. Inner width of the feed-forward layer; 0 means
            `hidden_dim`. Defaults to 0.
        dropout: float. Dropout rate of Eq. 7. Defaults to 0.
        init_stddev: float. Std of the truncated-normal initialiser.
            Defaults to 0.02.

    Call args:
        inputs: tensor `(batch, positions, dim)`.
        padding_mask: optional bool tensor `(batch, positions)`, True for
            real positions. Padded positions are never attended to.
        training: bool. Dropout switch.

    Returns:
        tensor `(batch, positions, dim)`.

    References:
        Eq. 2–8 (§5.3) and Eq. 26–28 (§5.6.2) of the PESRS paper.
    """

    def __init__(self, hidden_dim, num_heads, ffn_dim=0, dropout=0.0, init_stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
        self.hidden_dim = int(hidden_dim)
        self.num_heads = int(num_heads)
        self.ffn_dim = int(ffn_dim)
        self.dropout = float(dropout)
        self.init_stddev = float(init_stddev)
        self.supports_masking = False

    def build(self, inputs_shape, padding_mask_shape=None):
        d = self.hidden_dim
        self.query_dense = dense(self, d, "query")  # Eq. 2
        self.key_dense = dense(self, d, "key")  # Eq. 3
        self.value_dense = dense(self, d, "value")  # Eq. 4
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="dropout")
        self.ffn_inner = dense(self, self.ffn_dim or d, "ffn_inner", activation="relu")  # Eq. 8
        self.ffn_outer = dense(self, d, "ffn_outer")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="layer_norm")
        shape = (None, None, inputs_shape[-1])
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(shape)
        self.ffn_inner.build((None, None, d))
        self.ffn_outer.build((None, None, self.ffn_dim or d))
        self.layer_norm.build((None, None, d))
        self.built = True

    def _heads(self, x):
        length = x.shape[1]
        return ops.reshape(x, (-1, length, self.num_heads, self.hidden_dim // self.num_heads))

    def call(self, inputs, padding_mask=None, training=False):
        length = inputs.shape[1]
        q = self._heads(self.query_dense(inputs))
        k = self._heads(self.key_dense(inputs))
        v = self._heads(self.value_dense(inputs))
        scores = ops.einsum("bqhd,bkhd->bhqk", ops.cast(q, "float32"), ops.cast(k, "float32"))
        scores = scores / math.sqrt(self.hidden_dim // self.num_heads)
        if padding_mask is not None:
            key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]
            scores = ops.where(key_mask, scores, NEG_INF)
        alpha = ops.softmax(scores, axis=-1)  # Eq. 5, float32
        beta = ops.einsum("bhqk,bkhd->bqhd", ops.cast(alpha, v.dtype), v)  # Eq. 6
        beta = ops.reshape(beta, (-1, length, self.hidden_dim))
        h_hat = self.residual_dropout(inputs + beta, training=training)  # Eq. 7
        ffn = self.ffn_outer(self.ffn_inner(h_hat))
        return self.layer_norm(ffn + h_hat)  # Eq. 8

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return tuple(inputs_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "ffn_dim": self.ffn_dim,
                "dropout": self.dropout,
                "init_stddev": self.init_stddev,
            }
        )
        return config


def transformer_block(owner, name):
    """A built `TransformerBlock` (Eq. 2–8) of `owner`'s sizes, under its dtype policy.

    `owner` is a layer with the block's arguments as attributes
    (`hidden_dim`, `num_heads`, `ffn_dim`, `dropout`, `init_stddev`): the
    utterance encoder, the fusion network and the baselines' matchers.
    """
    block = TransformerBlock(
        owner.hidden_dim,
        owner.num_heads,
        ffn_dim=owner.ffn_dim,
        dropout=owner.dropout,
        init_stddev=owner.init_stddev,
        dtype=owner.dtype_policy,
        name=name,
    )
    block.build((None, None, owner.hidden_dim))
    return block
