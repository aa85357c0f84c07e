"""SRS and PESRS: the `StickerRanker` around the `StickerMatcher` of §5.3–5.6.

`PESRS` maps the input dict of `stickerchat.specs.input_specs` (any number of
candidates) to `{scores, emoji_logits}` (plus the attentions with
`return_attention=True`). It is a `stickerchat.models.ranker.StickerRanker`:
`model.sticker_encoder` (Eq. 1, 18), `model.emoji_classifier` (§5.2) and
`model.matcher`, a `StickerMatcher` functional model that scores already
encoded candidates against the dialog context and the user history; its
input dict is `MATCHER_INPUT_NAMES`. `model.matcher(matcher_inputs(...))`
equals `model(inputs)` when the maps and vectors come from
`model.sticker_encoder`.

SRS ("PESRS w/o UPM") is the same model with `use_memory=False`: no history
encoding, memory or gated fusion; the score is `σ(FC(g_Tu))`.
"""

import dataclasses
import inspect

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import (
    ContextPooling,
    DeepInteraction,
    FusionNetwork,
    GatedFusion,
    HistoryEncoder,
    LexicalMatch,
    LookAlikeEvidence,
    MatchingScore,
    PlainInteraction,
    PreferenceMemory,
    UtteranceEncoder,
    sticker_map_size,
)
from stickerchat.layers.context_pooling import UTTERANCE_POOLINGS
from stickerchat.layers.initializers import truncated_normal
from stickerchat.layers.preference_memory import MEMORY_TYPES
from stickerchat.models.ranker import (
    CANDIDATE_STICKER_MAP,
    CANDIDATE_STICKER_VECTOR,
    HISTORY_STICKER_VECTOR,
    FunctionalModel,
    StickerRanker,
    matcher_input_layers,
)
from stickerchat.models.serialization import ConfigFromInit

