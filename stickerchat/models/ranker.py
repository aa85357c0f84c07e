"""The one outer model of every trained ranker: sticker encoder, emoji head, matcher.

SRS, PESRS, its variants (`stickerchat.models.pesrs`) and every trained
baseline of §6.2 (`stickerchat.models.baselines`) are a `StickerRanker`
around their own *matcher*:

* `ranker.sticker_encoder`: a `StickerEncoder`, `images (..., S, S, 3)
  uint8 -> (O (..., p, p, d), O_flat (..., d))` (Eq. 1; Eq. 18 for the
  history stickers). A recommender can cache O and O_flat per sticker.
* `ranker.emoji_classifier`: an `EmojiClassifier`, `O_flat -> logits`
  (§5.2), so that L_s applies to every model, as in the paper.
* `ranker.matcher`: a layer (or functional model) that takes the dict of
  `MATCHER_INPUT_NAMES` (`matcher_inputs`) and returns a dict with `scores`
  `(batch, cands)` (and, for PESRS with `return_attention=True`, its
  attentions). It declares `reads_history`: whether the scores depend on the
  user history (the ranker's `reads_history` is the matcher's), and
  `independent_candidates`: whether a candidate's score is the same in any
  candidate set (a softmax over the candidates, as in LSTUR, is not).

The candidate axis is free: a ranker (and a reloaded `.keras` file) scores
any number of candidates. The context and history lengths are those of the
`DataConfig` the ranker was built with.

`ranker(inputs)` takes the dict of `stickerchat.specs.input_specs`;
`ranker.call_on_unique_stickers(inputs)` takes a training batch whose
stickers are de-duplicated (`specs.unique_sticker_specs`) and returns the
same outputs.
"""

import types

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import EmojiClassifier, StickerEncoder, sticker_map_size
from stickerchat.models.serialization import ConfigFromInit

# Inputs of a matcher (the two context inputs and the mask reuse the names
# of `stickerchat.specs`).
CANDIDATE_STICKER_MAP = "candidate_sticker_map"  # O: (batch, cands, p, p, d)
CANDIDATE_STICKER_VECTOR = "candidate_sticker_vector"  # O_flat: (batch, cands, d)
HISTORY_STICKER_VECTOR = "history_sticker_vector"  # O_k: (batch, history_len, d)
MATCHER_INPUT_NAMES = (
    specs.CONTEXT,
    CANDIDATE_STICKER_MAP,
    CANDIDATE_STICKER_VECTOR,
    specs.HISTORY_CONTEXT,
    HISTORY_STICKER_VECTOR,
    specs.HISTORY_MASK,
)

# Keys of configs saved before the candidate axis was free; ignored on load.
_LEGACY_KEYS = ("num_candidates",)


def matcher_inputs(context, candidate_map, candidate_vector, history_context, history_vector, history_mask):
    """The matcher's input dict (`MATCHER_INPUT_NAMES`).

    `history_vector` None (a matcher that does not read the history) is
    replaced by zeros `(batch, history_len, d)`, so that every matcher takes
    the same six inputs.
    """
    if history_vector is None:
        mask = ops.cast(history_mask, candidate_vector.dtype)
        history_vector = ops.zeros_like(candidate_vector[:, :1]) * ops.expand_dims(mask, -1)
    return {
        specs.CONTEXT: context,
        CANDIDATE_STICKER_MAP: candidate_map,
        CANDIDATE_STICKER_VECTOR: candidate_vector,
        specs.HISTORY_CONTEXT: history_context,
        HISTORY_STICKER_VECTOR: history_vector,
        specs.HISTORY_MASK: history_mask,
    }


class FunctionalModel(keras.Model):
    """Base of the functional model subclasses (keras-hub style).

    Sub-layers are assigned to attributes before `keras.Model.__init__` (the
    `# === Layers ===` section). Under the torch backend a Keras layer is a
    `torch.nn.Module`, which cannot be assigned to a module that is not
    initialised yet; as in keras-hub, such assignments bypass the custom
    `__setattr__` (the layers are tracked through the functional graph).
    """

    def __setattr__(self, name, value):
        if keras.config.backend() == "torch" and "_modules" not in self.__dict__:
            return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)


def input_layers(context_len, max_words, history_len, image_size):
    """The `keras.Input`s of `specs.input_specs`, with a free candidate axis."""
    shapes = types.SimpleNamespace(
        context_len=context_len,
        max_words=max_words,
        num_candidates=None,
        history_len=history_len,
        image_size=image_size,
    )
    return {
        name: keras.Input(spec.shape, dtype=spec.dtype, name=name) for name, spec in specs.input_specs(shapes).items()
    }


