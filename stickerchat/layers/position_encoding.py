"""Sinusoidal positional encoding of the Transformer (used by Eq. 2–8 and FR2T)."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="stickerchat")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Adds the fixed sine/cosine position signal of Vaswani et al. (2017).

    `PE[pos, 2i] = sin(pos / max_wavelength^(2i/dim))` and
    `PE[pos, 2i+1] = cos(pos / max_wavelength^(2i/dim))`. The layer has no
    weights, so models built for different sequence lengths share weights.

    Args:
        max_wavelength: float. The longest wavelength. Defaults to 10000.

    Call args:
        inputs: tensor `(batch, ..., positions, dim)`.

    Returns:
        `inputs + PE` in the layer's compute dtype, same shape.

    References:
        §5.3 of the PESRS paper ("the positional embedding is the same as
        Transformer [68]") and the FR2T ablation (§6.2, Table 3).
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def call(self, inputs):
        length, dim = inputs.shape[-2], inputs.shape[-1]
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        index = ops.cast(ops.arange(dim), "float32")[None, :]
        even = ops.cast(ops.arange(dim) % 2 == 0, "float32")[None, :]
        rates = ops.exp(-(index - (1.0 - even)) / dim * math.log(self.max_wavelength))
        angles = positions * rates
        encoding = even * ops.sin(angles) + (1.0 - even) * ops.cos(angles)
        return inputs + ops.cast(encoding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
