"""SRS and PESRS as functional Keras models.

`PESRS` maps the input dict of `stickerchat.specs.input_specs` to
`{scores, emoji_logits}` (plus the attentions with `return_attention=True`).
It is made of three parts that can be used on their own:

* `model.sticker_encoder`: a `StickerEncoder` layer, `images (n, S, S, 3)
  uint8 -> (O (n, p, p, d), O_flat (n, d))`. Candidate and history stickers
  are encoded in one vectorised pass; a recommender can cache O and O_flat
  per sticker.
* `model.emoji_classifier`: an `EmojiClassifier`, `O_flat -> logits`.
* `model.matcher`: a `StickerMatcher` functional model that scores already
  encoded candidates against the dialog context and the user history; its
  input dict is `MATCHER_INPUT_NAMES` (see `StickerMatcher`).

`matcher({context, candidate_sticker_map, candidate_sticker_vector,
history_context, history_sticker_vector, history_mask})[SCORES]` equals
`model(inputs)[SCORES]` when the maps and vectors come from
`model.encode_stickers`.

SRS ("PESRS w/o UPM") is the same model with `use_memory=False`: no history
encoding, memory or gated fusion; the score is `σ(FC(g_Tu))`.
"""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.models.serialization import dtype_config, from_config_with_policy
from stickerchat.layers import (
    ContextPooling,
    DeepInteraction,
    EmojiClassifier,
    FusionNetwork,
    GatedFusion,
    HistoryEncoder,
    MatchingScore,
    PlainInteraction,
    PreferenceMemory,
    StickerEncoder,
    UtteranceEncoder,
    sticker_map_size,
)
from stickerchat.layers.preference_memory import MEMORY_TYPES

# How the memory read r meets the candidates (`GatedFusion`): `candidate`
# reads it per candidate (r ⊙ FC(O_flat_c), the default), `literal` is Eq. 31–32
# as printed (one r for every candidate).
PREFERENCE_TYPES = ("candidate", "literal")

# Inputs of `StickerMatcher` (the two context inputs and the mask reuse the
# names of `stickerchat.specs`).
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


class _FunctionalModel(keras.Model):
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


