"""Synergistic: the image-question-answer synergistic network, coarse-to-fine over stickers."""

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import MatchingScore, masked_mean
from stickerchat.layers.initializers import dense
from stickerchat.models.baselines.common import (
    TEXT_ARGUMENTS,
    TRANSFORMER_ARGUMENTS,
    BaselineMatcher,
    attend,
    dot_scale,
    last_real_utterance,
    text_kwargs,
    transformer_kwargs,
    utterance_encoder,
)
from stickerchat.models.ranker import StickerRanker


@keras.saving.register_keras_serializable(package="stickerchat")
class SynergisticMatcher(BaselineMatcher):
    """Image-Question-Answer Synergistic Network, adapted to sticker selection.

    Guo, Xu and Tao, "Image-Question-Answer Synergistic Network for Visual
    Dialog", CVPR 2019.

    The original answers a question about an image given the dialog
    history, in two stages: a *primary* stage scores every candidate answer
    from the image-question(-history) pair, then a *synergistic* stage
    re-ranks the answers with high primary scores, letting each answer take
    part in attending to the image and the question.

    Adaptation (§6.2 of the PESRS paper: VQA models with the answer encoder
    replaced by the shared sticker encoder). The dialog context plays the
    question and the history: the question q is the last real utterance,
    the history the utterances of the context (each the masked mean of its
    `UtteranceEncoder` states). The candidate sticker is at once the image
    (its p² units of O are the image regions) and the answer (its O_flat,
    projected, is the answer embedding a):

    * Stage 1 (primary, all candidates): the question attends to the
      history, `h = Σ_t softmax_t(q W_h h_t) h_t`, `e = tanh(W_e[q; h])`;
      `e` attends to the candidate's regions, `v = Σ_j softmax_j(e W_v o_j)
      o_j`; the joint embedding `f = tanh(W_f[e; v])` scores the answer:
      `s1 = softmax over the candidates of (f · a / √d)`, the original's
      discriminative decoder (a distribution over the candidate answers).
      An independent sigmoid per candidate, tried first, saturated at 1 for
      every candidate on the demo corpus within a few hundred steps, after
      which the hinge loss had no gradient (MAP = random).
    * Top-k: the `top_k` candidates with the highest `s1` (a
      non-differentiable selection on the stop-gradient of `s1`; ties may
      select a few more).
    * Stage 2 (synergistic): answer and question jointly form `z =
      tanh(W_z[e; a])`, which re-attends to the regions (`v2`) and to the
      question words (`q2`); `s2 = σ(FC([v2 ⊙ a; q2 ⊙ a; z]))`.
    * Final score: `s1 + s2` for the top-k candidates and `s1` for the
      others. As `s2 > 0`, every top-k candidate stays above every other
      one (the primary stage decides which candidates are re-ranked), and
      within the top-k the order is the re-ranked `s1 + s2`. Both stages are
      trained by the one ranking loss (the original trains each stage with
      its own cross-entropy).

    Args:
        vocab_size, emb_dim, hidden_dim, num_heads: int. Text sizes.
        num_transformer_layers: int. Blocks of the utterance encoder.
        ffn_dim: int. Feed-forward inner size; 0 means `hidden_dim`.
        dropout: float. Dropout of the utterance encoder.
        top_k: int. Candidates re-ranked by stage 2 (clipped to the number
            of candidates). Defaults to 3.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        context: int tensor `(batch, turns, words)`.
        units: tensor `(batch, cands, p*p, hidden_dim)`: image regions.
        vector: tensor `(batch, cands, hidden_dim)`: answer (O_flat).

    Returns:
        float32 scores `(batch, cands)` in (0, 2).
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
        top_k=3,
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.store_arguments(**TEXT_ARGUMENTS, **TRANSFORMER_ARGUMENTS, top_k=int)

    def build_matcher(self, context_shape, units_shape):
        d = self.hidden_dim
        self.utterance_encoder = utterance_encoder(
            self, context_shape, "utterance_encoder", num_layers=self.num_transformer_layers
        )
        layers = {
            "history_attention": (d, None, False, d),  # W_h
            "context_fusion": (d, "tanh", True, 2 * d),  # W_e
            "region_attention": (d, None, False, d),  # W_v
            "joint_fusion": (d, "tanh", True, 2 * d),  # W_f
            "answer": (d, None, True, d),  # a
            "synergy": (d, "tanh", True, 2 * d),  # W_z
            "synergy_region_attention": (d, None, False, d),
            "synergy_word_attention": (d, None, False, d),
        }
        for name, (units, activation, use_bias, fan_in) in layers.items():
            layer = dense(self, units, name, activation=activation, use_bias=use_bias)
            layer.build((None, None, fan_in))
            setattr(self, name, layer)
        self.rerank_score = MatchingScore(init_stddev=self.init_stddev, dtype=self.dtype_policy, name="rerank_score")
        self.rerank_score.build((None, None, 3 * d))

    def match(self, context, units, vector, training=False):
        n, d = ops.shape(units)[1], units.shape[3]
        scale = dot_scale(d)
        word_mask = ops.not_equal(context, specs.PAD_ID)  # (batch, turns, words)
        utterance_mask = ops.any(word_mask, axis=-1)
        words = self.utterance_encoder(context, padding_mask=word_mask, training=training)
        utterances = masked_mean(words, word_mask, axis=-2)  # (batch, turns, d)
        last = ops.cast(last_real_utterance(utterance_mask), words.dtype)
        question = ops.einsum("bt,btd->bd", last, utterances)
        question_words = ops.einsum("bt,btid->bid", last, words)  # (batch, words, d)
        question_mask = ops.any(ops.logical_and(word_mask, ops.cast(last, "bool")[:, :, None]), axis=1)

        # Stage 1: question -> history -> image regions -> answer.
        history_logits = ops.einsum("bd,btd->bt", self.history_attention(question), utterances)
        history = ops.einsum("bt,btd->bd", attend(history_logits, utterance_mask, utterances), utterances)
        e = self.context_fusion(ops.concatenate([question, history], axis=-1))  # (batch, d)
        regions = ops.cast(units, e.dtype)  # (batch, cands, units, d)
        region_logits = ops.einsum("bd,bnjd->bnj", self.region_attention(e), regions) * scale
        attended = ops.einsum("bnj,bnjd->bnd", attend(region_logits, None, regions), regions)
        e_b = ops.broadcast_to(e[:, None, :], ops.shape(attended))
        joint = self.joint_fusion(ops.concatenate([e_b, attended], axis=-1))
        answer = self.answer(ops.cast(vector, e.dtype))
        coarse = ops.softmax(ops.cast(ops.sum(joint * answer, axis=-1), "float32") * scale, axis=-1)  # s1

        # Top-k of stage 1 (not differentiable: a selection).
        k = max(1, min(self.top_k, n))
        kth = ops.top_k(ops.stop_gradient(coarse), k)[0][:, -1:]
        selected = ops.cast(ops.greater_equal(coarse, kth), "float32")

        # Stage 2: answer and question jointly re-attend to image and question.
        z = self.synergy(ops.concatenate([e_b, answer], axis=-1))  # (batch, cands, d)
        region_logits2 = ops.einsum("bnd,bnjd->bnj", self.synergy_region_attention(z), regions) * scale
        regions2 = ops.einsum("bnj,bnjd->bnd", attend(region_logits2, None, regions), regions)
        word_logits = ops.einsum("bnd,bid->bni", self.synergy_word_attention(z), question_words) * scale
        words2 = ops.einsum("bni,bid->bnd", attend(word_logits, question_mask[:, None, :], words), question_words)
        fine = self.rerank_score(ops.concatenate([regions2 * answer, words2 * answer, z], axis=-1))  # s2
        return coarse + selected * fine



def build_synergistic(config, return_attention=False):
    """Synergistic for a `stickerchat.config.Config` (top 3 candidates re-ranked)."""
    matcher = SynergisticMatcher(
        **text_kwargs(config),
        **transformer_kwargs(config),
        name="matcher",
    )
    return StickerRanker.from_stickerchat_config(config, matcher, name="synergistic")
