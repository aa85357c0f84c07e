"""SRS / PESRS models, their registry and losses."""

from stickerchat.models import losses
from stickerchat.models.pesrs import (
    CANDIDATE_STICKER_MAP,
    CANDIDATE_STICKER_VECTOR,
    HISTORY_STICKER_VECTOR,
    MATCHER_INPUT_NAMES,
    PESRS,
    StickerMatcher,
)
from stickerchat.models.registry import MODEL_NAMES, VARIANTS, build_model, register_model, resolve_model_config

__all__ = [
    "CANDIDATE_STICKER_MAP",
    "CANDIDATE_STICKER_VECTOR",
    "HISTORY_STICKER_VECTOR",
    "MATCHER_INPUT_NAMES",
    "MODEL_NAMES",
    "PESRS",
    "StickerMatcher",
    "VARIANTS",
    "build_model",
    "losses",
    "register_model",
    "resolve_model_config",
]
