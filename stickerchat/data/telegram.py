r"""Bring your own chats: Telegram Desktop chat exports -> a corpus in the released layout.

    python -m stickerchat.data.telegram --export=DIR [--export=DIR2 ...] --out=CORPUS
    python -m stickerchat.train --data_dir=CORPUS --negatives=catalogue --preset=cpu --model_dir=runs/mine

**Input.** What Telegram Desktop writes with "Export chat history" (one chat)
or "Export Telegram data" (all chats) in the machine-readable JSON format,
media type "Stickers" ticked: a directory holding `result.json` and the files
it names (`stickers/sticker.webp`, `stickers/AnimatedSticker.tgs`,
`stickers/sticker.webm`, their `*_thumb.jpg` thumbnails). A one-chat export
has `name`, `type`, `id` and `messages` at the top; a full export has
`chats.list[*]` (and `left_chats.list[*]`), each with its `messages`.
Messages have `id`, `type` (`message`, `service` or `unsupported`), `date`
and `date_unixtime`, `from_id` (`user123`, `channel123`, `chat123`),
`reply_to_message_id`, `text` (a string, or a list of strings and entity
objects `{"type": ..., "text": ...}`; `text_entities` is read when `text` is
absent) and, for a sticker, `media_type: "sticker"`, `file` (a path relative
to the export, or `(File not included. ...)` when the export left it out),
`thumbnail` and `sticker_emoji`. Several `--export`s are merged: a chat met
twice (the same `type` and `id`) is one chat, a message met twice (the same
chat and message id) one message.

**Examples.** Every sticker message whose sticker can be read becomes one
example (`DATA_FORMAT.md`): `current` = `{from_id, reply_to_msg_id,
sticker_set_id, sticker_id, sticker_alt}` (plus `id`, `chat_id` and `date`,
the message's own, which the loader ignores) and `context` = the up to
`--context_window` (20, as released) messages before it in the same chat,
oldest first, each `{text, reply_to_msg_id, id, from_id}`. Service and
unsupported messages are left out of contexts; other messages are kept, with
their text ("" for a photo without caption or an earlier sticker).

**Text** (`tokenize`, one rule for the converter and for anyone who sends a
dialog to a model trained on its output): Unicode NFKC, lower case (casefold);
links (`http://`, `https://`, `www.`) become the word `<url>`; words are runs
of letters, digits, marks, `_` and inner apostrophes; each CJK ideograph and
kana is a word of its own (Chinese and Japanese are not written with spaces);
every other symbol (punctuation, an emoji with its modifiers and ZWJ
sequence) is a word of its own. Words are joined by single spaces; the rule
is idempotent (`tokenize(tokenize(t)) == tokenize(t)`), so text already in
the corpus's form passes through unchanged.

**Ids** (exact integers, as `release.parse_id` reads them):
* users: `from_id` `userN` -> N, `chatN` -> 2**61 + N, `channelN` ->
  2**62 + N (Telegram's ids stay below 2**52, so the three never meet);
  a message without `from_id` has `from_id: null` in a context, and a sticker
  message without one is skipped (`sticker_without_sender`).
* stickers: the first 63 bits of the sha256 of the file's bytes, so the same
  sticker is one sticker across chats and exports (Telegram Desktop writes
  the same bytes for it). A sticker read from its thumbnail has the
  thumbnail's hash.
* sets: a Telegram export names no sticker set, so stickers are grouped **one
  set per emoji label**: the set of a sticker is the first 63 bits of the
  sha256 of `stickerchat-telegram-set:` + its `sticker_emoji` (stickers
  without one share the set of the empty label). A sticker keeps the label
  of its first use (a later message with another label is counted in
  `label_conflicts`); within a set, `emoji_mapping.txt` lists stickers in the
  order of their first use.

**Negatives.** Per-emoji sets are not the authors' sticker sets: same-set
negatives would all share the ground truth's emoji and many sets are smaller
than the 10 candidates. Train on a converted corpus with
`--negatives=catalogue` (random negatives from every sticker,
`stickerchat.data.sampling`); the command prints the training command, and
`conversion.json` records it (`train_flags`, and `tokenizer`: the text rule
below). With fewer than 10 stickers it adds `--num_candidates`.

**Stickers** (`stickerchat.data.telegram_media`): static `.webp` through
Pillow, animated `.tgs` through rlottie and video `.webm` through PyAV, by
their first visible frame, composited over white, padded square and resized
to `--npy_size` (128, as released), stored as uint8 `(S, S, 3)`
`npy_stickers/<set>/<sticker>.npy`. The animated decoders are the optional
extra `stickerchat[telegram]`; without one, or when a file cannot be read,
the export's thumbnail is used. A sticker the export left out (and whose
thumbnail it left out too) is skipped and counted (`sticker_not_included`),
as is one with no decoder and no thumbnail (`no_decoder_tgs`,
`no_decoder_webm`). The summary says how each sticker was read.

**Splits by time.** All examples of all chats are ordered by message date
(then chat, then position in the chat) and cut in that order: the last
`--test_fraction` (0.1) is the test split, the `--val_fraction` (0.1) before
it the validation split, the rest the training split (each at least one
example), so no later message is ever in training: the latest training date
<= the earliest validation date <= the earliest test date. Each file is in
time order, which is the order `HistoryStream` builds user histories in.
`vocab` is counted on the training contexts only (`--min_word_count`),
`emoji_vocab` on the stickers' labels.

**Bad input.** An unreadable `result.json`, a message that is not what the
format says (an `id` that is not an integer, a malformed `from_id`, `date`
or `text`, a sticker path outside the export) or a sticker file that is
missing or cannot be decoded (and has no readable thumbnail: then the
thumbnail is used and counted) raises `DataError`, one line naming the file,
the chat and the message id. With `--skip_bad` bad messages, chats and
unreadable sticker files are skipped and counted by reason instead
(`malformed_message`, `malformed_chat`, `sticker_file_missing`,
`sticker_file_unreadable`, `unsafe_path`), printed in the summary and
written to `conversion.json`.

**Output.** Written into a temporary directory beside `--out` (the training
file last, as `demo.py` does) and renamed into place, so `--out` is either
absent, the previous corpus, or the complete new one. An existing `--out`
is replaced only when it is empty, or is an earlier conversion
(`conversion.json`) and `--overwrite` is given. Chat member names are not
written; message texts are (they are the training data).
"""

