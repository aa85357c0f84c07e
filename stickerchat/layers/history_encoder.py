"""Position-aware user history encoding (Eq. 19–20)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal


def recency_positions(history_mask):
    """The position feature t_k of Eq. 19–20, one scalar per history slot.

    Slots are chronological, oldest first, with padding after the real ones
    (`stickerchat.specs`). With n real slots, slot k (0-based) is `n − k`
    selections ago, and `t_k = 1 / (n − k)`: 1 for the most recent
    selection, 1/2 for the one before, ... and 0 for padded slots. The
    encoding is bounded and does not depend on `history_len`, so padding
    extra slots does not change it.

    Args:
        history_mask: bool tensor `(batch, history)`.

    Returns:
        float32 tensor `(batch, history, 1)`.
    """
    mask = ops.cast(history_mask, "float32")
    count = ops.sum(mask, axis=-1, keepdims=True)
    index = ops.cast(ops.arange(mask.shape[-1]), "float32")[None, :]
    ago = ops.maximum(count - index, 1.0)
    return ops.expand_dims(mask / ago, -1)


@keras.saving.register_keras_serializable(package="stickerchat")
class HistoryEncoder(keras.layers.Layer):
    """A GRU over the history, in chronological order, with positions.

    `x̂_k = RNN(t_k ⊕ x_k, x̂_{k−1})`. One instance encodes the history
    contexts h̄ᵏ into the memory keys ĥᵏ (Eq. 19), another the history
    stickers O_k into the memory values Ôᵏ (Eq. 20). The position t_k is the
    reciprocal recency of `recency_positions` (the paper does not say how
    t_k is encoded). Padded slots are skipped by the GRU (they come after the
    real ones, so real slots never see them). The "w/o TAR" ablation drops
    this layer: keys and values are then h̄ᵏ and O_k themselves.

    With `residual=True` (`ModelConfig.history_encoding='residual'`) the
    slot's own input is added back: `x̂_k = x_k + RNN(t_k ⊕ x_k, x̂_{k−1})`.
    The GRU state at slot k summarises slots 1..k, so under Eq. 19–20 as
    printed key k describes the dialogs up to k and value k the stickers up
    to k: an address that picks slot k reads a blend of the earlier
    stickers too, and the memory cannot return the sticker chosen in the
    one past dialog that resembles the current one. The skip keeps each
    slot's own dialog in its key and its own sticker in its value, with the
    recency still encoded by the RNN.

    Args:
        hidden_dim: int. GRU width d.
        init_stddev: float. Truncated-normal std (also the recurrent
            kernel, §6.4). Defaults to 0.02.
        residual: bool. Add the input to the RNN's output (the input's
            width must be `hidden_dim`). Defaults to False (Eq. 19–20 as
            printed).

    Call args:
        inputs: tensor `(batch, history, dim)`, h̄ᵏ or O_k.
        history_mask: bool tensor `(batch, history)`, True for real slots.

    Returns:
        tensor `(batch, history, hidden_dim)`.

    References:
        Eq. 19–20 (§5.5.1) of the PESRS paper.
    """

    def __init__(self, hidden_dim, init_stddev=0.02, residual=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.init_stddev = float(init_stddev)
        self.residual = bool(residual)

    def build(self, inputs_shape, history_mask_shape=None):
        if self.residual and inputs_shape[-1] != self.hidden_dim:
            raise ValueError(f"residual=True needs inputs of width hidden_dim={self.hidden_dim}, got {inputs_shape[-1]}")
        self.rnn = keras.layers.GRU(
            self.hidden_dim,
            return_sequences=True,
            kernel_initializer=truncated_normal(self.init_stddev),
            recurrent_initializer=truncated_normal(self.init_stddev, "orthogonal"),
            dtype=self.dtype_policy,
            name="rnn",
        )
        self.rnn.build((None, None, inputs_shape[-1] + 1))
        self.built = True

    def call(self, inputs, history_mask):
        positions = ops.cast(recency_positions(history_mask), inputs.dtype)
        x = ops.concatenate([positions, inputs], axis=-1)  # t_k ⊕ x_k
        encoded = self.rnn(x, mask=ops.cast(history_mask, "bool"))  # Eq. 19 / 20
        return inputs + encoded if self.residual else encoded

    def compute_output_shape(self, inputs_shape, history_mask_shape=None):
        return tuple(inputs_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "init_stddev": self.init_stddev, "residual": self.residual})
        return config
