"""Recommending from the whole sticker catalogue: recall, then rerank.

    from stickerchat.serving import CatalogueRecommender

    cat = CatalogueRecommender.from_model_dir("runs/demo_pesrs")  # trains the recall stage if missing
    cat.recommend(["are you coming tonight ?"], user_history=[(["hi"], 556029562811581404)], top_k=5)
    # -> [Recommendation(sticker_id, score, emoji, set_id), ...] best first

Two stages:

1. **Recall** (`stickerchat.serving.recall`): a query vector of the dialog
   and the user's history, dotted with one vector per sticker of the
   catalogue, picks the `rerank_depth` best stickers (exact matrix product,
   or faiss HNSW for large catalogues: `stickerchat.serving.index`).
2. **Rerank**: the trained ranker (`stickerchat.Recommender`, any registered
   PESRS/SRS variant) scores only those stickers with the dialog and history;
   its scores order the answer.

The recall model is trained after the ranker
(`stickerchat.serving.recall_training`), on the ranker's frozen sticker
features, distilling the ranker's own score distribution: it learns what the
ranker would put on top, which is what the rerank needs it to keep.
`stickerchat.evaluation.catalogue` measures both stages.

Files in the model directory (each written atomically):

| file                    | what                                                                  |
|-------------------------|-----------------------------------------------------------------------|
| `recall.keras`          | the two towers (`RecallModel`)                                        |
| `recall.json`           | how it was trained; the ranker's sha256 it belongs to                 |
| `recall_embeddings.npz` | one vector per catalogue sticker, keyed by the ranker's and the recall model's sha256 and by a digest of the catalogue's sticker ids; validated on load (keys, shapes, finite values, a re-encoded sample) |

The ranker's per-sticker features (O, O_flat) stay in the recommender's
feature cache (`sticker_features.npz`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from stickerchat.rundir import RunDir, runfiles
from stickerchat.rundir.runfiles import file_sha256
from stickerchat.serving.recommender import (
    MATCH_BATCH,
    History,
    Recommender,
    RecommenderError,
    predict_in_blocks,
)

RECALL_FILE = "recall.keras"
RECALL_INFO_FILE = "recall.json"
EMBEDDINGS_FILE = "recall_embeddings.npz"
EMBEDDINGS_FORMAT = "stickerchat-recall-embeddings-v1"
DEFAULT_RERANK_DEPTH = 100
VALIDATE_SAMPLE = 16  # embeddings re-encoded on load to validate the file
SCORE_CHUNK = 5120  # candidates per ranker call when scoring many (bounds the gathered O maps)


@dataclasses.dataclass(frozen=True)
class Recommendation:
    sticker_id: int
    score: float
    emoji: str
    set_id: int


def ids_digest(sticker_ids: Sequence[int]) -> str:
    """sha256 of the decimal ids joined by newlines (keys files to a catalogue)."""
    return hashlib.sha256("\n".join(str(int(i)) for i in sticker_ids).encode()).hexdigest()


def logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


# ---------------------------------------------------------------------------------- ranker helpers
def score_many(rec: Recommender, queries: Sequence[dict], candidate_ids: Sequence[Sequence[int]]) -> List[np.ndarray]:
    """Ranker scores of many dialogs at once, each against its own candidates.

    Args:
        rec: Recommender.
        queries: dicts with `context`, `history_context`, `history_ids`,
            `history_mask` (as `features.example_inputs` returns).
        candidate_ids: one list per query; all lists have the same length.

    Returns:
        One float32 array per query, in its candidates' order (the same
        scores as `Recommender.score`).
    """
    if not queries:
        return []
    count = len(candidate_ids[0])
    if any(len(c) != count for c in candidate_ids):
        raise ValueError("score_many needs candidate lists of one length")
    matcher = rec.matcher()
    # Queries per call: at most MATCH_BATCH, and at most MATCH_BATCH * 64 * C candidates in all.
    per_call = max(1, min(MATCH_BATCH, MATCH_BATCH * 64 * rec.num_candidates // count))
    out = []
    for start in range(0, len(queries), per_call):
        parts = [
            rec.encoded_matcher_inputs(q["context"], q["history_context"], q["history_ids"], q["history_mask"], c)
            for q, c in zip(queries[start : start + per_call], candidate_ids[start : start + per_call])
        ]
        inputs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        scores = np.asarray(predict_in_blocks(matcher, inputs, MATCH_BATCH)["scores"], np.float32)
        out.extend(s[:count] for s in scores)  # the row may be padded (`Recommender.compiled_width`)
    return out


def raw_query(rec: Recommender, dialog: Sequence[str], user_history: Optional[History]) -> dict:
    """Encodes raw text as `features.example_inputs` does a corpus example (validating it)."""
    context = rec.encode_dialog(dialog)
    history_context, history_ids, history_mask = rec.encode_history(user_history)
    return {"context": context, "history_context": history_context, "history_ids": history_ids, "history_mask": history_mask}


# ---------------------------------------------------------------------------------- embeddings
def save_embeddings(path: str, keys: Dict[str, str], sticker_ids: Sequence[int], embeddings: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format=np.asarray(EMBEDDINGS_FORMAT),
        sticker_ids=np.asarray([str(int(i)) for i in sticker_ids], dtype=str),
        embeddings=np.asarray(embeddings, np.float32),
        **{k: np.asarray(v) for k, v in keys.items()},
    )
    runfiles.write_bytes(path, buffer.getvalue())


def load_embeddings(path: str, keys: Dict[str, str], sticker_ids: Sequence[int], embed_dim: int) -> Tuple[Optional[np.ndarray], str]:
    """`(embeddings or None, status)`: loaded, missing, stale (other keys or stickers) or unreadable."""
    if not os.path.exists(path):
        return None, "missing"
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["format"]) != EMBEDDINGS_FORMAT:
                return None, "unreadable"
            if any(str(f[k]) != v for k, v in keys.items()):
                return None, "stale"
            if [int(s) for s in f["sticker_ids"]] != [int(i) for i in sticker_ids]:
                return None, "stale"
            embeddings = np.asarray(f["embeddings"], np.float32)
    except (OSError, ValueError, KeyError):
        return None, "unreadable"
    if embeddings.shape != (len(sticker_ids), embed_dim) or not np.all(np.isfinite(embeddings)):
        return None, "unreadable"
    return embeddings, "loaded"


# ---------------------------------------------------------------------------------- the recommender
class CatalogueRecommender:
    """Recall over the whole catalogue, then the ranker on the top `rerank_depth`.

    Build it with `from_model_dir`. Sticker features (O, O_flat) and recall
    vectors are computed (or loaded) once, at construction.

    Args:
        rec: Recommender over the trained ranker.
        recall: RecallModel.
        sticker_ids: the catalogue (default: every sticker of the corpus).
        embeddings_file: Optional[str]. Where recall vectors are cached.
        keys: dict of strings the embeddings file is keyed by.
        index_kind: `auto`, `exact` or `hnsw` (`stickerchat.serving.index`).
    """

    def __init__(
        self,
        rec: Recommender,
        recall,
        *,
        sticker_ids: Optional[Sequence[int]] = None,
        embeddings_file: Optional[str] = None,
        keys: Optional[Dict[str, str]] = None,
        index_kind: str = "auto",
        verbose: bool = False,
    ):
        from stickerchat.serving.index import build_index

        self.rec = rec
        self.recall = recall
        ids = sorted(rec.known_sticker_ids()) if sticker_ids is None else [int(i) for i in sticker_ids]
        self.sticker_ids = np.asarray(ids, np.int64)
        self.row_of = {i: k for k, i in enumerate(ids)}
        t0 = time.time()
        encoded = rec.precompute(ids)
        self.vectors = rec.cache.gather(ids)[1]
        keys = dict(keys or {})
        keys["catalogue_digest"] = ids_digest(ids)
        self.embeddings_status = "memory"
        embeddings = None
        if embeddings_file:
            embeddings, self.embeddings_status = load_embeddings(embeddings_file, keys, ids, recall.index_dim)
            if embeddings is not None and not self._sample_matches(embeddings):
                embeddings, self.embeddings_status = None, "stale"
        if embeddings is None:
            embeddings = self.encode_stickers(self.vectors)
            if embeddings_file:
                save_embeddings(embeddings_file, keys, ids, embeddings)
        self.embeddings = embeddings
        t1 = time.time()
        self.index = build_index(embeddings, index_kind)
        self.index_seconds = time.time() - t1
        emoji_tokens = rec.corpus.emoji_vocab.tokens
        self._emoji = {i: emoji_tokens[e] for i, e in rec.corpus.sticker_emoji.items()}
        if verbose:
            print(
                f"catalogue: {len(ids)} stickers ({encoded} encoded by the ranker), recall vectors {self.embeddings_status}, "
                f"{self.index.kind} index built in {self.index_seconds:.2f} s ({time.time() - t0:.1f} s in all)",
                flush=True,
            )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_model_dir(
        cls,
        model_dir: str,
        data_dir: Optional[str] = None,
        *,
        cache_file: Optional[str] = "default",
        index_kind: str = "auto",
        train_if_missing: bool = True,
        rec: Optional[Recommender] = None,
        recall_options: Optional[dict] = None,
        verbose: bool = True,
    ) -> "CatalogueRecommender":
        """Loads the ranker and the recall model of `model_dir`, training the latter if needed.

        The recall model is (re)trained when `recall.keras` is missing or was
        trained for another `model.keras` (its sha256 in `recall.json`); with
        `train_if_missing=False` that is an error instead.
        """
        import keras

        from stickerchat.serving import recall as _recall  # noqa: F401  (registers RecallModel)

        if rec is None:
            cache = RunDir(model_dir).feature_cache_file if cache_file == "default" else cache_file
            rec = Recommender.from_model_dir(model_dir, data_dir=data_dir, cache_file=cache)
        ranker_sha = RunDir(model_dir).model_sha256()
        recall_path = os.path.join(model_dir, RECALL_FILE)
        info_path = os.path.join(model_dir, RECALL_INFO_FILE)
        problem = None
        if not os.path.exists(recall_path) or not os.path.exists(info_path):
            problem = f"{recall_path} not found"
        else:
            with open(info_path) as f:
                info = json.load(f)
            if info.get("ranker_sha256") != ranker_sha:
                problem = f"{recall_path} was trained for another model.keras"
        recall = None
        if not problem:
            try:
                recall = keras.saving.load_model(recall_path, safe_mode=True)
            except (OSError, ValueError, TypeError, KeyError) as e:
                problem = f"{recall_path} is unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        if problem:
            if not train_if_missing:
                raise FileNotFoundError(f"{problem}: train the recall stage (CatalogueRecommender.from_model_dir trains it)")
            if verbose:
                print(f"{problem}: training the recall stage", flush=True)
            from stickerchat.serving.recall_training import train_recall

            recall, _ = train_recall(rec, model_dir, verbose=int(verbose), **(recall_options or {}))
        keys = {"ranker_sha256": ranker_sha, "recall_sha256": file_sha256(recall_path)}
        return cls(
            rec,
            recall,
            embeddings_file=os.path.join(model_dir, EMBEDDINGS_FILE),
            keys=keys,
            index_kind=index_kind,
            verbose=verbose,
        )

    # ------------------------------------------------------------------ pieces
    def __len__(self) -> int:
        return len(self.sticker_ids)

    def encode_stickers(self, vectors: np.ndarray, block: int = 8192) -> np.ndarray:
        out = [np.asarray(self.recall.encode_stickers(vectors[s : s + block]), np.float32) for s in range(0, len(vectors), block)]
        return np.concatenate(out) if out else np.zeros((0, self.recall.index_dim), np.float32)

    def _sample_matches(self, embeddings: np.ndarray) -> bool:
        rows = np.random.default_rng(0).choice(len(embeddings), min(VALIDATE_SAMPLE, len(embeddings)), replace=False)
        return bool(np.allclose(self.encode_stickers(self.vectors[rows]), embeddings[rows], atol=1e-4))

    def emoji(self, sticker_id: int) -> str:
        return self._emoji.get(int(sticker_id), "")

    def set_of(self, sticker_id: int) -> int:
        return int(self.rec.corpus.sticker_set_of.get(int(sticker_id), -1))

    def query_vectors(self, queries: Sequence[dict]) -> np.ndarray:
        """Recall query vectors `(B, e)` of encoded queries (see `raw_query`)."""
        from stickerchat.serving.recall import CONTEXT, HISTORY_MASK, HISTORY_VECTORS

        h = self.rec.history_len
        d = self.vectors.shape[1]
        contexts = np.stack([np.asarray(q["context"], np.int32) for q in queries])
        history = np.zeros((len(queries), h, d), np.float32)
        masks = np.zeros((len(queries), h), np.int32)
        for b, q in enumerate(queries):
            mask = np.asarray(q["history_mask"], bool)
            if mask.any():
                history[b, mask] = self.rec.cache.gather([int(i) for i in q["history_ids"]])[1]
            masks[b] = mask
        inputs = {CONTEXT: contexts, HISTORY_VECTORS: history, HISTORY_MASK: masks}
        return np.asarray(self.recall.predict_on_batch(inputs), np.float32)

    def recall_rows(self, queries: Sequence[dict], k: int) -> Tuple[np.ndarray, np.ndarray]:
        """`(recall scores (B, k), catalogue rows (B, k))`, best first."""
        scores, rows = self.index.search(self.query_vectors(queries), k)
        return scores, rows

    def recall_ids(self, query: dict, k: int) -> List[int]:
        _, rows = self.recall_rows([query], k)
        return [int(self.sticker_ids[r]) for r in rows[0] if r >= 0]

    def _answer(self, ids: Sequence[int], scores: np.ndarray, top_k: Optional[int]) -> List[Recommendation]:
        order = np.argsort(-np.asarray(scores), kind="stable")
        if top_k is not None:
            order = order[:top_k]
        return [Recommendation(int(ids[k]), float(scores[k]), self.emoji(ids[k]), self.set_of(ids[k])) for k in order]

    # ------------------------------------------------------------------ public API
    def recommend(
        self,
        dialog: Sequence[str],
        user_history: Optional[History] = None,
        top_k: Optional[int] = 10,
        rerank_depth: int = DEFAULT_RERANK_DEPTH,
        candidates: Optional[Sequence] = None,
        exhaustive: bool = False,
    ) -> List[Recommendation]:
        """Best stickers for a dialog, ranked by the ranker's score.

        Without `candidates`: the recall stage's top `rerank_depth` stickers
        of the catalogue, reranked (`exhaustive=True`: the ranker scores the
        whole catalogue). With `candidates` (sticker ids): those are ranked
        directly, as `Recommender.rank` does.

        Raises:
            RecommenderError: empty dialog, unknown sticker ids, bad sizes.
        """
        query = raw_query(self.rec, dialog, user_history)
        if candidates is not None:
            if isinstance(candidates, (str, bytes)):
                raise RecommenderError("candidates must be a list of sticker ids")
            ids = self.rec.check_sticker_ids(candidates)
            if not ids:
                raise RecommenderError("no candidates to rank")
        elif exhaustive:
            ids = [int(i) for i in self.sticker_ids]
        else:
            if isinstance(rerank_depth, bool) or not isinstance(rerank_depth, (int, np.integer)) or rerank_depth < 1:
                raise RecommenderError(f"rerank_depth must be a positive integer, got {rerank_depth!r}")
            ids = self.recall_ids(query, int(rerank_depth))
        scores = np.concatenate(
            [score_many(self.rec, [query], [ids[s : s + SCORE_CHUNK]])[0] for s in range(0, len(ids), SCORE_CHUNK)]
        )
        return self._answer(ids, scores, top_k)
