"""A sticker recommender over a trained model directory, with a sticker-feature cache.

    from stickerchat import Recommender

    rec = Recommender.from_model_dir("runs/demo_pesrs", cache_file="runs/demo_pesrs/sticker_features.npz")
    rec.rank(["hi there", "are you coming tonight ?"],
             user_history=[(["good morning"], 123456789012345678)],
             sticker_set=3)
    # -> [(sticker_id, score), ...] best first

Raw text is tokenised exactly as the training data was, by the corpus
(`corpus.encode_context`): words are whitespace-separated, the last
`context_len` non-empty utterances are kept, each cut to its first
`max_words` words, unknown words map to `<unk>`.

Scoring is split along the model's own seam (`stickerchat.models.ranker`):

* The sticker encoder (Eq. 1, 18) depends on the sticker image only. Its
  outputs O `(p, p, d)` and O_flat `(d,)` are computed once per sticker id and
  kept in memory (`FeatureCache`); with `cache_file` they are also written to
  an `.npz` file (no pickling) that is reused by later processes as long as
  `model.keras` is byte-for-byte the one that produced it, the packed sticker
  images are the same (sha256 of the pack), and the image size and dtype
  policy are unchanged (all stored in the file). A file that does not add up
  (checksum, shapes, row counts, repeated ids, NaNs) or whose features differ
  from a fresh encoding of a few of its stickers is discarded with a warning
  and the stickers are encoded again.
* The matcher (`model.matcher`: Eq. 2–32 for PESRS, a baseline's matcher
  otherwise) scores the cached features of the candidates for the encoded
  dialog and user history. Its candidate axis is free, so every request is
  one row of all its candidates, scored by the model's own matcher (no copy);
  the dialog and history are encoded once per request. In PESRS a
  candidate's score does not depend on the other candidates (the matcher's
  `independent_candidates`: the interaction, fusion and gated fusion are per
  candidate; the memory read depends on the dialog and history only), so the
  scores do not depend on the number or the order of the candidates; the
  tests check this. XLA (`jit_compile`) compiles one program per width of the
  candidate axis (seconds each on a CPU), so for such a matcher the row is
  padded to C·2^k candidates (`compiled_width`) with copies of the first
  candidate, whose scores are dropped.

With `use_cache=False` every call re-encodes the stickers it needs (what the
full model does); `benchmarks/recommend.py` compares both.
"""

from __future__ import annotations

import warnings
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from stickerchat import specs
from stickerchat.data import features as features_lib
from stickerchat.rundir.runfiles import file_sha256
from stickerchat.serving.feature_cache import FeatureCache, cache_key, open_cache
from stickerchat.serving.requests import (  # noqa: F401  (RecommenderError, parse_sticker_id: part of this module's API)
    History,
    RecommenderError,
    RequestEncoder,
    StickerId,
    UnknownWordsWarning,
    parse_sticker_id,
)

ENCODE_BATCH = 64  # stickers per sticker-encoder call
MATCH_BATCH = 32  # matcher rows per call

def predict_in_blocks(model, inputs, block: int):
    """`model.predict_on_batch` over the batch axis in blocks of at most `block` rows.

    Each block is padded (with copies of its first row) to a power of two, so
    the compiled predict function sees at most `log2(block) + 1` shapes
    whatever the number of rows (no retracing per request); the padded rows
    are dropped. Rows are independent at inference, so this does not change
    any output. Returns numpy outputs with the structure of the model's.
    """
    import keras

    flat = keras.tree.flatten(inputs)
    n = int(np.shape(flat[0])[0])
    pieces = []
    for start in range(0, n, block):
        size = min(block, n - start)
        padded = 1 << (size - 1).bit_length()
        index = np.concatenate([np.arange(start, start + size), np.full(padded - size, start)])
        chunk = keras.tree.map_structure(lambda x: np.asarray(x)[index], inputs)
        out = model.predict_on_batch(chunk)
        pieces.append(keras.tree.map_structure(lambda y: np.asarray(y)[:size], out))
    return keras.tree.map_structure(lambda *ys: np.concatenate(ys), *pieces)


