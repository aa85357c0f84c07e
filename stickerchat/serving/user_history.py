"""A user's sticker history from a JSON Lines file (`python -m stickerchat.recommend --user_history_file`).

One earlier sticker reply of the user per line, oldest first:

    {"context": ["hi", "how are you ?"], "sticker_id": 123456789012345678}

`context` is the list of utterances the sticker answered (oldest first);
`sticker_id` is an integer (or a string of digits). The file is parsed with
the stdlib `json`, which reads integers exactly, so 18-digit ids are kept; a
sticker id written as a float (`1.2e17`, `5.0`) is rejected. Blank lines are
ignored. A malformed line is reported with `file:line`.
"""

from __future__ import annotations

import json
import os
from typing import List, Tuple


class HistoryFileError(ValueError):
    """A malformed user history file (the message names the file and line)."""


def read_user_history(path: str) -> List[Tuple[List[str], int]]:
    """Reads a user history file (format in the module docstring) -> `[(utterances, sticker_id), ...]`."""
    from stickerchat.serving.recommender import RecommenderError, parse_sticker_id

    from stickerchat.data.corpus import decode_line
    from stickerchat.data.errors import DataError

    history = []
    if not os.path.isfile(path):
        raise HistoryFileError(f"{path}: user history file not found")
    with open(path, "rb") as f:
        for line_number, raw in enumerate(f, start=1):
            where = f"{path}:{line_number}"
            try:
                line = decode_line(raw, path, line_number, "malformed_history_line")
            except DataError as e:
                raise HistoryFileError(str(e)) from None
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryFileError(f"{where}: not JSON: {e}") from None
            except RecursionError:
                raise HistoryFileError(f"{where}: not JSON: nested too deeply") from None
            if not isinstance(item, dict) or "context" not in item or "sticker_id" not in item:
                raise HistoryFileError(f'{where}: expected {{"context": [utterances], "sticker_id": id}}, got {line.strip()!r}')
            context = item["context"]
            if not isinstance(context, list) or not all(isinstance(u, str) for u in context):
                raise HistoryFileError(f"{where}: 'context' must be a list of strings")
            try:
                sticker_id = parse_sticker_id(item["sticker_id"])
            except RecommenderError as e:
                raise HistoryFileError(f"{where}: {e}") from None
            history.append((context, sticker_id))
    return history
