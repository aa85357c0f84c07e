"""Top-k inner-product search over the catalogue's sticker vectors.

* `ExactIndex`: one matrix product and a partial sort (`np.argpartition`).
  Exact; the baseline.
* `HNSWIndex`: faiss's HNSW graph (`faiss.IndexHNSWFlat`, inner product).
  Approximate; its search cost grows roughly with log(n) instead of n.
  faiss-cpu was chosen over usearch by measurement: on 100,000 random unit
  vectors of 64 dimensions faiss built the graph in 46 s against 76 s and
  kept 82% of the exact top 100 against 60% at a similar search time
  (README, "Whole-catalogue recommendation").

`build_index(vectors, kind)` picks one; `kind="auto"` uses the exact index
up to `AUTO_EXACT_MAX` stickers and HNSW above. The crossover, measured by
`benchmarks/catalogue.py` on this project's 2-core machine (65-dimensional
recall vectors, top 100, one query at a time): HNSW searches faster at every
size measured (1.3 ms against 3.0 ms at 100,000 stickers; 1.0 ms against
16.5 ms at 1,000,000), but it loses 10-18% of the exact top 100 and takes
22 s (100,000) to 255 s (1,000,000) to build. Exact search stays within a
third of the 50 ms budget up to about 1,000,000 stickers (the released
corpus has 174,695), so "auto" keeps it exact up to there.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

def _faiss():
    """`import faiss`, without its loader's INFO lines about CPU-specific builds it did not find."""
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


AUTO_EXACT_MAX = 1_000_000  # stickers; above this "auto" builds HNSW
INDEX_KINDS = ("auto", "exact", "hnsw")


class ExactIndex:
    """Exact top-k by inner product with every vector.

    With faiss installed this is `faiss.IndexFlatIP` searched on one thread
    (a fused matrix product and heap: 0.9 ms for 100,000 × 65 against 30 ms
    for numpy's product + `argpartition`, measured side by side on this
    project's loaded 2-core machine); otherwise numpy. Both are exact; ties
    may come in another order.

    Args:
        vectors: float32 `(n, e)`.
        use_faiss: bool. False forces the numpy path.
    """

    kind = "exact"

    def __init__(self, vectors: np.ndarray, use_faiss: bool = True):
        self.vectors = np.ascontiguousarray(vectors, np.float32)
        self._faiss = None
        if use_faiss:
            try:
                faiss = _faiss()
            except ImportError:  # pragma: no cover - faiss-cpu is a requirement
                faiss = None
            if faiss is not None:
                self._faiss = faiss.IndexFlatIP(self.vectors.shape[1])
                self._faiss.add(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes) * (2 if self._faiss is not None else 1)

    def search(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """`(scores (B, k), rows (B, k))`, best first, for queries `(B, e)` (k capped at n)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        k = min(int(k), len(self.vectors))
        if self._faiss is not None:
            _faiss().omp_set_num_threads(1)
            scores, rows = self._faiss.search(queries, k)
            return scores, rows.astype(np.int64)
        scores = queries @ self.vectors.T  # (B, n)
        if k < scores.shape[1]:
            part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        top = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        rows = np.take_along_axis(part, order, axis=1)
        return np.take_along_axis(top, order, axis=1), rows.astype(np.int64)


class HNSWIndex:
    """Approximate top-k with faiss's HNSW graph (inner product).

    Args:
        vectors: float32 `(n, e)`.
        m: int. Graph degree (faiss's M).
        ef_construction: int. Build-time beam.
        ef_search: int. Search-time beam (at least k is used).
        threads: int. faiss OpenMP threads for the build (searches use one:
            a single query gains nothing from more, and a loaded machine
            loses much).
    """

    kind = "hnsw"

    def __init__(self, vectors: np.ndarray, m: int = 16, ef_construction: int = 64, ef_search: int = 512, threads: int = 2):
        faiss = _faiss()

        vectors = np.ascontiguousarray(vectors, np.float32)
        self.threads = int(threads)
        faiss.omp_set_num_threads(self.threads)
        self.index = faiss.IndexHNSWFlat(vectors.shape[1], int(m), faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = int(ef_construction)
        self.index.add(vectors)
        self.ef_search = int(ef_search)
        self._n = len(vectors)
        self._dim = vectors.shape[1]
        self.m = int(m)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        # Vectors plus about 2·M neighbour ids (int32) per node on the bottom layer.
        return int(self._n * (4 * self._dim + 4 * 2 * self.m))

    def search(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        k = min(int(k), self._n)
        faiss.omp_set_num_threads(1)
        self.index.hnsw.efSearch = max(self.ef_search, k)
        scores, rows = self.index.search(queries, k)
        return scores, rows.astype(np.int64)


def build_index(vectors: np.ndarray, kind: str = "auto", **kwargs):
    """An index over `vectors` (`kind`: auto, exact or hnsw)."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {INDEX_KINDS}")
    if kind == "auto":
        kind = "exact" if len(vectors) <= AUTO_EXACT_MAX else "hnsw"
    return ExactIndex(vectors) if kind == "exact" else HNSWIndex(vectors, **kwargs)