# `StickerRanker`'s keyword arguments and defaults (`name`, `trainable` included), as `PESRS` passes them on.
_RANKER_DEFAULTS = {
    key: parameter.default
    for key, parameter in inspect.signature(StickerRanker.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty and key != "dtype"
}
_RANKER_DEFAULTS.update(name=None, trainable=True)

# How the memory read r meets the candidates (`GatedFusion`): `candidate` reads
# it per candidate (r_c = r ⊙ FC(O_flat_c)), `direct` (`ModelConfig`'s default)
# also adds FC'(r_c) to the logit outside the gate, `literal` is Eq. 31–32 as
# printed (one r for every candidate).
PREFERENCE_TYPES = ("direct", "candidate", "literal")
# How the history's keys and values are encoded (Eq. 19–20): `rnn` as printed, `residual` with the slot's own input
# added, `keys` the keys as `residual` and the values the stickers themselves (Eq. 18, Eq. 20's RNN skipped).
HISTORY_ENCODINGS = ("rnn", "residual", "keys")
# What queries the memory (Eq. 23): `dialog` (h of Eq. 22, as printed) or `candidate` (h and each candidate's
# sticker vector: one read per candidate, `PreferenceMemory(candidate_query=True)`).
MEMORY_QUERIES = ("dialog", "candidate")
# How W_δ of Eq. 23 starts: `zeros` (uniform δ, r the history's mean), `identity` (I/√d: a scaled dot-product
# read of the keys, the past dialogs like the current one first) or `default` (the layers' initialiser).
MEMORY_READ_INITS = ("zeros", "identity", "default")


@keras.saving.register_keras_serializable(package="stickerchat")
class StickerMatcher(ConfigFromInit, FunctionalModel):
    """Scores encoded candidate stickers for a dialog context and user history.

    A candidate's score does not depend on the other candidates
    (`independent_candidates`): the interaction, fusion and gated fusion are
    per candidate, and the memory read depends on the dialog and history only.

    Everything of PESRS after the sticker encoder: utterance encoder (Eq.
    2–8), deep interaction (Eq. 9–15), history encoding (Eq. 16–20),
    preference memory (Eq. 21–24), fusion network (Eq. 25–30), gated fusion
    and score (Eq. 31–32), and, with `lexical_match`, the word × sticker
    term `LexicalMatch` on the score's logit (not in the paper). All
    candidates are scored in one pass.

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
    `memory_weights` float32 `(batch, history_len)` (`(batch, cands,
    history_len)` with `memory_query='candidate'`) and `fusion_gate` float32
    `(batch, cands, 1)`.

    Args:
        vocab_size: int. Word vocabulary size.
        context_len, max_words, history_len: int. Input shapes
            (`DataConfig`). The weights do not depend on them; the candidate
            axis is free (any number of candidates).
        map_size: int. Side p of the sticker map.
        emb_dim, hidden_dim, num_heads, num_transformer_layers, ffn_dim,
            dropout, init_stddev, memory, interaction_normalize, use_din,
            use_fusion_rnn, fusion_rnn_type, use_memory, use_time_aware_rnn,
            preference, fusion_dropout, relation_init, text_product,
            lexical_match, memory_read_init, history_encoding, memory_loss,
            context_classify, memory_query, context_encoding, memory_address,
            context_dropout, memory_lookalike: see `stickerchat.config.ModelConfig`; with
            `memory_loss > 0` (and a candidate-aware preference) the outputs
            also hold `memory_scores`, the memory's own scores, and with
            `context_classify > 0` (and key addressing) `context_emoji_logits`
            `(batch, context_emoji)`, the query's emoji head.
        context_emoji: int. Emoji vocabulary size of that head (PESRS passes
            its `num_emoji`). `use_memory` is the
            matcher's `reads_history`.
        return_attention: bool. Also output the attentions.

    References:
        Eq. 2–32 (§5.3–5.6) of the PESRS paper.
    """

    def __init__(
        self,
        vocab_size,
        context_len,
        max_words,
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
        lexical_match=False,
        memory_read_init="default",
        history_encoding="rnn",
        memory_loss=0.0,
        context_classify=0.0,
        memory_query="dialog",
        context_encoding="max",
        memory_address="bilinear",
        context_dropout=0.0,
        memory_lookalike=0.0,
        context_emoji=0,
        return_attention=False,
        dtype=None,
        **kwargs,
    ):
        if memory not in MEMORY_TYPES:
            raise ValueError(f"Unknown memory '{memory}'; choose one of {MEMORY_TYPES}")
        if memory_read_init not in MEMORY_READ_INITS:
            raise ValueError(f"Unknown memory_read_init '{memory_read_init}'; choose one of {MEMORY_READ_INITS}")
        if history_encoding not in HISTORY_ENCODINGS:
            raise ValueError(f"Unknown history_encoding '{history_encoding}'; choose one of {HISTORY_ENCODINGS}")
        if memory_query not in MEMORY_QUERIES:
            raise ValueError(f"Unknown memory_query '{memory_query}'; choose one of {MEMORY_QUERIES}")
        if context_encoding not in UTTERANCE_POOLINGS:
            raise ValueError(f"Unknown context_encoding '{context_encoding}'; choose one of {UTTERANCE_POOLINGS}")
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
            self.context_pooling = ContextPooling(
                # AverageMem reads no query (Eq. 34): its pooling stays weightless.
                utterance_pooling=context_encoding if memory != "average" else "max",
                dropout=context_dropout if memory != "average" else 0.0,
                init_stddev=init_stddev,
                dtype=dtype,
                name="context_pooling",
            )
            self.history_key_encoder = None
            self.history_value_encoder = None
            if use_time_aware_rnn:
                if use_keys:
                    self.history_key_encoder = HistoryEncoder(
                        hidden_dim,
                        init_stddev=init_stddev,
                        residual=history_encoding in ("residual", "keys"),
                        dtype=dtype,
                        name="history_key_encoder",
                    )
                if history_encoding != "keys":
                    self.history_value_encoder = HistoryEncoder(
                        hidden_dim,
                        init_stddev=init_stddev,
                        residual=history_encoding == "residual",
                        dtype=dtype,
                        name="history_value_encoder",
                    )
            self.preference_memory = PreferenceMemory(
                hidden_dim,
                memory=memory,
                init_stddev=init_stddev,
                zero_read=memory_read_init == "zeros",
                identity_read=memory_read_init == "identity",
                candidate_query=use_keys and memory_query == "candidate",
                address=memory_address,
                dtype=dtype,
                name="preference_memory",
            )
            self.gated_fusion = GatedFusion(
                init_stddev=init_stddev,
                candidate_aware=preference in ("direct", "candidate"),
                direct=preference == "direct",
                memory_score=memory_loss > 0 and preference != "literal",
                dtype=dtype,
                name="gated_fusion",
            )
        else:
            self.score_head = MatchingScore(init_stddev=init_stddev, dtype=dtype, name="score_head")
        self.lexical_match = (
            LexicalMatch(vocab_size, hidden_dim, dtype=dtype, name="lexical_match") if lexical_match else None
        )
        # Not in the paper: the share of the read on each candidate's look-alikes, added to the logit.
        self.look_alike = (
            LookAlikeEvidence(hidden_dim, weight=memory_lookalike, dtype=dtype, name="look_alike")
            if use_keys and memory_lookalike > 0
            else None
        )
        self.context_classifier = None
        if use_keys and context_classify > 0:
            if context_emoji < 1:
                raise ValueError("context_classify > 0 needs context_emoji, the emoji vocabulary size")
            self.context_classifier = keras.layers.Dense(
                context_emoji, kernel_initializer=truncated_normal(init_stddev), dtype="float32", name="context_classifier"
            )

        # === Functional Model ===
        inputs = matcher_input_layers(context_len, max_words, history_len, map_size, d)
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
        # Not in the paper: terms added to the logit of Eq. 32 (`LexicalMatch`, then `LookAlikeEvidence`).
        logit_term = None
        if self.lexical_match is not None:
            logit_term = self.lexical_match(context, inputs[CANDIDATE_STICKER_VECTOR])
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
            if self.history_key_encoder is not None:
                keys = self.history_key_encoder(keys, history_mask)  # Eq. 19
            if self.history_value_encoder is not None:
                values = self.history_value_encoder(values, history_mask)  # Eq. 20
            query = self.context_pooling(utterances, word_mask)  # Eq. 21–22
            if self.context_classifier is not None:  # the query's emoji head (`context_classify`)
                outputs[specs.CONTEXT_EMOJI_LOGITS] = self.context_classifier(ops.cast(query, "float32"))
            candidate_query = {}
            if self.preference_memory.candidate_query:  # `memory_query='candidate'`: O_c W_c O_k joins Eq. 23
                candidate_query = dict(
                    candidates=inputs[CANDIDATE_STICKER_VECTOR], history_stickers=inputs[HISTORY_STICKER_VECTOR]
                )
            read, delta = self.preference_memory(query, values, history_mask, keys=keys, **candidate_query)  # Eq. 23–24
            if self.look_alike is not None:  # `memory_lookalike`: the read's share on each candidate's look-alikes
                evidence = self.look_alike(delta, inputs[CANDIDATE_STICKER_VECTOR], inputs[HISTORY_STICKER_VECTOR])
                logit_term = evidence if logit_term is None else logit_term + evidence
            fused = self.gated_fusion(g_tu, read, inputs[CANDIDATE_STICKER_VECTOR], logit_term=logit_term)  # Eq. 31–32
            scores, gate = fused[:2]
            if self.gated_fusion.memory_score:
                outputs[specs.MEMORY_SCORES] = fused[2]  # the memory's own scores, for the memory loss
        else:
            scores = self.score_head(g_tu, logit_term=logit_term)  # Eq. 32 without memory (SRS)
        outputs[specs.SCORES] = scores
        attended = dict(outputs)
        attended[specs.UTTERANCE_ATTENTION] = tau_u
        attended[specs.STICKER_ATTENTION] = tau_s
        if use_memory:
            attended[specs.MEMORY_WEIGHTS] = delta
            attended[specs.FUSION_GATE] = gate
        super().__init__(inputs=inputs, outputs=attended if return_attention else outputs, dtype=dtype, **kwargs)
        self._graph_with_attention = (inputs, attended)

        # === Config ===  (`get_config` returns the constructor's arguments)
        self.reads_history = bool(use_memory)
        self.return_attention = bool(return_attention)
        self.hidden_dim = hidden_dim
        self.map_size = map_size

    independent_candidates = True

    def with_attention(self):
        """This matcher with its attentions as outputs too (τ_u, τ_s and, with a memory, δ and the gate).

        A functional model over this matcher's own layers and graph (the
        weights are shared, not copied), for any number of candidates: what
        `return_attention=True` gives, without building another matcher.
        """
        if self.return_attention:
            return self
        inputs, outputs = self._graph_with_attention
        return keras.Model(inputs=inputs, outputs=outputs, name=f"{self.name}_with_attention")


@keras.saving.register_keras_serializable(package="stickerchat")
class PESRS(StickerRanker):
    """Preference Enhanced Sticker Response Selector (and SRS): a `StickerRanker` around a `StickerMatcher`.

    Inputs and outputs: those of `StickerRanker`; `scores` is y of Eq. 32, in
    (0, 1), and with `return_attention=True` the attentions of
    `StickerMatcher` are outputs too.

    The config is flat (the `ModelConfig` fields and the input shapes), as
    in `.keras` files saved before the ranker existed, which load as they
    are (their `num_candidates` is ignored: the candidate axis is free).

    Args:
        num_emoji: int. Emoji vocabulary size.
        context_len, max_words, history_len, image_size: int. Input shapes
            (`DataConfig`).
        **model_args: the keyword arguments of `StickerRanker`
            (`hidden_dim`, `image_encoder`, `image_weights`, `cnn_filters`,
            `init_stddev`, `sticker_norm`, `use_classify`, `name`,
            `trainable`) and of `StickerMatcher` (`vocab_size`, `memory`,
            `use_memory`, ..., `return_attention`); `hidden_dim` and
            `init_stddev` go to both.

    References:
        §5 (Eq. 1–32) of the PESRS paper; SRS is its "w/o UPM" row.
    """

    def __init__(self, num_emoji, context_len, max_words, history_len, image_size, dtype=None, **model_args):
        # The ranker's own arguments (with its defaults); the rest are the matcher's.
        ranker_args = {key: model_args.pop(key, default) for key, default in _RANKER_DEFAULTS.items()}
        matcher = StickerMatcher(
            context_emoji=num_emoji if model_args.get("context_classify", 0) > 0 else 0,
            context_len=context_len,
            max_words=max_words,
            history_len=history_len,
            map_size=sticker_map_size(ranker_args["image_encoder"], image_size),
            hidden_dim=ranker_args["hidden_dim"],
            init_stddev=ranker_args["init_stddev"],
            dtype=dtype,
            name="matcher",
            **model_args,
        )
        super().__init__(matcher, num_emoji, context_len, max_words, history_len, image_size, dtype=dtype, **ranker_args)

    @classmethod
    def from_stickerchat_config(cls, config, return_attention=False, **kwargs):
        """Builds from a `stickerchat.config.Config` (its `data` and `model`)."""
        data = config.data
        return cls(
            **dataclasses.asdict(config.model),
            context_len=data.context_len,
            max_words=data.max_words,
            history_len=data.history_len,
            image_size=data.image_size,
            return_attention=return_attention,
            **kwargs,
        )
