"""Masked reductions shared by the layers (keras.ops only).

All masks are boolean tensors that are True for real (non-padded) positions.
Reductions that could be empty (an all-padding utterance, an empty history)
return zeros instead of NaN or infinities, so that padding never leaks into
real positions and gradients stay finite.
"""

from keras import ops

# A large negative number used instead of -inf before a max or a softmax; it
# is applied in float32 only (it overflows float16).
NEG_INF = -1e9


def masked_softmax(logits, mask, axis=-1):
    """Softmax over `axis` restricted to `mask`, computed in float32.

    Padded positions get weight 0. Where every position is padded the result
    is all zeros (not NaN, not uniform).

    Args:
        logits: tensor. Scores of any float dtype.
        mask: bool tensor broadcastable to `logits`. True for real positions.
        axis: int. The axis to normalise over.

    Returns:
        float32 tensor shaped like `logits`.
    """
    logits = ops.cast(logits, "float32")
    mask = ops.cast(mask, "float32") * ops.ones_like(logits)
    logits = ops.where(mask > 0, logits, NEG_INF)
    logits = logits - ops.stop_gradient(ops.max(logits, axis=axis, keepdims=True))
    weights = ops.exp(logits) * mask
    total = ops.sum(weights, axis=axis, keepdims=True)
    return weights / ops.maximum(total, 1e-12)


def masked_mean(x, mask, axis):
    """Mean of `x` over `axis` counting only real positions.

    Args:
        x: tensor `(..., positions, ..., dim)`.
        mask: bool tensor equal to `x.shape` without the last axis.
        axis: int. The positions axis (negative, counted on `x`).

    Returns:
        `x` reduced over `axis`; zeros where no position is real.
    """
    m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
    total = ops.sum(x * m, axis=axis)
    count = ops.sum(m, axis=axis)
    return total / ops.maximum(count, ops.cast(1.0, x.dtype))


def masked_max(x, mask, axis):
    """Max of `x` over `axis` ignoring padded positions.

    Arguments and result as for `masked_mean`: zeros where no position is
    real.
    """
    m = ops.expand_dims(ops.cast(mask, "bool"), -1)
    m = ops.logical_and(m, ops.ones_like(x, dtype="bool"))
    lowest = ops.cast(ops.full((), -65000.0), x.dtype)
    pooled = ops.max(ops.where(m, x, lowest), axis=axis)
    any_real = ops.any(m, axis=axis)
    return ops.where(any_real, pooled, ops.zeros_like(pooled))


def broadcast_mask(mask, like):
    """Broadcasts a bool mask to the (dynamic) shape of `like` as bool."""
    return ops.cast(mask, "float32") * ops.ones_like(ops.cast(like, "float32")) > 0
