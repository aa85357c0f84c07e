"""The released data layout (`DATA_FORMAT.md`): file names, ids, mapping files, example lines.

Everything here reads the files as released and says what is wrong with them:
a problem raises `DataError` naming the file and line (lines counted from 1)
and a skip reason (`corpus` counts skipped examples by it). Ids are read
exactly (`parse_id`: JSON integers or strings of ASCII digits, never through
a float, within the signed 64-bit range).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from stickerchat.data.errors import DataError

SPLITS = ("train", "val", "test")
MAPPING_FILE = "emoji_mapping.txt"


def split_file(data_dir: str, split: str) -> str:
    """`DATA_DIR/release_<split>.json`."""
    return os.path.join(data_dir, f"release_{split}.json")


def count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def read_mappings(
    data_dir: str, skip: bool, bad_sets: Dict, bad_stickers: Dict, counts: Dict[str, int]
) -> Dict[int, List[Tuple[int, str]]]:
    """Set id -> [(sticker id, emoji)] in mapping order; sets in id order.

    Args:
        data_dir: str. The data directory.
        skip: bool. Record unusable sets and mapping lines instead of raising.
        bad_sets: set id (or directory name) -> why it is unusable; filled in.
        bad_stickers: sticker id (or `set:line`) -> `(reason, message)`;
            filled in.
        counts: counters; `duplicate_mapping_lines` is added to.

    Raises:
        DataError: naming the file (and line), unless `skip`.
    """
    root = os.path.join(data_dir, "npy_stickers")
    if not os.path.isdir(root):
        raise DataError(f"{root}: sticker directory not found", "sticker_dir_missing")
    set_ids = []
    for name in os.listdir(root):
        if os.path.isdir(os.path.join(root, name)):
            if is_decimal_id(name) and not name.startswith("-") and int(name) <= _INT64_MAX:
                set_ids.append(int(name))
            elif not name.startswith("."):
                bad_sets[name] = "set directory name is not an integer id"
    mappings: Dict[int, List[Tuple[int, str]]] = {}
    seen: Dict[int, int] = {}
    for set_id in sorted(set_ids):
        path = os.path.join(root, str(set_id), MAPPING_FILE)
        if not os.path.isfile(path):
            message = f"{path}: emoji mapping of sticker set {set_id} not found"
            if not skip:
                raise DataError(message, "emoji_mapping_missing")
            bad_sets[set_id] = message
            continue
        entries = []
        with open(path, "rb") as f:
            for line_number, raw in enumerate(f, start=1):
                try:
                    line = decode_line(raw, path, line_number, "malformed_mapping_line").rstrip("\r\n")
                except DataError as e:
                    if not skip:
                        raise
                    bad_stickers[f"{set_id}:{line_number}"] = (e.reason, str(e))
                    continue
                if not line.strip():
                    continue
                fields = line.split("\t", 1) if "\t" in line else line.split(None, 1)
                sticker_text = fields[0].strip()
                emoji = fields[1].strip() if len(fields) > 1 else ""
                valid = is_decimal_id(sticker_text) and not sticker_text.startswith("-")
                if not valid or int(sticker_text) > _INT64_MAX:
                    why = "the sticker id is outside the 64-bit range" if valid else "expected '<sticker_id>\\t<emoji>'"
                    message = f"{path}:{line_number}: {why}, got {_short(line)}"
                    if not skip:
                        raise DataError(message, "malformed_mapping_line")
                    bad_stickers[f"{set_id}:{line_number}"] = ("malformed_mapping_line", message)
                    continue
                sticker_id = int(sticker_text)
                if sticker_id in seen:
                    # A sticker id is one image: it belongs to the first set that lists it.
                    counts["duplicate_mapping_lines"] += 1
                    continue
                seen[sticker_id] = set_id
                entries.append((sticker_id, emoji))
        mappings[set_id] = entries
    return mappings


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def is_decimal_id(text: str) -> bool:
    """An optional minus and ASCII digits only (`str.isdigit` also accepts "²" and "١", which `int()` refuses)."""
    body = text[1:] if text.startswith("-") else text
    return bool(body) and body.isascii() and body.isdigit()


def parse_id(value, what: str) -> int:
    """An exact id from an int (JSON or NumPy) or a string of ASCII digits, within int64.

    Every id of the corpus, of a user history file and of a recommender request
    is read here.

    Raises:
        TypeError: booleans, floats, lists, non-numeric strings, and ids
            outside the signed 64-bit range (the message says which).
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} is a boolean")
    if isinstance(value, str) and is_decimal_id(value.strip()):
        value = int(value.strip())
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int):
        raise TypeError(f"{what} is {_short(value)}, not an integer (ids must stay exact: never go through float)")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise TypeError(f"{what} {value} is outside the 64-bit integer range of ids")
    return value


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode_line(raw: bytes, path: str, line_number: int, reason: str) -> str:
    """UTF-8 text of one line (a BOM at the start of the file is dropped); DataError naming file:line otherwise."""
    if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{line_number}: not UTF-8 text ({e.reason} at byte {e.start})", reason) from None


