"""Files of a model directory: written atomically, read with errors that name the file.

Every file a run writes (`config.json`, `best.json`, `model.keras`,
`metrics.json`, `predictions.tsv`, the backup) is written to a temporary file
in the same directory and renamed over its final name (`os.replace`, atomic
on POSIX), so a process killed at any moment leaves either the old file or
the new one, never a partial one. A file that is damaged anyway (a full disk
in another program, a copy cut short) is reported by `CorruptRunFile`, one
line that names it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile


class CorruptRunFile(RuntimeError):
    """A file of a model directory is unreadable; the message names it and says what to do."""


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str):
    """Yields a temporary path beside `path` (same suffix); renames it over `path` if the block succeeds.

    The temporary name starts with a dot and keeps the final name's suffix
    (`.keras`, `.weights.h5` writers check it). On an exception it is removed
    and `path` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    name = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{name}-", suffix=f"-{name}", dir=directory)
    os.close(fd)
    os.remove(tmp)  # writers such as keras' save refuse or append to an existing file
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path: str, data: bytes) -> None:
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def file_sha256(path: str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path: str, text: str) -> None:
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path: str, value, **kwargs) -> None:
    """Writes `value` as JSON (indent 2, a final newline) to `path` atomically."""
    kwargs.setdefault("indent", 2)
    write_text(path, json.dumps(value, **kwargs) + "\n")


def read_json(path: str, what: str = "file"):
    """Reads a JSON file; a damaged one raises `CorruptRunFile` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise CorruptRunFile(
            f"{path}: the {what} is corrupt ({type(e).__name__}: {e}); "
            "it was not written by a complete save: delete it (or the model directory) and run again"
        ) from None


def save_model(model, path: str) -> None:
    """`model.save(path)` atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(path: str):
    """Loads a `.keras` file in safe mode; a missing or damaged file gets a one-line error naming it.

    Raises:
        FileNotFoundError: no such file (has training finished?).
        CorruptRunFile: the file is not a complete `.keras` archive, or Keras
            cannot rebuild the model from it.
    """
    import keras

    import stickerchat.models  # noqa: F401  (registers the serialisable classes)

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: has training finished?")
    if not zipfile.is_zipfile(path):
        raise CorruptRunFile(
            f"{path}: the model file is corrupt (not a complete .keras archive, {os.path.getsize(path)} bytes); "
            "delete it and run the training command again"
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - any failure is reported with the file's name.
        raise CorruptRunFile(f"{path}: cannot load the model ({type(e).__name__}: {e})") from e