@keras.saving.register_keras_serializable(package="stickerchat")
class StickerMatcher(_FunctionalModel):
    """Scores encoded candidate stickers for a dialog context and user history.

    Everything of PESRS after the sticker encoder: utterance encoder (Eq.
    2–8), deep interaction (Eq. 9–15), history encoding (Eq. 16–20),
    preference memory (Eq. 21–24), fusion network (Eq. 25–30), gated fusion
    and score (Eq. 31–32). All candidates are scored in one pass.

    Inputs (a dict, `MATCHER_INPUT_NAMES`; every variant takes all six, the
    ones a variant does not use are ignored):
        context: int32 `(batch, context_len, max_words)`.
        candidate_sticker_map: float `(batch, num_candidates, p, p, d)`, O.
        candidate_sticker_vector: float `(batch, num_candidates, d)`, O_flat.
        history_context: int32 `(batch, history_len, context_len, max_words)`.
        history_sticker_vector: float `(batch, history_len, d)`, O_flat of the
            history stickers.
        history_mask: bool `(batch, history_len)`.

    Outputs (a dict): `scores` float32 `(batch, num_candidates)`; with
    `return_attention=True` also `utterance_attention` float32
    `(batch, cands, context_len, max_words)`, `sticker_attention` float32
    `(batch, cands, context_len, p, p)` and, for models with a memory,
    `memory_weights` float32 `(batch, history_len)` and `fusion_gate` float32
    `(batch, cands, 1)`.

    Args:
        vocab_size: int. Word vocabulary size.
        context_len, max_words, num_candidates, history_len: int. Input
            shapes (`DataConfig`). The weights do not depend on them.
        map_size: int. Side p of the sticker map.
        emb_dim, hidden_dim, num_heads, num_transformer_layers, ffn_dim,
            dropout, init_stddev, memory, interaction_normalize, use_din,
            use_fusion_rnn, fusion_rnn_type, use_memory, use_time_aware_rnn:
            see `stickerchat.config.ModelConfig`.
        return_attention: bool. Also output the attentions.

    References:
        Eq. 2–32 (§5.3–5.6) of the PESRS paper.
    """

    def __init__(
        self,
        vocab_size,
        context_len,
        max_words,
        num_candidates,
        history_len,
        map_size,
        emb_dim=100,
        hidden_dim=100,
        num_heads=4,
        num_transformer_layers=1,
        ffn_dim=0,
        dropout=0.1,
        init_stddev=0.02,
        memory="attention",
        interaction_normalize=True,
        use_din=True,
        use_fusion_rnn=True,
        fusion_rnn_type="gru",
        use_memory=True,
        use_time_aware_rnn=True,
        preference="candidate",
        fusion_dropout=None,
        relation_init="normal",
        text_product=False,
        return_attention=False,
        dtype=None,
        **kwargs,
    ):
        if memory not in MEMORY_TYPES:
            raise ValueError(f"Unknown memory '{memory}'; choose one of {MEMORY_TYPES}")
        if preference not in PREFERENCE_TYPES:
            raise ValueError(f"Unknown preference '{preference}'; choose one of {PREFERENCE_TYPES}")
        d = hidden_dim
        use_keys = use_memory and memory == "attention"

        # === Layers ===
        self.utterance_encoder = UtteranceEncoder(
            vocab_size,
            emb_dim,
            hidden_dim,
            num_heads,
            num_layers=num_transformer_layers,
            ffn_dim=ffn_dim,
            dropout=dropout,
            init_stddev=init_stddev,
            dtype=dtype,
            name="utterance_encoder",
        )
        if use_din:
            self.interaction = DeepInteraction(
                hidden_dim,
                normalize=interaction_normalize,
                init_stddev=init_stddev,
                relation_init=relation_init,
                text_product=text_product,
                dtype=dtype,
                name="interaction",
            )
        else:
            self.interaction = PlainInteraction(
                hidden_dim, init_stddev=init_stddev, text_product=text_product, dtype=dtype, name="interaction"
            )
        self.fusion = FusionNetwork(
            hidden_dim,
            num_heads,
            ffn_dim=ffn_dim,
            dropout=dropout if fusion_dropout is None else fusion_dropout,
            use_fusion_rnn=use_fusion_rnn,
            fusion_rnn_type=fusion_rnn_type,
            init_stddev=init_stddev,
            dtype=dtype,
            name="fusion",
        )
        if use_memory:
            self.context_pooling = ContextPooling(dtype=dtype, name="context_pooling")
            self.history_key_encoder = None
            self.history_value_encoder = None
            if use_time_aware_rnn:
                if use_keys:
                    self.history_key_encoder = HistoryEncoder(
                        hidden_dim, init_stddev=init_stddev, dtype=dtype, name="history_key_encoder"
                    )
                self.history_value_encoder = HistoryEncoder(
                    hidden_dim, init_stddev=init_stddev, dtype=dtype, name="history_value_encoder"
                )
            self.preference_memory = PreferenceMemory(
                hidden_dim, memory=memory, init_stddev=init_stddev, dtype=dtype, name="preference_memory"
            )
            self.gated_fusion = GatedFusion(
                init_stddev=init_stddev,
                candidate_aware=preference == "candidate",
                dtype=dtype,
                name="gated_fusion",
            )
        else:
            self.score_head = MatchingScore(init_stddev=init_stddev, dtype=dtype, name="score_head")

        # === Functional Model ===
        inputs = {
            specs.CONTEXT: keras.Input((context_len, max_words), dtype="int32", name=specs.CONTEXT),
            CANDIDATE_STICKER_MAP: keras.Input(
                (num_candidates, map_size, map_size, d), dtype="float32", name=CANDIDATE_STICKER_MAP
            ),
            CANDIDATE_STICKER_VECTOR: keras.Input((num_candidates, d), dtype="float32", name=CANDIDATE_STICKER_VECTOR),
            specs.HISTORY_CONTEXT: keras.Input(
                (history_len, context_len, max_words), dtype="int32", name=specs.HISTORY_CONTEXT
            ),
            HISTORY_STICKER_VECTOR: keras.Input((history_len, d), dtype="float32", name=HISTORY_STICKER_VECTOR),
            specs.HISTORY_MASK: keras.Input((history_len,), dtype="int32", name=specs.HISTORY_MASK),
        }
        context = inputs[specs.CONTEXT]
        word_mask = ops.not_equal(context, specs.PAD_ID)  # (batch, turns, words)
        utterance_mask = ops.any(word_mask, axis=-1)  # (batch, turns)
        # Eq. 2–8.
        utterances = self.utterance_encoder(context, padding_mask=word_mask)
        # Eq. 9–15, all candidates × utterances at once.
        q2, tau_u, tau_s = self.interaction(
            inputs[CANDIDATE_STICKER_MAP], inputs[CANDIDATE_STICKER_VECTOR], utterances, word_mask
        )
        # Eq. 25–30.
        g_tu = self.fusion(q2, utterance_mask)
        outputs = {}
        if use_memory:
            history_mask = inputs[specs.HISTORY_MASK]
            values = inputs[HISTORY_STICKER_VECTOR]  # Eq. 18
            keys = None
            if use_keys:
                history_context = inputs[specs.HISTORY_CONTEXT]
                history_word_mask = ops.not_equal(history_context, specs.PAD_ID)
                history_utterances = self.utterance_encoder(history_context, padding_mask=history_word_mask)
                keys = self.context_pooling(history_utterances, history_word_mask)  # Eq. 16–17
            if use_time_aware_rnn:
                if use_keys:
                    keys = self.history_key_encoder(keys, history_mask)  # Eq. 19
                values = self.history_value_encoder(values, history_mask)  # Eq. 20
            query = self.context_pooling(utterances, word_mask)  # Eq. 21–22
            read, delta = self.preference_memory(query, values, history_mask, keys=keys)  # Eq. 23–24
            scores, gate = self.gated_fusion(g_tu, read, inputs[CANDIDATE_STICKER_VECTOR])  # Eq. 31–32
        else:
            scores = self.score_head(g_tu)  # Eq. 32 without memory (SRS)
        outputs[specs.SCORES] = scores
        if return_attention:
            outputs[specs.UTTERANCE_ATTENTION] = tau_u
            outputs[specs.STICKER_ATTENTION] = tau_s
            if use_memory:
                outputs[specs.MEMORY_WEIGHTS] = delta
                outputs[specs.FUSION_GATE] = gate
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.context_len = context_len
        self.max_words = max_words
        self.num_candidates = num_candidates
        self.history_len = history_len
        self.map_size = map_size
        self.emb_dim = emb_dim
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.num_transformer_layers = num_transformer_layers
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.init_stddev = init_stddev
        self.memory = memory
        self.interaction_normalize = interaction_normalize
        self.use_din = use_din
        self.use_fusion_rnn = use_fusion_rnn
        self.fusion_rnn_type = fusion_rnn_type
        self.use_memory = use_memory
        self.use_time_aware_rnn = use_time_aware_rnn
        self.preference = preference
        self.fusion_dropout = fusion_dropout
        self.relation_init = relation_init
        self.text_product = text_product
        self.return_attention = return_attention

    _CONFIG_KEYS = (
        "vocab_size",
        "context_len",
        "max_words",
        "num_candidates",
        "history_len",
        "map_size",
        "emb_dim",
        "hidden_dim",
        "num_heads",
        "num_transformer_layers",
        "ffn_dim",
        "dropout",
        "init_stddev",
        "memory",
        "interaction_normalize",
        "use_din",
        "use_fusion_rnn",
        "fusion_rnn_type",
        "use_memory",
        "use_time_aware_rnn",
        "preference",
        "fusion_dropout",
        "relation_init",
        "text_product",
        "return_attention",
    )

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self._CONFIG_KEYS})
        config.update(dtype_config(self))
        return config

    @classmethod
    def from_config(cls, config):
        return from_config_with_policy(cls, config)


