"""Gated fusion of the context interaction and the user preference, and the score (Eq. 31–32)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal
from stickerchat.layers.matching_score import score_dense


@keras.saving.register_keras_serializable(package="stickerchat")
class GatedFusion(keras.layers.Layer):
    """Fuses the context interaction g_Tu with the user preference r.

    * Eq. 31: `f_g = σ(FC([r ⊕ g_Tu]))`, a scalar gate per candidate.
    * Eq. 32: `y = σ(FC(f_g · g_Tu + (1 − f_g) · r))`.

    **Deviation (the default, `candidate_aware=True`).** In the literal Eq.
    31–32 the preference r (Eq. 24) is the same vector for every candidate:
    the memory can shift all scores together, and can prefer one candidate
    over another only through the scalar gate f_g, which sees the candidate
    through g_Tu alone. Nothing compares a candidate sticker with the
    stickers the user chose before, and on the demo corpus the literal
    model does not beat a text-only ranker. The smallest change that lets
    the memory rank: r is read *for each candidate* as
    `r_c = r ⊙ FC(O_flat_c)` (a learned projection of the candidate's sticker
    vector into the memory's value space, no bias), and r_c replaces r in
    Eq. 31 and 32. `FC(f_g · g + (1 − f_g) · r_c)` then holds the bilinear
    form `rᵀ W O_flat_c`: how well the candidate matches the stickers the
    user picked in similar contexts. `candidate_aware=False` is the literal
    paper (`ModelConfig.preference='literal'`).

    **Option (`direct=True`, `ModelConfig.preference='direct'`; PESRS's default since issue 20's fix).**
    The gate is a convex mix: once the text path g is useful the gate
    learns to favour it, the memory's share `(1 − f_g)` falls (to 0.08 on
    average on one demo seed), and a memory that has not yet learned to
    rank can no longer move the scores, so it stops learning: on that seed
    the trained PESRS scored the same with the history masked out. With
    `direct=True` the candidate read also reaches the logit on its own,
    outside the gate: `y = σ(FC(f_g · g + (1 − f_g) · r_c) + FC'(r_c))`,
    FC' a `Dense(1)` initialised at zero (so a fresh layer scores as
    without it). Measured on the default demo corpus with the memory of
    418e696 (W_δ of Eq. 23 from zero, a read that averages the history):
    the memory learned without it and `candidate` scored as well or
    better. With the addressing memory (`ContextPooling(utterance_pooling=
    'rnn')`, `PreferenceMemory(address='cosine')`) on the per-emotion demo
    corpus, the read paid only with it (README), so it is the default.

    **Option (`memory_score=True`, on when `ModelConfig.memory_loss > 0`; PESRS's
    default since issue 20's fix).** The layer also scores each candidate by the memory alone,
    `y_m = σ(FC_m(r_c))` (FC_m a `Dense(1)`), which the training objective
    ranks with its own hinge term (`RankingTask(memory_weight=...)`); Eq. 32's
    y is unchanged and is what the model ranks by. Why: when the read
    starts as the mean of the history (W_δ at zero) and the user's choice
    depends on the dialog, that mean says nothing, the gate of Eq. 31 learns
    to shut the memory (mean f_g 0.94 on the per-emotion demo corpus), and
    the gradient that reaches W_δ of Eq. 23 is scaled by `1 − f_g`: the
    addressing never learns (measured: δ on the same-emotion slots no more
    than uniform). y_m's hinge reaches the memory without the gate, as the
    emoji loss L_s reaches the sticker encoder without the ranking head.

    Both fully-connected layers, the gate and the score run in float32
    under mixed precision.

    Args:
        init_stddev: float. Truncated-normal std. Defaults to 0.02.
        candidate_aware: bool. Read r per candidate (see above). Defaults
            to False (the literal layer; `PESRS` turns it on by default).
        direct: bool. Add `FC'(r_c)` to the logit, outside the gate (see
            above); needs `candidate_aware`. Defaults to False.
        memory_score: bool. Also return the memory's own scores y_m (see
            above); needs `candidate_aware`. With `direct` the term outside
            the gate is FC_m(r_c) itself: the memory's own logit is added
            to Eq. 32's. Defaults to False.

    Call args:
        interaction: tensor `(batch, cands, dim)`: g_Tu.
        preference: tensor `(batch, dim)`: r of Eq. 24, or `(batch, cands,
            dim)`, one read per candidate (`PreferenceMemory(candidate_query=
            True)`).
        candidate_vector: tensor `(batch, cands, dim)`: O_flat of the
            candidates; needed when `candidate_aware`.
        logit_term: optional float tensor `(batch, cands)` added to the
            logit of Eq. 32 inside σ (`LexicalMatch`).

    Returns:
        tuple `(y, f_g)`: float32 `(batch, cands)` and float32
        `(batch, cands, 1)`; with `memory_score`, `(y, f_g, y_m)`, y_m float32
        `(batch, cands)`.

    References:
        Eq. 31–32 (§5.6.4) of the PESRS paper.
    """

    def __init__(self, init_stddev=0.02, candidate_aware=False, direct=False, memory_score=False, **kwargs):
        super().__init__(**kwargs)
        if direct and not candidate_aware:
            raise ValueError("GatedFusion(direct=True) needs candidate_aware=True (the literal r is one for every candidate)")
        if memory_score and not candidate_aware:
            raise ValueError("GatedFusion(memory_score=True) needs candidate_aware=True (the literal r cannot rank)")
        self.init_stddev = float(init_stddev)
        self.candidate_aware = bool(candidate_aware)
        self.direct = bool(direct)
        self.memory_score = bool(memory_score)

    def build(self, interaction_shape, preference_shape=None, candidate_vector_shape=None):
        d = interaction_shape[-1]
        self.gate_dense = score_dense(self, "gate")
        self.gate_dense.build((None, None, 2 * d))
        self.score_dense = score_dense(self, "score")
        self.score_dense.build((None, None, d))
        if self.candidate_aware:
            self.candidate_projection = keras.layers.Dense(
                d, use_bias=False, kernel_initializer=truncated_normal(self.init_stddev), dtype="float32",
                name="candidate_projection",
            )
            self.candidate_projection.build((None, None, candidate_vector_shape[-1] if candidate_vector_shape else d))
        if self.direct and not self.memory_score:
            self.direct_dense = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32", name="direct")
            self.direct_dense.build((None, None, d))
        if self.memory_score:
            self.memory_dense = score_dense(self, "memory_score")
            self.memory_dense.build((None, None, d))
        self.built = True

    def call(self, interaction, preference, candidate_vector=None, logit_term=None):
        g = ops.cast(interaction, "float32")
        r = ops.cast(preference, "float32")
        if len(r.shape) == 2:  # one read for every candidate (Eq. 24); a candidate-queried read is already per candidate
            r = ops.expand_dims(r, 1)
        r = r * ops.ones_like(g)
        if self.candidate_aware:
            if candidate_vector is None:
                raise ValueError("candidate_aware GatedFusion needs the candidates' sticker vectors")
            r = r * self.candidate_projection(ops.cast(candidate_vector, "float32"))  # r_c = r ⊙ FC(O_flat_c)
        gate = ops.sigmoid(self.gate_dense(ops.concatenate([r, g], axis=-1)))  # Eq. 31
        fused = gate * g + (1.0 - gate) * r
        logit = ops.squeeze(self.score_dense(fused), -1)
        memory_logit = ops.squeeze(self.memory_dense(r), -1) if self.memory_score else None  # FC_m(r_c)
        if self.direct:
            # FC'(r_c) outside the gate; with `memory_score` FC' is FC_m, the memory's own score.
            logit = logit + (memory_logit if self.memory_score else ops.squeeze(self.direct_dense(r), -1))
        if logit_term is not None:
            logit = logit + ops.cast(logit_term, "float32")
        if self.memory_score:
            return ops.sigmoid(logit), gate, ops.sigmoid(memory_logit)
        return ops.sigmoid(logit), gate  # Eq. 32

    def compute_output_shape(
        self, interaction_shape, preference_shape=None, candidate_vector_shape=None, logit_term_shape=None
    ):
        shapes = (tuple(interaction_shape[:2]), tuple(interaction_shape[:2]) + (1,))
        return shapes + (tuple(interaction_shape[:2]),) if self.memory_score else shapes

    def compute_output_spec(self, interaction, preference, candidate_vector=None, logit_term=None):
        return tuple(keras.KerasTensor(shape, dtype="float32") for shape in self.compute_output_shape(interaction.shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "init_stddev": self.init_stddev,
                "candidate_aware": self.candidate_aware,
                "direct": self.direct,
                "memory_score": self.memory_score,
            }
        )
        return config
