"""What every trained baseline's matcher shares.

§6.2 of the PESRS paper adapts each text or VQA model "by changing their
input text encoder to image encoder", the same sticker encoder as PESRS. So
every trained baseline is a `stickerchat.models.ranker.StickerRanker` (the
shared `StickerEncoder` of Eq. 1 and the `EmojiClassifier` of §5.2) around a
baseline-specific *matcher* layer (`SMNMatcher`, `DAMMatcher`, ...), a
`BaselineMatcher`: the map O `(p, p, d)` of each candidate is flattened
row-major into a sequence of p² "sticker units" (the candidate "response
words" of the text models) and O_flat `(d,)` is the sticker vector; the
matcher scores all candidates at once. This module also holds the text-encoder
factory, the argument types and the attention helpers the matchers share.
"""

import math

import keras
from keras import ops

from stickerchat import specs
from stickerchat.layers import UtteranceEncoder, masked_softmax
from stickerchat.models.ranker import CANDIDATE_STICKER_MAP, CANDIDATE_STICKER_VECTOR, HISTORY_STICKER_VECTOR
from stickerchat.models.serialization import ConfigFromInit


def attend(scores, mask, values, axis=-1):
    """Masked softmax of `scores` over `axis`, cast back to the dtype of `values`.

    Args:
        scores: attention logits.
        mask: bool tensor broadcastable to `scores`, True for real keys, or
            None when every key is real.
        values: a tensor whose dtype the weights take (for the einsum that
            follows).
        axis: int. The key axis.

    Returns:
        the attention weights (all zeros where every key is padded).
    """
    if mask is None:
        return ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=axis), values.dtype)
    return ops.cast(masked_softmax(scores, mask, axis=axis), values.dtype)


def dot_scale(dim):
    return 1.0 / math.sqrt(dim)


def last_real_utterance(utterance_mask):
    """One-hot `(batch, turns)` of the most recent real utterance (padding comes after)."""
    count = ops.sum(ops.cast(utterance_mask, "int32"), axis=-1)
    return ops.one_hot(ops.maximum(count - 1, 0), utterance_mask.shape[-1], dtype="float32")


# The `ModelConfig` fields (and matcher arguments of the same names, with
# their types) of every matcher's text side, of the Transformer blocks some
# matchers build (`transformer_block`) and of the matchers that encode text
# with a Transformer `UtteranceEncoder`.
TEXT_ARGUMENTS = {"vocab_size": int, "emb_dim": int, "hidden_dim": int, "init_stddev": float}
BLOCK_ARGUMENTS = {"num_heads": int, "ffn_dim": int, "dropout": float}
TRANSFORMER_ARGUMENTS = {**BLOCK_ARGUMENTS, "num_transformer_layers": int}


def text_kwargs(config):
    """The `ModelConfig` fields every matcher's text side takes."""
    return {key: getattr(config.model, key) for key in TEXT_ARGUMENTS}


def transformer_kwargs(config):
    """The `ModelConfig` fields of the matchers that encode text with Transformer blocks."""
    return {key: getattr(config.model, key) for key in TRANSFORMER_ARGUMENTS}


def utterance_encoder(matcher, context_shape, name, num_layers=0):
    """A built `UtteranceEncoder` (Eq. 2–8) of the matcher's text sizes, under its dtype policy.

    With `num_layers=0` it is the word embeddings and sinusoidal positions
    only (projected to `hidden_dim` when `emb_dim` differs): the word
    embeddings of SMN, DAM and MRFN. Otherwise `num_layers` Transformer
    blocks of the matcher's `num_heads`, `ffn_dim` and `dropout` follow.
    """
    blocks = {"num_heads": 1}
    if num_layers:
        blocks = {key: getattr(matcher, key) for key in BLOCK_ARGUMENTS}
    encoder = UtteranceEncoder(
        matcher.vocab_size,
        matcher.emb_dim,
        matcher.hidden_dim,
        num_layers=num_layers,
        init_stddev=matcher.init_stddev,
        dtype=matcher.dtype_policy,
        name=name,
        **blocks,
    )
    encoder.build(tuple(context_shape))
    return encoder


class BaselineMatcher(ConfigFromInit, keras.layers.Layer):
    """The base of the baselines' matcher layers: the `StickerRanker` matcher protocol.

    The ranker calls a matcher with the dict of `MATCHER_INPUT_NAMES`. This
    base flattens the candidates' map O `(batch, cands, p, p, d)` row-major
    into p² sticker units `(batch, cands, p*p, d)` and calls the subclass's

        match(context, units, vector, [history_vector, history_mask,] training)

    (the history arguments only when `reads_history`), which returns float32
    scores `(batch, cands)`; the output is `{"scores": scores}`. A subclass
    whose candidate scores do not depend on the other candidates of the set
    says so with `independent_candidates = True`. A subclass
    creates (and builds) its sub-layers in `build_matcher(context_shape,
    units_shape)`; `build` then marks the matcher built.
    `get_config` returns the constructor's arguments (`ConfigFromInit`);
    `__init__` stores them with `store_arguments` and the types above.
    """

    reads_history = False
    independent_candidates = False

    def build(self, input_shape):
        map_shape = tuple(input_shape[CANDIDATE_STICKER_MAP])
        units_shape = map_shape[:2] + (map_shape[2] * map_shape[3], map_shape[4])
        self.build_matcher(tuple(input_shape[specs.CONTEXT]), units_shape)
        self.built = True

    def build_from_config(self, config):
        shapes = (config or {}).get("shapes_dict")
        if shapes and "context_shape" in shapes:  # a file saved before the matcher took the input dict
            self.build_matcher(tuple(shapes["context_shape"]), tuple(shapes["units_shape"]))
            self.built = True
            return
        super().build_from_config(config)

    def call(self, inputs, training=False):
        sticker_map = inputs[CANDIDATE_STICKER_MAP]
        p, d = sticker_map.shape[2], sticker_map.shape[4]
        units = ops.reshape(sticker_map, (-1, ops.shape(sticker_map)[1], p * p, d))
        history = {}
        if self.reads_history:
            history = {"history_vector": inputs[HISTORY_STICKER_VECTOR], "history_mask": inputs[specs.HISTORY_MASK]}
        scores = self.match(inputs[specs.CONTEXT], units, inputs[CANDIDATE_STICKER_VECTOR], training=training, **history)
        return {specs.SCORES: scores}

    def compute_output_spec(self, inputs, training=False):
        batch, cands = inputs[specs.CONTEXT].shape[0], inputs[CANDIDATE_STICKER_VECTOR].shape[1]
        return {specs.SCORES: keras.KerasTensor((batch, cands), dtype="float32")}
