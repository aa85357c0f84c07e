"""A direct word–sticker match added to the score's logit (not in the paper; `ModelConfig.lexical_match`)."""

import keras
from keras import ops

from stickerchat import specs


@keras.saving.register_keras_serializable(package="stickerchat")
class LexicalMatch(keras.layers.Layer):
    """`m_c = (1/n) Σ_words U[w] · O_flat_c`: the dialog's bag of words against each candidate sticker.

    U is a `(vocab_size, dim)` table initialised at zero, so at step 0 the
    term is 0 and the model is exactly the paper's; the term is added to the
    logit of the score (inside σ of Eq. 32, `MatchingScore` and
    `GatedFusion`). It is a bilinear form between the words of the context
    (mean over its real words, padding left out) and the candidate's sticker
    vector O_flat (Eq. 1), one learned `dim`-vector per word.

    Why (a deviation, on by default; measured in the README): in Eq. 2–32 a
    word reaches the score only through the Transformer, the deep
    interaction, the fusion Transformer and RNN and the gate; a fresh model
    scores the candidates almost alike, and the ranking loss sits on its
    plateau for 40 to 110 steps after the emoji warm-up, depending more on
    the seed than on any setting. This term is a one-step path from a word
    to the score that keeps word identity: which words go with which
    stickers (a cue word and the emotion its sticker shows) is learned in
    a few dozen steps, and the full model refines it (context, order,
    distractors, history). `lexical_match=False` (`--nolexical_match`) is
    the paper's score.

    Args:
        vocab_size: int. Word vocabulary size (ids `< vocab_size`).
        dim: int. Width of O_flat (d).

    Call args:
        context: int tensor `(batch, turns, words)`, word ids; `specs.PAD_ID`
            is padding.
        candidate_vector: tensor `(batch, cands, dim)`: O_flat.

    Returns:
        float32 tensor `(batch, cands)`: the logit term m_c.
    """

    def __init__(self, vocab_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)

    def build(self, context_shape=None, candidate_vector_shape=None):
        self.word_sticker = self.add_weight(
            shape=(self.vocab_size, self.dim), initializer="zeros", dtype="float32", name="word_sticker"
        )
        self.built = True

    def call(self, context, candidate_vector):
        ids = ops.cast(context, "int32")
        mask = ops.cast(ops.not_equal(ids, specs.PAD_ID), "float32")  # (batch, turns, words)
        rows = ops.cast(ops.take(self.word_sticker, ids, axis=0), "float32")  # (batch, turns, words, dim)
        total = ops.sum(rows * ops.expand_dims(mask, -1), axis=(1, 2))  # (batch, dim)
        words = ops.maximum(ops.sum(mask, axis=(1, 2)), 1.0)
        bag = total / ops.expand_dims(words, -1)
        return ops.einsum("bd,bcd->bc", bag, ops.cast(candidate_vector, "float32"))

    def compute_output_shape(self, context_shape, candidate_vector_shape):
        return (context_shape[0], candidate_vector_shape[1])

    def compute_output_spec(self, context, candidate_vector):
        return keras.KerasTensor(self.compute_output_shape(context.shape, candidate_vector.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"vocab_size": self.vocab_size, "dim": self.dim})
        return config
