"""User preference memory: addressing and reading (Eq. 23–24, §7.8)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal
from stickerchat.layers.masking import masked_softmax

MEMORY_TYPES = ("attention", "average", "weighted")
# How the query meets a key in Eq. 23 (and Eq. 35): `bilinear` as printed (h W_δ ĥᵏ) or `cosine` (β cos(h W_δ, ĥᵏ)).
MEMORY_ADDRESSES = ("bilinear", "cosine")


@keras.saving.register_keras_serializable(package="stickerchat")
class PreferenceMemory(keras.layers.Layer):
    """Key-value memory read by the current context.

    * `attention` (PESRS): `δ_k = softmax_k(h W_δ ĥᵏ)` (Eq. 23) over the
      real slots only, in float32, and `r = Σ_k δ_k Ôᵏ` (Eq. 24).
    * `average` (§7.8 AverageMem, Eq. 34): `r` is the average of the real
      values Ôᵏ (Eq. 34 prints a sum; the text says "average-pooling", which
      is what is implemented: `δ_k = 1/n` on the n real slots).
    * `weighted` (§7.8 WeightedMem, Eq. 35–36): no key addressing; the query
      attends to the values themselves, `δ_k = softmax_k(h W_δ Ôᵏ)`,
      `r = Σ_k δ_k Ôᵏ`.

    An empty history (no real slot) gives `r = 0` and `δ = 0`.

    Args:
        hidden_dim: int. Width d of the query, keys and values.
        memory: str. `attention`, `average` or `weighted`. Defaults to
            `attention`.
        init_stddev: float. Truncated-normal std of W_δ. Defaults to 0.02.
        zero_read: bool. Start W_δ at zero (`ModelConfig.memory_read_init=
            'zeros'`, the default start of the bilinear address): δ starts uniform over the real slots,
            the read r starts as AverageMem's mean, and the addressing is
            learned from there. With Keras' Glorot initialiser the logits
            `h W_δ ĥᵏ` start with a spread of several units, so δ starts
            peaked on an arbitrary slot per dialog and r is one random past
            sticker rather than the user's habit. Defaults to False (the
            layer initialiser).
        identity_read: bool. Start W_δ at `I / √d` (`ModelConfig.
            memory_read_init='identity'`): δ starts as a scaled dot-product
            attention of the query over the keys, `softmax_k(h · ĥᵏ / √d)`,
            so from the first step the memory reads the past dialogs that
            resemble the current one (the motivation of §5.5) and W_δ
            learns from there. Needs keys of the query's width. Defaults to
            False.
        address: str. `bilinear` (Eq. 23 / 35 as printed, the default):
            the logit of slot k is `h W_δ ĥᵏ`. `cosine` (**deviation**,
            `ModelConfig.memory_address='cosine'`): `β · cos(h W_δ, ĥᵏ)`,
            the content addressing of Neural Turing Machines, with W_δ
            started at the identity (whatever `zero_read` says) and a
            learned sharpness β started at `address_scale`. The bilinear
            logit's scale is the product of two vectors' norms, so δ is
            nearly uniform until W_δ has grown; the cosine's scale is β,
            so from the first step δ reads the past dialogs most like the
            current one, peaked as much as β says, and the gradient that
            reaches W_δ comes through a read that already depends on the
            dialog.
        address_scale: float. The start of β (`cosine` only). Defaults to
            10.
        candidate_query: bool. **Deviation** (`ModelConfig.memory_query=
            'candidate'`; `attention` only). Each candidate sticker joins the
            query: `δ_{c,k} = softmax_k(h W_δ ĥᵏ + O_c W_c O_k)` and
            `r_c = Σ_k δ_{c,k} Ôᵏ`, with O_c the candidate's sticker vector,
            O_k the k-th history sticker's (Eq. 18, before Eq. 20) and W_c a
            second d × d matrix started like W_δ. The dialog term is Eq. 23
            unchanged; the candidate term lets the read for a candidate
            find the past selections of its kind (the same emotion, the
            same set, the sticker itself), which the dialog names only
            through a cue word that the pooled query h of Eq. 21–22 can
            lose. Each candidate's read depends on that candidate, the
            dialog and the history only. Measured (README, per-emotion demo
            corpus): with the memory of 418e696 every candidate found its
            own look-alikes and the model did not rank by the read; with
            the addressing memory of issue 20 it tells the ground truth's
            variants apart better, but where a user's favourites are all in
            the history each favourite candidate finds itself and the
            dialog no longer decides (the context-keyed learning test
            fails). Defaults to False (Eq. 23 as printed: one read for
            every candidate).

    Call args:
        query: tensor `(batch, dim)`: h of Eq. 22.
        values: tensor `(batch, history, dim)`: Ôᵏ.
        history_mask: bool tensor `(batch, history)`, True for real slots.
        keys: tensor `(batch, history, dim)`: ĥᵏ; needed for `attention`
            only.
        candidates: tensor `(batch, cands, dim)`: O_c; needed with
            `candidate_query`.
        history_stickers: tensor `(batch, history, dim)`: O_k; needed with
            `candidate_query`.

    Returns:
        tuple `(r, δ)`: `(batch, dim)` and float32 `(batch, history)`; with
        `candidate_query`, `(batch, cands, dim)` and float32
        `(batch, cands, history)`, one read per candidate.

    References:
        Eq. 23–24 (§5.5.2–5.5.3) and Eq. 34–36 (§7.8) of the PESRS paper.
    """

    def __init__(
        self,
        hidden_dim,
        memory="attention",
        init_stddev=0.02,
        zero_read=False,
        identity_read=False,
        candidate_query=False,
        address="bilinear",
        address_scale=10.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if memory not in MEMORY_TYPES:
            raise ValueError(f"Unknown memory '{memory}'; choose one of {MEMORY_TYPES}")
        if zero_read and identity_read:
            raise ValueError("PreferenceMemory: zero_read and identity_read are two starts of W_δ; choose one")
        self.hidden_dim = int(hidden_dim)
        self.memory = memory
        self.init_stddev = float(init_stddev)
        self.zero_read = bool(zero_read)
        self.identity_read = bool(identity_read)
        if candidate_query and memory != "attention":
            raise ValueError(f"PreferenceMemory(candidate_query=True) needs memory='attention', not '{memory}'")
        self.candidate_query = bool(candidate_query)
        if address not in MEMORY_ADDRESSES:
            raise ValueError(f"Unknown address '{address}'; choose one of {MEMORY_ADDRESSES}")
        self.address = address
        self.address_scale = float(address_scale)

    def _kernel_initializer(self):
        if self.address == "cosine":
            return keras.initializers.Identity()
        if self.zero_read:
            return "zeros"
        if self.identity_read:
            return keras.initializers.Identity(gain=self.hidden_dim**-0.5)
        return truncated_normal(self.init_stddev)

    def build(self, query_shape, values_shape=None, history_mask_shape=None, keys_shape=None, *args):
        if self.memory != "average":
            self.read_kernel = self.add_weight(  # W_δ
                name="read_kernel", shape=(self.hidden_dim, self.hidden_dim), initializer=self._kernel_initializer()
            )
        if self.memory != "average" and self.address == "cosine":
            self.address_sharpness = self.add_weight(  # β
                name="address_sharpness", shape=(), initializer=keras.initializers.Constant(self.address_scale)
            )
        if self.candidate_query:
            self.candidate_kernel = self.add_weight(  # W_c
                name="candidate_kernel", shape=(self.hidden_dim, self.hidden_dim), initializer=self._kernel_initializer()
            )
        self.built = True

    def call(self, query, values, history_mask, keys=None, candidates=None, history_stickers=None):
        mask = ops.cast(history_mask, "bool")
        if self.memory == "average":
            weights = ops.cast(mask, "float32")
            weights = weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1.0)  # Eq. 34
            read = ops.einsum("bk,bkd->bd", ops.cast(weights, values.dtype), values)  # Eq. 34
            return read, weights
        if self.memory == "attention":
            if keys is None:
                raise ValueError("memory='attention' needs the keys ĥᵏ")
            addresses = keys  # Eq. 23
        else:
            addresses = values  # Eq. 35
        projected = ops.matmul(query, ops.cast(self.read_kernel, query.dtype))  # h W_δ
        projected, addresses = ops.cast(projected, "float32"), ops.cast(addresses, "float32")
        if self.address == "cosine":  # the deviation: β cos(h W_δ, ĥᵏ)
            projected = ops.normalize(projected, axis=-1, epsilon=1e-6)
            addresses = ops.normalize(addresses, axis=-1, epsilon=1e-6)
            projected = projected * ops.cast(self.address_sharpness, "float32")
        logits = ops.einsum("bd,bkd->bk", projected, addresses)
        if not self.candidate_query:
            weights = masked_softmax(logits, mask, axis=-1)  # δ_k, Eq. 23 / 35
            return ops.einsum("bk,bkd->bd", ops.cast(weights, values.dtype), values), weights  # Eq. 24 / 36
        if candidates is None or history_stickers is None:
            raise ValueError("candidate_query needs the candidates O_c and the history stickers O_k")
        by_candidate = ops.matmul(candidates, ops.cast(self.candidate_kernel, candidates.dtype))  # O_c W_c
        logits = ops.expand_dims(logits, 1) + ops.einsum(
            "bcd,bkd->bck", ops.cast(by_candidate, "float32"), ops.cast(history_stickers, "float32")
        )
        weights = masked_softmax(logits, ops.expand_dims(mask, 1), axis=-1)  # δ_{c,k}
        return ops.einsum("bck,bkd->bcd", ops.cast(weights, values.dtype), values), weights  # Eq. 24, per candidate

    def compute_output_shape(
        self, query_shape, values_shape, history_mask_shape=None, keys_shape=None, candidates_shape=None, *args
    ):
        if self.candidate_query:
            batch, cands = candidates_shape[:2]
            return (batch, cands, self.hidden_dim), (batch, cands, values_shape[1])
        return (query_shape[0], self.hidden_dim), tuple(values_shape[:2])

    def compute_output_spec(self, query, values, history_mask, keys=None, candidates=None, history_stickers=None):
        read, weights = self.compute_output_shape(
            query.shape, values.shape, candidates_shape=None if candidates is None else candidates.shape
        )
        return keras.KerasTensor(read, dtype=self.compute_dtype), keras.KerasTensor(weights, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "memory": self.memory,
                "init_stddev": self.init_stddev,
                "zero_read": self.zero_read,
                "identity_read": self.identity_read,
                "candidate_query": self.candidate_query,
                "address": self.address,
                "address_scale": self.address_scale,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="stickerchat")
class LookAlikeEvidence(keras.layers.Layer):
    """How much of the memory's read falls on past stickers that look like each candidate (not in the paper).

    `e_c = w · Σ_k δ_k · exp(τ (cos(Q O_c, O_k) − 1))`, with δ the read
    weights of Eq. 23 (by the dialog; one row per candidate with
    `candidate_query`), O_c the candidate's sticker vector, O_k the k-th
    history sticker's (Eq. 18), Q a d × d projection started at the
    identity, and the sharpness τ and weight w learned from their starts.
    It is added to the logit of Eq. 32 (`ModelConfig.memory_lookalike`).
    The kernel is near 1 for a past sticker that looks like the candidate
    and near 0 otherwise, so e_c is the share of the dialog's read that lies
    on the candidate's look-alikes: the candidates the user chose in dialogs
    like this one gain, whatever they chose in other dialogs. The read r of
    Eq. 24 blends the read stickers into one vector, where the small
    differences between a sticker and its variants are averaged away; this
    keeps them per slot. Padded slots have δ = 0 and add nothing.

    Args:
        hidden_dim: int. Width d of the sticker vectors.
        sharpness: float. The start of τ. Defaults to 30.
        weight: float. The start of w. Defaults to 5.

    Call args:
        weights: float tensor `(batch, history)` or `(batch, cands,
            history)`: δ.
        candidates: tensor `(batch, cands, d)`: O_c.
        history_stickers: tensor `(batch, history, d)`: O_k.

    Returns:
        float32 tensor `(batch, cands)`: e_c.
    """

    def __init__(self, hidden_dim, sharpness=30.0, weight=5.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.sharpness = float(sharpness)
        self.weight = float(weight)

    def build(self, weights_shape=None, candidates_shape=None, history_stickers_shape=None):
        self.projection = self.add_weight(  # Q
            name="projection", shape=(self.hidden_dim, self.hidden_dim), initializer=keras.initializers.Identity()
        )
        self.kernel_sharpness = self.add_weight(  # τ
            name="kernel_sharpness", shape=(), initializer=keras.initializers.Constant(self.sharpness)
        )
        self.evidence_weight = self.add_weight(  # w
            name="evidence_weight", shape=(), initializer=keras.initializers.Constant(self.weight)
        )
        self.built = True

    def call(self, weights, candidates, history_stickers):
        looks = ops.normalize(ops.matmul(ops.cast(candidates, "float32"), self.projection), axis=-1, epsilon=1e-6)
        past = ops.normalize(ops.cast(history_stickers, "float32"), axis=-1, epsilon=1e-6)
        kernel = ops.exp(self.kernel_sharpness * (ops.einsum("bcd,bkd->bck", looks, past) - 1.0))
        weights = ops.cast(weights, "float32")
        if len(weights.shape) == 2:  # one read for every candidate (Eq. 23)
            weights = ops.expand_dims(weights, 1)
        return self.evidence_weight * ops.sum(weights * kernel, axis=-1)

    def compute_output_shape(self, weights_shape, candidates_shape, history_stickers_shape=None):
        return tuple(candidates_shape[:2])

    def compute_output_spec(self, weights, candidates, history_stickers):
        return keras.KerasTensor(tuple(candidates.shape[:2]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "sharpness": self.sharpness, "weight": self.weight})
        return config
