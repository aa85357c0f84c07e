"""DAM: the deep attention matching network, with stickers as responses."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import MatchingScore
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


@keras.saving.register_keras_serializable(package="stickerchat")
class DAMMatcher(BaselineMatcher):
    """Deep Attention Matching network (DAM) over sticker units.

    Zhou, Li, Dong, Liu, Chen, Zhao, Yu and Wu, "Multi-Turn Response
    Selection for Chatbots with Deep Attention Matching Network", ACL 2018.

    * Representation: word embeddings `U⁰` of every utterance and the
      response "words" `R⁰`, then `L` stacked self-attention blocks
      `Uˡ⁺¹ = Attentive(Uˡ, Uˡ, Uˡ)`, `Rˡ⁺¹ = Attentive(Rˡ, Rˡ, Rˡ)`, giving
      `L + 1` granularities.
    * Matching at every level l, for every utterance and candidate:
      self-attention-match `M_self[i, j] = Uˡ_i · Rˡ_j / √d` and
      cross-attention-match `M_cross[i, j] = Ũˡ_i · R̃ˡ_j / √d` with
      `Ũˡ = Attention(Uˡ, Rˡ, Rˡ)` (words attend to the response) and
      `R̃ˡ = Attention(Rˡ, Uˡ, Uˡ)`.
    * Aggregation: the 3-D matching image `Q (turns, words, units, 2(L+1))`
      goes through two [3-D convolution (ReLU) + 3×3×3 max pooling] stages;
      the flattened result gives `σ(FC(·))`.

    Adapted (§6.2 of the PESRS paper): the response encoder is the shared
    sticker encoder; `R⁰` is the p² units of the sticker map O (row-major).
    The self-attention blocks are the shared `TransformerBlock` (Eq. 2–8 of
    PESRS: multi-head, ReLU FFN, residual and layer norm, as DAM's attentive
    module), with separate stacks for utterances and stickers (DAM shares
    one stack between utterance and response text; the modalities differ
    here). `U⁰` comes from the shared `UtteranceEncoder` with no Transformer
    layer (embedding + sinusoidal positions). The cross attention is DAM's
    scaled dot-product attention without the attentive module's
    feed-forward sub-layer, so that no second Transformer block is written.
    Padded words are never attended to and are zero in the image. Channels
    are small (`conv_filters`, DAM: 32 and 16) to keep it CPU-cheap; pooling
    uses 'same' padding so that tiny shapes work.

    Args:
        vocab_size, emb_dim, hidden_dim, num_heads: int. Text sizes.
        num_layers: int. Stacked self-attention blocks L (DAM: 5).
            Defaults to 2.
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of the blocks. Defaults to 0.
        conv_filters: int. Channels of both 3-D convolutions. Defaults to 8.
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
        self,
        vocab_size,
        emb_dim,
        hidden_dim,
        num_heads=4,
        num_layers=2,
        ffn_dim=0,
        dropout=0.0,
        conv_filters=8,
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, **BLOCK_ARGUMENTS, num_layers=int, conv_filters=int)

    def build_matcher(self, context_shape, units_shape):
        turns, words, num_units = context_shape[1], context_shape[2], units_shape[2]
        self.word_embedding = utterance_encoder(self, context_shape, "word_embedding")
        self.utterance_blocks = [transformer_block(self, f"utterance_block_{i}") for i in range(self.num_layers)]
        self.sticker_blocks = [transformer_block(self, f"sticker_block_{i}") for i in range(self.num_layers)]
        channels = 2 * (self.num_layers + 1)
        self.convs, self.pools = [], []
        shape = (turns, words, num_units)
        for i in range(2):
            conv = keras.layers.Conv3D(
                self.conv_filters, 3, padding="same", activation="relu", dtype=self.dtype_policy, name=f"conv_{i}"
            )
            conv.build((None,) + shape + (channels,))
            channels = self.conv_filters
            self.convs.append(conv)
            self.pools.append(
                keras.layers.MaxPooling3D(3, strides=3, padding="same", dtype=self.dtype_policy, name=f"pool_{i}")
            )
            shape = tuple(-(-s // 3) for s in shape)
        self.flat_dim = shape[0] * shape[1] * shape[2] * self.conv_filters
        self.score = MatchingScore(init_stddev=self.init_stddev, dtype=self.dtype_policy, name="score")
        self.score.build((None, None, self.flat_dim))

    def match(self, context, units, vector=None, training=False):
        turns, words = context.shape[1], context.shape[2]
        n, num_units, d = ops.shape(units)[1], units.shape[2], units.shape[3]
        scale = dot_scale(d)
        word_mask = ops.not_equal(context, specs.PAD_ID)  # (batch, turns, words)
        flat_mask = ops.reshape(word_mask, (-1, words))
        u = self.word_embedding(context, padding_mask=word_mask)  # U⁰
        r = ops.cast(units, u.dtype)  # R⁰
        key_words = word_mask[:, None, :, :, None]  # over (batch, cands, turns, words, units)
        channels = []
        for level in range(self.num_layers + 1):
            if level:
                block_u, block_r = self.utterance_blocks[level - 1], self.sticker_blocks[level - 1]
                u = block_u(ops.reshape(u, (-1, words, d)), padding_mask=flat_mask, training=training)
                u = ops.reshape(u, (-1, turns, words, d))
                r = ops.reshape(block_r(ops.reshape(r, (-1, num_units, d)), training=training), (-1, n, num_units, d))
            similarity = ops.einsum("btid,bnjd->bntij", u, r) * scale  # (batch, cands, turns, words, units)
            channels.append(similarity)  # self-attention-match
            u_tilde = ops.einsum("bntij,bnjd->bntid", attend(similarity, None, u, axis=-1), r)
            r_tilde = ops.einsum("bntij,btid->bntjd", attend(similarity, key_words, u, axis=-2), u)
            channels.append(ops.einsum("bntid,bntjd->bntij", u_tilde, r_tilde) * scale)  # cross-attention-match
        image = ops.stack(channels, axis=-1) * ops.cast(key_words, u.dtype)[..., None]
        x = ops.reshape(image, (-1, turns, words, num_units, len(channels)))
        for conv, pool in zip(self.convs, self.pools):
            x = pool(conv(x))
        return self.score(ops.reshape(x, (-1, n, self.flat_dim)))



def build_dam(config, return_attention=False):
    """DAM for a `stickerchat.config.Config`: `max(2, num_transformer_layers)` stacked blocks."""
    m = config.model
    matcher = DAMMatcher(
        **text_kwargs(config),
        num_heads=m.num_heads,
        num_layers=max(2, m.num_transformer_layers),
        ffn_dim=m.ffn_dim,
        dropout=m.dropout,
        name="matcher",
    )
    return StickerRanker.from_stickerchat_config(config, matcher, name="dam")
