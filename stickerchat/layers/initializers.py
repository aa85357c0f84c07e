"""The initialiser every layer of the models takes its weights from (§6.4), and the Dense and GRU sub-layers built with it."""

import keras


def truncated_normal(stddev, default="glorot_uniform"):
    """The paper's initialiser (§6.4: Gaussian in [-0.02, 0.02]).

    `stddev == 0` selects Keras' own initialiser for the weight instead
    (`default`: Glorot-uniform kernels, orthogonal recurrent kernels, uniform
    embeddings), which keeps the signal's scale from layer to layer. With
    std 0.02 in every layer the candidate scores of a fresh PESRS differ by
    ~1e-6 and ranking training can sit on the margin for hundreds of steps
    before it moves (see `ModelConfig.init_stddev`).
    """
    if not stddev:
        return keras.initializers.get(default)
    return keras.initializers.TruncatedNormal(stddev=stddev)


def dense(owner, units, name, activation=None, use_bias=True, dtype=None):
    """A Dense sub-layer of `owner` (a layer with `init_stddev`), under its dtype policy, with the §6.4 initialiser."""
    return keras.layers.Dense(
        units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=truncated_normal(owner.init_stddev),
        dtype=dtype or owner.dtype_policy,
        name=name,
    )


def gru(owner, units, name, return_sequences=True):
    """A GRU sub-layer of `owner` (a layer with `init_stddev`), under its dtype policy, with the §6.4 initialiser."""
    return keras.layers.GRU(
        units,
        return_sequences=return_sequences,
        kernel_initializer=truncated_normal(owner.init_stddev),
        recurrent_initializer=truncated_normal(owner.init_stddev, "orthogonal"),
        dtype=owner.dtype_policy,
        name=name,
    )
