"""SMN: the sequential matching network, with stickers as responses."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import MatchingScore
from stickerchat.layers.initializers import dense, gru
from stickerchat.models.baselines.common import TEXT_ARGUMENTS, BaselineMatcher, text_kwargs, utterance_encoder
from stickerchat.models.ranker import StickerRanker


@keras.saving.register_keras_serializable(package="stickerchat")
class SMNMatcher(BaselineMatcher):
    """Sequential Matching Network (SMN) over sticker units.

    Wu, Wu, Xing, Zhou and Li, "Sequential Matching Network: A New
    Architecture for Multi-turn Response Selection in Retrieval-Based
    Chatbots", ACL 2017.

    For every candidate and every utterance u (vectorised):

    * word-word similarity `M1[i, j] = e_i · r_j` between the utterance's word
      embeddings e and the response "words" r;
    * segment similarity `M2[i, j] = h_i · A h'_j` between the utterance's
      GRU states h and the response's GRU states h' (A a learned matrix);
    * the 2-channel image `[M1, M2]` goes through a 3×3 ReLU convolution and
      3×3 max pooling, is flattened and linearly mapped (tanh) to the
      utterance's matching vector v;
    * a GRU accumulates the matching vectors in chronological order (padded
      utterances skipped) and the score is `σ(FC(h_last))` (SMN_last).

    Adapted (§6.2 of the PESRS paper): the response encoder is the shared
    sticker encoder; the response words r are the p² units of the sticker
    map O (row-major), and h' is a GRU over them. The unit GRU has its own
    weights (SMN shares one GRU between utterance and response text; here
    the modalities differ). Word embeddings come from the shared
    `UtteranceEncoder` with no Transformer layer (embedding + sinusoidal
    positions, projected to `hidden_dim` when `emb_dim` differs). Padded
    words are zeroed in both matrices. Convolution and pooling use 'same'
    padding so that tiny shapes work; SMN's two-class softmax becomes a
    sigmoid score for the hinge loss of Eq. 33.

    Args:
        vocab_size, emb_dim, hidden_dim: int. Text sizes (`ModelConfig`).
        conv_filters: int. Convolution channels (SMN: 8). Defaults to 8.
        matching_dim: int. Size of the matching vectors and of the
            accumulation GRU (SMN: 50). Defaults to 50.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        context: int tensor `(batch, turns, words)`.
        units: tensor `(batch, cands, p*p, hidden_dim)`.
        vector: tensor `(batch, cands, hidden_dim)` (unused: SMN matches words).

    Returns:
        float32 scores `(batch, cands)`.
    """


    reads_history = False
    independent_candidates = True  # each candidate is matched and scored on its own

    def __init__(self, vocab_size, emb_dim, hidden_dim, conv_filters=8, matching_dim=50, init_stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, conv_filters=int, matching_dim=int)

    def build_matcher(self, context_shape, units_shape):
        d = self.hidden_dim
        words, num_units = context_shape[-1], units_shape[-2]
        self.word_embedding = utterance_encoder(self, context_shape, "word_embedding")
        self.utterance_gru = gru(self, d, "utterance_gru")
        self.utterance_gru.build((None, None, d))
        self.unit_gru = gru(self, d, "unit_gru")
        self.unit_gru.build((None, None, d))
        self.bilinear = dense(self, d, "bilinear", use_bias=False)  # A of M2
        self.bilinear.build((None, None, d))
        self.conv = keras.layers.Conv2D(
            self.conv_filters, 3, padding="same", activation="relu", dtype=self.dtype_policy, name="conv"
        )
        self.conv.build((None, words, num_units, 2))
        self.pool = keras.layers.MaxPooling2D(3, strides=3, padding="same", dtype=self.dtype_policy, name="pool")
        flat = -(-words // 3) * -(-num_units // 3) * self.conv_filters
        self.matching_dense = dense(self, self.matching_dim, "matching_vector", activation="tanh")
        self.matching_dense.build((None, flat))
        self.accumulation_gru = gru(self, self.matching_dim, "accumulation_gru", return_sequences=False)
        self.accumulation_gru.build((None, None, self.matching_dim))
        self.score = MatchingScore(init_stddev=self.init_stddev, dtype=self.dtype_policy, name="score")
        self.score.build((None, None, self.matching_dim))

    def match(self, context, units, vector=None, training=False):
        turns, words = context.shape[1], context.shape[2]
        n, num_units, d = ops.shape(units)[1], units.shape[2], units.shape[3]
        word_mask = ops.not_equal(context, specs.PAD_ID)  # (batch, turns, words)
        utterance_mask = ops.any(word_mask, axis=-1)
        embedded = self.word_embedding(context, padding_mask=word_mask)  # (batch, turns, words, d)
        flat_mask = ops.reshape(word_mask, (-1, words))
        states = self.utterance_gru(ops.reshape(embedded, (-1, words, d)), mask=flat_mask, training=training)
        states = ops.reshape(states, (-1, turns, words, d))
        unit_states = self.unit_gru(ops.reshape(units, (-1, num_units, d)), training=training)
        unit_states = self.bilinear(ops.reshape(unit_states, (-1, n, num_units, d)))
        units = ops.cast(units, embedded.dtype)
        m1 = ops.einsum("btid,bnjd->bntij", embedded, units)  # word-word matrix
        m2 = ops.einsum("btid,bnjd->bntij", states, ops.cast(unit_states, states.dtype))  # segment matrix
        keep = ops.cast(word_mask, m1.dtype)[:, None, :, :, None]
        image = ops.stack([m1 * keep, m2 * keep], axis=-1)  # (batch, cands, turns, words, units, 2)
        image = ops.reshape(image, (-1, words, num_units, 2))
        features = ops.reshape(self.pool(self.conv(image)), (-1, self.matching_dense.kernel.shape[0]))
        matching = ops.reshape(self.matching_dense(features), (-1, turns, self.matching_dim))
        turn_mask = ops.reshape(
            ops.logical_and(ops.expand_dims(utterance_mask, 1), ops.ones((1, n, 1), dtype="bool")), (-1, turns)
        )
        final = self.accumulation_gru(matching, mask=turn_mask, training=training)  # chronological
        return self.score(ops.reshape(final, (-1, n, self.matching_dim)))



def build_smn(config, return_attention=False):
    """SMN for a `stickerchat.config.Config` (it has no attention outputs)."""
    matcher = SMNMatcher(**text_kwargs(config), name="matcher")
    return StickerRanker.from_stickerchat_config(config, matcher, name="smn")
