"""Context pooling: one vector per dialog context (Eq. 16–17 and 21–22)."""

import keras
from keras import ops

from stickerchat.layers.masking import masked_max, masked_mean


@keras.saving.register_keras_serializable(package="stickerchat")
class ContextPooling(keras.layers.Layer):
    """Mean over the words of each utterance, then max over the utterances.

    This is the same operation in two places of the paper: the history
    context vector h̄ᵏ (Eq. 16 mean-pooling, Eq. 17 max-pooling) and the memory
    query h (Eq. 21 mean-pooling, Eq. 22 max-pooling). Padded words are left
    out of the mean and padded utterances out of the max; a context without
    any word gives the zero vector.

    Call args:
        encodings: tensor `(batch, ..., turns, words, dim)`, utterance
            encoder outputs.
        padding_mask: bool tensor `(batch, ..., turns, words)`, True for
            real words.

    Returns:
        tensor `(batch, ..., dim)`.

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

    def call(self, encodings, padding_mask):
        utterances = masked_mean(encodings, padding_mask, axis=-2)  # Eq. 16 / 21
        utterance_mask = ops.any(padding_mask, axis=-1)
        return masked_max(utterances, utterance_mask, axis=-2)  # Eq. 17 / 22

    def compute_output_shape(self, encodings_shape, padding_mask_shape=None):
        return tuple(encodings_shape[:-3]) + (encodings_shape[-1],)
