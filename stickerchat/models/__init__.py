"""The rankers of the paper: SRS / PESRS and the baselines, their registry and losses."""

from stickerchat.models import losses
from stickerchat.models.pesrs import PESRS, StickerMatcher
from stickerchat.models.ranker import (
    CANDIDATE_STICKER_MAP,
    CANDIDATE_STICKER_VECTOR,
    HISTORY_STICKER_VECTOR,
    MATCHER_INPUT_NAMES,
    StickerRanker,
    matcher_inputs,
)
from stickerchat.models.registry import MODEL_NAMES, MODELS, build_model, resolve_model_config

__all__ = [
    "CANDIDATE_STICKER_MAP",
    "CANDIDATE_STICKER_VECTOR",
    "HISTORY_STICKER_VECTOR",
    "MATCHER_INPUT_NAMES",
    "MODELS",
    "MODEL_NAMES",
    "PESRS",
    "StickerMatcher",
    "StickerRanker",
    "build_model",
    "losses",
    "matcher_inputs",
    "resolve_model_config",
]
