"""LSTUR: long- and short-term user representations, with the context as the long-term one."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import ContextPooling
from stickerchat.layers.initializers import dense, gru
from stickerchat.models.baselines.common import (
    TEXT_ARGUMENTS,
    TRANSFORMER_ARGUMENTS,
    BaselineMatcher,
    dot_scale,
    text_kwargs,
    transformer_kwargs,
    utterance_encoder,
)
from stickerchat.models.ranker import StickerRanker


@keras.saving.register_keras_serializable(package="stickerchat")
class LSTURMatcher(BaselineMatcher):
    """Long- and Short-Term User Representations (LSTUR-ini), for stickers.

    An, Wu, Wu, Zhang, Liu and Xie, "Neural News Recommendation with Long-
    and Short-term User Representations", ACL 2019.

    LSTUR represents a user by a long-term representation (a user-ID
    embedding, randomly masked during training) and a short-term one (a GRU
    over the news the user recently clicked, each encoded by the news
    encoder). In LSTUR-ini, used here, the long-term representation
    initialises the GRU's state and the GRU's final state is the user
    representation u (LSTUR-con would concatenate the two instead). A
    candidate is scored by the dot product of u with the candidate's
    encoding, `u · r_c`.

    Adapted as §6.2 of the PESRS paper says:

    * the news encoder is replaced by the shared sticker encoder: the
      clicked news are the user's history stickers and the candidates are
      the candidate stickers, both encoded as O_flat;
    * the user-ID embedding is replaced by the current dialog context ("we
      replace the user embedding in their model to current dialog
      context"): the context is encoded by the shared `UtteranceEncoder`,
      pooled by `ContextPooling` (mean over words, max over utterances) and
      projected, `u_l = W_l h + b_l`; during training it is zeroed for a
      random fraction `long_term_mask_rate` of the examples (LSTUR's
      long-term representation masking, p = 0.5 in the paper);
    * the short-term GRU reads the history stickers' O_flat in chronological
      order and skips padded slots (`history_mask`); with an empty history
      u is `u_l` itself.

    The score is `softmax over the candidates of (u · r_c / √d)`, float32:
    LSTUR is trained with a softmax over the clicked news and K sampled
    negatives, which is what the candidate set is here. An independent
    sigmoid per candidate, tried first, saturated at 1 for every candidate
    on the demo corpus, after which the hinge loss had no gradient.

    Args:
        vocab_size, emb_dim, hidden_dim, num_heads: int. Text sizes.
        num_transformer_layers: int. Blocks of the utterance encoder.
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of the utterance encoder.
        long_term_mask_rate: float. Probability of masking u_l in training.
            Defaults to 0.5.
        seed: optional int. Seed of the masking.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        context: int tensor `(batch, turns, words)`.
        units: tensor `(batch, cands, p*p, hidden_dim)` (unused).
        vector: tensor `(batch, cands, hidden_dim)`: candidate O_flat.
        history_vector: tensor `(batch, history_len, hidden_dim)`.
        history_mask: bool tensor `(batch, history_len)`.
        training: bool.

    Returns:
        float32 scores `(batch, cands)`.
    """


    reads_history = True

    def __init__(
        self,
        vocab_size,
        emb_dim,
        hidden_dim,
        num_heads=4,
        num_transformer_layers=1,
        ffn_dim=0,
        dropout=0.0,
        long_term_mask_rate=0.5,
        seed=None,
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, **TRANSFORMER_ARGUMENTS, long_term_mask_rate=float)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build_matcher(self, context_shape, units_shape):
        d = self.hidden_dim
        self.utterance_encoder = utterance_encoder(
            self, context_shape, "utterance_encoder", num_layers=self.num_transformer_layers
        )
        self.context_pooling = ContextPooling(dtype=self.dtype_policy, name="context_pooling")
        self.long_term = dense(self, d, "long_term")
        self.long_term.build((None, d))
        self.short_term_gru = gru(self, d, "short_term_gru", return_sequences=False)
        self.short_term_gru.build((None, None, d))

    def match(self, context, units, vector, history_vector, history_mask, training=False):
        word_mask = ops.not_equal(context, specs.PAD_ID)
        encoded = self.utterance_encoder(context, padding_mask=word_mask, training=training)
        long_term = self.long_term(self.context_pooling(encoded, word_mask))  # u_l, replaces the user embedding
        if training and self.long_term_mask_rate > 0:
            keep = (
                keras.random.uniform((ops.shape(long_term)[0], 1), seed=self.seed_generator, dtype="float32")
                >= self.long_term_mask_rate
            )
            long_term = long_term * ops.cast(keep, long_term.dtype)
        history = ops.cast(history_vector, long_term.dtype)
        user = self.short_term_gru(
            history, mask=ops.cast(history_mask, "bool"), initial_state=[long_term], training=training
        )  # LSTUR-ini
        candidates = ops.cast(vector, "float32")
        logits = ops.einsum("bd,bnd->bn", ops.cast(user, "float32"), candidates) * dot_scale(self.hidden_dim)
        return ops.softmax(logits, axis=-1)



def build_lstur(config, return_attention=False):
    """LSTUR-ini for a `stickerchat.config.Config`."""
    matcher = LSTURMatcher(
        **text_kwargs(config),
        **transformer_kwargs(config),
        seed=config.data.seed,
        name="matcher",
    )
    return StickerRanker.from_stickerchat_config(config, matcher, name="lstur")
