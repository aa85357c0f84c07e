"""The recall stage's two towers (Keras 3, `keras.ops` only).

A dialog (with the user's history) and a sticker are each mapped to a unit
vector of `embed_dim`; their dot product, times a learned scale, plus a
learned per-sticker bias (from the sticker's features), is the recall
score; both are folded into one inner product of `embed_dim + 1` vectors. The whole catalogue is scored by one matrix product (or an
approximate inner-product index, `stickerchat.serving.index`).

* Sticker tower: the trained ranker's frozen O_flat `(d,)` (the pooled
  output of its sticker encoder, Eq. 18), cached once per sticker, through a
  two-layer MLP.
* Dialog tower: word embeddings of the dialog, pooled three ways (mean and
  max over every word, mean over the last non-empty utterance), and the
  user's history: the mean of the O_flat of the stickers the user chose
  before (masked; zero without a history), projected. A two-layer MLP maps
  the concatenation to the query vector.

`RecallModel` holds both towers and is what is saved (`recall.keras`).
`CatalogueSoftmax` wraps it for training only: it keeps the catalogue's
O_flat in a non-trainable variable and scores each example's pool of
catalogue rows (the whole catalogue, or a sample of it for large ones), so
the training inputs stay small.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from stickerchat.models.serialization import ConfigFromInit

CONTEXT = "context"
HISTORY_VECTORS = "history_vectors"
HISTORY_MASK = "history_mask"
HISTORY_ROWS = "history_rows"
POOL_ROWS = "pool_rows"
POOL_MASK = "pool_mask"
NEG_INF = -1e9


def _l2_normalize(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


@keras.saving.register_keras_serializable(package="stickerchat")
class RecallModel(ConfigFromInit, keras.Model):
    """Dialog tower and sticker tower of the recall stage.

    Args:
        vocab_size: int. Word vocabulary (id 0 is padding).
        sticker_dim: int. Size of the ranker's O_flat.
        emb_dim: int. Word embedding size.
        hidden_dim: int. Hidden layer of both towers' MLPs.
        embed_dim: int. Size of the query and sticker vectors.
        init_scale: float. Initial logit scale (the cosine is multiplied by
            it; learned).
    """

    def __init__(self, vocab_size, sticker_dim, emb_dim=64, hidden_dim=128, embed_dim=64, init_scale=10.0, **kwargs):
        super().__init__(**kwargs)
        self.store_arguments(
            vocab_size=int, sticker_dim=int, emb_dim=int, hidden_dim=int, embed_dim=int, init_scale=float
        )
        self.word_embedding = keras.layers.Embedding(self.vocab_size, self.emb_dim, name="word_embedding")
        self.history_projection = keras.layers.Dense(self.emb_dim, name="history_projection")
        self.dialog_hidden = keras.layers.Dense(self.hidden_dim, activation="relu", name="dialog_hidden")
        self.dialog_out = keras.layers.Dense(self.embed_dim, name="dialog_out")
        self.sticker_hidden = keras.layers.Dense(self.hidden_dim, activation="relu", name="sticker_hidden")
        self.sticker_out = keras.layers.Dense(self.embed_dim, name="sticker_out")
        self.sticker_bias = keras.layers.Dense(1, name="sticker_bias")
        self.log_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(math.log(self.init_scale)), name="log_scale"
        )

    def build(self, input_shape=None):
        self.word_embedding.build((None, None))
        self.history_projection.build((None, self.sticker_dim))
        self.dialog_hidden.build((None, 4 * self.emb_dim + 1))
        self.dialog_out.build((None, self.hidden_dim))
        self.sticker_hidden.build((None, self.sticker_dim))
        self.sticker_out.build((None, self.hidden_dim))
        self.sticker_bias.build((None, self.hidden_dim))
        self.built = True

    @property
    def index_dim(self) -> int:
        """Size of the vectors the index holds: `embed_dim` + 1 (the bias slot)."""
        return self.embed_dim + 1

    @property
    def scale(self):
        return ops.exp(self.log_scale)

    def encode_query(self, context, history_vectors, history_mask):
        """Query vectors `(B, embed_dim + 1)`: unit length, then a constant 1 (meets the sticker's bias).

        Args:
            context: int `(B, context_len, max_words)` word ids (0 = padding),
                utterances oldest first, padding utterances after the last.
            history_vectors: float `(B, history_len, sticker_dim)` O_flat of
                the user's earlier stickers.
            history_mask: `(B, history_len)`, 1 for real history items.
        """
        context = ops.cast(context, "int32")
        words = self.word_embedding(context)  # (B, L, W, e)
        word_mask = ops.cast(ops.not_equal(context, 0), words.dtype)  # (B, L, W)
        m = ops.expand_dims(word_mask, -1)
        total = ops.sum(words * m, axis=(1, 2))
        count = ops.sum(word_mask, axis=(1, 2))
        mean_all = total / ops.maximum(ops.expand_dims(count, -1), 1.0)
        max_all = ops.max(ops.where(m > 0, words, NEG_INF), axis=(1, 2))
        max_all = ops.where(ops.expand_dims(count, -1) > 0, max_all, 0.0)
        # The last non-empty utterance (utterances are packed from slot 0).
        per_utterance = ops.sum(word_mask, axis=2)  # (B, L)
        num_utterances = ops.sum(ops.cast(per_utterance > 0, "int32"), axis=1)
        last = ops.one_hot(ops.maximum(num_utterances - 1, 0), ops.shape(context)[1], dtype=words.dtype)  # (B, L)
        last_sum = ops.sum(ops.sum(words * m, axis=2) * ops.expand_dims(last, -1), axis=1)
        last_count = ops.sum(per_utterance * last, axis=1, keepdims=True)
        mean_last = last_sum / ops.maximum(last_count, 1.0)
        hmask = ops.cast(history_mask, words.dtype)  # (B, H)
        hcount = ops.sum(hmask, axis=1, keepdims=True)
        hmean = ops.sum(ops.cast(history_vectors, words.dtype) * ops.expand_dims(hmask, -1), axis=1) / ops.maximum(hcount, 1.0)
        history = self.history_projection(hmean) * ops.cast(hcount > 0, words.dtype)
        has_history = ops.cast(hcount > 0, words.dtype)
        features = ops.concatenate([mean_all, max_all, mean_last, history, has_history], axis=-1)
        query = _l2_normalize(self.dialog_out(self.dialog_hidden(features)))
        return ops.concatenate([query, ops.ones_like(query[..., :1])], axis=-1)

    def encode_stickers(self, sticker_vectors):
        """Sticker vectors `(..., embed_dim + 1)` from O_flat `(..., sticker_dim)`.

        The first `embed_dim` entries are the unit sticker vector times the
        learned scale, the last is the sticker's learned bias, so that
        `query · sticker` = scale · cosine + bias: the recall score, one
        inner product.
        """
        hidden = self.sticker_hidden(ops.cast(sticker_vectors, "float32"))
        unit = _l2_normalize(self.sticker_out(hidden))
        return ops.concatenate([self.scale * unit, self.sticker_bias(hidden)], axis=-1)

    def call(self, inputs):
        """Query vectors of a dict with `context`, `history_vectors`, `history_mask`."""
        return self.encode_query(inputs[CONTEXT], inputs[HISTORY_VECTORS], inputs[HISTORY_MASK])


class CatalogueSoftmax(keras.Model):
    """Training wrapper: logits of each example's pool of catalogue stickers.

    Inputs: a dict with `context`, `history_rows` int `(B, history_len)`
    (rows of `catalogue_vectors`; any row where masked), `history_mask`,
    `pool_rows` int `(B, P)` (rows of `catalogue_vectors`) and `pool_mask`
    `(B, P)` (0 for padding slots). Output: logits `(B, P)`, scale × cosine
    + bias, padding slots at -1e9. Trained with a categorical cross-entropy against a
    target distribution over the pool.

    Args:
        recall: RecallModel.
        catalogue_vectors: float32 `(n, sticker_dim)` O_flat of the catalogue
            (kept in a non-trainable variable; not saved with `recall`).
    """

    def __init__(self, recall: RecallModel, catalogue_vectors, **kwargs):
        super().__init__(**kwargs)
        self.recall = recall
        shape = tuple(int(s) for s in catalogue_vectors.shape)
        self.catalogue = self.add_weight(
            shape=shape, initializer="zeros", trainable=False, dtype="float32", name="catalogue_vectors"
        )
        self.catalogue.assign(catalogue_vectors)

    def call(self, inputs):
        history = ops.take(self.catalogue, ops.cast(inputs[HISTORY_ROWS], "int32"), axis=0)  # (B, H, d)
        query = self.recall.encode_query(inputs[CONTEXT], history, inputs[HISTORY_MASK])
        pool = ops.take(self.catalogue, ops.cast(inputs[POOL_ROWS], "int32"), axis=0)  # (B, P, d)
        stickers = self.recall.encode_stickers(pool)  # (B, P, e)
        logits = ops.einsum("be,bpe->bp", query, stickers)
        return ops.where(ops.cast(inputs[POOL_MASK], "bool"), logits, NEG_INF)