from __future__ import annotations

import calendar
import collections
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from stickerchat import specs
from stickerchat.data import telegram_media as media
from stickerchat.data.corpus import CONVERSION_FILE  # the corpus loader reads its `tokenizer`
from stickerchat.data.errors import DataError
from stickerchat.data.release import MAPPING_FILE, SPLITS, is_decimal_id, split_file

FORMAT = "stickerchat-telegram-1"
COMPLETE_MARKER = "release_train.json"  # written last
RESULT_FILE = "result.json"
SET_SALT = "stickerchat-telegram-set:"
URL_TOKEN = "<url>"
TOKENIZER = "stickerchat.data.telegram.tokenize"  # recorded in conversion.json: how dialog text must be split
_ID_MASK = (1 << 63) - 1
_PEER_OFFSETS = {"user": 0, "chat": 1 << 61, "channel": 1 << 62}
_PEER_RE = re.compile(r"(user|chat|channel)([0-9]+)")
_NOT_INCLUDED = "sticker_not_included"


@dataclasses.dataclass
class ConvertOptions:
    """How exports are converted (the command's flags).

    Attributes:
        context_window: int. Earlier messages of the chat kept per example.
        val_fraction, test_fraction: float. Shares of the time-ordered
            examples in the validation and test splits (each >= 1 example).
        npy_size: int. Side of the stored sticker arrays.
        min_word_count: int. Training-context words rarer than this are left
            out of `vocab` (they read as `<unk>`).
        skip_bad: bool. Count and skip bad messages and sticker files
            instead of raising.
        overwrite: bool. Replace an earlier conversion at `out`.
        verbose: bool. Print progress and the summary.
    """

    context_window: int = 20
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    npy_size: int = 128
    min_word_count: int = 1
    skip_bad: bool = False
    overwrite: bool = False
    verbose: bool = True

    def check(self) -> None:
        if self.context_window < 1:
            raise ValueError(f"context_window={self.context_window} must be at least 1")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}={value} must be between 0 and 1")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be below 1 (the rest is the training split)")
        if self.npy_size < 8:
            raise ValueError(f"npy_size={self.npy_size} must be at least 8")
        if self.min_word_count < 1:
            raise ValueError(f"min_word_count={self.min_word_count} must be at least 1")


# --- Text ------------------------------------------------------------------------------------------
_URL_RE = re.compile(r"(?:https?://|www\.)\S+|<url>", re.IGNORECASE)  # a link, or the word that stands for one
_MODIFIERS = {"\ufe0f", "\ufe0e", "\u20e3"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}  # variation selectors, keycap, skin tones
_ZWJ = "\u200d"
_APOSTROPHES = {"'", "\u2019"}


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= o <= 0x31FF
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
    )