def matcher_input_layers(context_len, max_words, history_len, map_size, hidden_dim):
    """The `keras.Input`s of a matcher (`MATCHER_INPUT_NAMES`), with a free candidate axis."""
    p, d = map_size, hidden_dim
    return {
        specs.CONTEXT: keras.Input((context_len, max_words), dtype="int32", name=specs.CONTEXT),
        CANDIDATE_STICKER_MAP: keras.Input((None, p, p, d), dtype="float32", name=CANDIDATE_STICKER_MAP),
        CANDIDATE_STICKER_VECTOR: keras.Input((None, d), dtype="float32", name=CANDIDATE_STICKER_VECTOR),
        specs.HISTORY_CONTEXT: keras.Input(
            (history_len, context_len, max_words), dtype="int32", name=specs.HISTORY_CONTEXT
        ),
        HISTORY_STICKER_VECTOR: keras.Input((history_len, d), dtype="float32", name=HISTORY_STICKER_VECTOR),
        specs.HISTORY_MASK: keras.Input((history_len,), dtype="int32", name=specs.HISTORY_MASK),
    }


@keras.saving.register_keras_serializable(package="stickerchat")
class StickerRanker(ConfigFromInit, FunctionalModel):
    """Ranks candidate stickers: the shared sticker encoder and emoji head around a matcher.

    Inputs: the dict of `stickerchat.specs.input_specs(data_config)`:
    `context`, `candidate_images` (uint8, any number of candidates),
    `history_context`, `history_images` (uint8), `history_mask`.

    Outputs: the matcher's dict (`scores` float32 `(batch, num_candidates)`,
    plus any attentions) and `emoji_logits` float32
    `(batch, num_candidates, num_emoji)` from the emoji head on the
    candidates' O_flat (§5.2).

    The candidate stickers (followed by the history stickers when the
    matcher `reads_history`) are encoded by `sticker_encoder` in one pass;
    O_flat of the history stickers is Eq. 18. Then `matcher` scores.

    Args:
        matcher: a matcher layer (see the module docstring), or its
            serialized config.
        num_emoji: int. Emoji vocabulary size.
        context_len, max_words, history_len, image_size: int. Input shapes
            (`DataConfig`).
        hidden_dim: int. Width d of the sticker encoder's outputs.
        image_encoder, image_weights, cnn_filters, init_stddev,
            sticker_norm: the sticker encoder (`ModelConfig`; `sticker_norm`
            is its `normalize`).
        use_classify: bool. Whether the training loss uses the emoji logits
            (an attribute for the training task; the head is always built).

    References:
        Eq. 1, 18 and §5.2 of the PESRS paper; §6.2 for the baselines ("we
        adapt VQA and multi-turn response selection models ... by changing
        their input text encoder to image encoder").
    """

    def __init__(
        self,
        matcher,
        num_emoji,
        context_len,
        max_words,
        history_len,
        image_size,
        hidden_dim=100,
        image_encoder="inception_v3",
        image_weights=None,
        cnn_filters=32,
        init_stddev=0.02,
        sticker_norm=False,
        use_classify=True,
        dtype=None,
        **kwargs,
    ):
        if isinstance(matcher, dict):
            matcher = keras.saving.deserialize_keras_object(matcher)
        reads_history = bool(matcher.reads_history)

        # === Layers ===
        self.sticker_encoder = StickerEncoder(
            hidden_dim,
            image_size,
            backbone=image_encoder,
            image_weights=image_weights,
            cnn_filters=cnn_filters,
            init_stddev=init_stddev,
            normalize=sticker_norm,
            dtype=dtype,
            name="sticker_encoder",
        )
        self.emoji_classifier = EmojiClassifier(num_emoji, init_stddev=init_stddev, dtype=dtype, name="emoji_classifier")
        self.matcher = matcher

        # === Functional Model ===
        inputs = input_layers(context_len, max_words, history_len, image_size)
        images = inputs[specs.CANDIDATE_IMAGES]
        if reads_history:
            images = ops.concatenate([images, inputs[specs.HISTORY_IMAGES]], axis=1)
        sticker_map, sticker_vector = self.sticker_encoder(images)  # Eq. 1 and 18, one pass
        history_vector = None
        if reads_history and history_len:
            history_vector = sticker_vector[:, -history_len:]  # Eq. 18
            sticker_map, sticker_vector = sticker_map[:, :-history_len], sticker_vector[:, :-history_len]
        elif reads_history:
            history_vector = sticker_vector[:, :0]
        outputs = self._from_encoded(inputs, sticker_map, sticker_vector, history_vector)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===  (`get_config` returns the constructor's arguments)
        self.map_size = sticker_map_size(image_encoder, image_size)
        self.use_classify = use_classify

    @property
    def reads_history(self):
        """Whether the scores depend on the user history (the history images are then encoded)."""
        return bool(self.matcher.reads_history)

    def matcher_model(self):
        """The matcher as a `keras.Model` on its input dict, for `predict` on cached sticker features.

        The matcher itself when it is a model (`StickerMatcher`), else a
        functional model around the same layer (shared weights, no copy).
        """
        if isinstance(self.matcher, keras.Model):
            return self.matcher
        a = self._init_arguments
        inputs = matcher_input_layers(
            a["context_len"], a["max_words"], a["history_len"], self.map_size, self.sticker_encoder.hidden_dim
        )
        return keras.Model(inputs, self.matcher(inputs), name=f"{self.matcher.name}_model")

    def call_on_unique_stickers(self, inputs, training=False):
        """The model's outputs for a batch whose stickers are de-duplicated.

        Each distinct sticker image of the batch goes through the sticker
        encoder once; O and O_flat of every candidate and history slot are
        then gathered by row (`keras.ops.take`). This is the same function as
        `self(inputs)` on the batch's full images: the scores are equal, and
        so are the gradients, since the gradient of a gathered row sums over
        the slots that read it, as the gradients of the repeated encodings
        sum in the full model. One exception: a backbone with batch
        normalisation (Inception-v3) *in training mode* normalises by the
        statistics of the distinct images (and the bucket's zero padding)
        rather than of every slot.

        Args:
            inputs: dict with `context`, `history_context`, `history_mask`
                (as `specs.input_specs`) and `sticker_images`,
                `candidate_slots` and, for rankers that read the history,
                `history_slots` (`specs.unique_sticker_specs`).
            training: bool.

        Returns:
            The dict of `self(inputs)`.
        """
        if self.reads_history and specs.HISTORY_SLOTS not in inputs:
            raise ValueError(
                f"{self.name} reads the user history: its de-duplicated inputs need '{specs.HISTORY_SLOTS}' "
                "(make_dataset(..., unique_stickers=UniqueStickers(history=True)))"
            )
        inputs = {name: ops.convert_to_tensor(value) for name, value in inputs.items()}
        sticker_map, sticker_vector = self.sticker_encoder(inputs[specs.STICKER_IMAGES], training=training)
        candidate_slots = inputs[specs.CANDIDATE_SLOTS]
        history_vector = None
        if self.reads_history:
            history_vector = ops.take(sticker_vector, inputs[specs.HISTORY_SLOTS], axis=0)  # Eq. 18
        return self._from_encoded(
            inputs,
            ops.take(sticker_map, candidate_slots, axis=0),  # (batch, cands, p, p, d)
            ops.take(sticker_vector, candidate_slots, axis=0),  # (batch, cands, d)
            history_vector,
            training=training,
        )

    def _from_encoded(self, inputs, candidate_map, candidate_vector, history_vector, training=None):
        """The outputs from the encoded stickers: the matcher's and the emoji head's (§5.2)."""
        matched = self.matcher(
            matcher_inputs(
                inputs[specs.CONTEXT],
                candidate_map,
                candidate_vector,
                inputs[specs.HISTORY_CONTEXT],
                history_vector,
                inputs[specs.HISTORY_MASK],
            ),
            training=training,
        )
        outputs = dict(matched)
        outputs[specs.EMOJI_LOGITS] = self.emoji_classifier(candidate_vector)  # §5.2
        return outputs

    @classmethod
    def from_config(cls, config):
        config = {key: value for key, value in config.items() if key not in _LEGACY_KEYS}
        return super().from_config(config)

    @classmethod
    def from_stickerchat_config(cls, config, matcher, name=None):
        """Builds around `matcher` from a `stickerchat.config.Config`.

        The sticker encoder is not layer-normalised (`sticker_norm` False),
        as the baselines have always been trained.
        """
        data, model = config.data, config.model
        return cls(
            matcher=matcher,
            num_emoji=model.num_emoji,
            context_len=data.context_len,
            max_words=data.max_words,
            history_len=data.history_len,
            image_size=data.image_size,
            hidden_dim=model.hidden_dim,
            image_encoder=model.image_encoder,
            image_weights=model.image_weights,
            cnn_filters=model.cnn_filters,
            init_stddev=model.init_stddev,
            use_classify=model.use_classify,
            name=name,
        )
