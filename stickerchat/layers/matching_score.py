"""The matching score of SRS (Eq. 32 without the memory) and the score heads' dense layer."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal


def score_dense(layer, name):
    """The float32 `Dense(1)` of a score head (Eq. 31 gate, Eq. 32 score) under `layer`'s initialiser."""
    return keras.layers.Dense(
        1, kernel_initializer=truncated_normal(layer.init_stddev), dtype="float32", name=name
    )


@keras.saving.register_keras_serializable(package="stickerchat")
class MatchingScore(keras.layers.Layer):
    """SRS's score without a preference memory: `y = σ(FC(g_Tu))`.

    This is Eq. 32 with the gate fixed to 1 (SRS, "PESRS w/o UPM"). Computed
    in float32.

    Args:
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        interaction: tensor `(batch, cands, dim)`: g_Tu.
        logit_term: optional float tensor `(batch, cands)` added to the logit
            inside σ (`LexicalMatch`).

    Returns:
        float32 tensor `(batch, cands)`.

    References:
        Eq. 32 (§5.6.4) of the PESRS paper; SRS (§6.2, Table 3 "w/o UPM").
    """

    def __init__(self, init_stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        self.init_stddev = float(init_stddev)

    def build(self, interaction_shape):
        self.score_dense = score_dense(self, "score")
        self.score_dense.build((None, None, interaction_shape[-1]))
        self.built = True

    def call(self, interaction, logit_term=None):
        logit = ops.squeeze(self.score_dense(ops.cast(interaction, "float32")), -1)
        if logit_term is not None:
            logit = logit + ops.cast(logit_term, "float32")
        return ops.sigmoid(logit)

    def compute_output_shape(self, interaction_shape, logit_term_shape=None):
        return tuple(interaction_shape[:2])

    def compute_output_spec(self, interaction, logit_term=None):
        return keras.KerasTensor(self.compute_output_shape(interaction.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"init_stddev": self.init_stddev})
        return config