def _is_word_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch)[0] in "LNM"


def tokenize(text: Optional[str]) -> str:
    """The words of a message as the corpus holds them: space-separated (see the module docstring)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: List[str] = []
    # `<unk>` stays a word (a history the service sends back holds it), so the rule is idempotent.
    for j, part in enumerate(text.split(specs.UNK_TOKEN)):
        if j:
            tokens.append(specs.UNK_TOKEN)
        for k, piece in enumerate(_URL_RE.split(part)):
            if k:
                tokens.append(URL_TOKEN)
            tokens.extend(_tokens(piece))
    return " ".join(tokens)


def _tokens(text: str) -> Iterable[str]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == _ZWJ or ch in _MODIFIERS:
            i += 1  # a stray joiner or modifier is no word
            continue
        if _is_cjk(ch):
            yield ch
            i += 1
            continue
        if _is_word_char(ch):
            j = i + 1
            while j < n:
                c = text[j]
                if _is_word_char(c) and not _is_cjk(c):
                    j += 1
                elif c in _APOSTROPHES and j + 1 < n and _is_word_char(text[j + 1]) and not _is_cjk(text[j + 1]):
                    j += 2
                else:
                    break
            yield text[i:j]
            i = j
            continue
        # A symbol: an emoji keeps its modifiers and ZWJ sequence.
        j = i + 1
        while j < n:
            c = text[j]
            if c in _MODIFIERS:
                j += 1
            elif c == _ZWJ and j + 1 < n and not text[j + 1].isspace():
                j += 2
            else:
                break
        yield text[i:j]
        i = j


# --- Ids -------------------------------------------------------------------------------------------
def user_id(peer: str) -> int:
    """The integer id of an export's `from_id` (`userN` -> N, `chatN` -> 2**61 + N, `channelN` -> 2**62 + N).

    Raises:
        ValueError: not one of those forms, or N >= 2**61.
    """
    match = _PEER_RE.fullmatch(peer) if isinstance(peer, str) else None
    if match is None:
        raise ValueError(f"from_id {_short(peer)} is not 'user<N>', 'chat<N>' or 'channel<N>'")
    number = int(match.group(2))
    if number >= 1 << 61:
        raise ValueError(f"from_id {peer} is too large (ids below 2**61 are expected)")
    return _PEER_OFFSETS[match.group(1)] + number


def sticker_id_of(data: bytes) -> int:
    """The id of a sticker file: the first 63 bits of its sha256."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") & _ID_MASK


def set_id_of(label: str) -> int:
    """The set of the stickers labelled `label` (one set per emoji)."""
    return int.from_bytes(hashlib.sha256((SET_SALT + label).encode("utf-8")).digest()[:8], "big") & _ID_MASK


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- Reading exports -------------------------------------------------------------------------------
@dataclasses.dataclass
class Message:
    """One message of an export, checked and flattened."""

    id: int
    date: int
    from_id: Optional[int]
    reply_to: Optional[int]
    text: str
    sticker: Optional[dict]  # {"file": str|None, "thumbnail": str|None, "emoji": str}
    source: str  # its result.json
    export_dir: str
    where: str  # "chat <id>" for messages


@dataclasses.dataclass
class Chat:
    key: tuple
    label: str
    messages: List[Message]


