"""PSAC: positional self-attention with co-attention, answering with a sticker."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import SinusoidalPositionEncoding, masked_mean
from stickerchat.layers.initializers import dense
from stickerchat.layers.transformer import transformer_block
from stickerchat.models.baselines.common import (
    TEXT_ARGUMENTS,
    TRANSFORMER_ARGUMENTS,
    BaselineMatcher,
    attend,
    dot_scale,
    text_kwargs,
    transformer_kwargs,
    utterance_encoder,
)
from stickerchat.models.ranker import StickerRanker


@keras.saving.register_keras_serializable(package="stickerchat")
class PSACMatcher(BaselineMatcher):
    """Positional Self-Attention with Co-attention (PSAC), over sticker candidates.

    Li, Song, Gao, Liu, Huang, He and Gan, "Beyond RNNs: Positional
    Self-Attention with Co-Attention for Video Question Answering", AAAI
    2019.

    PSAC replaces RNNs by positional self-attention (PSA: sinusoidal
    positions + multi-head self-attention blocks) over the video frames and
    over the question words, then couples them with *video-question
    co-attention*: the question words attend to the frames and the frames
    attend to the question words (scaled dot-product attention with learned
    query/key/value projections), each added to its sequence as a residual.
    The two sequences are mean-pooled, fused by element-wise product and a
    ReLU layer, and an output layer gives the answer distribution.

    Adapted (§6.2 of the PESRS paper: "we replace the output probability on
    the vocabulary size with the probability on candidate sticker set"):

    * the question is the whole dialog context: every utterance is encoded
      by the shared `UtteranceEncoder` (embedding + sinusoidal positions +
      Transformer blocks: PSA over words, positions restart at each
      utterance), and the words of all utterances form one sequence;
    * the "video" is the candidate sticker: the p² units of its map O
      (row-major) are the frames, with sinusoidal positions and a shared
      `TransformerBlock` (PSA over units);
    * co-attention and fusion as above, per candidate (vectorised);
    * the output layer gives one logit per candidate and the score is the
      softmax over the candidates (the probability of each sticker being the
      answer), in float32.

    Args:
        vocab_size, emb_dim, hidden_dim, num_heads: int. Text sizes.
        num_transformer_layers: int. PSA blocks (words and units).
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of the PSA blocks.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        context: int tensor `(batch, turns, words)`.
        units: tensor `(batch, cands, p*p, hidden_dim)`: the frames.
        vector: tensor `(batch, cands, hidden_dim)` (unused).

    Returns:
        float32 scores `(batch, cands)`: probabilities summing to 1.
    """


    reads_history = False

    def __init__(
        self,
        vocab_size,
        emb_dim,
        hidden_dim,
        num_heads=4,
        num_transformer_layers=1,
        ffn_dim=0,
        dropout=0.0,
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, **TRANSFORMER_ARGUMENTS)

    def build_matcher(self, context_shape, units_shape):
        d = self.hidden_dim
        layers = max(1, self.num_transformer_layers)
        self.question_encoder = utterance_encoder(self, context_shape, "question_encoder", num_layers=layers)
        self.frame_position = SinusoidalPositionEncoding(dtype=self.dtype_policy, name="frame_position")
        self.frame_blocks = [transformer_block(self, f"frame_block_{i}") for i in range(layers)]
        for side in ("question_to_frames", "frames_to_question"):
            for part in ("query", "key", "value"):
                layer = dense(self, d, f"{side}_{part}")
                layer.build((None, None, d))
                setattr(self, f"{side}_{part}", layer)
        self.fusion = dense(self, d, "fusion", activation="relu")
        self.fusion.build((None, None, d))
        self.output_logit = dense(self, 1, "output_logit", dtype="float32")
        self.output_logit.build((None, None, d))

    def _co_attend(self, side, queries, keys, key_mask, query_pattern, key_pattern, out_pattern):
        q = getattr(self, f"{side}_query")(queries)
        k = getattr(self, f"{side}_key")(keys)
        v = getattr(self, f"{side}_value")(keys)
        logits = ops.einsum(f"{query_pattern},{key_pattern}->{out_pattern}", q, k) * dot_scale(self.hidden_dim)
        return attend(logits, key_mask, v), v

    def match(self, context, units, vector=None, training=False):
        turns, words = context.shape[1], context.shape[2]
        n, num_units, d = ops.shape(units)[1], units.shape[2], units.shape[3]
        word_mask = ops.not_equal(context, specs.PAD_ID)
        question = self.question_encoder(context, padding_mask=word_mask, training=training)
        question = ops.reshape(question, (-1, turns * words, d))  # (batch, T*L, d)
        question_mask = ops.reshape(word_mask, (-1, turns * words))
        frames = self.frame_position(ops.reshape(ops.cast(units, question.dtype), (-1, num_units, d)))
        for block in self.frame_blocks:
            frames = block(frames, training=training)
        frames = ops.reshape(frames, (-1, n, num_units, d))
        # Question words attend to the frames of each candidate.
        weights, values = self._co_attend("question_to_frames", question, frames, None, "bid", "bnjd", "bnij")
        question_co = question[:, None] + ops.einsum("bnij,bnjd->bnid", weights, values)
        # Frames attend to the question words.
        weights, values = self._co_attend(
            "frames_to_question", frames, question, question_mask[:, None, None, :], "bnjd", "bid", "bnji"
        )
        frames_co = frames + ops.einsum("bnji,bid->bnjd", weights, values)
        pooled_question = masked_mean(question_co, question_mask[:, None, :], axis=-2)  # (batch, cands, d)
        pooled_frames = ops.mean(frames_co, axis=-2)
        fused = self.fusion(pooled_question * pooled_frames)
        logits = ops.squeeze(self.output_logit(ops.cast(fused, "float32")), -1)  # (batch, cands)
        return ops.softmax(logits, axis=-1)  # probability over the candidate stickers



def build_psac(config, return_attention=False):
    """PSAC for a `stickerchat.config.Config`."""
    matcher = PSACMatcher(
        **text_kwargs(config),
        **transformer_kwargs(config),
        name="matcher",
    )
    return StickerRanker.from_stickerchat_config(config, matcher, name="psac")
