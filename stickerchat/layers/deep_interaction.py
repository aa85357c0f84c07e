"""Deep interaction network between stickers and utterances (Eq. 9–15)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal
from stickerchat.layers.masking import NEG_INF, masked_mean, masked_softmax

# How w of Eq. 10 starts: `normal` (the §6.4 truncated normal, or Glorot with
# init_stddev=0) or `dot` (w₃ = 1/√d, w₁ = w₂ = 0: a scaled dot product).
RELATION_INITS = ("normal", "dot")


@keras.saving.register_keras_serializable(package="stickerchat")
class _DotRelationInit(keras.initializers.Initializer):
    """`(3, d)` with rows 0, 0 and 1/√d: Eq. 10 starts as `O_k·h_j/√d`."""

    def __init__(self, hidden_dim):
        self.hidden_dim = int(hidden_dim)

    def __call__(self, shape, dtype=None):
        rows = ops.arange(shape[0])[:, None] * ops.ones(shape, dtype="int32")
        return ops.cast(ops.equal(rows, 2), dtype or "float32") / (self.hidden_dim**0.5)

    def get_config(self):
        return {"hidden_dim": self.hidden_dim}


def _dense(layer, units, name):
    return keras.layers.Dense(
        units,
        activation="relu",
        kernel_initializer=truncated_normal(layer.init_stddev),
        dtype=layer.dtype_policy,
        name=name,
    )


class _Integration(keras.layers.Layer):
    """Shared parts of the interaction layers: IF (Eq. 13–14) and Eq. 15.

    `text_product=True` (`ModelConfig.text_product`, the default) adds the
    element-wise product of the sticker-aware utterance representation l and
    the candidate's sticker vector O_flat to the input of Eq. 15:
    `Q2 = ReLU(FC(Q1 ⊕ l ⊕ (l ⊗ O_flat)))`. As printed, Eq. 13–15 multiply
    sticker features only with sticker features (`IF(O_flat, r)`) and join
    l by concatenation, so the only place where a word meets the candidate
    multiplicatively is the attention weights; which words suit which
    sticker must then be learned through the ReLU and the fusion network,
    and ranking training sits on its plateau for hundreds of steps. The
    authors' SRS code feeds its fusion GRU with `l ⊗ O_flat` (their
    `fused_context_repr * fused_sticker_repr`), which is this product.
    `text_product=False` is Eq. 15 as printed.
    """

    def __init__(self, hidden_dim, init_stddev=0.02, text_product=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.init_stddev = float(init_stddev)
        self.text_product = bool(text_product)

    def _build_integration(self):
        d = self.hidden_dim
        self.integrate_dense = _dense(self, d, "integrate")  # Eq. 14
        self.integrate_dense.build((None, 4 * d))
        self.output_dense = _dense(self, d, "output")  # Eq. 15
        self.output_dense.build((None, (3 if self.text_product else 2) * d))

    def _integrate(self, sticker_vector, sticker_part, utterance_part):
        """Q1 = IF(O_flat, r) (Eq. 13–14); Q2 = FC(Q1 ⊕ l) (Eq. 15), or FC(Q1 ⊕ l ⊕ l ⊗ O_flat)."""
        x = ops.expand_dims(sticker_vector, 2) * ops.ones_like(sticker_part)
        y = sticker_part
        q1 = self.integrate_dense(ops.concatenate([x, y, x * y, x + y], axis=-1))
        parts = [q1, utterance_part]
        if self.text_product:
            parts.append(utterance_part * x)  # l ⊗ O_flat
        return self.output_dense(ops.concatenate(parts, axis=-1))

    def compute_output_shape(self, sticker_map_shape, sticker_vector_shape, utterances_shape, padding_mask_shape):
        b, n, p = sticker_map_shape[0], sticker_map_shape[1], sticker_map_shape[2]
        t, w = utterances_shape[1], utterances_shape[2]
        return (b, n, t, self.hidden_dim), (b, n, t, w), (b, n, t, p, p)

    def compute_output_spec(self, sticker_map, sticker_vector, utterances, padding_mask):
        q2, tau_u, tau_s = self.compute_output_shape(
            sticker_map.shape, sticker_vector.shape, utterances.shape, padding_mask.shape
        )
        return (
            keras.KerasTensor(q2, dtype=self.compute_dtype),
            keras.KerasTensor(tau_u, dtype="float32"),
            keras.KerasTensor(tau_s, dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "init_stddev": self.init_stddev, "text_product": self.text_product}
        )
        return config


@keras.saving.register_keras_serializable(package="stickerchat")
class DeepInteraction(_Integration):
    """Bi-directional attention between sticker units and utterance words.

    For every candidate sticker and every utterance at once (no loop):

    * Eq. 9–10: `M_kj = wᵀ[O_k ⊕ h_j ⊕ (O_k ⊗ h_j)]`, computed without
      building the concatenation: with `w = [w₁; w₂; w₃]`,
      `M_kj = w₁·O_k + w₂·h_j + Σ_d w₃,d O_k,d h_j,d`, which is the same
      number (the weight `relation_kernel` holds `w` as `(3, dim)`).
    * Two-way max pooling: `τᵘ_j = max_k M_kj` (utterance-wise attention)
      and `τˢ_k = max_j M_kj` (sticker-wise attention), padded words are set
      to -∞ before the max over words.
    * Eq. 11: `l = Σ_j τᵘ_j h_j` (padded words weigh 0).
    * Eq. 12: `r = Σ_k τˢ_k O_k`.
    * Eq. 13–14: `Q1 = IF(O_flat, r)`, `IF(x, y) = ReLU(FC(x ⊕ y ⊕ x⊗y ⊕ x+y))`.
    * Eq. 15: `Q2 = ReLU(FC(Q1 ⊕ l))`.

    Ambiguity: the paper calls the max-pooled scores "attention weights" and
    uses them directly. With `normalize=True` (the default) τᵘ is a softmax
    over the real words and τˢ a softmax over the p² sticker units, taken
    *after* the max-pool, in float32, so both are distributions; with
    `normalize=False` the raw max-pooled scores are the weights (padded
    words get 0), as the equations literally read. Config flag:
    `ModelConfig.interaction_normalize`. The authors' SRS code takes another
    order: a softmax over the words (or the units) first, then the max over
    the other axis, then a mean rather than a sum; neither form is the
    printed one.

    `relation_init='dot'` (`ModelConfig.relation_init`, the default) starts
    w at `(0, 0, 1/√d)`, so that M begins as the scaled dot product
    `O_k·h_j/√d` the authors' code uses; with §6.4's std of 0.02 the
    relation scores start near 0 and both attentions near uniform, and
    nothing in the candidate scores depends on which word meets which
    sticker unit. `relation_init='normal'` is §6.4's initialiser.

    Args:
        hidden_dim: int. Width d of O and h.
        normalize: bool. Softmax over the max-pooled scores. Defaults to True.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.
        relation_init: str. `normal` or `dot` (above). Defaults to `normal`.
        text_product: bool. Add `l ⊗ O_flat` to Eq. 15 (`_Integration`).
            Defaults to False.

    Call args:
        sticker_map: tensor `(batch, cands, p, p, dim)`, O.
        sticker_vector: tensor `(batch, cands, dim)`, O_flat.
        utterances: tensor `(batch, turns, words, dim)`, h.
        padding_mask: bool tensor `(batch, turns, words)`, True for real
            words.

    Returns:
        tuple `(Q2, τᵘ, τˢ)`: `(batch, cands, turns, dim)`, float32
        `(batch, cands, turns, words)` and float32
        `(batch, cands, turns, p, p)`.

    References:
        Eq. 9–15 (§5.4) of the PESRS paper.
    """

    def __init__(self, hidden_dim, normalize=True, init_stddev=0.02, relation_init="normal", **kwargs):
        super().__init__(hidden_dim, init_stddev=init_stddev, **kwargs)
        if relation_init not in RELATION_INITS:
            raise ValueError(f"Unknown relation_init '{relation_init}'; choose one of {RELATION_INITS}")
        self.normalize = bool(normalize)
        self.relation_init = relation_init

    def build(self, sticker_map_shape, sticker_vector_shape, utterances_shape, padding_mask_shape):
        # Eq. 10: w ∈ R^{3d}, stored as its three d-sized parts.
        if self.relation_init == "dot":
            # w₁ = w₂ = 0, w₃ = 1/√d: M starts as the scaled dot product O_k·h_j/√d
            # (the relation the authors' code uses), then w is learned.
            initializer = _DotRelationInit(self.hidden_dim)
        else:
            initializer = truncated_normal(self.init_stddev)
        self.relation_kernel = self.add_weight(name="relation_kernel", shape=(3, self.hidden_dim), initializer=initializer)
        self._build_integration()
        self.built = True

    def call(self, sticker_map, sticker_vector, utterances, padding_mask):
        n, p, d = ops.shape(sticker_map)[1], sticker_map.shape[2], sticker_map.shape[-1]  # n: any number of candidates
        t = utterances.shape[1]
        units = ops.reshape(sticker_map, (-1, n, p * p, d))  # O_k, k ∈ [1, p²]
        kernel = ops.cast(self.relation_kernel, units.dtype)
        # Eq. 9–10, split: w₁·O_k + w₂·h_j + w₃·(O_k ⊗ h_j).
        sticker_term = ops.einsum("bnkd,d->bnk", units, kernel[0])
        word_term = ops.einsum("btjd,d->btj", utterances, kernel[1])
        product_term = ops.einsum("bnkd,btjd->bntkj", units * kernel[2], utterances)
        relation = (
            ops.cast(product_term, "float32")
            + ops.cast(sticker_term, "float32")[:, :, None, :, None]
            + ops.cast(word_term, "float32")[:, None, :, None, :]
        )  # M: (batch, cands, turns, p², words)
        word_mask = ops.cast(padding_mask, "bool")[:, None, :, None, :]
        relation = ops.where(word_mask, relation, NEG_INF)
        tau_u = ops.max(relation, axis=3)  # τᵘ_j = max_k M_kj: (b, n, t, words)
        tau_s = ops.max(relation, axis=4)  # τˢ_k = max_j M_kj: (b, n, t, p²)
        utterance_mask = ops.cast(padding_mask, "bool")[:, None, :, :]
        if self.normalize:
            tau_u = masked_softmax(tau_u, utterance_mask, axis=-1)
            tau_s = ops.softmax(tau_s, axis=-1)
        else:
            tau_u = ops.where(utterance_mask, tau_u, 0.0)
            any_word = ops.any(ops.cast(padding_mask, "bool"), axis=-1)[:, None, :, None]
            tau_s = ops.where(any_word, tau_s, 0.0)
        l = ops.einsum("bntj,btjd->bntd", ops.cast(tau_u, utterances.dtype), utterances)  # Eq. 11
        r = ops.einsum("bntk,bnkd->bntd", ops.cast(tau_s, units.dtype), units)  # Eq. 12
        q2 = self._integrate(sticker_vector, r, l)  # Eq. 13–15
        return q2, tau_u, ops.reshape(tau_s, (-1, n, t, p, p))

    def get_config(self):
        config = super().get_config()
        config.update({"normalize": self.normalize, "relation_init": self.relation_init})
        return config


@keras.saving.register_keras_serializable(package="stickerchat")
class PlainInteraction(_Integration):
    """The "w/o DIN" ablation: the same integration without co-attention.

    The relation matrix and both attentions are removed; the sticker-aware
    utterance representation l becomes the mean of the real words of the
    utterance ū and the utterance-aware sticker representation r becomes the
    mean of the sticker units Ō. Eq. 13–15 are kept: `Q1 = IF(O_flat, Ō)`,
    `Q2 = ReLU(FC(Q1 ⊕ ū))`. The returned "attentions" are these uniform
    weights so that the model outputs keep their shapes.

    Args:
        hidden_dim: int. Width d.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args and returns: as `DeepInteraction`.

    References:
        Table 3 ("PESRS w/o DIN") and Eq. 13–15 of the PESRS paper.
    """

    def build(self, sticker_map_shape, sticker_vector_shape, utterances_shape, padding_mask_shape):
        self._build_integration()
        self.built = True

    def call(self, sticker_map, sticker_vector, utterances, padding_mask):
        n, p, d = ops.shape(sticker_map)[1], sticker_map.shape[2], sticker_map.shape[-1]  # n: any number of candidates
        t = utterances.shape[1]
        units = ops.reshape(sticker_map, (-1, n, p * p, d))
        sticker_part = ops.mean(units, axis=2)[:, :, None, :]  # (b, n, 1, d)
        utterance_part = masked_mean(utterances, padding_mask, axis=-2)[:, None]  # (b, 1, t, d)
        ones = ops.ones_like(sticker_part) * ops.ones_like(utterance_part)  # (b, n, t, d)
        q2 = self._integrate(sticker_vector, sticker_part * ones, utterance_part * ones)
        mask = ops.cast(padding_mask, "float32")[:, None]
        tau_u = mask / ops.maximum(ops.sum(mask, axis=-1, keepdims=True), 1.0)
        tau_u = tau_u * ops.ones_like(ops.cast(ones[..., :1], "float32"))
        tau_s = ops.ones_like(ops.cast(ones[..., :1], "float32"))[..., None] * ops.ones((p, p)) / (p * p)
        return q2, tau_u, ops.reshape(tau_s, (-1, n, t, p, p))