class _Report:
    """Counters of a conversion: what was read, how stickers were decoded, what was skipped and why."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.counts: Dict[str, int] = collections.Counter()
        self.skipped: Dict[str, int] = collections.Counter()
        self.decoded: Dict[str, int] = collections.Counter()
        self.thumbnail_because: Dict[str, int] = collections.Counter()

    def bad(self, error: DataError) -> None:
        """Raises `error`, or counts it under its reason with `skip_bad`."""
        if not self.skip_bad:
            raise error
        self.skipped[error.reason] += 1


def _load_json(path: str):
    if not os.path.isfile(path):
        raise DataError(f"{path}: not found (expected the result.json of a Telegram Desktop JSON export)", "export_missing")
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})", "malformed_export") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: malformed JSON: {e}", "malformed_export") from None
    except RecursionError:
        raise DataError(f"{path}: malformed JSON: nested too deeply", "malformed_export") from None


def export_file(export: str) -> Tuple[str, str]:
    """`(export directory, its result.json)` of an `--export` (the directory or the file itself)."""
    export = os.path.abspath(export)
    if os.path.isfile(export) and export.endswith(".json"):
        return os.path.dirname(export), export
    return export, os.path.join(export, RESULT_FILE)


def read_export(export: str, report: Optional[_Report] = None) -> List[Chat]:
    """The chats of one export, their messages checked (`DataError` naming file, chat and message id)."""
    report = report or _Report(False)
    export_dir, path = export_file(export)
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a Telegram Desktop export (expected a JSON object)", "malformed_export")
    if isinstance(data.get("messages"), list):
        raw_chats = [("", data)]
    elif isinstance(data.get("chats"), dict) or isinstance(data.get("left_chats"), dict):
        raw_chats = []
        for section in ("chats", "left_chats"):
            block = data.get(section)
            if block is None:
                continue
            if not isinstance(block, dict) or not isinstance(block.get("list"), list):
                raise DataError(f"{path}: '{section}' is not an object with a 'list' of chats", "malformed_export")
            raw_chats += [(f"{section}.list[{i}]", chat) for i, chat in enumerate(block["list"])]
    else:
        raise DataError(
            f"{path}: not a Telegram Desktop export (expected 'messages' of one chat or 'chats.list' of all chats)",
            "malformed_export",
        )
    chats = []
    for where, raw in raw_chats:
        label = where or "the chat"
        if not isinstance(raw, dict) or not isinstance(raw.get("messages", []), list):
            report.bad(DataError(f"{path}: {label} is not a chat object with a 'messages' list", "malformed_chat"))
            continue
        chat_id = raw.get("id")
        if isinstance(chat_id, int) and not isinstance(chat_id, bool):
            key = ("chat", str(raw.get("type")), chat_id)
            label = f"chat {chat_id}"
        else:
            key = ("file", path, where)
        messages = []
        for index, message in enumerate(raw.get("messages", [])):
            try:
                parsed = _parse_message(message, path, export_dir, label, index, report)
            except DataError as e:
                report.bad(e)
                continue
            if parsed is not None:
                messages.append(parsed)
        report.counts["chats"] += 1
        chats.append(Chat(key, label, messages))
    report.counts["exports"] += 1
    return chats


def _parse_message(raw, path: str, export_dir: str, chat: str, index: int, report: _Report) -> Optional[Message]:
    if not isinstance(raw, dict):
        raise DataError(f"{path}: {chat}: messages[{index}] is not an object", "malformed_message")
    message_id = raw.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise DataError(f"{path}: {chat}: messages[{index}]: 'id' is {_short(message_id)}, not an integer", "malformed_message")

    def fail(what: str, reason: str = "malformed_message") -> DataError:
        return DataError(f"{path}: {chat}: message {message_id}: {what}", reason)

    kind = raw.get("type", "message")
    if kind == "service":
        report.counts["service_messages"] += 1
        return None
    if kind != "message":
        report.counts["unsupported_messages"] += 1
        return None
    date = _date(raw, fail)
    from_id = None
    if raw.get("from_id") is not None:
        try:
            from_id = user_id(raw["from_id"])
        except ValueError as e:
            raise fail(str(e)) from None
    reply_to = raw.get("reply_to_message_id")
    if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool)):
        raise fail(f"'reply_to_message_id' is {_short(reply_to)}, not an integer")
    text = _flatten_text(raw.get("text", raw.get("text_entities", "")), fail)
    sticker = None
    if raw.get("media_type") == "sticker":
        emoji = raw.get("sticker_emoji")
        if emoji is not None and not isinstance(emoji, str):
            raise fail(f"'sticker_emoji' is {_short(emoji)}, not a string")
        files = {}
        for field in ("file", "thumbnail"):
            value = raw.get(field)
            if value is not None and not isinstance(value, str):
                raise fail(f"'{field}' is {_short(value)}, not a path")
            files[field] = value
        sticker = {"file": files["file"], "thumbnail": files["thumbnail"], "emoji": "".join((emoji or "").split())}
        report.counts["sticker_messages"] += 1
    report.counts["messages"] += 1
    return Message(message_id, date, from_id, reply_to, tokenize(text), sticker, path, export_dir, chat)


def _date(raw: dict, fail) -> int:
    value = raw.get("date_unixtime")
    if value is not None:
        if isinstance(value, str) and is_decimal_id(value) and not value.startswith("-"):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise fail(f"'date_unixtime' is {_short(value)}, not a count of seconds")
    value = raw.get("date")
    if not isinstance(value, str):
        raise fail("no 'date_unixtime' or 'date'")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"'date' is {_short(value)}, not an ISO date") from None
    if moment.tzinfo is not None:
        return int(moment.timestamp())
    return calendar.timegm(moment.timetuple())  # an export's local time, read as UTC


def _flatten_text(value, fail) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise fail(f"'text' is {_short(value)}, not a string or a list")
    parts = []
    for j, part in enumerate(value):
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
            parts.append(part.get("text", ""))
        else:
            raise fail(f"text[{j}] is {_short(part)}, not a string or an entity with a 'text'")
    return "".join(parts)


def merge_chats(chats: Sequence[Chat], report: _Report) -> List[Chat]:
    """Chats with the same key merged, their messages in (date, id) order, repeated message ids dropped."""
    merged: Dict[tuple, Chat] = {}
    for chat in chats:
        if chat.key in merged:
            merged[chat.key].messages.extend(chat.messages)
            report.counts["chats_merged"] += 1
        else:
            merged[chat.key] = Chat(chat.key, chat.label, list(chat.messages))
    result = []
    for chat in merged.values():
        seen, unique = set(), []
        for message in sorted(chat.messages, key=lambda m: (m.date, m.id)):
            if message.id in seen:
                report.counts["duplicate_messages"] += 1
                continue
            seen.add(message.id)
            unique.append(message)
        result.append(Chat(chat.key, chat.label, unique))
    return result


# --- Stickers --------------------------------------------------------------------------------------
def _is_placeholder(path: Optional[str]) -> bool:
    """The export's note in place of a file it left out: `(File not included. ...)`, `(File unavailable, ...)`."""
    return path is None or not path.strip() or (path.strip().startswith("(") and path.strip().endswith(")"))


