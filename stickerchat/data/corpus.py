"""Reader of a data directory in the released layout (see `DATA_FORMAT.md`).

`load_corpus(data_dir, data_config)` reads `release_{train,val,test}.json`
(JSON Lines, parsed with the stdlib `json`, which keeps 18-digit ids exact),
`vocab`, `emoji_vocab` and `npy_stickers/<set>/emoji_mapping.txt`, packs the
sticker images once (`stickers.StickerStore`) and encodes every example into
compact numpy arrays:

* Context: the last `context_len` non-empty utterances (an utterance is empty
  when its text has no whitespace-separated word; `null` counts as empty),
  oldest first, each cut to its first `max_words` words, encoded with the word
  vocabulary (unknown words -> `<unk>`, counted). Padding rows come after the
  real utterances.
* Candidates: the ground truth plus `num_candidates - 1` distinct negatives
  from the same set, never the ground truth. `negatives="random"` draws them
  with `np.random.default_rng([seed, split_index, line])`, so they are fixed
  per example and identical across loads; `"first"` takes the first other
  stickers in `emoji_mapping.txt` order (the authors' code). The ground truth's
  slot is drawn from the same per-example generator. A set with fewer than
  `num_candidates` usable stickers is topped up with stickers of the following
  sets (in set-id order, wrapping; `first`: the next ones in that order,
  `random`: drawn at random among all other sets' stickers); such examples are
  counted in `corpus.topped_up`. Candidate emoji ids come from the mapping.
* User history: for each example, the up-to-`history_len` most recent earlier
  selections by the same `current.from_id`, in the stream train -> val -> test
  in file order, oldest first. Stored as indices into the global example table
  (-1 padding), never the example itself or a later one. A skipped example is
  not part of the stream: it is nobody's history.

Bad input raises `DataError` naming the file and line (lines are numbered from
1 in messages; `meta["example"]` numbers them from 0) or the sticker id. With
`skip_bad_examples=True` examples are skipped and counted by reason
(`corpus.skipped`), printed at the end of loading. Reasons:
`malformed_json`, `missing_key`, `malformed_example` (wrong types, an id that
is not an integer), `sticker_set_missing`, `sticker_not_in_mapping`,
`sticker_file_missing`, `sticker_file_unreadable`. Sticker-level problems are
in `corpus.bad_stickers` / `corpus.bad_sets`; a bad sticker is never a
candidate.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from stickerchat import specs
from stickerchat.config import DataConfig
from stickerchat.data import stickers as stickers_lib
from stickerchat.data.errors import DataError
from stickerchat.data.vocab import Vocab

SPLITS = ("train", "val", "test")
MAPPING_FILE = "emoji_mapping.txt"
SKIP_REASONS = (
    "malformed_json",
    "missing_key",
    "malformed_example",
    "sticker_set_missing",
    "sticker_not_in_mapping",
    "sticker_file_missing",
    "sticker_file_unreadable",
)


def split_file(data_dir: str, split: str) -> str:
    """`DATA_DIR/release_<split>.json`."""
    return os.path.join(data_dir, f"release_{split}.json")


def default_cache_dir() -> str:
    """`$STICKERCHAT_CACHE`, else `~/.cache/stickerchat`."""
    return os.environ.get("STICKERCHAT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "stickerchat")


class SplitData:
    """Encoded examples of one split (row i = the i-th kept line of its file).

    Attributes:
        name: str. `train`, `val` or `test`.
        path: str. The split's file.
        index: np.ndarray int64 `(n,)`. Rows of the corpus-wide example table.
        line: np.ndarray int64 `(n,)`. Line number in the file, from 0.
        label: np.ndarray int32 `(n,)`. Slot of the ground truth.
        candidate_ids: np.ndarray int64 `(n, num_candidates)`.
        candidate_rows: np.ndarray int64 `(n, num_candidates)`. Rows in the
            sticker store.
        candidate_emoji: np.ndarray int32 `(n, num_candidates)`.
        history: np.ndarray int64 `(n, history_len)`. Example-table rows of
            the user's earlier selections, oldest first, -1 padding after.
        line_hash: np.ndarray int64 `(n,)`. A 64-bit hash of the example's
            line (surrounding whitespace stripped): equal lines, equal
            hashes (`Corpus.duplicates` counts them).
        topped_up: int. Examples whose negatives came partly from other sets.
    """

    def __init__(self, name: str, path: str, num_lines: int, num_candidates: int, history_len: int):
        self.name = name
        self.path = path
        self.index = np.zeros(num_lines, np.int64)
        self.line = np.zeros(num_lines, np.int64)
        self.label = np.zeros(num_lines, np.int32)
        self.candidate_ids = np.zeros((num_lines, num_candidates), np.int64)
        self.candidate_rows = np.zeros((num_lines, num_candidates), np.int64)
        self.candidate_emoji = np.zeros((num_lines, num_candidates), np.int32)
        self.history = np.full((num_lines, history_len), -1, np.int64)
        self.line_hash = np.zeros(num_lines, np.int64)
        self.topped_up = 0
        self.size = 0

    def _trim(self) -> None:
        n = self.size
        for field in ("index", "line", "label", "candidate_ids", "candidate_rows", "candidate_emoji", "history", "line_hash"):
            setattr(self, field, getattr(self, field)[:n])

    def __len__(self) -> int:
        return self.size


class Corpus:
    """A loaded data directory. Build it with `load_corpus`.

    Attributes:
        data_dir: str. Absolute path of the data directory.
        config: DataConfig. The shapes and protocol it was encoded with.
        vocab: Vocab. Words.
        emoji_vocab: Vocab. Emoji labels.
        sticker_sets: Dict[int, List[int]]. Set id -> its usable sticker ids
            in `emoji_mapping.txt` order (sets in increasing id order).
        sticker_set_of: Dict[int, int]. Sticker id -> set id.
        sticker_emoji: Dict[int, int]. Sticker id -> emoji id (its mapping
            label; unknown labels -> `<unk>`).
        sticker_alt: Dict[int, str]. Sticker id -> its mapping label as
            written ("" when the line has none).
        store: StickerStore. The packed images.
        splits: Dict[str, SplitData].
        contexts: np.ndarray int32 `(N, context_len, max_words)`. All kept
            examples of all splits, stream order (train, val, test).
        users: np.ndarray int64 `(N,)`. `current.from_id`.
        selected: np.ndarray int64 `(N,)`. The chosen sticker id.
        selected_rows: np.ndarray int64 `(N,)`. Its row in `store`.
        skipped: Dict[str, int]. Skipped examples by reason.
        bad_stickers: Dict[int, Tuple[str, str]]. Unusable stickers.
        bad_sets: Dict[int, str]. Unusable set directories.
        topped_up: Dict[str, int]. Examples per split whose set was too small.
        unknown: Dict[str, int]. Unknown words / emoji labels and totals.
    """

    def __init__(self):
        self.skipped: Dict[str, int] = collections.Counter()
        self.bad_stickers: Dict[int, Tuple[str, str]] = {}
        self.bad_sets: Dict[int, str] = {}
        self.unknown: Dict[str, int] = collections.Counter()
        self.splits: Dict[str, SplitData] = {}

    # --- Public API -----------------------------------------------------------------------------
    def num_examples(self, split: str) -> int:
        """Number of kept examples of a split."""
        return len(self.split(split))

    def split(self, name: str) -> SplitData:
        if name not in self.splits:
            raise ValueError(f"Unknown split '{name}'; choose one of {SPLITS}")
        return self.splits[name]

    @property
    def topped_up(self) -> Dict[str, int]:
        return {name: s.topped_up for name, s in self.splits.items()}

    @property
    def num_stickers(self) -> int:
        return sum(len(v) for v in self.sticker_sets.values())

    def encode_context(self, utterances: Sequence[Optional[str]]) -> np.ndarray:
        """Encodes a dialog (oldest first) exactly like the corpus examples.

        Args:
            utterances: Sequence[Optional[str]]. Space-separated texts; empty
                or None ones are dropped.

        Returns:
            np.ndarray int32 `(context_len, max_words)`.
        """
        c = self.config
        out = np.zeros((c.context_len, c.max_words), np.int32)
        words = [t.split() for t in utterances if t]
        words = [w for w in words if w][-c.context_len :]
        get = self.vocab.token_to_id.get
        for j, ws in enumerate(words):
            out[j, : min(len(ws), c.max_words)] = [get(w, specs.UNK_ID) for w in ws[: c.max_words]]
        return out

    def sticker_image(self, sticker_id: int) -> np.ndarray:
        """uint8 `(image_size, image_size, 3)` of a sticker."""
        return self.store.image(sticker_id)

    def history_stats(self, split: str = "train") -> Dict[str, float]:
        """History coverage of a split (paper §3.2: 88.12%, 6.82, 54.09%).

        Returns:
            dict with `share_with_history` (examples with >= 1 earlier
            selection), `mean_history_length` (over all examples, up to
            `history_len`), `mean_history_length_nonempty` (over examples with
            a history) and `share_in_last10` (chosen sticker among the user's
            10 most recent earlier selections).
        """
        s = self.split(split)
        n = max(len(s), 1)
        lengths = (s.history >= 0).sum(axis=1)
        with_history = int((lengths > 0).sum())
        return {
            "share_with_history": with_history / n,
            "mean_history_length": float(lengths.sum()) / n,
            "mean_history_length_nonempty": float(lengths.sum()) / max(with_history, 1),
            "share_in_last10": float(self.in_last10[s.index].sum()) / n,
        }

    def duplicates(self) -> Dict[str, Dict[str, int]]:
        """Exact duplicate examples (the same line) within and across splits.

        Returns:
            `{split: {"within": n, "in_train": n, "in_val": n, "in_test": n}}`:
            `within` counts the examples whose line already occurred earlier
            in the same split; `in_<other>` the examples whose line also
            occurs in that other split (e.g. test examples seen in training).
        """
        hashes = {name: s.line_hash for name, s in self.splits.items()}
        sets = {name: set(h.tolist()) for name, h in hashes.items()}
        out = {}
        for name, h in hashes.items():
            counts = {"within": int(len(h) - len(sets[name]))}
            for other in self.splits:
                if other != name:
                    counts[f"in_{other}"] = int(sum(1 for x in h.tolist() if x in sets[other]))
            out[name] = counts
        return out

    def summary(self) -> str:
        """One paragraph: sizes, skips, top-ups, unknown rates."""
        parts = [f"corpus {self.data_dir}: " + ", ".join(f"{k} {len(v)}" for k, v in self.splits.items()) + " examples"]
        parts.append(f"{len(self.sticker_sets)} sets, {self.num_stickers} stickers at {self.config.image_size}px")
        words = self.unknown["words"]
        if words:
            parts.append(f"unknown words {self.unknown['unknown_words']}/{words} ({100.0 * self.unknown['unknown_words'] / words:.2f}%)")
        if self.unknown["unknown_emoji"]:
            parts.append(f"stickers with an unknown emoji label {self.unknown['unknown_emoji']}")
        if any(self.topped_up.values()):
            parts.append("examples whose set had too few stickers (topped up from other sets): " + str(self.topped_up))
        if self.skipped:
            parts.append("skipped examples by reason: " + str(dict(sorted(self.skipped.items()))))
        if self.bad_stickers:
            parts.append(f"unusable sticker files: {len(self.bad_stickers)}")
        if self.bad_sets:
            parts.append(f"unusable set directories: {len(self.bad_sets)}")
        return "; ".join(parts)


def load_corpus(data_dir: str, data_config: DataConfig, *, verbose: bool = True) -> Corpus:
    """Reads and encodes a data directory in the released layout.

    Args:
        data_dir: str. The data directory.
        data_config: DataConfig (or a `Config`, whose `.data` is used).
        verbose: bool. Print progress and the end-of-loading summary (sizes,
            per-reason skip counts, top-ups).

    Returns:
        Corpus.

    Raises:
        DataError: bad input (see the module docstring), unless skipped.
    """
    config = getattr(data_config, "data", data_config)
    if config.negatives not in ("random", "first"):
        raise ValueError(f"negatives must be 'random' or 'first', got {config.negatives!r}")
    if config.num_candidates < 1:
        raise ValueError("num_candidates must be >= 1")
    start = time.time()
    data_dir = os.path.abspath(data_dir)
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: data directory not found", "data_dir_missing")
    corpus = Corpus()
    corpus.data_dir = data_dir
    corpus.config = config
    corpus.vocab = Vocab.from_file(os.path.join(data_dir, "vocab"))
    corpus.emoji_vocab = Vocab.from_file(os.path.join(data_dir, "emoji_vocab"))
    skip = config.skip_bad_examples

    # --- Sticker sets and images --------------------------------------------------------------
    mappings = _read_mappings(data_dir, corpus, skip)
    order = [(set_id, sticker_id) for set_id, entries in mappings.items() for sticker_id, _ in entries]
    cache_dir = config.cache_dir or default_cache_dir()
    corpus.store = stickers_lib.StickerStore.build(
        data_dir, order, config.image_size, cache_dir, skip_bad=skip, verbose=verbose
    )
    corpus.bad_stickers.update(corpus.store.bad)
    emoji_get = corpus.emoji_vocab.token_to_id.get
    corpus.sticker_sets, corpus.sticker_set_of, corpus.sticker_emoji = {}, {}, {}
    corpus.sticker_alt = {}
    for set_id, entries in mappings.items():
        good = []
        for sticker_id, emoji in entries:
            if sticker_id in corpus.bad_stickers:
                continue
            good.append(sticker_id)
            corpus.sticker_alt[sticker_id] = emoji
            corpus.sticker_set_of[sticker_id] = set_id
            emoji_id = emoji_get(emoji, specs.UNK_ID) if emoji else specs.UNK_ID
            corpus.unknown["unknown_emoji"] += emoji_id == specs.UNK_ID
            corpus.sticker_emoji[sticker_id] = emoji_id
        corpus.sticker_sets[set_id] = good

    # --- Examples ------------------------------------------------------------------------------
    paths = {split: split_file(data_dir, split) for split in SPLITS}
    for split, path in paths.items():
        if not os.path.isfile(path):
            raise DataError(f"{path}: split file not found (expected release_{{train,val,test}}.json)", "split_missing")
    line_counts = {split: _count_lines(path) for split, path in paths.items()}
    _Encoder(corpus, config, line_counts).run(paths, verbose)
    if verbose:
        print(f"{corpus.summary()} (loaded in {time.time() - start:.1f} s)", flush=True)
    return corpus


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def _read_mappings(data_dir: str, corpus: Corpus, skip: bool) -> Dict[int, List[Tuple[int, str]]]:
    """Set id -> [(sticker id, emoji)] in mapping order; sets in id order."""
    root = os.path.join(data_dir, "npy_stickers")
    if not os.path.isdir(root):
        raise DataError(f"{root}: sticker directory not found", "sticker_dir_missing")
    set_ids = []
    for name in os.listdir(root):
        if os.path.isdir(os.path.join(root, name)):
            if is_decimal_id(name) and not name.startswith("-") and int(name) <= _INT64_MAX:
                set_ids.append(int(name))
            elif not name.startswith("."):
                corpus.bad_sets[name] = "set directory name is not an integer id"
    mappings: Dict[int, List[Tuple[int, str]]] = {}
    seen: Dict[int, int] = {}
    for set_id in sorted(set_ids):
        path = os.path.join(root, str(set_id), MAPPING_FILE)
        if not os.path.isfile(path):
            message = f"{path}: emoji mapping of sticker set {set_id} not found"
            if not skip:
                raise DataError(message, "emoji_mapping_missing")
            corpus.bad_sets[set_id] = message
            continue
        entries = []
        with open(path, "rb") as f:
            for line_number, raw in enumerate(f, start=1):
                try:
                    line = decode_line(raw, path, line_number, "malformed_mapping_line").rstrip("\r\n")
                except DataError as e:
                    if not skip:
                        raise
                    corpus.bad_stickers[f"{set_id}:{line_number}"] = (e.reason, str(e))
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
                    corpus.bad_stickers[f"{set_id}:{line_number}"] = ("malformed_mapping_line", message)
                    continue
                sticker_id = int(sticker_text)
                if sticker_id in seen:
                    # A sticker id is one image: it belongs to the first set that lists it.
                    corpus.unknown["duplicate_mapping_lines"] += 1
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
    """An exact id from a JSON int or a string of ASCII digits, within int64.

    Raises:
        TypeError: booleans, floats, lists, non-numeric strings, and ids
            outside the signed 64-bit range (the message says which).
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} is a boolean")
    if isinstance(value, str) and is_decimal_id(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise TypeError(f"{what} is {_short(value)}, not an integer (ids must stay exact: never go through float)")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise TypeError(f"{what} {value} is outside the 64-bit integer range of ids")
    return value


_as_id = parse_id


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


class _Encoder:
    """Streams the three split files through the per-example encoding."""

    def __init__(self, corpus: Corpus, config: DataConfig, line_counts: Dict[str, int]):
        self.corpus = corpus
        self.config = config
        total = sum(line_counts.values())
        self.contexts = np.zeros((total, config.context_len, config.max_words), np.int32)
        self.users = np.zeros(total, np.int64)
        self.selected = np.zeros(total, np.int64)
        self.selected_rows = np.zeros(total, np.int64)
        self.num_utterances = np.zeros(total, np.int32)
        self.num_words = np.zeros(total, np.int64)
        self.num_nonempty = np.zeros(total, np.int32)
        self.participants = np.zeros(total, np.int32)
        self.in_last10 = np.zeros(total, bool)
        self.line_counts = line_counts
        self.size = 0
        self.recent: Dict[int, collections.deque] = {}
        self.recent10: Dict[int, collections.deque] = {}
        # Global usable stickers, set by set: a set is one contiguous block.
        self.all_ids = np.array([s for ids in corpus.sticker_sets.values() for s in ids], np.int64)
        self.block: Dict[int, Tuple[int, int]] = {}
        self.position: Dict[int, int] = {}
        start = 0
        for set_id, ids in corpus.sticker_sets.items():
            self.block[set_id] = (start, start + len(ids))
            for i, s in enumerate(ids):
                self.position[s] = i
            start += len(ids)
        if config.num_candidates > len(self.all_ids):
            raise DataError(
                f"{corpus.data_dir}: only {len(self.all_ids)} usable stickers, fewer than num_candidates={config.num_candidates}",
                "too_few_stickers",
            )

    def run(self, paths: Dict[str, str], verbose: bool) -> None:
        corpus = self.corpus
        for split_index, split in enumerate(SPLITS):
            data = SplitData(split, paths[split], self.line_counts[split], self.config.num_candidates, self.config.history_len)
            with open(paths[split], "rb") as f:
                for line_number, raw in enumerate(f):
                    try:
                        self._example(data, split_index, line_number, raw)
                    except DataError as e:
                        if not self.config.skip_bad_examples:
                            raise
                        corpus.skipped[e.reason] += 1
            data._trim()
            corpus.splits[split] = data
        n = self.size
        corpus.contexts = self.contexts[:n]
        corpus.users = self.users[:n]
        corpus.selected = self.selected[:n]
        corpus.selected_rows = self.selected_rows[:n]
        corpus.num_utterances = self.num_utterances[:n]
        corpus.num_nonempty = self.num_nonempty[:n]
        corpus.num_words = self.num_words[:n]
        corpus.participants = self.participants[:n]
        corpus.in_last10 = self.in_last10[:n]
        corpus.skipped = dict(corpus.skipped)

    def _fail(self, data: SplitData, line_number: int, message: str, reason: str) -> DataError:
        return DataError(f"{data.path}:{line_number + 1}: {message}", reason)

    def _example(self, data: SplitData, split_index: int, line_number: int, raw: bytes) -> None:
        corpus, config = self.corpus, self.config
        if not raw.strip():
            raise self._fail(data, line_number, "empty line (expected one JSON object per line)", "malformed_json")
        if line_number == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 BOM at the start of the file
        try:
            example = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise self._fail(data, line_number, f"malformed JSON: {e}", "malformed_json") from None
        except RecursionError:
            raise self._fail(data, line_number, "malformed JSON: nested too deeply", "malformed_json") from None
        if not isinstance(example, dict):
            raise self._fail(data, line_number, "expected a JSON object", "malformed_example")
        for key in ("context", "current"):
            if key not in example:
                raise self._fail(data, line_number, f"missing key '{key}'", "missing_key")
        context, current = example["context"], example["current"]
        if not isinstance(context, list) or not isinstance(current, dict):
            raise self._fail(data, line_number, "'context' must be a list and 'current' an object", "malformed_example")
        for key in ("from_id", "sticker_set_id", "sticker_id"):
            if key not in current:
                raise self._fail(data, line_number, f"missing key 'current.{key}'", "missing_key")
        try:
            user = _as_id(current["from_id"], "current.from_id")
            set_id = _as_id(current["sticker_set_id"], "current.sticker_set_id")
            sticker_id = _as_id(current["sticker_id"], "current.sticker_id")
        except TypeError as e:
            raise self._fail(data, line_number, str(e), "malformed_example") from None
        texts = []
        speakers = {user}
        for j, message in enumerate(context):
            if not isinstance(message, dict):
                raise self._fail(data, line_number, f"context[{j}] is not an object", "malformed_example")
            if "text" not in message:
                raise self._fail(data, line_number, f"missing key 'context[{j}].text'", "missing_key")
            text = message["text"]
            if text is not None and not isinstance(text, str):
                raise self._fail(data, line_number, f"context[{j}].text is not a string", "malformed_example")
            texts.append(text)
            if message.get("from_id") is not None:
                try:
                    speakers.add(parse_id(message["from_id"], f"context[{j}].from_id"))
                except TypeError as e:
                    raise self._fail(data, line_number, str(e), "malformed_example") from None

        # Ground truth and its set.
        if set_id not in corpus.sticker_sets:
            reason = corpus.bad_sets.get(set_id)
            why = f" ({reason})" if reason else ""
            raise self._fail(
                data, line_number, f"sticker set {set_id} not found in npy_stickers/{why}", "sticker_set_missing"
            )
        if sticker_id in corpus.bad_stickers:
            reason, message = corpus.bad_stickers[sticker_id]
            raise self._fail(data, line_number, f"ground-truth sticker {sticker_id} is unusable: {message}", reason)
        if corpus.sticker_set_of.get(sticker_id) != set_id:
            raise self._fail(
                data,
                line_number,
                f"ground-truth sticker {sticker_id} is not in the emoji_mapping.txt of its set {set_id}",
                "sticker_not_in_mapping",
            )

        # Context words.
        g = self.size
        get = corpus.vocab.token_to_id.get
        words = [t.split() for t in texts if t]
        words = [w for w in words if w]
        self.num_nonempty[g] = len(words)
        self.num_words[g] = sum(len(w) for w in words)
        kept = words[-config.context_len :]
        unknown = 0
        total = 0
        row = self.contexts[g]
        row[:] = 0
        for j, ws in enumerate(kept):
            ids = [get(w, specs.UNK_ID) for w in ws[: config.max_words]]
            row[j, : len(ids)] = ids
            unknown += ids.count(specs.UNK_ID)
            total += len(ids)
        corpus.unknown["words"] += total
        corpus.unknown["unknown_words"] += unknown
        self.num_utterances[g] = len(kept)
        self.participants[g] = len(speakers)

        # Candidates.
        rng = np.random.default_rng([config.seed, split_index, line_number])
        negatives, topped_up = self._negatives(set_id, sticker_id, rng)
        label = int(rng.integers(config.num_candidates))
        candidates = negatives[:label] + [sticker_id] + negatives[label:]

        # History: the user's earlier kept selections, oldest first.
        recent = self.recent.get(user)
        if recent is None:
            recent = self.recent[user] = collections.deque(maxlen=config.history_len)
            self.recent10[user] = collections.deque(maxlen=10)
        recent10 = self.recent10[user]

        i = data.size
        data.index[i] = g
        data.line[i] = line_number
        data.label[i] = label
        data.candidate_ids[i] = candidates
        data.candidate_rows[i] = [corpus.store.row(s) for s in candidates]
        data.candidate_emoji[i] = [corpus.sticker_emoji[s] for s in candidates]
        if recent:
            data.history[i, : len(recent)] = recent
        data.topped_up += topped_up
        data.line_hash[i] = int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest(), "little", signed=True)
        data.size += 1

        self.in_last10[g] = sticker_id in recent10
        recent.append(g)
        recent10.append(sticker_id)
        self.users[g] = user
        self.selected[g] = sticker_id
        self.selected_rows[g] = corpus.store.row(sticker_id)
        self.size += 1

    def _negatives(self, set_id: int, sticker_id: int, rng: np.random.Generator) -> Tuple[List[int], bool]:
        """`num_candidates - 1` distinct negatives, never the ground truth."""
        need = self.config.num_candidates - 1
        start, end = self.block[set_id]
        size = end - start
        pos = self.position[sticker_id]
        others = size - 1
        first = self.config.negatives == "first"
        take = min(need, others)
        if first:
            chosen = [i for i in range(min(size, take + 1)) if i != pos][:take]
        else:
            chosen = rng.choice(others, size=take, replace=False).tolist() if take else []
            chosen = [i if i < pos else i + 1 for i in chosen]
        result = self.all_ids[[start + i for i in chosen]].tolist() if chosen else []
        missing = need - take
        if missing == 0:
            return result, False
        # Top up from the other sets (the blocks after this one, wrapping around).
        total = len(self.all_ids)
        outside = total - size
        if first:
            picks = range(missing)
        else:
            picks = rng.choice(outside, size=missing, replace=False).tolist()
        result += [int(self.all_ids[(end + k) % total]) for k in picks]
        return result, True
