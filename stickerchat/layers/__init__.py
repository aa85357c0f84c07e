"""The layers of SRS / PESRS, one module per component of §5 of the paper.

The data's path through them: `StickerEncoder` (Eq. 1, 18) and
`UtteranceEncoder` (Eq. 2–8) → `DeepInteraction` (Eq. 9–15) →
`ContextPooling` + `HistoryEncoder` (Eq. 16–22) → `PreferenceMemory`
(Eq. 23–24) → `FusionNetwork` (Eq. 25–30) → `GatedFusion` (Eq. 31–32);
`LexicalMatch` (not in the paper, `--lexical_match`) adds a word × sticker
term to the score's logit.
All use `keras.ops` only and run under the tensorflow, jax and torch backends.
"""

from stickerchat.layers.context_pooling import ContextPooling
from stickerchat.layers.deep_interaction import DeepInteraction, PlainInteraction
from stickerchat.layers.fusion import FusionNetwork
from stickerchat.layers.gated_fusion import GatedFusion
from stickerchat.layers.history_encoder import HistoryEncoder, recency_positions
from stickerchat.layers.lexical_match import LexicalMatch
from stickerchat.layers.masking import masked_max, masked_mean, masked_softmax
from stickerchat.layers.matching_score import MatchingScore
from stickerchat.layers.position_encoding import SinusoidalPositionEncoding
from stickerchat.layers.preference_memory import LookAlikeEvidence, PreferenceMemory
from stickerchat.layers.sticker_encoder import EmojiClassifier, StickerEncoder, sticker_map_size
from stickerchat.layers.transformer import TransformerBlock
from stickerchat.layers.utterance_encoder import UtteranceEncoder

__all__ = [
    "ContextPooling",
    "DeepInteraction",
    "EmojiClassifier",
    "FusionNetwork",
    "GatedFusion",
    "HistoryEncoder",
    "LexicalMatch",
    "LookAlikeEvidence",
    "MatchingScore",
    "PlainInteraction",
    "PreferenceMemory",
    "SinusoidalPositionEncoding",
    "StickerEncoder",
    "TransformerBlock",
    "UtteranceEncoder",
    "masked_max",
    "masked_mean",
    "masked_softmax",
    "recency_positions",
    "sticker_map_size",
]
