"""The initialiser every layer of the models takes its weights from (§6.4)."""

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
