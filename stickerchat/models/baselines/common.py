"""What every trained baseline shares: the sticker encoder, the emoji head, the outer model.

§6.2 of the PESRS paper adapts each text or VQA model "by changing their
input text encoder to image encoder", the same sticker encoder as PESRS. So
every trained baseline is a `StickerRanker`:

* the shared `StickerEncoder` (Eq. 1) encodes the candidate stickers (and,
  for the models that read the user history, the history stickers) in one
  vectorised pass; its map O `(p, p, d)` is flattened row-major into a
  sequence of p² "sticker units" (the candidate "response words" of the
  text models) and O_flat `(d,)` is the sticker vector;
* the shared `EmojiClassifier` on the candidates' O_flat gives
  `emoji_logits`, so that L_s (§5.2) applies to every model as in the paper;
* a baseline-specific *matcher* layer (`SMNMatcher`, `DAMMatcher`, ...) maps
  `(context, units, vector[, history_vector, history_mask])` to float32
  scores `(batch, num_candidates)`, scoring all candidates at once.
"""

import math

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import EmojiClassifier, StickerEncoder, masked_softmax, sticker_map_size
from stickerchat.layers.transformer import truncated_normal
from stickerchat.models.pesrs import _DataShapes, _FunctionalModel
from stickerchat.models.serialization import dtype_config, from_config_with_policy


def dense(layer, units, name, activation=None, use_bias=True, dtype=None):
    """A Dense sub-layer under `layer`'s dtype policy with the §6.4 initialiser."""
    return keras.layers.Dense(
        units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=truncated_normal(layer.init_stddev),
        dtype=dtype or layer.dtype_policy,
        name=name,
    )


def gru(layer, units, name, return_sequences=True):
    """A GRU sub-layer under `layer`'s dtype policy with the §6.4 initialiser."""
    return keras.layers.GRU(
        units,
        return_sequences=return_sequences,
        kernel_initializer=truncated_normal(layer.init_stddev),
        recurrent_initializer=truncated_normal(layer.init_stddev, "orthogonal"),
        dtype=layer.dtype_policy,
        name=name,
    )


def attend(scores, mask, values, axis=-1):
    """Masked softmax of `scores` over `axis`, cast back to the dtype of `values`.

    Args:
        scores: attention logits.
        mask: bool tensor broadcastable to `scores`, True for real keys, or
            None when every key is real.
        values: a tensor whose dtype the weights take (for the einsum that
            follows).
        axis: int. The key axis.

    Returns:
        the attention weights (all zeros where every key is padded).
    """
    if mask is None:
        return ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=axis), values.dtype)
    return ops.cast(masked_softmax(scores, mask, axis=axis), values.dtype)


def dot_scale(dim):
    return 1.0 / math.sqrt(dim)


def last_real_utterance(utterance_mask):
    """One-hot `(batch, turns)` of the most recent real utterance (padding comes after)."""
    count = ops.sum(ops.cast(utterance_mask, "int32"), axis=-1)
    return ops.one_hot(ops.maximum(count - 1, 0), utterance_mask.shape[-1], dtype="float32")


# Keys of `StickerRanker.get_config` besides name, trainable and matcher.
_RANKER_KEYS = (
    "num_emoji",
    "context_len",
    "max_words",
    "num_candidates",
    "history_len",
    "image_size",
    "hidden_dim",
    "image_encoder",
    "image_weights",
    "cnn_filters",
    "init_stddev",
    "use_classify",
)


