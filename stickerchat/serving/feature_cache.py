"""The sticker-feature cache: sticker-encoder outputs per sticker id, in memory and in an `.npz` file.

`Recommender` (`stickerchat.serving.recommender`) computes the sticker
encoder's outputs O `(p, p, d)` and O_flat `(d,)` once per sticker id and keeps
them here; with a cache file they are reused by later processes as long as the
file was written for the same model file, sticker data, image size and dtype
policy (`cache_key`). `FeatureCache` documents the file format.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

CACHE_FORMAT = "stickerchat-sticker-features-v2"


def cache_key(model_sha256: str, stickers: str, image_size: int, dtype_policy: str) -> Dict[str, str]:
    """What a feature cache file is valid for: the model file, the sticker data, the image size and the dtype policy."""
    return {
        "model_sha256": str(model_sha256),
        "stickers_sha256": str(stickers),
        "image_size": str(int(image_size)),
        "dtype_policy": str(dtype_policy),
    }


def _checksum(ids: np.ndarray, maps: np.ndarray, vectors: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(" ".join(str(i) for i in ids.tolist()).encode())
    for array in (maps, vectors):
        h.update(str(array.shape).encode())
        h.update(np.ascontiguousarray(array, np.float32).tobytes())
    return h.hexdigest()


class FeatureCache:
    """Sticker-encoder outputs per sticker id: O `(p, p, d)` and O_flat `(d,)`, float32.

    Rows live in two growing arrays so that gathering 1,000 candidates is one
    fancy-indexing copy. `save`/`load` use an `.npz` file without pickling:

    | key            | dtype   | shape        |                                          |
    |----------------|---------|--------------|------------------------------------------|
    | format         | str     | ()           | `CACHE_FORMAT`                           |
    | key            | str     | ()           | JSON of `cache_key(...)`                 |
    | model_sha256   | str     | ()           | sha256 of the `model.keras` used         |
    | sticker_ids    | str     | (n,)         | decimal sticker ids (exact, distinct)    |
    | maps           | float32 | (n, p, p, d) | O                                        |
    | vectors        | float32 | (n, d)       | O_flat                                   |
    | checksum       | str     | ()           | sha256 of ids, maps and vectors          |

    A file written for another model file, other sticker data (the packed
    images' sha256), another image size or dtype policy is `stale`; one whose
    content does not add up (checksum, shapes, row counts, repeated ids,
    non-finite values) is `discarded` with the reason in `problem`. Either
    way an empty cache is returned and the file is overwritten at the next
    save. (`Recommender` also re-encodes a few cached stickers and compares.)

    Args:
        key: dict from `cache_key` (a plain string is taken as the model
            file's sha256 alone).
    """

    def __init__(self, key=None):
        if not isinstance(key, dict):
            key = {"model_sha256": str(key or "")}
        self.key = dict(key)
        self.model_sha256 = self.key.get("model_sha256", "")
        self.problem = ""
        self._rows: Dict[int, int] = {}
        self._maps: Optional[np.ndarray] = None
        self._vectors: Optional[np.ndarray] = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, sticker_id: int) -> bool:
        return sticker_id in self._rows

    @property
    def sticker_ids(self) -> List[int]:
        return list(self._rows)

    def missing(self, sticker_ids: Iterable[int]) -> List[int]:
        """The ids (each once, in first-seen order) that are not cached."""
        return list(dict.fromkeys(i for i in sticker_ids if i not in self._rows))

    def add(self, sticker_ids: Sequence[int], maps: np.ndarray, vectors: np.ndarray) -> None:
        maps = np.asarray(maps, np.float32)
        vectors = np.asarray(vectors, np.float32)
        if len(maps) != len(sticker_ids) or len(vectors) != len(sticker_ids):
            raise ValueError(f"{len(sticker_ids)} sticker ids for {len(maps)} maps and {len(vectors)} vectors")
        if self._maps is None:
            capacity = max(64, len(sticker_ids))
            self._maps = np.zeros((capacity,) + maps.shape[1:], np.float32)
            self._vectors = np.zeros((capacity,) + vectors.shape[1:], np.float32)
        elif maps.shape[1:] != self._maps.shape[1:] or vectors.shape[1:] != self._vectors.shape[1:]:
            raise ValueError(f"feature shapes {maps.shape[1:]}, {vectors.shape[1:]} do not match the cache's")
        needed = self._size + len(sticker_ids)
        if needed > len(self._maps):
            capacity = max(needed, 2 * len(self._maps))
            self._maps = np.concatenate([self._maps, np.zeros((capacity - len(self._maps),) + self._maps.shape[1:], np.float32)])
            self._vectors = np.concatenate(
                [self._vectors, np.zeros((capacity - len(self._vectors),) + self._vectors.shape[1:], np.float32)]
            )
        for k, sticker_id in enumerate(sticker_ids):
            row = self._rows.get(sticker_id)
            if row is None:
                row = self._rows[sticker_id] = self._size
                self._size += 1
            self._maps[row] = maps[k]
            self._vectors[row] = vectors[k]

    def gather(self, sticker_ids: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """`(maps (n, p, p, d), vectors (n, d))` of cached ids (KeyError if one is missing)."""
        rows = np.asarray([self._rows[i] for i in sticker_ids], np.int64)
        return self._maps[rows], self._vectors[rows]

    @property
    def feature_shapes(self) -> Optional[Tuple[tuple, tuple]]:
        """`((p, p, d), (d,))` of the cached rows; None while empty."""
        if self._maps is None:
            return None
        return tuple(self._maps.shape[1:]), tuple(self._vectors.shape[1:])

    def save(self, path: str) -> None:
        """Writes the cache atomically (a temporary file renamed over `path`)."""
        import json

        from stickerchat.rundir.runfiles import atomic_path

        n = self._size
        ids = np.asarray([str(i) for i in self._rows], dtype=str) if n else np.zeros((0,), "<U1")
        maps = self._maps[:n] if n else np.zeros((0,), np.float32)
        vectors = self._vectors[:n] if n else np.zeros((0,), np.float32)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            format=np.asarray(CACHE_FORMAT),
            key=np.asarray(json.dumps(self.key, sort_keys=True)),
            model_sha256=np.asarray(self.model_sha256),
            sticker_ids=ids,
            maps=maps,
            vectors=vectors,
            checksum=np.asarray(_checksum(np.asarray([int(i) for i in self._rows], np.int64), maps, vectors)),
        )
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(buffer.getvalue())

    @classmethod
    def load(cls, path: str, key) -> Tuple["FeatureCache", str]:
        """Reads a cache file; returns `(cache, status)`.

        `status` is `loaded`, `missing` (no file), `stale` (written for another
        model file, sticker data, image size or dtype policy), `unreadable`
        (not a cache file of this format) or `discarded` (its content does not
        add up: `cache.problem` says how). In every case but `loaded` the
        cache is empty and the file is overwritten at the next save.
        """
        import json

        cache = cls(key)
        if not os.path.exists(path):
            return cache, "missing"
        try:
            with np.load(path, allow_pickle=False) as f:
                if "format" not in f.files or str(f["format"]) != CACHE_FORMAT:
                    return cache, "unreadable"
                stored = json.loads(str(f["key"]))
                if stored != cache.key:
                    cache.problem = "written for another " + ", ".join(
                        k for k in sorted(set(stored) | set(cache.key)) if stored.get(k) != cache.key.get(k)
                    )
                    return cache, "stale"
                raw_ids, maps, vectors, checksum = f["sticker_ids"], f["maps"], f["vectors"], str(f["checksum"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return cls(key), "unreadable"
        problem = _check_content(raw_ids, maps, vectors, checksum)
        if problem:
            cache.problem = problem
            return cache, "discarded"
        ids = [int(s) for s in raw_ids]
        if ids:
            cache.add(ids, maps, vectors)
        return cache, "loaded"


def _check_content(raw_ids, maps, vectors, checksum) -> str:
    """Why a cache file's arrays cannot be used ("" when they can)."""
    from stickerchat.data.corpus import is_decimal_id

    n = len(raw_ids)
    if raw_ids.ndim != 1 or not all(is_decimal_id(str(s)) for s in raw_ids.tolist()):
        return "the sticker ids are not integers"
    if n == 0:
        return ""
    if maps.dtype != np.float32 or vectors.dtype != np.float32:
        return f"features of dtype {maps.dtype}/{vectors.dtype}, not float32"
    if maps.ndim != 4 or vectors.ndim != 2 or maps.shape[0] != n or vectors.shape[0] != n or maps.shape[-1] != vectors.shape[-1]:
        return f"{n} sticker ids for maps of shape {maps.shape} and vectors of shape {vectors.shape}"
    ids = np.asarray([int(s) for s in raw_ids.tolist()], np.int64)
    if len(set(ids.tolist())) != n:
        return "a sticker id appears twice"
    if not (np.all(np.isfinite(maps)) and np.all(np.isfinite(vectors))):
        return "non-finite features"
    if _checksum(ids, maps, vectors) != checksum:
        return "the checksum does not match its content"
    return ""