def _resolve(export_dir: str, relative: str) -> Optional[str]:
    """The file of a path relative to the export; None when it leaves the export directory."""
    relative = relative.replace("\\", "/")
    if os.path.isabs(relative) or relative.startswith("/"):
        return None
    full = os.path.realpath(os.path.join(export_dir, relative))
    root = os.path.realpath(export_dir)
    if os.path.commonpath([full, root]) != root:
        return None
    return full


class _Catalogue:
    """Decodes each distinct sticker file once and writes its array into `npy_stickers/<set>/`."""

    def __init__(self, out_dir: str, npy_size: int, report: _Report):
        self.out_dir = out_dir
        self.npy_size = npy_size
        self.report = report
        self.by_hash: Dict[bytes, object] = {}  # sha256 -> sticker id, or why its bytes cannot be decoded
        self._pending: Optional[Tuple[int, np.ndarray]] = None  # the array of a sticker decoded, not yet labelled
        self.label: Dict[int, str] = {}
        self.sets: Dict[int, List[int]] = collections.OrderedDict()  # set id -> sticker ids, first use first
        self.kind: Dict[int, str] = {}

    def sticker_of(self, message: Message) -> Optional[int]:
        """The sticker id of a sticker message, or None (skipped and counted, or `DataError`)."""
        sticker = message.sticker
        where = f"{message.source}: {message.where}: message {message.id}"
        problem: Optional[DataError] = None
        first_reason = None
        if _is_placeholder(sticker["file"]):
            first_reason = _NOT_INCLUDED
        else:
            got = self._read(message, sticker["file"], where, "sticker file")
            if isinstance(got, int):
                return self._labelled(got, sticker["emoji"])
            problem = got if isinstance(got, DataError) else None
            first_reason = got.reason if isinstance(got, DataError) else got
        # The thumbnail, when the export has it.
        if not _is_placeholder(sticker["thumbnail"]):
            got = self._read(message, sticker["thumbnail"], where, "thumbnail", thumbnail=True)
            if isinstance(got, int):
                self.report.thumbnail_because[first_reason] += 1
                return self._labelled(got, sticker["emoji"])
        if problem is not None:
            self.report.bad(problem)
        else:
            self.report.skipped[first_reason] += 1
        return None

    def _read(self, message: Message, relative: str, where: str, what: str, thumbnail: bool = False):
        """A sticker id, a `DataError` (bad input), or a skip reason (`no_decoder_<kind>`)."""
        path = _resolve(message.export_dir, relative)
        if path is None:
            return DataError(f"{where}: the {what} path {_short(relative)} leaves the export directory", "unsafe_path")
        if not os.path.isfile(path):
            return DataError(f"{where}: {what} {path} not found", "sticker_file_missing")
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).digest()
        known = self.by_hash.get(digest)
        if isinstance(known, int):
            self.report.counts["sticker_uses_merged"] += 1
            return known
        if known is not None:  # the same bytes failed before
            return DataError(f"{where}: cannot read {what} {path}: {known}", "sticker_file_unreadable")
        try:
            image, kind = media.decode_sticker(data)
        except media.DecoderMissing as e:
            return f"no_decoder_{e.kind}"
        except media.StickerDecodeError as e:
            self.by_hash[digest] = str(e)
            return DataError(f"{where}: cannot read {what} {path}: {e}", "sticker_file_unreadable")
        sticker = int.from_bytes(digest[:8], "big") & _ID_MASK
        self.by_hash[digest] = sticker
        self.kind[sticker] = "thumbnail" if thumbnail else kind
        self.report.decoded["thumbnail" if thumbnail else kind] += 1
        self._pending = (sticker, media.sticker_array(image, self.npy_size))
        return sticker

    def _labelled(self, sticker: int, emoji: str) -> int:
        if sticker in self.label:
            if self.label[sticker] != emoji:
                self.report.counts["label_conflicts"] += 1
            return sticker
        self.label[sticker] = emoji
        set_id = set_id_of(emoji)
        self.sets.setdefault(set_id, []).append(sticker)
        pending_id, array = self._pending
        assert pending_id == sticker
        set_dir = os.path.join(self.out_dir, "npy_stickers", str(set_id))
        os.makedirs(set_dir, exist_ok=True)
        np.save(os.path.join(set_dir, f"{sticker}.npy"), array, allow_pickle=False)
        self._pending = None
        return sticker

    @property
    def num_stickers(self) -> int:
        return len(self.label)

    def write_mappings(self) -> None:
        for set_id, stickers in self.sets.items():
            lines = "".join(f"{s}\t{self.label[s]}\n" for s in stickers)
            with open(os.path.join(self.out_dir, "npy_stickers", str(set_id), MAPPING_FILE), "w", encoding="utf-8") as f:
                f.write(lines)


