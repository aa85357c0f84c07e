"""Word dropout: whole words of a context replaced by the unknown word while training (not in the paper)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="stickerchat")
class WordDropout(keras.layers.Layer):
    """Replaces each real word id by `unk_id` with probability `rate` (training only).

    Not in the paper (`ModelConfig.word_dropout`). Applied to the word ids of
    the dialog and of the history's dialogs before anything reads them, so
    the utterance encoder (Eq. 2–8), the memory's query and keys (Eq. 16–22)
    and `LexicalMatch` see the same dropped words. A dropped word becomes the
    unknown word, not padding: the masks (which utterances and words are
    real) are unchanged, only what the word says is lost. The small demo
    vocabularies are dominated by filler words that carry no cue; a model
    can learn the training dialogs by their fillers, and dropping words
    makes any one of them an unreliable key.

    At inference (and at `rate=0`) the ids pass unchanged.

    Args:
        rate: float in [0, 1). Probability that a real word is dropped.
        pad_id: int. The padding id, never replaced. Defaults to 0.
        unk_id: int. The id a dropped word becomes. Defaults to 1.
        seed: Optional int. Seed of the layer's `SeedGenerator`.

    Call args:
        ids: int tensor of any shape.
        training: bool.

    Returns:
        int tensor of the same shape and dtype as `ids`.
    """

    def __init__(self, rate, pad_id=0, unk_id=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"WordDropout(rate={rate!r}) must be in [0, 1)")
        self.rate = float(rate)
        self.pad_id = int(pad_id)
        self.unk_id = int(unk_id)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, ids, training=None):
        if not training or self.rate == 0:
            return ids
        drop = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(ids, self.pad_id))
        return ops.where(drop, ops.cast(self.unk_id, ids.dtype), ids)

    def compute_output_shape(self, ids_shape):
        return ids_shape

    def compute_output_spec(self, ids, training=None):
        return keras.KerasTensor(ids.shape, dtype=ids.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "pad_id": self.pad_id, "unk_id": self.unk_id, "seed": self.seed})
        return config
