"""Utterance encoder: embeddings, positions and self-attention (Eq. 2–8)."""

import keras
from keras import ops

from stickerchat.layers.initializers import dense, truncated_normal
from stickerchat.layers.position_encoding import SinusoidalPositionEncoding
from stickerchat.layers.transformer import transformer_block


@keras.saving.register_keras_serializable(package="stickerchat")
class UtteranceEncoder(keras.layers.Layer):
    """Encodes every utterance independently with a Transformer.

    `e(x) = Embedding(x) + PE` (§5.3), then, if `emb_dim != hidden_dim`, a
    linear projection to `hidden_dim` (the paper uses 100 for both, so the
    projection is absent there; it exists so that the residual of Eq. 7 is
    well defined for other sizes), then `num_layers` Transformer blocks
    (Eq. 2–8), each attending only to the real words of its utterance
    (`padding_mask = ids != 0`). Any number of leading axes is accepted: the
    current context `(batch, turns, words)` and the history contexts
    `(batch, history, turns, words)` share this layer (Eq. 16: "the
    Transformer is the same operation as shown in Equation 2-8"). Only the
    first axis may be unknown.

    Args:
        vocab_size: int. Word vocabulary size (id 0 is padding).
        emb_dim: int. Word embedding size.
        scale_embeddings: bool. Multiply the word embeddings by √emb_dim
            before adding the positional encoding, as the Transformer does
            (the paper: "the positional embedding is the same as
            Transformer"). Defaults to True.
        hidden_dim: int. Model width d.
        num_heads: int. Attention heads.
        num_layers: int. Stacked Transformer blocks. Defaults to 1.
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of Eq. 7. Defaults to 0.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        token_ids: int tensor `(batch, ..., words)`.
        padding_mask: optional bool tensor like `token_ids`; defaults to
            `token_ids != 0`.
        training: bool.

    Returns:
        tensor `(batch, ..., words, hidden_dim)`: h of Eq. 8.

    References:
        Eq. 2–8 (§5.3) and Eq. 16 (§5.5.1) of the PESRS paper.
    """

    def __init__(
        self,
        vocab_size,
        emb_dim,
        hidden_dim,
        num_heads,
        num_layers=1,
        ffn_dim=0,
        dropout=0.0,
        init_stddev=0.02,
        scale_embeddings=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.scale_embeddings = bool(scale_embeddings)
        self.vocab_size = int(vocab_size)
        self.emb_dim = int(emb_dim)
        self.hidden_dim = int(hidden_dim)
        self.num_heads = int(num_heads)
        self.num_layers = int(num_layers)
        self.ffn_dim = int(ffn_dim)
        self.dropout = float(dropout)
        self.init_stddev = float(init_stddev)

    def build(self, token_ids_shape, padding_mask_shape=None):
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size,
            self.emb_dim,
            # Under Keras' initialisers (init_stddev=0): N(0, 1/emb_dim), as the
            # Transformer, so that √emb_dim-scaled embeddings have unit rms and
            # are not drowned by the unit-scale positional encoding.
            embeddings_initializer=truncated_normal(
                self.init_stddev, keras.initializers.RandomNormal(stddev=self.emb_dim**-0.5)
            ),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build((None, None))
        self.position_encoding = SinusoidalPositionEncoding(dtype=self.dtype_policy, name="position_encoding")
        self.position_encoding.build((None, None, self.emb_dim))
        self.projection = None
        if self.emb_dim != self.hidden_dim:
            self.projection = dense(self, self.hidden_dim, "projection")
            self.projection.build((None, None, self.emb_dim))
        self.blocks = [transformer_block(self, f"transformer_block_{i}") for i in range(self.num_layers)]
        self.built = True

    def call(self, token_ids, padding_mask=None, training=False):
        shape = tuple(token_ids.shape)
        words = shape[-1]
        if padding_mask is None:
            padding_mask = ops.not_equal(token_ids, 0)
        ids = ops.reshape(token_ids, (-1, words))
        mask = ops.reshape(ops.cast(padding_mask, "bool"), (-1, words))
        x = self.token_embedding(ids)
        if self.scale_embeddings:
            # As in the Transformer [68] the paper follows: e(x)·√d + PE. Without
            # it, embeddings initialised at std 0.02 are drowned by the unit
            # sinusoids and the words are learned ~50× more slowly.
            x = x * ops.cast(self.emb_dim**0.5, x.dtype)
        x = self.position_encoding(x)
        if self.projection is not None:
            x = self.projection(x)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return ops.reshape(x, (-1,) + shape[1:] + (self.hidden_dim,))

    def compute_output_shape(self, token_ids_shape, padding_mask_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "emb_dim": self.emb_dim,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "num_layers": self.num_layers,
                "ffn_dim": self.ffn_dim,
                "dropout": self.dropout,
                "init_stddev": self.init_stddev,
                "scale_embeddings": self.scale_embeddings,
            }
        )
        return config
