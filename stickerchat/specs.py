"""The one source of truth for feature names, dtypes and shapes.

The input pipeline (`stickerchat.data.pipeline`) produces batches with exactly
these features, the model builders (`stickerchat.models`) create their
`keras.Input`s from them, and the tests check both against this module.

A batch from the pipeline is a tuple `(inputs, targets)` (or
`(inputs, targets, meta)` with `with_meta=True`):

`inputs` (fed to the model):

| name              | dtype | shape                                            |
|-------------------|-------|--------------------------------------------------|
| context           | int32 | (batch, context_len, max_words)                  |
| candidate_images  | uint8 | (batch, num_candidates, image_size, image_size, 3)|
| history_context   | int32 | (batch, history_len, context_len, max_words)     |
| history_images    | uint8 | (batch, history_len, image_size, image_size, 3)  |
| history_mask      | int32 | (batch, history_len)  1 = real slot, 0 = padding |

`targets` (used by the losses and metrics):

| name              | dtype | shape                     |
|-------------------|-------|---------------------------|
| label             | int32 | (batch,)                  |
| candidate_emoji   | int32 | (batch, num_candidates)   |

`meta` (never fed to the model; used to write predictions):

| name              | dtype | shape                     |
|-------------------|-------|---------------------------|
| example           | int64 | (batch,)  line number in the split's file, from 0 |
| user              | int64 | (batch,)  `current.from_id`                       |
| candidate_ids     | int64 | (batch, num_candidates)  sticker ids, exact       |

Conventions:

* Word and emoji id 0 is padding, id 1 the unknown token (`PAD_ID`, `UNK_ID`).
* Context utterances are in chronological order, oldest first; padding
  utterances (all-zero rows) come *after* the real ones; words are
  left-aligned within an utterance.
* History slots are in chronological order, oldest first, padded slots after
  the real ones; `history_mask` is 1 for real slots, 0 for padding. It is
  int32, not bool: Keras 3 cannot train a model with a bool input under
  `tf.distribute.MirroredStrategy` (the gradient aggregation emits AddN on
  bool); the layers cast it to bool themselves.
* Images are uint8 RGB; the model scales them (Inception's [-1, 1]).

Training batches with the stickers de-duplicated
(`make_dataset(..., unique_stickers=UniqueStickers())`) replace `candidate_images` and
`history_images` with each distinct sticker image of the batch once and,
per slot, the row of its image:

| name              | dtype | shape                                             |
|-------------------|-------|---------------------------------------------------|
| sticker_images    | uint8 | (unique, image_size, image_size, 3)  NOT batch-major |
| candidate_slots   | int32 | (batch, num_candidates)  row in `sticker_images`  |
| history_slots     | int32 | (batch, history_len)  row in `sticker_images`     |

`sticker_images[candidate_slots]` is `candidate_images` (and likewise for the
history; a padded history slot points at a zero image). `unique` varies from
batch to batch (padded with zero images up to a multiple of a bucket size so
that XLA compiles few shapes); because its leading axis is not the batch,
these batches cannot be split across the replicas of a `tf.distribute`
strategy. `history_slots` is absent when the history images are not needed
(SRS).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

PAD_ID = 0
UNK_ID = 1
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"

# Input feature names.
CONTEXT = "context"
CANDIDATE_IMAGES = "candidate_images"
HISTORY_CONTEXT = "history_context"
HISTORY_IMAGES = "history_images"
HISTORY_MASK = "history_mask"

# De-duplicated sticker inputs (see the module docstring).
STICKER_IMAGES = "sticker_images"
CANDIDATE_SLOTS = "candidate_slots"
HISTORY_SLOTS = "history_slots"

# Target names.
LABEL = "label"
CANDIDATE_EMOJI = "candidate_emoji"

# Metadata names.
EXAMPLE = "example"
USER = "user"
CANDIDATE_IDS = "candidate_ids"

# Model output names.
SCORES = "scores"
EMOJI_LOGITS = "emoji_logits"
UTTERANCE_ATTENTION = "utterance_attention"  # tau_u: (batch, cands, context_len, max_words)
STICKER_ATTENTION = "sticker_attention"  # tau_s: (batch, cands, context_len, p, p)
MEMORY_WEIGHTS = "memory_weights"  # delta: (batch, history_len)
FUSION_GATE = "fusion_gate"  # f_g: (batch, cands, 1)
CONTEXT_EMOJI_LOGITS = "context_emoji_logits"  # the memory query's emoji head (ModelConfig.context_classify): (batch, num_emoji)
MEMORY_SCORES = "memory_scores"  # the memory's own scores σ(FC_m(r_c)), trained by the memory loss: (batch, cands)

INPUT_NAMES = (CONTEXT, CANDIDATE_IMAGES, HISTORY_CONTEXT, HISTORY_IMAGES, HISTORY_MASK)
TARGET_NAMES = (LABEL, CANDIDATE_EMOJI)
META_NAMES = (EXAMPLE, USER, CANDIDATE_IDS)


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Shape (without the batch dimension) and dtype of one feature."""

    shape: Tuple[int, ...]
    dtype: str


def input_specs(data_config) -> Dict[str, FeatureSpec]:
    """Model inputs for a `stickerchat.config.DataConfig`."""
    c = data_config
    img = (c.image_size, c.image_size, 3)
    return {
        CONTEXT: FeatureSpec((c.context_len, c.max_words), "int32"),
        CANDIDATE_IMAGES: FeatureSpec((c.num_candidates,) + img, "uint8"),
        HISTORY_CONTEXT: FeatureSpec((c.history_len, c.context_len, c.max_words), "int32"),
        HISTORY_IMAGES: FeatureSpec((c.history_len,) + img, "uint8"),
        HISTORY_MASK: FeatureSpec((c.history_len,), "int32"),
    }


def unique_sticker_specs(data_config) -> Dict[str, FeatureSpec]:
    """The de-duplicated sticker inputs; `sticker_images`' leading axis is the unique count."""
    c = data_config
    return {
        STICKER_IMAGES: FeatureSpec((c.image_size, c.image_size, 3), "uint8"),
        CANDIDATE_SLOTS: FeatureSpec((c.num_candidates,), "int32"),
        HISTORY_SLOTS: FeatureSpec((c.history_len,), "int32"),
    }


def target_specs(data_config) -> Dict[str, FeatureSpec]:
    """Training targets for a `stickerchat.config.DataConfig`."""
    return {
        LABEL: FeatureSpec((), "int32"),
        CANDIDATE_EMOJI: FeatureSpec((data_config.num_candidates,), "int32"),
    }


def meta_specs(data_config) -> Dict[str, FeatureSpec]:
    """Per-example metadata for a `stickerchat.config.DataConfig`."""
    return {
        EXAMPLE: FeatureSpec((), "int64"),
        USER: FeatureSpec((), "int64"),
        CANDIDATE_IDS: FeatureSpec((data_config.num_candidates,), "int64"),
    }