@keras.saving.register_keras_serializable(package="stickerchat")
class StickerRanker(_FunctionalModel):
    """A baseline of §6.2: the shared sticker encoder and emoji head around a matcher.

    Inputs: the dict of `stickerchat.specs.input_specs(data_config)`.

    Outputs: a dict with `scores` float32 `(batch, num_candidates)` from the
    matcher and `emoji_logits` float32 `(batch, num_candidates, num_emoji)`
    from the emoji head on the candidates' O_flat (§5.2).

    Candidate stickers (plus history stickers when `matcher.uses_history`)
    are encoded in one pass over `(batch * stickers, S, S, 3)`. The matcher
    is called as `matcher(context, units, vector)` with the candidates'
    units `(batch, cands, p*p, d)` (O flattened row-major) and vectors
    `(batch, cands, d)` (O_flat), plus `history_vector=` `(batch,
    history_len, d)` and `history_mask=` for history models.

    Args:
        matcher: a matcher layer (or its serialized config).
        num_emoji: int. Emoji vocabulary size.
        context_len, max_words, num_candidates, history_len, image_size: int.
            Input shapes (`DataConfig`).
        hidden_dim: int. Width d of the sticker encoder's outputs.
        image_encoder, image_weights, cnn_filters, init_stddev: the sticker
            encoder (`ModelConfig`).
        use_classify: bool. Whether the training loss uses the emoji logits
            (an attribute for the training task; the head is always built).

    References:
        §6.2 of the PESRS paper ("we adapt VQA and multi-turn response
        selection models ... by changing their input text encoder to image
        encoder"); Eq. 1 and §5.2 for the shared encoder and emoji head.
    """

    def __init__(
        self,
        matcher,
        num_emoji,
        context_len,
        max_words,
        num_candidates,
        history_len,
        image_size,
        hidden_dim=100,
        image_encoder="inception_v3",
        image_weights=None,
        cnn_filters=32,
        init_stddev=0.02,
        use_classify=True,
        dtype=None,
        **kwargs,
    ):
        if isinstance(matcher, dict):
            matcher = keras.saving.deserialize_keras_object(matcher)
        p = sticker_map_size(image_encoder, image_size)
        d = hidden_dim
        uses_history = bool(getattr(matcher, "uses_history", False))

        # === Layers ===
        self.sticker_encoder = StickerEncoder(
            hidden_dim,
            image_size,
            backbone=image_encoder,
            image_weights=image_weights,
            cnn_filters=cnn_filters,
            init_stddev=init_stddev,
            dtype=dtype,
            name="sticker_encoder",
        )
        self.emoji_classifier = EmojiClassifier(
            num_emoji, init_stddev=init_stddev, dtype=dtype, name="emoji_classifier"
        )
        self.matcher = matcher

        # === Functional Model ===
        data = _DataShapes(context_len, max_words, num_candidates, history_len, image_size)
        inputs = {
            name: keras.Input(spec.shape, dtype=spec.dtype, name=name) for name, spec in specs.input_specs(data).items()
        }
        images = inputs[specs.CANDIDATE_IMAGES]
        if uses_history:
            images = ops.concatenate([images, inputs[specs.HISTORY_IMAGES]], axis=1)
        count = images.shape[1]
        sticker_map, sticker_vector = self.sticker_encoder(ops.reshape(images, (-1, image_size, image_size, 3)))
        units = ops.reshape(sticker_map, (-1, count, p * p, d))
        vectors = ops.reshape(sticker_vector, (-1, count, d))
        candidate_units = units[:, :num_candidates]
        candidate_vector = vectors[:, :num_candidates]
        if uses_history:
            scores = self.matcher(
                inputs[specs.CONTEXT],
                candidate_units,
                candidate_vector,
                history_vector=vectors[:, num_candidates:],
                history_mask=inputs[specs.HISTORY_MASK],
            )
        else:
            scores = self.matcher(inputs[specs.CONTEXT], candidate_units, candidate_vector)
        outputs = {
            specs.SCORES: scores,
            specs.EMOJI_LOGITS: self.emoji_classifier(candidate_vector),  # §5.2
        }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.num_emoji = num_emoji
        self.context_len = context_len
        self.max_words = max_words
        self.num_candidates = num_candidates
        self.history_len = history_len
        self.image_size = image_size
        self.hidden_dim = hidden_dim
        self.image_encoder = image_encoder
        self.image_weights = image_weights
        self.cnn_filters = cnn_filters
        self.init_stddev = init_stddev
        self.use_classify = use_classify
        self.map_size = p

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config["matcher"] = keras.saving.serialize_keras_object(self.matcher)
        config.update({key: getattr(self, key) for key in _RANKER_KEYS})
        config.update(dtype_config(self))
        return config

    @classmethod
    def from_config(cls, config):
        return from_config_with_policy(cls, config)

    @classmethod
    def from_stickerchat_config(cls, config, matcher, name=None):
        """Builds around `matcher` from a `stickerchat.config.Config`."""
        data, model = config.data, config.model
        return cls(
            matcher=matcher,
            num_emoji=model.num_emoji,
            context_len=data.context_len,
            max_words=data.max_words,
            num_candidates=data.num_candidates,
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


# The `ModelConfig` fields (and matcher arguments of the same names) of every
# matcher's text side, and of the matchers that encode text with Transformer blocks.
TEXT_KEYS = ("vocab_size", "emb_dim", "hidden_dim", "init_stddev")
TRANSFORMER_KEYS = ("num_heads", "num_transformer_layers", "ffn_dim", "dropout")


def text_kwargs(config):
    """The `ModelConfig` fields every matcher's text side takes."""
    return {key: getattr(config.model, key) for key in TEXT_KEYS}


def transformer_kwargs(config):
    """The `ModelConfig` fields of the matchers that encode text with Transformer blocks."""
    return {key: getattr(config.model, key) for key in TRANSFORMER_KEYS}


class BaselineMatcher(keras.layers.Layer):
    """The base of the baselines' matcher layers.

    A subclass stores each constructor argument under its own name and lists
    them in `CONFIG_KEYS`; `get_config` (and so saving and cloning) follows
    from that list.
    """

    CONFIG_KEYS = ()

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in self.CONFIG_KEYS})
        return config
