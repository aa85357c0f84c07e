"""MRFN: the multi-representation fusion network (last-stage fusion), with stickers as responses."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import MatchingScore
from stickerchat.layers.initializers import dense, gru
from stickerchat.layers.transformer import transformer_block
from stickerchat.models.baselines.common import (
    BLOCK_ARGUMENTS,
    TEXT_ARGUMENTS,
    BaselineMatcher,
    attend,
    dot_scale,
    text_kwargs,
    utterance_encoder,
)
from stickerchat.models.ranker import StickerRanker

REPRESENTATIONS = ("word", "sequential", "self_attention")


@keras.saving.register_keras_serializable(package="stickerchat")
class MRFNMatcher(BaselineMatcher):
    """Multi-Representation Fusion Network (MRFN), fusion at the last stage (FLS).

    Tao, Wu, Xu, Hu, Zhao and Yan, "Multi-Representation Fusion Network for
    Multi-turn Response Selection in Retrieval-based Chatbots", WSDM 2019.

    Several representations of every utterance and of the response are
    built, one *type* at a time; here three of MRFN's types:

    * `word`: word embeddings;
    * `sequential`: GRU states over the words;
    * `self_attention`: a self-attention block over the words.

    Each type k is matched on its own (MRFN's interaction function, as in
    the authors' release): every response position j attends to the
    utterance's words, `a_j = Σ_i softmax_i(r_j · u_i / √d) u_i`; the
    comparison `t_j = ReLU(W_k[(r_j − a_j)²; r_j ⊙ a_j] + b_k)` (SUB/MULT +
    NN) is read by a GRU over the response positions whose final state is
    the utterance's matching vector; a second GRU per type accumulates the
    matching vectors over the utterances in chronological order. Last-stage
    fusion: the final states of the per-type GRUs are concatenated and
    `σ(FC(·))` gives the score (the paper's FLS; the authors' code instead
    sums per-type softmax probabilities, each trained with its own loss).

    Adapted (§6.2 of the PESRS paper): the response encoder is the shared
    sticker encoder; the response words are the p² units of the sticker
    map O (row-major), and each type's representation function is applied
    to them with its own weights (MRFN shares them between utterance and
    response text; here the modalities differ). The character-level,
    convolutional and cross-attention types of MRFN are left out (there are
    no characters or n-grams in a sticker; three types keep it CPU-cheap).
    Word embeddings come from the shared `UtteranceEncoder` with no
    Transformer layer, and the self-attention type is the shared
    `TransformerBlock`. Padded words are never attended to and padded
    utterances are skipped by the accumulation GRUs.

    Args:
        vocab_size, emb_dim, hidden_dim, num_heads: int. Text sizes.
        ffn_dim: int. Feed-forward inner size of the self-attention blocks.
        dropout: float. Dropout of the self-attention blocks.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        context: int tensor `(batch, turns, words)`.
        units: tensor `(batch, cands, p*p, hidden_dim)`.
        vector: tensor `(batch, cands, hidden_dim)` (unused).

    Returns:
        float32 scores `(batch, cands)`.
    """


    reads_history = False
    independent_candidates = True  # each candidate is matched and scored on its own

    def __init__(
        self, vocab_size, emb_dim, hidden_dim, num_heads=4, ffn_dim=0, dropout=0.0, init_stddev=0.02, **kwargs
    ):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, **BLOCK_ARGUMENTS)

    def build_matcher(self, context_shape, units_shape):
        d = self.hidden_dim
        self.word_embedding = utterance_encoder(self, context_shape, "word_embedding")
        self.utterance_gru = gru(self, d, "utterance_gru")
        self.unit_gru = gru(self, d, "unit_gru")
        self.utterance_attention = transformer_block(self, "utterance_self_attention")
        self.unit_attention = transformer_block(self, "unit_self_attention")
        for layer in (self.utterance_gru, self.unit_gru):
            layer.build((None, None, d))
        self.comparisons, self.matching_grus, self.accumulation_grus = [], [], []
        for kind in REPRESENTATIONS:
            comparison = dense(self, d, f"{kind}_comparison", activation="relu")
            comparison.build((None, None, 2 * d))
            matching = gru(self, d, f"{kind}_matching_gru", return_sequences=False)
            matching.build((None, None, d))
            accumulation = gru(self, d, f"{kind}_accumulation_gru", return_sequences=False)
            accumulation.build((None, None, d))
            self.comparisons.append(comparison)
            self.matching_grus.append(matching)
            self.accumulation_grus.append(accumulation)
        self.score = MatchingScore(init_stddev=self.init_stddev, dtype=self.dtype_policy, name="score")
        self.score.build((None, None, len(REPRESENTATIONS) * d))

    def _representations(self, context, units, training):
        turns, words = context.shape[1], context.shape[2]
        n, num_units, d = ops.shape(units)[1], units.shape[2], units.shape[3]
        word_mask = ops.not_equal(context, specs.PAD_ID)
        flat_mask = ops.reshape(word_mask, (-1, words))
        words_e = self.word_embedding(context, padding_mask=word_mask)
        flat_words = ops.reshape(words_e, (-1, words, d))
        flat_units = ops.reshape(ops.cast(units, words_e.dtype), (-1, num_units, d))
        utterance_reps = [
            flat_words,
            self.utterance_gru(flat_words, mask=flat_mask, training=training),
            self.utterance_attention(flat_words, padding_mask=flat_mask, training=training),
        ]
        unit_reps = [
            flat_units,
            self.unit_gru(flat_units, training=training),
            self.unit_attention(flat_units, training=training),
        ]
        utterance_reps = [ops.reshape(x, (-1, turns, words, d)) for x in utterance_reps]
        unit_reps = [ops.reshape(x, (-1, n, num_units, d)) for x in unit_reps]
        return utterance_reps, unit_reps, word_mask

    def match(self, context, units, vector=None, training=False):
        turns = context.shape[1]
        n, num_units, d = ops.shape(units)[1], units.shape[2], units.shape[3]
        utterance_reps, unit_reps, word_mask = self._representations(context, units, training)
        utterance_mask = ops.any(word_mask, axis=-1)
        turn_mask = ops.reshape(
            ops.logical_and(ops.expand_dims(utterance_mask, 1), ops.ones((1, n, 1), dtype="bool")), (-1, turns)
        )
        key_words = word_mask[:, None, :, None, :]  # over (batch, cands, turns, units, words)
        finals = []
        for k in range(len(REPRESENTATIONS)):
            u, r = utterance_reps[k], unit_reps[k]
            similarity = ops.einsum("bnjd,btid->bntji", r, u) * dot_scale(d)
            aligned = ops.einsum("bntji,btid->bntjd", attend(similarity, key_words, u), u)  # a_j
            r_b = r[:, :, None]
            diff = r_b - aligned
            compared = self.comparisons[k](ops.concatenate([diff * diff, r_b * aligned], axis=-1))  # t_j
            vectors = self.matching_grus[k](ops.reshape(compared, (-1, num_units, d)), training=training)
            vectors = ops.reshape(vectors, (-1, turns, d))
            finals.append(self.accumulation_grus[k](vectors, mask=turn_mask, training=training))
        fused = ops.concatenate(finals, axis=-1)  # last-stage fusion
        return self.score(ops.reshape(fused, (-1, n, len(REPRESENTATIONS) * d)))



def build_mrfn(config, return_attention=False):
    """MRFN (FLS) for a `stickerchat.config.Config`."""
    m = config.model
    matcher = MRFNMatcher(
        **text_kwargs(config), num_heads=m.num_heads, ffn_dim=m.ffn_dim, dropout=m.dropout, name="matcher"
    )
    return StickerRanker.from_stickerchat_config(config, matcher, name="mrfn")