@dataclasses.dataclass
class Example:
    """One line of a split file, parsed and checked.

    Attributes:
        user: int. `current.from_id`.
        set_id: int. `current.sticker_set_id`.
        sticker_id: int. `current.sticker_id` (the ground truth).
        texts: List[Optional[str]]. `context[j].text`, oldest first.
        speakers: Set[int]. The user and every `context[j].from_id`.
    """

    user: int
    set_id: int
    sticker_id: int
    texts: List[Optional[str]]
    speakers: Set[int]


def parse_example(raw: bytes, path: str, line_number: int) -> Example:
    """Parses line `line_number` (from 0) of a split file.

    Raises:
        DataError: `path:line: ...` with reason `malformed_json`,
            `missing_key` or `malformed_example`.
    """

    def fail(message: str, reason: str) -> DataError:
        return DataError(f"{path}:{line_number + 1}: {message}", reason)

    if not raw.strip():
        raise fail("empty line (expected one JSON object per line)", "malformed_json")
    if line_number == 0 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 BOM at the start of the file
    try:
        example = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise fail(f"malformed JSON: {e}", "malformed_json") from None
    except RecursionError:
        raise fail("malformed JSON: nested too deeply", "malformed_json") from None
    if not isinstance(example, dict):
        raise fail("expected a JSON object", "malformed_example")
    for key in ("context", "current"):
        if key not in example:
            raise fail(f"missing key '{key}'", "missing_key")
    context, current = example["context"], example["current"]
    if not isinstance(context, list) or not isinstance(current, dict):
        raise fail("'context' must be a list and 'current' an object", "malformed_example")
    for key in ("from_id", "sticker_set_id", "sticker_id"):
        if key not in current:
            raise fail(f"missing key 'current.{key}'", "missing_key")
    try:
        user = parse_id(current["from_id"], "current.from_id")
        set_id = parse_id(current["sticker_set_id"], "current.sticker_set_id")
        sticker_id = parse_id(current["sticker_id"], "current.sticker_id")
    except TypeError as e:
        raise fail(str(e), "malformed_example") from None
    texts = []
    speakers = {user}
    for j, message in enumerate(context):
        if not isinstance(message, dict):
            raise fail(f"context[{j}] is not an object", "malformed_example")
        if "text" not in message:
            raise fail(f"missing key 'context[{j}].text'", "missing_key")
        text = message["text"]
        if text is not None and not isinstance(text, str):
            raise fail(f"context[{j}].text is not a string", "malformed_example")
        texts.append(text)
        if message.get("from_id") is not None:
            try:
                speakers.add(parse_id(message["from_id"], f"context[{j}].from_id"))
            except TypeError as e:
                raise fail(str(e), "malformed_example") from None
    return Example(user, set_id, sticker_id, texts, speakers)