class Recommender(RequestEncoder):
    """Ranks stickers for a dialog and a user's history with a trained model.

    Build it with `Recommender.from_model_dir`; the constructor takes the
    pieces directly (tests and notebooks reuse an in-memory model).

    Args:
        model: a loaded `stickerchat.models.StickerRanker` (SRS, PESRS, a
            variant or a trained baseline).
        config: the run's `stickerchat.config.Config`.
        corpus: the `stickerchat.data` corpus the model was trained on (its
            vocabularies and stickers).
        cache_file: Optional[str]. `.npz` file of sticker features to reuse
            and extend (None: in memory only).
        model_sha256: str. sha256 of the model file (validates `cache_file`);
            empty disables reusing the file across models.
        use_cache: bool. False re-encodes the stickers at every call (the
            full model's cost; for comparisons).
        jit_compile: bool. XLA-compile the matcher's predictions under the
            TensorFlow backend (about 1.6× faster on a CPU, once per distinct
            number of candidates; JAX always compiles). Scores equal the
            uncompiled model's within 1e-5.
    """

    def __init__(
        self,
        model,
        config,
        corpus,
        *,
        cache_file: Optional[str] = None,
        model_sha256: str = "",
        use_cache: bool = True,
        jit_compile: bool = True,
    ):
        import keras

        from stickerchat.models import StickerRanker

        if not isinstance(model, StickerRanker):
            raise RecommenderError(
                f"{type(model).__name__} has no sticker encoder and matcher to serve (a StickerRanker is needed)"
            )
        self.model = model
        self.jit_compile = bool(jit_compile) and keras.backend.backend() == "tensorflow"
        self.config = config
        self.corpus = corpus
        self.cache_file = cache_file
        self.use_cache = use_cache
        self.num_candidates = int(config.data.num_candidates)
        self.history_len = int(config.data.history_len)
        self.cache_status = "memory"
        self._known_ids = None
        self._encoder = None
        self._matcher = None
        self._attention = None
        key = cache_key(
            model_sha256,
            corpus.store.content_digest() if cache_file else "",
            config.data.image_size,
            self._policy_name(),
        )
        if cache_file:
            self.cache, self.cache_status = open_cache(cache_file, key, self.known_sticker_ids(), self.encode_stickers)
        else:
            self.cache = FeatureCache(key)

    def _policy_name(self) -> str:
        try:
            from stickerchat.models.serialization import model_policy

            return model_policy(self.model).name
        except Exception:  # noqa: BLE001 - a model without layers: its own policy
            return str(getattr(getattr(self.model, "dtype_policy", None), "name", ""))

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_model_dir(
        cls,
        model_dir: str,
        data_dir: Optional[str] = None,
        cache_file: Optional[str] = None,
        use_cache: bool = True,
        jit_compile: bool = True,
    ) -> "Recommender":
        """Loads `model_dir/model.keras` (safe mode), its `config.json` and corpus.

        Args:
            model_dir: str. A directory written by `stickerchat.train`.
            data_dir: Optional[str]. The corpus to read the vocabulary and
                stickers from (default: the run's own; None in the run means
                the built-in demo corpus).
            cache_file: Optional[str]. Sticker-feature cache file (see
                `FeatureCache`); `RunDir(model_dir).feature_cache_file` is
                the conventional place. None keeps features in memory only.
            use_cache, jit_compile: bool. See the class docstring.
        """

        from stickerchat import data as data_lib
        from stickerchat.rundir import RunDir

        run = RunDir(model_dir)
        config = run.read_config()
        model_path = run.require_model()
        if data_dir is not None:
            config.data_dir = data_dir
        model = run.load_model()
        corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)
        return cls(
            model,
            config,
            corpus,
            cache_file=cache_file,
            model_sha256=file_sha256(model_path),
            use_cache=use_cache,
            jit_compile=jit_compile,
        )

    # ------------------------------------------------------------------ sticker features
    def _sticker_encoder(self):
        """A functional model around the shared `model.sticker_encoder` layer (compiled predict)."""
        if self._encoder is None:
            import keras

            s = self.config.data.image_size
            images = keras.Input((s, s, 3), dtype="uint8", name="images")
            sticker_map, sticker_vector = self.model.sticker_encoder(images)
            self._encoder = keras.Model(images, [sticker_map, sticker_vector], name="sticker_encoder_model")
        return self._encoder

    def encode_stickers(self, sticker_ids: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Runs the sticker encoder: `(O (n, p, p, d), O_flat (n, d))` float32, no caching."""
        images = self.corpus.store.gather(self.corpus.store.rows(sticker_ids))
        maps, vectors = predict_in_blocks(self._sticker_encoder(), images, ENCODE_BATCH)
        return np.asarray(maps, np.float32), np.asarray(vectors, np.float32)

    def sticker_features(self, sticker_ids: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """O and O_flat of `sticker_ids` (from the cache, encoding the missing ones)."""
        sticker_ids = list(sticker_ids)
        if not self.use_cache:
            unique = list(dict.fromkeys(sticker_ids))
            maps, vectors = self.encode_stickers(unique)
            rows = {i: k for k, i in enumerate(unique)}
            index = np.asarray([rows[i] for i in sticker_ids], np.int64)
            return maps[index], vectors[index]
        self.precompute(sticker_ids)
        return self.cache.gather(sticker_ids)

    def precompute(self, sticker_ids: Optional[Iterable[StickerId]] = None) -> int:
        """Encodes and caches stickers (default: every sticker of the corpus).

        Writes `cache_file` when something new was encoded. Returns the number
        of stickers encoded.
        """
        ids = sorted(self.known_sticker_ids()) if sticker_ids is None else [parse_sticker_id(i) for i in sticker_ids]
        missing = self.cache.missing(ids)
        if missing:
            maps, vectors = self.encode_stickers(missing)
            self.cache.add(missing, maps, vectors)
            if self.cache_file:
                self.cache.save(self.cache_file)
        return len(missing)

    # ------------------------------------------------------------------ scoring
    def _candidate_ids(self, candidates, sticker_set) -> List[int]:
        if (candidates is None) == (sticker_set is None):
            raise RecommenderError("give exactly one of candidates=[sticker ids] or sticker_set=SET_ID")
        if sticker_set is not None:
            return self.set_stickers(sticker_set)
        if isinstance(candidates, (str, bytes)):
            raise RecommenderError("candidates must be a list of sticker ids")
        ids = self.check_sticker_ids(candidates)
        if not ids:
            raise RecommenderError("no candidates to rank")
        return ids

    def matcher_inputs(self, dialog: Sequence[str], user_history: Optional[History], candidate_ids: Sequence[int]):
        """The matcher's input dict for raw text and any number of candidates: one row (batch 1)."""
        context = self.encode_dialog(dialog)
        history_context, history_ids, history_mask = self.encode_history(
            user_history if self.model.reads_history else None
        )
        return self.encoded_matcher_inputs(context, history_context, history_ids, history_mask, candidate_ids)

    def encoded_matcher_inputs(self, context, history_context, history_ids, history_mask, candidate_ids):
        """As `matcher_inputs`, from encoded word ids.

        Args:
            context: int32 `(context_len, max_words)`.
            history_context: int32 `(history_len, context_len, max_words)`.
            history_ids: the sticker ids of the real history slots (the True
                entries of `history_mask`, in slot order).
            history_mask: bool `(history_len,)`.
            candidate_ids: any number (>= 1) of sticker ids.

        Returns:
            The dict of `MATCHER_INPUT_NAMES` with batch 1 and
            `compiled_width(len(candidate_ids))` candidates: the given ones
            first, then copies of the first (their scores are to be dropped).
        """
        from stickerchat.models import matcher_inputs

        candidate_ids = [int(i) for i in candidate_ids]
        n = self.compiled_width(len(candidate_ids))
        candidate_ids += candidate_ids[:1] * (n - len(candidate_ids))
        history_mask = np.asarray(history_mask, bool)
        maps, vectors = self.sticker_features(candidate_ids + [int(i) for i in history_ids])
        history_vectors = np.zeros((self.history_len, vectors.shape[-1]), np.float32)
        history_vectors[history_mask] = vectors[n:]
        inputs = matcher_inputs(
            np.asarray(context, np.int32)[None],
            maps[None, :n],
            vectors[None, :n],
            np.asarray(history_context, np.int32)[None],
            history_vectors[None],
            history_mask.astype(np.int32)[None],
        )
        return {k: np.ascontiguousarray(v) for k, v in inputs.items()}

    def score_split(self, split: str = "test", batch_size: int = MATCH_BATCH, max_examples: Optional[int] = None) -> np.ndarray:
        """Scores the fixed candidates of every example of a split with the cache.

        Returns float32 `(examples, num_candidates)` in split order (the same
        scores as the full model on the pipeline's batches).
        """
        from stickerchat.models import matcher_inputs

        data = self.corpus.split(split)
        n = len(data) if max_examples is None else min(len(data), max_examples)
        out = []
        for start in range(0, n, batch_size):
            end = min(n, start + batch_size)
            history = data.history[start:end]
            mask = features_lib.history_mask(history)
            history_context = features_lib.history_context(self.corpus, history)
            candidates = data.candidate_ids[start:end]
            history_ids = features_lib.history_sticker_ids(self.corpus, history)
            b, c = candidates.shape
            maps, vectors = self.sticker_features([int(i) for i in candidates.reshape(-1)] + [int(i) for i in history_ids[mask]])
            d = vectors.shape[-1]
            history_vectors = np.zeros(history.shape + (d,), np.float32)
            history_vectors[mask] = vectors[b * c :]
            inputs = matcher_inputs(
                self.corpus.contexts[data.index[start:end]],
                maps[: b * c].reshape((b, c) + maps.shape[1:]),
                vectors[: b * c].reshape(b, c, d),
                history_context,
                history_vectors,
                np.asarray(mask, np.int32),
            )
            out.append(np.asarray(predict_in_blocks(self.matcher(), inputs, MATCH_BATCH)[specs.SCORES], np.float32))
        return np.concatenate(out) if out else np.zeros((0, self.num_candidates), np.float32)

    def score(
        self,
        dialog: Sequence[str],
        user_history: Optional[History] = None,
        candidates: Optional[Sequence[StickerId]] = None,
        sticker_set=None,
    ) -> Tuple[List[int], np.ndarray]:
        """`(candidate ids, scores float32)` in the candidates' order (see `rank`)."""
        ids = self._candidate_ids(candidates, sticker_set)
        inputs = self.matcher_inputs(dialog, user_history, ids)
        scores = np.asarray(self.matcher().predict_on_batch(inputs)[specs.SCORES], np.float32)
        return ids, scores[0, : len(ids)]

    def rank(
        self,
        dialog: Sequence[str],
        user_history: Optional[History] = None,
        candidates: Optional[Sequence[StickerId]] = None,
        sticker_set=None,
        top_k: Optional[int] = None,
    ) -> List[Tuple[int, float]]:
        """Ranks candidate stickers as the reply to a dialog.

        Args:
            dialog: Sequence[str]. The utterances so far, oldest first (raw
                text; whitespace-separated words).
            user_history: optional list of `(utterances, sticker_id)`: the
                user's earlier sticker replies with the dialogs they answered,
                oldest first (the last `history_len` are used; ignored by SRS).
            candidates: list of sticker ids (int, or strings of digits), any
                number; or
            sticker_set: the id of a sticker set: all its stickers.
            top_k: keep the best `top_k` (None: all; otherwise a positive
                integer).

        Warns:
            UnknownWordsWarning: no word of the dialog is in the vocabulary
                (the text reads as `<unk>` only).

        Returns:
            `[(sticker_id, score), ...]` best first (ties keep the candidates'
            order); every candidate appears once per occurrence.

        Raises:
            RecommenderError: empty dialog, unknown sticker id (named),
                unknown sticker set, both or neither of candidates/sticker_set.
        """
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise RecommenderError(f"top_k must be a positive integer (or None for every candidate), got {top_k!r}")
        known, total = self.known_words(dialog)
        if total and not known:
            warnings.warn(
                f"none of the dialog's {total} words is in the model's vocabulary: "
                "the ranking cannot use the text (check the language and the word segmentation)",
                UnknownWordsWarning,
                stacklevel=2,
            )
        ids, scores = self.score(dialog, user_history, candidates=candidates, sticker_set=sticker_set)
        order = np.argsort(-scores, kind="stable")
        if top_k is not None:
            order = order[:top_k]
        return [(ids[k], float(scores[k])) for k in order]

    def compiled_width(self, count: int) -> int:
        """Candidates per matcher row for `count` candidates.

        `count` itself, except under XLA for a matcher whose candidate scores
        do not depend on each other (`independent_candidates`): then the
        smallest C·2^k >= `count`, so that XLA compiles a few widths rather
        than one per number of candidates.
        """
        if not (self.jit_compile and self.model.matcher.independent_candidates):
            return count
        width = self.num_candidates
        while width < count:
            width *= 2
        return width

    def matcher(self):
        """The model's own matcher as a model (`StickerRanker.matcher_model`), XLA-compiled with `jit_compile`."""
        if self._matcher is None:
            self._matcher = self.model.matcher_model()
            if self.jit_compile:
                self._matcher.compile(jit_compile=True)
        return self._matcher

    def attention_model(self):
        """The model's matcher with its attentions as outputs too (`StickerMatcher.with_attention`: shared weights).

        Raises:
            RecommenderError: the model's matcher has no attentions (a baseline).
        """
        if self._attention is None:
            with_attention = getattr(self.model.matcher, "with_attention", None)
            if with_attention is None:
                raise RecommenderError(f"{self.model.name}'s matcher has no attention outputs to explain")
            self._attention = with_attention()
            if self.jit_compile:
                self._attention.compile(jit_compile=True)
        return self._attention