@keras.saving.register_keras_serializable(package="stickerchat")
class PESRS(_FunctionalModel):
    """Preference Enhanced Sticker Response Selector (and SRS).

    Inputs: the dict of `stickerchat.specs.input_specs(data_config)`:
    `context`, `candidate_images` (uint8), `history_context`,
    `history_images` (uint8), `history_mask`.

    Outputs: a dict with `scores` float32 `(batch, num_candidates)` (y of
    Eq. 32, in (0, 1)) and `emoji_logits` float32
    `(batch, num_candidates, num_emoji)` (§5.2); with `return_attention=True`
    also the attentions of `StickerMatcher`.

    The candidate and history stickers are concatenated along the sticker
    axis and encoded by `sticker_encoder` in one pass over
    `(batch * (num_candidates + history_len), S, S, 3)` (candidates only for
    SRS); O_flat of the history stickers is Eq. 18. Then `matcher` scores.

    Args:
        vocab_size, num_emoji: int. Vocabulary sizes.
        context_len, max_words, num_candidates, history_len, image_size: int.
            Input shapes (`DataConfig`).
        image_encoder, image_weights, cnn_filters: the sticker encoder
            (`ModelConfig`).
        use_classify: bool. Whether the training loss uses the emoji logits
            (kept as an attribute for the training task; the head is always
            built so that the outputs are the same for every variant).
        **matcher arguments**: see `StickerMatcher`.
        return_attention: bool. Also output the attentions.

    References:
        §5 (Eq. 1–32) of the PESRS paper; SRS is its "w/o UPM" row.
    """

    def __init__(
        self,
        vocab_size,
        num_emoji,
        context_len,
        max_words,
        num_candidates,
        history_len,
        image_size,
        emb_dim=100,
        hidden_dim=100,
        num_heads=4,
        num_transformer_layers=1,
        ffn_dim=0,
        dropout=0.1,
        image_encoder="inception_v3",
        image_weights=None,
        cnn_filters=32,
        init_stddev=0.02,
        memory="attention",
        interaction_normalize=True,
        use_din=True,
        use_fusion_rnn=True,
        fusion_rnn_type="gru",
        use_memory=True,
        use_time_aware_rnn=True,
        use_classify=True,
        preference="candidate",
        fusion_dropout=None,
        sticker_norm=False,
        relation_init="normal",
        text_product=False,
        return_attention=False,
        dtype=None,
        **kwargs,
    ):
        p = sticker_map_size(image_encoder, image_size)
        d = hidden_dim

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
        self.matcher = StickerMatcher(
            vocab_size=vocab_size,
            context_len=context_len,
            max_words=max_words,
            num_candidates=num_candidates,
            history_len=history_len,
            map_size=p,
            emb_dim=emb_dim,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            num_transformer_layers=num_transformer_layers,
            ffn_dim=ffn_dim,
            dropout=dropout,
            init_stddev=init_stddev,
            memory=memory,
            interaction_normalize=interaction_normalize,
            use_din=use_din,
            use_fusion_rnn=use_fusion_rnn,
            fusion_rnn_type=fusion_rnn_type,
            use_memory=use_memory,
            use_time_aware_rnn=use_time_aware_rnn,
            preference=preference,
            fusion_dropout=fusion_dropout,
            relation_init=relation_init,
            text_product=text_product,
            return_attention=return_attention,
            dtype=dtype,
            name="matcher",
        )

        # === Functional Model ===
        data = _DataShapes(context_len, max_words, num_candidates, history_len, image_size)
        inputs = {
            name: keras.Input(spec.shape, dtype=spec.dtype, name=name)
            for name, spec in specs.input_specs(data).items()
        }
        images = inputs[specs.CANDIDATE_IMAGES]
        if use_memory:
            images = ops.concatenate([images, inputs[specs.HISTORY_IMAGES]], axis=1)
        count = images.shape[1]
        flat = ops.reshape(images, (-1, image_size, image_size, 3))
        sticker_map, sticker_vector = self.sticker_encoder(flat)  # Eq. 1 and 18, one pass
        sticker_map = ops.reshape(sticker_map, (-1, count, p, p, d))
        sticker_vector = ops.reshape(sticker_vector, (-1, count, d))
        candidate_vector = sticker_vector[:, :num_candidates]
        history_vector = sticker_vector[:, num_candidates:] if use_memory else None
        outputs = self._score(inputs, sticker_map[:, :num_candidates], candidate_vector, history_vector)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.num_emoji = num_emoji
        self.context_len = context_len
        self.max_words = max_words
        self.num_candidates = num_candidates
        self.history_len = history_len
        self.image_size = image_size
        self.emb_dim = emb_dim
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.num_transformer_layers = num_transformer_layers
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.image_encoder = image_encoder
        self.image_weights = image_weights
        self.cnn_filters = cnn_filters
        self.init_stddev = init_stddev
        self.memory = memory
        self.interaction_normalize = interaction_normalize
        self.use_din = use_din
        self.use_fusion_rnn = use_fusion_rnn
        self.fusion_rnn_type = fusion_rnn_type
        self.use_memory = use_memory
        self.use_time_aware_rnn = use_time_aware_rnn
        self.use_classify = use_classify
        self.preference = preference
        self.fusion_dropout = fusion_dropout
        self.sticker_norm = sticker_norm
        self.relation_init = relation_init
        self.text_product = text_product
        self.return_attention = return_attention
        self.map_size = p

    _CONFIG_KEYS = (
        "vocab_size",
        "num_emoji",
        "context_len",
        "max_words",
        "num_candidates",
        "history_len",
        "image_size",
        "emb_dim",
        "hidden_dim",
        "num_heads",
        "num_transformer_layers",
        "ffn_dim",
        "dropout",
        "image_encoder",
        "image_weights",
        "cnn_filters",
        "init_stddev",
        "memory",
        "interaction_normalize",
        "use_din",
        "use_fusion_rnn",
        "fusion_rnn_type",
        "use_memory",
        "use_time_aware_rnn",
        "use_classify",
        "preference",
        "fusion_dropout",
        "sticker_norm",
        "relation_init",
        "text_product",
        "return_attention",
    )

    def encode_stickers(self, images, training=False):
        """Encodes `(batch, stickers, S, S, 3)` images: returns `(O, O_flat)`.

        O is `(batch, stickers, p, p, d)` and O_flat `(batch, stickers, d)`,
        ready for the matcher's `candidate_sticker_map` /
        `candidate_sticker_vector` (or `history_sticker_vector`) inputs.
        """
        shape = tuple(images.shape)
        flat = ops.reshape(images, (-1,) + shape[2:])
        sticker_map, sticker_vector = self.sticker_encoder(flat, training=training)
        return (
            ops.reshape(sticker_map, (-1, shape[1], self.map_size, self.map_size, self.hidden_dim)),
            ops.reshape(sticker_vector, (-1, shape[1], self.hidden_dim)),
        )

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
                `candidate_slots` and, for models with a memory,
                `history_slots` (`specs.unique_sticker_specs`).
            training: bool.

        Returns:
            The dict of `self(inputs)`.
        """
        if self.use_memory and specs.HISTORY_SLOTS not in inputs:
            raise ValueError(
                f"{self.name} reads the user history: its de-duplicated inputs need '{specs.HISTORY_SLOTS}' "
                "(make_dataset(..., unique_stickers=UniqueStickers(history=True)))"
            )
        inputs = {name: ops.convert_to_tensor(value) for name, value in inputs.items()}
        sticker_map, sticker_vector = self.sticker_encoder(inputs[specs.STICKER_IMAGES], training=training)
        candidate_slots = inputs[specs.CANDIDATE_SLOTS]
        history_vector = None
        if self.use_memory:
            history_vector = ops.take(sticker_vector, inputs[specs.HISTORY_SLOTS], axis=0)  # Eq. 18
        return self._score(
            inputs,
            ops.take(sticker_map, candidate_slots, axis=0),  # (batch, cands, p, p, d)
            ops.take(sticker_vector, candidate_slots, axis=0),  # (batch, cands, d)
            history_vector,
            training=training,
        )

    def _score(self, inputs, candidate_map, candidate_vector, history_vector, training=None):
        """The outputs from the encoded stickers: `matcher` (Eq. 2–32) and the emoji head (§5.2).

        `history_vector` None (SRS, which ignores the history) feeds the
        matcher zeros of the history's shape.
        """
        if history_vector is None:
            mask = ops.cast(inputs[specs.HISTORY_MASK], candidate_vector.dtype)
            history_vector = ops.zeros_like(candidate_vector[:, :1]) * ops.expand_dims(mask, -1)
        outputs = dict(
            self.matcher(
                {
                    specs.CONTEXT: inputs[specs.CONTEXT],
                    CANDIDATE_STICKER_MAP: candidate_map,
                    CANDIDATE_STICKER_VECTOR: candidate_vector,
                    specs.HISTORY_CONTEXT: inputs[specs.HISTORY_CONTEXT],
                    HISTORY_STICKER_VECTOR: history_vector,
                    specs.HISTORY_MASK: inputs[specs.HISTORY_MASK],
                },
                training=training,
            )
        )
        outputs[specs.EMOJI_LOGITS] = self.emoji_classifier(candidate_vector)  # §5.2
        return outputs

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self._CONFIG_KEYS})
        config.update(dtype_config(self))
        return config

    @classmethod
    def from_config(cls, config):
        return from_config_with_policy(cls, config)

    @classmethod
    def from_stickerchat_config(cls, config, return_attention=False, **kwargs):
        """Builds from a `stickerchat.config.Config` (its `data` and `model`)."""
        data, model = config.data, config.model
        return cls(
            vocab_size=model.vocab_size,
            num_emoji=model.num_emoji,
            context_len=data.context_len,
            max_words=data.max_words,
            num_candidates=data.num_candidates,
            history_len=data.history_len,
            image_size=data.image_size,
            emb_dim=model.emb_dim,
            hidden_dim=model.hidden_dim,
            num_heads=model.num_heads,
            num_transformer_layers=model.num_transformer_layers,
            ffn_dim=model.ffn_dim,
            dropout=model.dropout,
            image_encoder=model.image_encoder,
            image_weights=model.image_weights,
            cnn_filters=model.cnn_filters,
            init_stddev=model.init_stddev,
            memory=model.memory,
            interaction_normalize=model.interaction_normalize,
            use_din=model.use_din,
            use_fusion_rnn=model.use_fusion_rnn,
            fusion_rnn_type=model.fusion_rnn_type,
            use_memory=model.use_memory,
            use_time_aware_rnn=model.use_time_aware_rnn,
            use_classify=model.use_classify,
            preference=model.preference,
            fusion_dropout=model.fusion_dropout,
            sticker_norm=model.sticker_norm,
            relation_init=model.relation_init,
            text_product=model.text_product,
            return_attention=return_attention,
            **kwargs,
        )


class _DataShapes:
    """The fields of `DataConfig` that `specs.input_specs` reads."""

    def __init__(self, context_len, max_words, num_candidates, history_len, image_size):
        self.context_len = context_len
        self.max_words = max_words
        self.num_candidates = num_candidates
        self.history_len = history_len
        self.image_size = image_size
