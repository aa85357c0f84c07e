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

    References:
        Eq. 16–17 and Eq. 21–22 of the PESRS paper (§5.5.1, §5.5.2).
    """

    def call(self, encodings, padding_mask):
        utterances = masked_mean(encodings, padding_mask, axis=-2)  # Eq. 16 / 21
        utterance_mask = ops.any(padding_mask, axis=-1)
        return masked_max(utterances, utterance_mask, axis=-2)  # Eq. 17 / 22

    def compute_output_shape(self, encodings_shape, padding_mask_shape=None):
        return tuple(encodings_shape[:-3]) + (encodings_shape[-1],)