# --- Conversion ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Summary:
    """What a conversion wrote and skipped (also `conversion.json`)."""

    out: str
    splits: Dict[str, dict]
    num_stickers: int
    num_sets: int
    num_users: int
    vocab_size: int
    counts: Dict[str, int]
    decoded: Dict[str, int]
    thumbnail_because: Dict[str, int]
    skipped: Dict[str, int]
    train_flags: List[str]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "tokenizer": TOKENIZER, **dataclasses.asdict(self)}

    def text(self) -> str:
        lines = [f"wrote {self.out}:"]
        c = self.counts
        lines.append(
            f"  read {c.get('exports', 0)} export(s), {c.get('chats', 0)} chat(s) ({c.get('chats_merged', 0)} merged), "
            f"{c.get('messages', 0)} messages ({c.get('sticker_messages', 0)} with a sticker); left out of contexts: "
            f"{c.get('service_messages', 0)} service, {c.get('unsupported_messages', 0)} unsupported, "
            f"{c.get('duplicate_messages', 0)} repeated messages"
        )
        for split, info in self.splits.items():
            lines.append(f"  {split}: {info['examples']} examples, {info['first_date']} .. {info['last_date']}")
        decoded = ", ".join(f"{k} {v}" for k, v in sorted(self.decoded.items())) or "none"
        lines.append(
            f"  stickers: {self.num_stickers} distinct in {self.num_sets} sets (one per emoji), read as: {decoded}; "
            f"{c.get('sticker_uses_merged', 0)} repeated uses of the same file merged"
        )
        if self.thumbnail_because:
            lines.append("  read from the thumbnail because: " + ", ".join(f"{k} {v}" for k, v in sorted(self.thumbnail_because.items())))
        if self.skipped:
            lines.append("  skipped by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
            missing = [k for k in self.skipped if k.startswith("no_decoder_")]
            if missing:
                lines.append("  (install the animated-sticker decoders with: pip install 'stickerchat[telegram]')")
            if _NOT_INCLUDED in self.skipped:
                lines.append("  (the export left those sticker files out: export again with 'Stickers' ticked)")
        if c.get("label_conflicts"):
            lines.append(f"  stickers sent with another emoji than at first use (kept the first): {c['label_conflicts']}")
        lines.append(f"  {self.num_users} users, {self.vocab_size} words in vocab")
        flags = " ".join(self.train_flags)
        lines.append(f"train with: python -m stickerchat.train --data_dir={self.out} {flags} --model_dir=runs/<name>")
        return "\n".join(lines)


def convert(exports: Sequence[str], out: str, options: Optional[ConvertOptions] = None) -> Summary:
    """Converts Telegram Desktop exports into a corpus in the released layout at `out`.

    Args:
        exports: Sequence[str]. Export directories (or their `result.json`).
        out: str. The corpus directory to write (see the module docstring
            on replacing an existing one).
        options: ConvertOptions.

    Returns:
        Summary. Also written to `out/conversion.json`.

    Raises:
        DataError: bad input (naming file, chat and message id) unless
            `skip_bad`; too few usable sticker messages; an `out` that may
            not be replaced.
        ValueError: option values out of range.
    """
    options = options or ConvertOptions()
    options.check()
    if not exports:
        raise ValueError("no export given")
    out = os.path.abspath(out)
    _check_out(out, options.overwrite)
    report = _Report(options.skip_bad)
    chats: List[Chat] = []
    for export in exports:
        if options.verbose:
            print(f"reading {export_file(export)[1]}", flush=True)
        chats += read_export(export, report)
    chats = merge_chats(chats, report)

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    try:
        summary = _write(chats, tmp, out, options, report)
        _replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if options.verbose:
        print(summary.text(), flush=True)
    return summary


def _check_out(out: str, overwrite: bool) -> None:
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise DataError(f"{out}: exists and is not a directory", "out_exists")
    entries = os.listdir(out)
    if not entries:
        return
    if os.path.isfile(os.path.join(out, CONVERSION_FILE)):
        if overwrite:
            return
        raise DataError(f"{out}: holds an earlier conversion; --overwrite replaces it", "out_exists")
    raise DataError(f"{out}: exists and is not an earlier conversion (no {CONVERSION_FILE}); choose another --out", "out_exists")


def _replace(tmp: str, out: str) -> None:
    """Renames the finished `tmp` to `out`, moving an earlier `out` aside first and deleting it after."""
    old = None
    if os.path.exists(out):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old-", dir=os.path.dirname(out))
        os.rmdir(old)
        os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(chats: List[Chat], tmp: str, out: str, options: ConvertOptions, report: _Report) -> Summary:
    catalogue = _Catalogue(tmp, options.npy_size, report)
    # Stickers are resolved in time order over all chats, so ids, labels and mapping order follow first use.
    stickers_in_time = sorted(
        ((m.date, c, p) for c, chat in enumerate(chats) for p, m in enumerate(chat.messages) if m.sticker is not None)
    )
    resolved: Dict[Tuple[int, int], int] = {}
    for _, c, p in stickers_in_time:
        message = chats[c].messages[p]
        sticker = catalogue.sticker_of(message)
        if sticker is not None:
            resolved[(c, p)] = sticker

    examples = []  # (date, chat, position, example)
    for c, chat in enumerate(chats):
        context: collections.deque = collections.deque(maxlen=options.context_window)
        for p, message in enumerate(chat.messages):
            sticker = resolved.get((c, p))
            if sticker is not None:
                if message.from_id is None:
                    report.skipped["sticker_without_sender"] += 1
                else:
                    current = {
                        "from_id": message.from_id,
                        "reply_to_msg_id": message.reply_to,
                        "sticker_set_id": set_id_of(catalogue.label[sticker]),
                        "sticker_id": sticker,
                        "sticker_alt": catalogue.label[sticker],
                        "id": message.id,
                        "chat_id": chat.key[2] if chat.key[0] == "chat" else None,
                        "date": message.date,
                    }
                    examples.append((message.date, c, p, {"context": list(context), "current": current}))
            context.append({"text": message.text, "reply_to_msg_id": message.reply_to, "id": message.id, "from_id": message.from_id})
    examples.sort(key=lambda e: e[:3])
    n = len(examples)
    if n < 3:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none skipped"
        raise DataError(
            f"{out}: only {n} usable sticker messages ({report.counts.get('sticker_messages', 0)} sticker messages read; "
            f"skipped: {reasons}); at least 3 are needed (one per split)",
            "too_few_examples",
        )
    n_test = max(1, int(round(n * options.test_fraction)))
    n_val = max(1, int(round(n * options.val_fraction)))
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError(f"{out}: {n} usable sticker messages leave none for training at these fractions", "too_few_examples")
    cuts = {"train": examples[:n_train], "val": examples[n_train : n_train + n_val], "test": examples[n_train + n_val :]}

    words = collections.Counter(w for e in cuts["train"] for m in e[3]["context"] for w in m["text"].split())
    vocab = sorted(((w, k) for w, k in words.items() if k >= options.min_word_count), key=lambda wk: (-wk[1], wk[0]))
    if not vocab:
        raise DataError(f"{out}: the training contexts hold no word (at --min_word_count={options.min_word_count})", "empty_vocab")
    labels = collections.Counter(label for label in catalogue.label.values() if label)
    if not labels:
        raise DataError(f"{out}: no sticker has an emoji label (sticker_emoji)", "empty_vocab")

    catalogue.write_mappings()
    with open(os.path.join(tmp, "vocab"), "w", encoding="utf-8") as f:
        f.writelines(f"{w} {k}\n" for w, k in vocab)
    with open(os.path.join(tmp, "emoji_vocab"), "w", encoding="utf-8") as f:
        f.writelines(f"{label} {k}\n" for label, k in sorted(labels.items(), key=lambda lk: (-lk[1], lk[0])))

    users = {e[3]["current"]["from_id"] for e in examples}
    flags = ["--negatives=catalogue"]
    if catalogue.num_stickers < 10:
        flags.append(f"--num_candidates={catalogue.num_stickers}")
    splits = {
        split: {
            "examples": len(rows),
            "first_date": _iso(rows[0][0]),
            "last_date": _iso(rows[-1][0]),
            "first_unixtime": rows[0][0],
            "last_unixtime": rows[-1][0],
        }
        for split, rows in cuts.items()
    }
    summary = Summary(
        out=out,
        splits=splits,
        num_stickers=catalogue.num_stickers,
        num_sets=len(catalogue.sets),
        num_users=len(users),
        vocab_size=len(vocab),
        counts=dict(sorted(report.counts.items())),
        decoded=dict(sorted(report.decoded.items())),
        thumbnail_because=dict(sorted(report.thumbnail_because.items())),
        skipped=dict(sorted(report.skipped.items())),
        train_flags=flags,
    )
    with open(os.path.join(tmp, CONVERSION_FILE), "w", encoding="utf-8") as f:
        json.dump({**summary.to_dict(), "options": dataclasses.asdict(options)}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    for split in ("test", "val", "train"):  # train last: its presence marks a complete corpus
        path = split_file(tmp, split)
        with open(path + ".part", "w", encoding="utf-8") as f:
            for row in cuts[split]:
                f.write(json.dumps(row[3], ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".part", path)
    assert set(cuts) == set(SPLITS)
    return summary


def _iso(unixtime: int) -> str:
    return datetime.datetime.fromtimestamp(unixtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- Command line ----------------------------------------------------------------------------------
def define_flags() -> None:
    """The command's flags; defined only when run as a program (importing this module defines none)."""
    from absl import flags

    flags.DEFINE_multi_string("export", None, "A Telegram Desktop JSON export: its directory (or result.json). Repeat for several.")
    flags.DEFINE_string("out", None, "The corpus directory to write (the released layout).")
    flags.DEFINE_integer("context_window", ConvertOptions.context_window, "Earlier messages of the chat kept per example.", lower_bound=1)
    flags.DEFINE_float("val_fraction", ConvertOptions.val_fraction, "Share of the time-ordered examples in the validation split.")
    flags.DEFINE_float("test_fraction", ConvertOptions.test_fraction, "Share of the latest examples in the test split.")
    flags.DEFINE_integer("npy_size", ConvertOptions.npy_size, "Side of the stored sticker arrays.", lower_bound=8)
    flags.DEFINE_integer("min_word_count", ConvertOptions.min_word_count, "Training words rarer than this read as <unk>.", lower_bound=1)
    flags.DEFINE_boolean("skip_bad", False, "Skip and count bad messages and sticker files instead of failing.")
    flags.DEFINE_boolean("overwrite", False, "Replace an earlier conversion at --out.")


def main(argv: Sequence[str]) -> int:
    from absl import app, flags

    from stickerchat.cli.runner import UserError

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.export:
        raise app.UsageError("--export is required (a Telegram Desktop JSON export directory)")
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    options = ConvertOptions(
        context_window=FLAGS.context_window,
        val_fraction=FLAGS.val_fraction,
        test_fraction=FLAGS.test_fraction,
        npy_size=FLAGS.npy_size,
        min_word_count=FLAGS.min_word_count,
        skip_bad=FLAGS.skip_bad,
        overwrite=FLAGS.overwrite,
    )
    try:
        options.check()
    except ValueError as e:
        raise UserError(str(e)) from None
    convert(FLAGS.export, FLAGS.out, options)
    return 0


if __name__ == "__main__":
    from stickerchat.cli import runner

    define_flags()
    runner.run(main)
