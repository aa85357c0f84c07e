"""Sticker images: normalisation of the released `.npy` arrays and the packed store.

The released stickers are one `.npy` array per sticker whose dtype, value range
and channel count are not documented. `normalize_sticker` turns any accepted
form into uint8 RGB of the configured size:

* dtype: uint8 as is; other integer types and bool are read as 0..255 (bool:
  True = 255) and clipped; float arrays are read as [0, 1] when their maximum
  is at most 1.0 and as [0, 255] otherwise (then clipped to [0, 255]). The
  rule only misreads a [0, 255] float image that is entirely darker than 1/255
  (it becomes brighter); non-finite values are an error.
* shape: H×W (grey), H×W×1 (grey), H×W×3 (RGB), H×W×4 (RGBA: alpha is
  composited over white, so a fully transparent pixel becomes white).
* size: any; resized with PIL bicubic resampling to `image_size × image_size`
  (an array already of that size is not resampled).

`StickerStore` packs every sticker once into one contiguous uint8 file
`(num_stickers, S, S, 3)` (an `.npy` file, so `np.load(mmap_mode="r")` can map
it) in a cache directory keyed by the data directory's absolute path, a
fingerprint of its sticker files (names, sizes, mtimes) and the image size.
Packing streams sticker by sticker, so its memory stays bounded; training then
reads rows with positional reads (`os.preadv`) into the batch buffer, so the
resident memory of the reader does not grow with the file either.
Arrays are always loaded with `np.load(path, allow_pickle=False)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from stickerchat.data.errors import DataError

_FORMAT_VERSION = 1
_RESAMPLE = Image.Resampling.BICUBIC


def normalize_sticker(array: np.ndarray, image_size: int) -> np.ndarray:
    """Converts a sticker array of any accepted form to uint8 RGB `(S, S, 3)`.

    Args:
        array: np.ndarray. H×W, H×W×1, H×W×3 or H×W×4; uint8, another integer
            type, bool or float (see the module docstring for value ranges).
        image_size: int. Output side S.

    Returns:
        np.ndarray of dtype uint8 and shape `(image_size, image_size, 3)`.

    Raises:
        ValueError: unsupported shape or dtype, empty or non-finite array.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"unsupported sticker array shape {np.shape(array)}: expected H×W, H×W×1, H×W×3 or H×W×4")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"empty sticker array of shape {a.shape}")

    if a.dtype == np.uint8:
        pixels = a
    elif a.dtype == np.bool_:
        pixels = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.integer):
        pixels = np.clip(a, 0, 255).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        f = a.astype(np.float32)
        if not np.all(np.isfinite(f)):
            raise ValueError("sticker array has non-finite values")
        if f.max() <= 1.0:
            f = f * 255.0
        pixels = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unsupported sticker dtype {a.dtype}")

    channels = pixels.shape[-1]
    if channels == 1:
        rgb = np.repeat(pixels, 3, axis=-1)
    elif channels == 3:
        rgb = pixels
    else:  # RGBA over white: out = rgb * alpha + 255 * (1 - alpha).
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        composite = pixels[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        rgb = np.clip(np.rint(composite), 0, 255).astype(np.uint8)

    if rgb.shape[0] != image_size or rgb.shape[1] != image_size:
        rgb = np.asarray(Image.fromarray(np.ascontiguousarray(rgb), "RGB").resize((image_size, image_size), _RESAMPLE))
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def sticker_path(data_dir: str, set_id: int, sticker_id: int) -> str:
    """`DATA_DIR/npy_stickers/<set>/<sticker>.npy`."""
    return os.path.join(data_dir, "npy_stickers", str(set_id), f"{sticker_id}.npy")


def load_sticker(path: str, sticker_id: int, image_size: int) -> np.ndarray:
    """Loads one `.npy` sticker (never with pickling) and normalises it.

    Raises:
        DataError: the file is missing (`reason="sticker_file_missing"`) or
            unreadable / of an unsupported form (`"sticker_file_unreadable"`);
            the message names the file and the sticker id.
    """
    if not os.path.isfile(path):
        raise DataError(f"{path}: sticker file of sticker {sticker_id} not found", "sticker_file_missing")
    try:
        array = np.load(path, allow_pickle=False)
        if not isinstance(array, np.ndarray):
            raise ValueError("not a single array (an .npz archive?)")
        return normalize_sticker(array, image_size)
    except Exception as e:  # noqa: BLE001 - any failure is reported with the file and id.
        raise DataError(f"{path}: cannot read sticker {sticker_id}: {type(e).__name__}: {e}", "sticker_file_unreadable") from e


def fingerprint_sticker_files(data_dir: str, set_ids: Iterable[int]) -> str:
    """Hash of the names, sizes and mtimes of every file of the given sets."""
    h = hashlib.sha1()
    for set_id in set_ids:
        set_dir = os.path.join(data_dir, "npy_stickers", str(set_id))
        h.update(f"set {set_id}\n".encode())
        try:
            entries = sorted(os.scandir(set_dir), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            st = entry.stat()
            h.update(f"{entry.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class StickerStore:
    """All stickers of a corpus as one contiguous uint8 `(N, S, S, 3)` file.

    Use `StickerStore.build` to pack (or reuse the cached pack of) a data
    directory. Rows follow the order of the `stickers` given to `build`.

    Attributes:
        path: str. The packed `.npy` file.
        image_size: int. S.
        sticker_ids: np.ndarray. int64 `(N,)`, the sticker of each row.
        bad: Dict[int, Tuple[str, str]]. Stickers whose file was missing or
            unreadable: id -> (reason, message). Their rows are zeros and are
            never used by the corpus.
    """

    def __init__(self, path: str, sticker_ids: np.ndarray, image_size: int, bad: Dict[int, Tuple[str, str]]):
        self.path = path
        self.image_size = int(image_size)
        self.sticker_ids = np.asarray(sticker_ids, dtype=np.int64)
        self.bad = dict(bad)
        self._row_of = {int(s): i for i, s in enumerate(self.sticker_ids.tolist())}
        header = np.load(path, mmap_mode="r")
        expected = (len(self.sticker_ids), self.image_size, self.image_size, 3)
        if header.shape != expected or header.dtype != np.uint8:
            raise DataError(f"{path}: packed stickers have shape {header.shape}, expected {expected}", "cache_corrupt")
        self._offset = header.offset
        del header
        self._row_bytes = self.image_size * self.image_size * 3
        self._fd: Optional[int] = None
        self._lock = threading.Lock()

    # --- Building -------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        data_dir: str,
        stickers: Sequence[Tuple[int, int]],
        image_size: int,
        cache_dir: str,
        *,
        skip_bad: bool = False,
        verbose: bool = True,
    ) -> "StickerStore":
        """Packs the stickers of a data directory, or reuses the cached pack.

        Args:
            data_dir: str. The data directory.
            stickers: Sequence[Tuple[int, int]]. `(set_id, sticker_id)` in row
                order (set by set, mapping order within a set).
            image_size: int. S.
            cache_dir: str. Root of the cache; the pack goes to
                `cache_dir/stickers/<key>/`.
            skip_bad: bool. Record missing/unreadable files in `bad` instead
                of raising.
            verbose: bool. Print a line while packing.

        Raises:
            DataError: a sticker file is missing or unreadable (names the file
                and the sticker id), unless `skip_bad`.
        """
        data_dir = os.path.abspath(data_dir)
        set_ids = list(dict.fromkeys(s for s, _ in stickers))
        ids_digest = hashlib.sha1(" ".join(f"{s}/{k}" for s, k in stickers).encode()).hexdigest()
        key_text = json.dumps(
            [_FORMAT_VERSION, data_dir, int(image_size), fingerprint_sticker_files(data_dir, set_ids), ids_digest]
        )
        key = hashlib.sha1(key_text.encode()).hexdigest()[:20]
        root = os.path.join(cache_dir, "stickers")
        final_dir = os.path.join(root, f"{key}-{image_size}")
        images_path = os.path.join(final_dir, "images.npy")
        index_path = os.path.join(final_dir, "index.json")
        if not (os.path.isfile(index_path) and os.path.isfile(images_path)):
            os.makedirs(root, exist_ok=True)
            tmp_dir = tempfile.mkdtemp(prefix=f".{key}-", dir=root)
            try:
                if verbose:
                    print(f"packing {len(stickers)} stickers of {data_dir} at {image_size}x{image_size} into {final_dir}", flush=True)
                bad = _pack(data_dir, stickers, image_size, os.path.join(tmp_dir, "images.npy"), skip_bad)
                with open(os.path.join(tmp_dir, "index.json"), "w") as f:
                    json.dump(
                        {
                            "key": key_text,
                            "sticker_ids": [str(k) for _, k in stickers],
                            "bad": {str(k): list(v) for k, v in bad.items()},
                        },
                        f,
                    )
                try:
                    os.rename(tmp_dir, final_dir)
                except OSError:  # Another process finished first: use its pack.
                    pass
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)
        with open(index_path) as f:
            index = json.load(f)
        bad = {int(k): (v[0], v[1]) for k, v in index["bad"].items()}
        if bad and not skip_bad:
            first = next(iter(bad.values()))
            raise DataError(first[1], first[0])
        return cls(images_path, np.array([int(s) for s in index["sticker_ids"]], dtype=np.int64), image_size, bad)

    # --- Identity -------------------------------------------------------------------------------
    def content_digest(self) -> str:
        """sha256 of the packed images and their sticker ids: what a sticker's features are computed from.

        Computed once per pack (streaming the file) and kept beside it in
        `content.sha256`; a pack is never changed in place (new sticker files
        make a new pack), so the digest stays valid.
        """
        sidecar = os.path.join(os.path.dirname(self.path), "content.sha256")
        try:
            with open(sidecar) as f:
                digest = f.read().strip()
            if len(digest) == 64:
                return digest
        except OSError:
            pass
        h = hashlib.sha256()
        h.update(" ".join(str(int(s)) for s in self.sticker_ids.tolist()).encode())
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        digest = h.hexdigest()
        tmp = f"{sidecar}.tmp{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                f.write(digest + "\n")
            os.replace(tmp, sidecar)
        except OSError:  # a read-only cache: recompute next time
            pass
        return digest

    # --- Reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.sticker_ids)

    def __contains__(self, sticker_id: int) -> bool:
        return int(sticker_id) in self._row_of

    def row(self, sticker_id: int) -> int:
        """Row of a sticker id; KeyError naming the id when unknown."""
        try:
            return self._row_of[int(sticker_id)]
        except KeyError:
            raise KeyError(f"sticker {sticker_id} is not in the packed stickers of {self.path}") from None

    def rows(self, sticker_ids: Iterable[int]) -> np.ndarray:
        """Rows of several sticker ids (int64)."""
        return np.array([self.row(s) for s in sticker_ids], dtype=np.int64)

    def image(self, sticker_id: int) -> np.ndarray:
        """One sticker as uint8 `(S, S, 3)`."""
        return self.gather(np.asarray([self.row(sticker_id)], np.int64))[0]

    def _file(self) -> int:
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Images of `rows` (any shape of int) as uint8 `rows.shape + (S, S, 3)`.

        Rows are read with positional reads straight into the output buffer
        (thread-safe; no resident memory beyond the batch). Negative rows give
        zero images (used for padded history slots).
        """
        rows = np.asarray(rows, dtype=np.int64)
        flat = rows.reshape(-1)
        s = self.image_size
        out = np.zeros((flat.size, s, s, 3), dtype=np.uint8)
        view = memoryview(out.reshape(-1))
        fd = self._file()
        rb = self._row_bytes
        n = len(self.sticker_ids)
        for i, r in enumerate(flat.tolist()):
            if r < 0:
                continue
            if r >= n:
                raise IndexError(f"row {r} out of range for {n} packed stickers")
            got = os.preadv(fd, [view[i * rb : (i + 1) * rb]], self._offset + r * rb)
            if got != rb:
                raise DataError(f"{self.path}: short read at row {r}: is the cache truncated?", "cache_corrupt")
        return out.reshape(rows.shape + (s, s, 3))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fd"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _pack(
    data_dir: str, stickers: Sequence[Tuple[int, int]], image_size: int, out_path: str, skip_bad: bool
) -> Dict[int, Tuple[str, str]]:
    """Streams stickers into an `.npy` file row by row; returns the bad ones."""
    bad: Dict[int, Tuple[str, str]] = {}
    shape = (len(stickers), image_size, image_size, 3)
    zeros = np.zeros((image_size, image_size, 3), np.uint8).tobytes()
    with open(out_path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        for set_id, sticker_id in stickers:
            try:
                image = load_sticker(sticker_path(data_dir, set_id, sticker_id), sticker_id, image_size)
                f.write(image.tobytes())
            except DataError as e:
                if not skip_bad:
                    raise
                bad[sticker_id] = (e.reason, str(e))
                f.write(zeros)
    return bad
