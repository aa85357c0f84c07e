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

import sys
import warnings
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from stickerchat import specs
from stickerchat.rundir.runfiles import file_sha256
from stickerchat.serving.feature_cache import FeatureCache, cache_key

ENCODE_BATCH = 64  # stickers per sticker-encoder call
MATCH_BATCH = 32  # matcher rows per call

StickerId = Union[int, str]
History = Sequence[Tuple[Sequence[str], StickerId]]


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


class RecommenderError(ValueError):
    """A request the recommender cannot answer (unknown sticker or set, empty dialog)."""


class UnknownWordsWarning(UserWarning):
    """No word of the dialog is in the model's vocabulary."""


def parse_sticker_id(value) -> int:
    """An exact int sticker id from an int or a string of digits (never via float).

    Raises:
        RecommenderError: floats, booleans and non-numeric strings.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)):
        raise RecommenderError(
            f"sticker id {value!r} must be an integer or a string of digits, not {type(value).__name__} "
            "(floats cannot hold 18-digit ids exactly)"
        )
    from stickerchat.data.corpus import is_decimal_id

    if isinstance(value, str):
        text = value.strip()
        if not is_decimal_id(text):  # ASCII digits only: "²" passes str.isdigit but not int()
            raise RecommenderError(f"sticker id {value[:40]!r} is not an integer")
        value = int(text)
    value = int(value)
    if not -(2**63) <= value < 2**63:
        raise RecommenderError(f"sticker id {value} is outside the 64-bit integer range of ids")
    return value


class Recommender:
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
            self.cache, self.cache_status = FeatureCache.load(cache_file, key)
            if self.cache_status == "loaded":
                problem = self._spot_check()
                if problem:
                    self.cache, self.cache_status = FeatureCache(key), "discarded"
                    self.cache.problem = problem
            if self.cache_status in ("stale", "unreadable", "discarded"):
                why = {"stale": self.cache.problem, "unreadable": "not a feature cache file of this version"}
                print(
                    f"warning: sticker feature cache {cache_file} not used ({why.get(self.cache_status, self.cache.problem)}); "
                    "the stickers are encoded again and the file is rewritten",
                    file=sys.stderr,
                    flush=True,
                )
        else:
            self.cache = FeatureCache(key)

    SPOT_CHECKS = 3  # cached stickers re-encoded and compared when a cache file is loaded

    def _policy_name(self) -> str:
        try:
            from stickerchat.models.serialization import model_policy

            return model_policy(self.model).name
        except Exception:  # noqa: BLE001 - a model without layers: its own policy
            return str(getattr(getattr(self.model, "dtype_policy", None), "name", ""))

    def _spot_check(self) -> str:
        """Re-encodes a few cached stickers (first, middle, last); why the file cannot be trusted, or ""."""
        known = self.known_sticker_ids()
        ids = [i for i in self.cache.sticker_ids if i in known]
        if not ids:
            return ""
        picks = list(dict.fromkeys(ids[k] for k in np.linspace(0, len(ids) - 1, min(self.SPOT_CHECKS, len(ids))).astype(int)))
        maps, vectors = self.encode_stickers(picks)
        if self.cache.feature_shapes != (tuple(maps.shape[1:]), tuple(vectors.shape[1:])):
            return f"features of shapes {self.cache.feature_shapes}, the encoder gives {maps.shape[1:]}, {vectors.shape[1:]}"
        cached_maps, cached_vectors = self.cache.gather(picks)
        for fresh, cached in ((maps, cached_maps), (vectors, cached_vectors)):
            scale = float(np.max(np.abs(fresh))) + 1e-6
            if float(np.max(np.abs(fresh - cached))) > 1e-2 * scale:
                return "cached features differ from the encoder's for the same stickers"
        return ""

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

    # ------------------------------------------------------------------ encoding
    def known_sticker_ids(self) -> set:
        if self._known_ids is None:
            self._known_ids = {int(i) for i in self.corpus.sticker_set_of}
        return self._known_ids

    def check_sticker_ids(self, sticker_ids: Iterable[StickerId], what: str = "candidate") -> List[int]:
        """Exact int ids; raises `RecommenderError` naming the first unknown one."""
        ids = [parse_sticker_id(i) for i in sticker_ids]
        known = self.known_sticker_ids()
        unknown = [i for i in ids if i not in known]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise RecommenderError(f"unknown {what} sticker id {unknown[0]}{more}: not a sticker of the corpus")
        return ids

    def set_stickers(self, set_id) -> List[int]:
        """The sticker ids of a sticker set, in the corpus's order."""
        sets = self.corpus.sticker_sets
        try:
            key = parse_sticker_id(set_id)
        except RecommenderError:
            raise RecommenderError(f"unknown sticker set {set_id!r}") from None
        if key not in sets:
            raise RecommenderError(f"unknown sticker set {set_id!r}; the corpus has {len(sets)} sets")
        return [int(i) for i in sets[key]]

    def known_words(self, dialog: Sequence[str]) -> Tuple[int, int]:
        """`(known, total)`: words of the dialog's kept utterances that are in the vocabulary."""
        if isinstance(dialog, str):
            dialog = [dialog]
        context = np.asarray(self.corpus.encode_context([str(u) for u in dialog]))
        total = int((context != specs.PAD_ID).sum())
        return total - int((context == specs.UNK_ID).sum()), total

    def sticker_label(self, sticker_id: int) -> str:
        """The sticker's emoji label from its set's `emoji_mapping.txt` ("" when it has none)."""
        return self.corpus.sticker_alt.get(int(sticker_id), "")

    def encode_dialog(self, dialog: Sequence[str]) -> np.ndarray:
        """`(context_len, max_words)` int32 word ids of raw utterances, oldest first."""
        if isinstance(dialog, str):
            raise RecommenderError("the dialog must be a list of utterances, not one string")
        if not any(str(u).split() for u in dialog):
            raise RecommenderError("empty dialog: every utterance is empty; give at least one word")
        return np.asarray(self.corpus.encode_context([str(u) for u in dialog]), np.int32)

    def encode_history(self, user_history: Optional[History]):
        """`(history_context, history_ids, history_mask)` of the last `history_len` items.

        `history_context` is `(history_len, context_len, max_words)`;
        `history_ids` the real items' sticker ids, oldest first.
        """
        c = self.config.data
        history = list(user_history or [])[-self.history_len :] if self.history_len else []
        contexts = np.zeros((self.history_len, c.context_len, c.max_words), np.int32)
        mask = np.zeros((self.history_len,), bool)
        ids = []
        for k, item in enumerate(history):
            try:
                utterances, sticker_id = item
            except (TypeError, ValueError):
                raise RecommenderError(f"history item {k} must be (utterances, sticker_id); got {item!r}") from None
            if isinstance(utterances, str):
                raise RecommenderError(f"history item {k}: utterances must be a list of strings")
            contexts[k] = np.asarray(self.corpus.encode_context([str(u) for u in utterances]), np.int32)
            mask[k] = True
            ids.append(sticker_id)
        ids = self.check_sticker_ids(ids, "history")
        return contexts, ids, mask

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

    def example_inputs(self, split: str, position: int):
        """The encoded pieces of the `position`-th example of a corpus split.

        Returns a dict with `context`, `history_context`, `history_ids`,
        `history_mask`, `candidate_ids` (the split's fixed candidates) and
        `label` (slot of the ground truth), as the training pipeline sees them.
        """
        data = self.corpus.split(split)
        history = data.history[position]
        mask = history >= 0
        rows = np.where(mask, history, 0)
        history_context = self.corpus.contexts[rows] * mask[:, None, None]
        return {
            "context": self.corpus.contexts[data.index[position]],
            "history_context": history_context.astype(np.int32),
            "history_ids": [int(i) for i in self.corpus.selected[rows][mask]],
            "history_mask": mask,
            "candidate_ids": [int(i) for i in data.candidate_ids[position]],
            "label": int(data.label[position]),
        }

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
            mask = history >= 0
            rows = np.where(mask, history, 0)
            history_context = (self.corpus.contexts[rows] * mask[..., None, None]).astype(np.int32)
            candidates = data.candidate_ids[start:end]
            history_ids = self.corpus.selected[rows]
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
