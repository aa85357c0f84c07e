"""MostSelected (§7.8): the user's most selected sticker, a heuristic with no training."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.models.ranker import FunctionalModel, input_layers
from stickerchat.models.serialization import ConfigFromInit


@keras.saving.register_keras_serializable(package="stickerchat")
class SelectionCounts(keras.layers.Layer):
    """How often, and how recently, the user selected each candidate sticker.

    The model sees images, not sticker ids, so "the same sticker" means an
    identical image: candidate c and history slot k match when every pixel
    of their uint8 images is equal (stickers of one set are distinct images,
    and the pipeline decodes a sticker to the same array every time). Only
    real history slots (`history_mask`) count.

    The score of a candidate is `count + last / (history_len + 1)`, where
    `count` is the number of matching history slots and `last` is 1 + the
    index of the most recent matching slot (slots are chronological, oldest
    first, padding after the real ones), 0 without a match. The recency term
    is below 1, so it only breaks ties between equal counts, in favour of the
    sticker used most recently. A candidate that the user never selected
    scores 0; when no candidate was selected before (or several never were),
    the metrics break the ties at random in expectation, which is the
    defined fallback.

    Call args:
        candidate_images: uint8 tensor `(batch, cands, S, S, 3)`.
        history_images: uint8 tensor `(batch, history_len, S, S, 3)`.
        history_mask: bool tensor `(batch, history_len)`.

    Returns:
        float32 scores `(batch, cands)`.

    References:
        §7.8 of the PESRS paper (MostSelected, Table 6).
    """

    def call(self, candidate_images, history_images, history_mask):
        history_len = history_images.shape[1]
        same = ops.equal(candidate_images[:, :, None], history_images[:, None, :])  # (b, c, h, S, S, 3)
        same = ops.all(same, axis=(3, 4, 5))  # (b, c, h)
        same = ops.logical_and(same, ops.cast(history_mask, "bool")[:, None, :])
        matches = ops.cast(same, "float32")
        count = ops.sum(matches, axis=-1)
        position = ops.cast(ops.arange(1, history_len + 1), "float32")
        last = ops.max(matches * position, axis=-1)
        return count + last / float(history_len + 1)

    def compute_output_spec(self, candidate_images, history_images, history_mask):
        return keras.KerasTensor(tuple(candidate_images.shape[:2]), dtype="float32")


@keras.saving.register_keras_serializable(package="stickerchat")
class MostSelected(ConfigFromInit, FunctionalModel):
    """MostSelected (§7.8 of the PESRS paper): rank the user's most used sticker first.

    "A simple heuristic method (MostSelected) which just use the most
    selected sticker by user as the sticker prediction of current dialog
    context". It ignores the dialog contexts. Scores come from
    `SelectionCounts` (exact image equality between candidates and the
    user's history stickers, ties by recency, 0 for never selected).

    It has no weights and needs no training; it still maps the input dict of
    `stickerchat.specs.input_specs` to `{scores, emoji_logits}` like every
    model, so the trainer, the evaluation and the experiment scripts treat it
    as any other (`fit` only warns that there is nothing to train).
    `emoji_logits` are zeros `(batch, cands, num_emoji)`: it classifies
    nothing, and L_s is then the constant log(num_emoji).

    It is not a `StickerRanker` (it has no sticker encoder: "the same
    sticker" is an identical image), but it has the ranker's interface: a
    free candidate axis, `reads_history` and `call_on_unique_stickers`, so
    the trainer and the evaluation treat it as any ranker. (The recommender,
    which scores cached sticker features with a matcher, refuses it.)

    Args:
        num_emoji: int. Emoji vocabulary size.
        context_len, max_words, history_len, image_size: int. Input shapes
            (`DataConfig`).
    """

    # It compares the candidates with the history stickers.
    reads_history = True

    def __init__(self, num_emoji, context_len, max_words, history_len, image_size, dtype=None, **kwargs):
        self.num_emoji = num_emoji  # (`get_config` returns the constructor's arguments)

        # === Layers ===
        self.selection_counts = SelectionCounts(dtype=dtype, name="selection_counts")

        # === Functional Model ===
        inputs = input_layers(context_len, max_words, history_len, image_size)
        outputs = self._from_images(inputs[specs.CANDIDATE_IMAGES], inputs[specs.HISTORY_IMAGES], inputs[specs.HISTORY_MASK])
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

    def _from_images(self, candidate_images, history_images, history_mask):
        scores = self.selection_counts(candidate_images, history_images, history_mask)
        emoji_logits = ops.repeat(ops.expand_dims(ops.zeros_like(scores), -1), self.num_emoji, axis=-1)
        return {specs.SCORES: scores, specs.EMOJI_LOGITS: emoji_logits}

    def call_on_unique_stickers(self, inputs, training=False):
        """`self(inputs)` for a batch whose stickers are de-duplicated: the slots' images are gathered back."""
        if specs.HISTORY_SLOTS not in inputs:
            raise ValueError(f"{self.name} reads the user history: its de-duplicated inputs need '{specs.HISTORY_SLOTS}'")
        inputs = {name: ops.convert_to_tensor(value) for name, value in inputs.items()}
        images = inputs[specs.STICKER_IMAGES]
        return self._from_images(
            ops.take(images, inputs[specs.CANDIDATE_SLOTS], axis=0),
            ops.take(images, inputs[specs.HISTORY_SLOTS], axis=0),
            inputs[specs.HISTORY_MASK],
        )

    @classmethod
    def from_config(cls, config):
        return super().from_config({key: value for key, value in config.items() if key != "num_candidates"})


def build_most_selected(config, return_attention=False):
    """MostSelected for a `stickerchat.config.Config`."""
    d = config.data
    return MostSelected(
        num_emoji=config.model.num_emoji,
        context_len=d.context_len,
        max_words=d.max_words,
        history_len=d.history_len,
        image_size=d.image_size,
        name="most_selected",
    )
