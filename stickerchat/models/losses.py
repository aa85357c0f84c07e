"""The training objective: hinge ranking loss (Eq. 33) and L_s (§5.2).

`keras.ops` only; every loss is computed and returned in float32.
"""

from keras import ops

from stickerchat import specs


def hinge_ranking_loss(scores, label, margin=0.1):
    """Eq. 33: `L = Σ_neg max(0, y_neg − y_pos + margin)`, averaged over the batch.

    The sum runs over the negatives of each example (every candidate but the
    ground truth `label`); the per-example sums are then averaged over the
    batch (the paper does not say how examples are combined; the mean keeps
    the learning rate independent of the batch size).

    The margin: the paper gives no value. Our scores are the paper's
    `y ∈ (0, 1)` (Eq. 32), on which a margin of 1 could never be met, so the
    default is 0.1 (`TrainConfig.margin`, `--margin`). The authors' SRS code
    differs: it applies a margin of 1 to raw logits (no sigmoid) and
    averages over the (positive, negative) pairs rather than summing over
    the negatives; on this scale that is the same loss up to a constant
    factor and the logit scale, and is not reproduced here.

    Args:
        scores: tensor `(batch, candidates)`, the matching scores y.
        label: int tensor `(batch,)`, index of the ground truth candidate.
        margin: float. The margin of Eq. 33. Defaults to 0.1.

    Returns:
        float32 scalar.

    References:
        Eq. 33 (§5.7) of the PESRS paper.
    """
    scores = ops.cast(scores, "float32")
    positive_mask = ops.one_hot(ops.cast(label, "int32"), scores.shape[-1], dtype="float32")
    positive = ops.sum(scores * positive_mask, axis=-1, keepdims=True)
    hinge = ops.relu(scores - positive + margin) * (1.0 - positive_mask)
    return ops.mean(ops.sum(hinge, axis=-1))


def emoji_classification_loss(logits, emoji_ids):
    """L_s: sparse cross-entropy of the emoji head, ignoring padding (id 0).

    Args:
        logits: tensor `(batch, candidates, num_emoji)`.
        emoji_ids: int tensor `(batch, candidates)`; `specs.PAD_ID` (0)
            marks stickers without a label, which are left out.

    Returns:
        float32 scalar: the mean over labelled stickers (0 if none).

    References:
        §5.2 of the PESRS paper (the auxiliary sticker classification task).
    """
    logits = ops.cast(logits, "float32")
    emoji_ids = ops.cast(emoji_ids, "int32")
    per_sticker = ops.sparse_categorical_crossentropy(emoji_ids, logits, from_logits=True)
    mask = ops.cast(ops.not_equal(emoji_ids, specs.PAD_ID), "float32")
    return ops.sum(per_sticker * mask) / ops.maximum(ops.sum(mask), 1.0)


def context_emoji_loss(logits, label, candidate_emoji):
    """Cross-entropy of the dialog's emoji head against the emoji of the sticker the user sent.

    The auxiliary task of `ModelConfig.context_classify` (not in the paper):
    the memory query h of Eq. 22 (and, through the shared encoder and pooling,
    the keys of Eq. 17) learns to predict the emoji of the response.

    Args:
        logits: tensor `(batch, num_emoji)`.
        label: int tensor `(batch,)`: the ground truth's candidate slot.
        candidate_emoji: int tensor `(batch, candidates)`; `specs.PAD_ID`
            (no label) is left out.

    Returns:
        float32 scalar: the mean over the labelled dialogs (0 if none).
    """
    label = ops.cast(label, "int32")
    candidate_emoji = ops.cast(candidate_emoji, "int32")
    positive = ops.take_along_axis(candidate_emoji, ops.expand_dims(label, -1), axis=-1)  # (batch, 1)
    return emoji_classification_loss(ops.expand_dims(logits, 1), positive)


def model_loss(
    outputs, targets, config_train_margin=0.1, use_classify=True, classify_weight=1.0, memory_weight=0.0, context_weight=0.0
):
    """The whole objective: `hinge + classify_weight * L_s` (+ the optional auxiliary terms).

    Args:
        outputs: dict with `specs.SCORES` and `specs.EMOJI_LOGITS` (and
            `specs.MEMORY_SCORES` / `specs.CONTEXT_EMOJI_LOGITS` when the
            model has those heads).
        targets: dict with `specs.LABEL` and `specs.CANDIDATE_EMOJI`.
        config_train_margin: float. `TrainConfig.margin` (Eq. 33).
        use_classify: bool. Include L_s ("w/o Classify" when False).
        classify_weight: float. Weight of L_s.
        memory_weight: float. Weight of the hinge on the memory's own
            scores (`ModelConfig.memory_loss`), when the outputs have them.
        context_weight: float. Weight of `context_emoji_loss`
            (`ModelConfig.context_classify`), when the outputs have its logits.

    Returns:
        tuple `(total, hinge, emoji)` of float32 scalars (`emoji` is 0 when
        `use_classify` is False).
    """
    hinge = hinge_ranking_loss(outputs[specs.SCORES], targets[specs.LABEL], config_train_margin)
    if use_classify:
        emoji = emoji_classification_loss(outputs[specs.EMOJI_LOGITS], targets[specs.CANDIDATE_EMOJI])
    else:
        emoji = ops.zeros((), dtype="float32")
    total = hinge + classify_weight * emoji
    if memory_weight and specs.MEMORY_SCORES in outputs:
        total = total + memory_weight * hinge_ranking_loss(outputs[specs.MEMORY_SCORES], targets[specs.LABEL], config_train_margin)
    if context_weight and specs.CONTEXT_EMOJI_LOGITS in outputs:
        context = context_emoji_loss(outputs[specs.CONTEXT_EMOJI_LOGITS], targets[specs.LABEL], targets[specs.CANDIDATE_EMOJI])
        total = total + context_weight * context
    return total, hinge, emoji
