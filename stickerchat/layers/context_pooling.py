"""Context pooling: one vector per dialog context (Eq. 16–17 and 21–22)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal
from stickerchat.layers.masking import masked_max, masked_mean

UTTERANCE_POOLINGS = ("max", "rnn")


@keras.saving.register_keras_serializable(package="stickerchat")
class ContextPooling(keras.layers.Layer):
    """Mean over the words of each utterance, then max over the utterances.

    This is the same operation in two places of the paper: the history
    context vector h̄ᵏ (Eq. 16 mean-pooling, Eq. 17 max-pooling) and the memory
    query h (Eq. 21 mean-pooling, Eq. 22 max-pooling). Padded words are left
    out of the mean and padded utterances out of the max; a context without
    any word gives the zero vector.

    With `utterance_pooling='rnn'` (`ModelConfig.context_encoding='rnn'`; a
    **deviation**, not in the paper) Eq. 17 / 22's max over the utterances
    is replaced by a GRU run over the utterance vectors of Eq. 16 / 21 in
    chronological order, its last state being h̄ᵏ / h (padded utterances
    skipped; a context without any word still gives the zero vector). The
    max is blind to the order of the utterances: a dialog whose latest
    message names one emotion and an earlier one another pools to the same
    vector as the dialog the other way round, so the query cannot say which
    emotion the reply answers, and a read of the past selections by it
    lifts the wrong ones (measured with `experiments.memory_oracle`, see
    the README). The GRU sees the order. The keys and the query share it,
    as they share the max in the paper.

    With `dropout > 0` the utterance vectors are dropped out (training
    only) before Eq. 17 / 22's pooling (**deviation**; the paper gives no
    dropout there).

    Call args:
        encodings: tensor `(batch, ..., turns, words, dim)`, utterance
            encoder outputs.
        padding_mask: bool tensor `(batch, ..., turns, words)`, True for
            real words.

    Returns:
        tensor `(batch, ..., dim)`.

    Args:
        utterance_pooling: str. `max` (Eq. 17 / 22 as printed, the default)
            or `rnn`.
        init_stddev: float. Truncated-normal std of the GRU's kernels
            (`rnn` only). Defaults to 0.02.
        dropout: float. Dropout rate on the utterance vectors. Defaults to
            0.

    Reading of Eq. 16: the history utterances are encoded by the same
    Transformer (Eq. 2–8, shared weights) as the current ones, each
    utterance attending over its own words. The paper adds that "the query,
    key and value in Equation 16 are all u^k_i, where we conduct
    self-attention over all history dialog contexts"; we read u^k_i as the
    utterance itself (self-attention rather than the cross-attention of the
    SRS paper's Eq. 2), not as attention across the utterances of a
    history context, which would multiply the history's attention cost by
    the number of turns. This is a documented reading, not the only one.

    References:
        Eq. 16–17 and Eq. 21–22 of the PESRS paper (§5.5.1, §5.5.2).
    """

    def __init__(self, utterance_pooling="max", init_stddev=0.02, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if utterance_pooling not in UTTERANCE_POOLINGS:
            raise ValueError(f"Unknown utterance_pooling '{utterance_pooling}'; choose one of {UTTERANCE_POOLINGS}")
        self.utterance_pooling = utterance_pooling
        self.init_stddev = float(init_stddev)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy) if self.dropout > 0 else None

    def build(self, encodings_shape, padding_mask_shape=None):
        if self.utterance_pooling == "rnn":
            dim = encodings_shape[-1]
            self.rnn = keras.layers.GRU(
                dim,
                kernel_initializer=truncated_normal(self.init_stddev),
                recurrent_initializer=truncated_normal(self.init_stddev, "orthogonal"),
                dtype=self.dtype_policy,
                name="rnn",
            )
            self.rnn.build((None, encodings_shape[-3], dim))
        self.built = True

    def call(self, encodings, padding_mask, training=None):
        utterances = masked_mean(encodings, padding_mask, axis=-2)  # Eq. 16 / 21
        if self.dropout_layer is not None:
            utterances = self.dropout_layer(utterances, training=training)
        utterance_mask = ops.any(padding_mask, axis=-1)
        if self.utterance_pooling == "max":
            return masked_max(utterances, utterance_mask, axis=-2)  # Eq. 17 / 22
        # The deviation: a GRU over the utterances, oldest first, its last state (in place of Eq. 17 / 22's max).
        # A context with no utterance keeps the GRU's zero initial state (every step is masked).
        turns, dim = utterances.shape[-2], utterances.shape[-1]
        pooled = self.rnn(ops.reshape(utterances, (-1, turns, dim)), mask=ops.reshape(utterance_mask, (-1, turns)))
        return ops.reshape(ops.cast(pooled, utterances.dtype), (-1,) + tuple(utterances.shape[1:-2]) + (dim,))

    def compute_output_shape(self, encodings_shape, padding_mask_shape=None):
        return tuple(encodings_shape[:-3]) + (encodings_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"utterance_pooling": self.utterance_pooling, "init_stddev": self.init_stddev, "dropout": self.dropout})
        return config
