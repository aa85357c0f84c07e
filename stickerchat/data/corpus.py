"""A loaded data directory in the released layout (see `DATA_FORMAT.md`): `load_corpus` and `Corpus`.

`load_corpus(data_dir, data_config)` reads `release_{train,val,test}.json`,
`vocab`, `emoji_vocab` and `npy_stickers/<set>/emoji_mapping.txt`
(`stickerchat.data.release` parses the files), packs the sticker images once
(`stickers.StickerStore`) and encodes every example into compact numpy arrays:

* Context: the last `context_len` non-empty utterances, oldest first, each cut
  to its first `max_words` words, encoded with the word vocabulary
  (`Vocab.encode_context`; unknown words -> `<unk>`, counted). Padding rows
  come after the real utterances.
* Candidates and user history: drawn by the evaluation protocol
  (`stickerchat.data.sampling`): the ground truth and `num_candidates - 1`
  negatives from its set, at a per-example seeded slot; the user's earlier
  selections in the stream train -> val -> test, stored as indices into the
  global example table (-1 padding). Examples whose set had too few stickers
  are counted in `corpus.topped_up`; a skipped example is nobody's history.

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
import dataclasses
import hashlib
import json
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from stickerchat import specs
from stickerchat.config import NEGATIVES, DataConfig
from stickerchat.data import release
from stickerchat.data import stickers as stickers_lib
from stickerchat.data.errors import DataError
from stickerchat.data.release import SPLITS, split_file
from stickerchat.data.sampling import CandidateSampler, HistoryStream
from stickerchat.data.vocab import Vocab, context_words, utterance_words

__all__ = ["SPLITS", "Corpus", "SplitData", "default_cache_dir", "load_corpus", "split_file"]


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
            hashes (`stats.duplicates` counts them).
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


@dataclasses.dataclass(eq=False, repr=False)
class Corpus:
    """A loaded data directory. Build it with `load_corpus`.

    Attributes:
        data_dir: str. Absolute path of the data directory.
        config: DataConfig. The shapes and protocol it was encoded with.
        vocab: Vocab. Words.
        emoji_vocab: Vocab. Emoji labels.
        store: StickerStore. The packed images.
        sticker_sets: Dict[int, List[int]]. Set id -> its usable sticker ids
            in `emoji_mapping.txt` order (sets in increasing id order).
        sticker_set_of: Dict[int, int]. Sticker id -> set id.
        sticker_emoji: Dict[int, int]. Sticker id -> emoji id (its mapping
            label; unknown labels -> `<unk>`).
        sticker_alt: Dict[int, str]. Sticker id -> its mapping label as
            written ("" when the line has none).
        splits: Dict[str, SplitData].
        contexts: np.ndarray int32 `(N, context_len, max_words)`. All kept
            examples of all splits, stream order (train, val, test).
        users: np.ndarray int64 `(N,)`. `current.from_id`.
        selected: np.ndarray int64 `(N,)`. The chosen sticker id.
        selected_rows: np.ndarray int64 `(N,)`. Its row in `store`.
        num_utterances: np.ndarray int32 `(N,)`. Utterances kept in `contexts`.
        num_nonempty: np.ndarray int32 `(N,)`. Non-empty utterances of the dialog.
        num_words: np.ndarray int64 `(N,)`. Words of the dialog (all utterances).
        participants: np.ndarray int32 `(N,)`. Distinct speakers, the user included.
        in_last10: np.ndarray bool `(N,)`. The chosen sticker is among the
            user's 10 most recent earlier selections.
        skipped: Dict[str, int]. Skipped examples by reason.
        bad_stickers: Dict[Union[int, str], Tuple[str, str]]. Unusable
            stickers (or `set:line` mapping lines): `(reason, message)`.
        bad_sets: Dict[Union[int, str], str]. Unusable set directories.
        unknown: Dict[str, int]. Unknown words / emoji labels and totals
            (`words`, `unknown_words`, `unknown_emoji`,
            `duplicate_mapping_lines`).
        tokenizer: Optional[str]. The rule the corpus's text was split by,
            when the data directory names one (`conversion.json`'s
            `tokenizer`, written by `stickerchat.data.telegram`; a key of
            `TOKENIZERS`); `encode_context` applies it to raw text. None: the
            text is already space-separated words (the released corpus).
    """

    data_dir: str
    config: DataConfig
    vocab: Vocab
    emoji_vocab: Vocab
    store: stickers_lib.StickerStore
    sticker_sets: Dict[int, List[int]]
    sticker_set_of: Dict[int, int]
    sticker_emoji: Dict[int, int]
    sticker_alt: Dict[int, str]
    splits: Dict[str, SplitData]
    contexts: np.ndarray
    users: np.ndarray
    selected: np.ndarray
    selected_rows: np.ndarray
    num_utterances: np.ndarray
    num_nonempty: np.ndarray
    num_words: np.ndarray
    participants: np.ndarray
    in_last10: np.ndarray
    skipped: Dict[str, int]
    bad_stickers: Dict[Union[int, str], Tuple[str, str]]
    bad_sets: Dict[Union[int, str], str]
    unknown: Dict[str, int]
    tokenizer: Optional[str] = None

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
            utterances: Sequence[Optional[str]]. Texts; empty or None ones
                are dropped. With a `tokenizer` (a converted chat export) each
                text is split by it first, as the corpus's text was; otherwise
                words are separated by spaces.

        Returns:
            np.ndarray int32 `(context_len, max_words)`.
        """
        if self.tokenizer is not None:
            split = TOKENIZERS[self.tokenizer]()
            utterances = [split(text) for text in utterances]
        return self.vocab.encode_context(utterance_words(utterances), self.config.context_len, self.config.max_words)

    def sticker_image(self, sticker_id: int) -> np.ndarray:
        """uint8 `(image_size, image_size, 3)` of a sticker."""
        return self.store.image(sticker_id)

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


def _telegram_tokenize():
    from stickerchat.data import telegram  # Local: only corpora converted from a chat export need it.

    return telegram.tokenize


# The text rules a data directory can name (`conversion.json`'s `tokenizer`): name -> a function returning it.
TOKENIZERS = {"stickerchat.data.telegram.tokenize": _telegram_tokenize}
CONVERSION_FILE = "conversion.json"


def read_tokenizer(data_dir: str) -> Optional[str]:
    """The tokenizer `data_dir/conversion.json` names (None without the file or the field).

    Raises:
        DataError: the file is not JSON, or names a tokenizer not in `TOKENIZERS`.
    """
    path = os.path.join(data_dir, CONVERSION_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            name = json.load(f).get("tokenizer")
    except (OSError, ValueError, AttributeError) as e:
        raise DataError(f"{path}: cannot read the conversion record ({type(e).__name__}: {e})", "bad_conversion") from e
    if name is not None and name not in TOKENIZERS:
        raise DataError(f"{path}: unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}", "bad_conversion")
    return name


def load_corpus(data_dir: str, data_config: DataConfig, *, verbose: bool = True) -> Corpus:
    """Reads and encodes a data directory in the released layout.

    Args:
        data_dir: str. The data directory.
        data_config: DataConfig. Shapes and sampling protocol.
        verbose: bool. Print progress and the end-of-loading summary (sizes,
            per-reason skip counts, top-ups).

    Returns:
        Corpus.

    Raises:
        DataError: bad input (see the module docstring), unless skipped.
    """
    config = data_config
    if config.negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVES)}, got {config.negatives!r}")
    if config.num_candidates < 1:
        raise ValueError("num_candidates must be >= 1")
    start = time.time()
    data_dir = os.path.abspath(data_dir)
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: data directory not found", "data_dir_missing")
    tokenizer = read_tokenizer(data_dir)
    vocab = Vocab.from_file(os.path.join(data_dir, "vocab"))
    emoji_vocab = Vocab.from_file(os.path.join(data_dir, "emoji_vocab"))
    skip = config.skip_bad_examples
    bad_stickers: Dict = {}
    bad_sets: Dict = {}
    unknown: Dict[str, int] = collections.Counter()

    # --- Sticker sets and images --------------------------------------------------------------
    mappings = release.read_mappings(data_dir, skip, bad_sets, bad_stickers, unknown)
    order = [(set_id, sticker_id) for set_id, entries in mappings.items() for sticker_id, _ in entries]
    cache_dir = config.cache_dir or default_cache_dir()
    store = stickers_lib.StickerStore.build(data_dir, order, config.image_size, cache_dir, skip_bad=skip, verbose=verbose)
    bad_stickers.update(store.bad)
    emoji_get = emoji_vocab.token_to_id.get
    sticker_sets, sticker_set_of, sticker_emoji, sticker_alt = {}, {}, {}, {}
    for set_id, entries in mappings.items():
        good = []
        for sticker_id, emoji in entries:
            if sticker_id in bad_stickers:
                continue
            good.append(sticker_id)
            sticker_alt[sticker_id] = emoji
            sticker_set_of[sticker_id] = set_id
            emoji_id = emoji_get(emoji, specs.UNK_ID) if emoji else specs.UNK_ID
            unknown["unknown_emoji"] += emoji_id == specs.UNK_ID
            sticker_emoji[sticker_id] = emoji_id
        sticker_sets[set_id] = good

    # --- Examples ------------------------------------------------------------------------------
    paths = {split: split_file(data_dir, split) for split in SPLITS}
    for split, path in paths.items():
        if not os.path.isfile(path):
            raise DataError(f"{path}: split file not found (expected release_{{train,val,test}}.json)", "split_missing")
    line_counts = {split: release.count_lines(path) for split, path in paths.items()}
    sampler = CandidateSampler(sticker_sets, config)
    if config.num_candidates > len(sampler):
        raise DataError(
            f"{data_dir}: only {len(sampler)} usable stickers, fewer than num_candidates={config.num_candidates}",
            "too_few_stickers",
        )
    encoder = _Encoder(config, vocab, store, sticker_set_of, sticker_emoji, bad_stickers, bad_sets, sampler, line_counts)
    splits, skipped = encoder.run(paths, unknown)
    n = encoder.size
    corpus = Corpus(
        data_dir=data_dir,
        config=config,
        vocab=vocab,
        emoji_vocab=emoji_vocab,
        store=store,
        sticker_sets=sticker_sets,
        sticker_set_of=sticker_set_of,
        sticker_emoji=sticker_emoji,
        sticker_alt=sticker_alt,
        splits=splits,
        contexts=encoder.contexts[:n],
        users=encoder.users[:n],
        selected=encoder.selected[:n],
        selected_rows=encoder.selected_rows[:n],
        num_utterances=encoder.num_utterances[:n],
        num_nonempty=encoder.num_nonempty[:n],
        num_words=encoder.num_words[:n],
        participants=encoder.participants[:n],
        in_last10=encoder.in_last10[:n],
        skipped=skipped,
        bad_stickers=bad_stickers,
        bad_sets=bad_sets,
        unknown=unknown,
        tokenizer=tokenizer,
    )
    if verbose:
        print(f"{corpus.summary()} (loaded in {time.time() - start:.1f} s)", flush=True)
    return corpus


class _Encoder:
    """Streams the three split files through the per-example encoding into the example table."""

    def __init__(self, config, vocab, store, sticker_set_of, sticker_emoji, bad_stickers, bad_sets, sampler, line_counts):
        self.config = config
        self.vocab = vocab
        self.store = store
        self.sticker_set_of = sticker_set_of
        self.sticker_emoji = sticker_emoji
        self.bad_stickers = bad_stickers
        self.bad_sets = bad_sets
        self.sampler = sampler
        self.line_counts = line_counts
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
        self.size = 0
        self.stream = HistoryStream(config.history_len)

    def run(self, paths: Dict[str, str], unknown: Dict[str, int]) -> Tuple[Dict[str, SplitData], Dict[str, int]]:
        """Encodes every split; returns `(splits, skipped examples by reason)`."""
        splits, skipped = {}, collections.Counter()
        for split_index, split in enumerate(SPLITS):
            data = SplitData(split, paths[split], self.line_counts[split], self.config.num_candidates, self.config.history_len)
            with open(paths[split], "rb") as f:
                for line_number, raw in enumerate(f):
                    try:
                        self._example(data, split_index, line_number, raw, unknown)
                    except DataError as e:
                        if not self.config.skip_bad_examples:
                            raise
                        skipped[e.reason] += 1
            data._trim()
            splits[split] = data
        return splits, dict(skipped)

    def _example(self, data: SplitData, split_index: int, line_number: int, raw: bytes, unknown: Dict[str, int]) -> None:
        config = self.config
        example = release.parse_example(raw, data.path, line_number)
        set_id, sticker_id = example.set_id, example.sticker_id

        def fail(message: str, reason: str) -> DataError:
            return DataError(f"{data.path}:{line_number + 1}: {message}", reason)

        # Ground truth and its set.
        if set_id not in self.sampler.block:
            reason = self.bad_sets.get(set_id)
            why = f" ({reason})" if reason else ""
            raise fail(f"sticker set {set_id} not found in npy_stickers/{why}", "sticker_set_missing")
        if sticker_id in self.bad_stickers:
            reason, message = self.bad_stickers[sticker_id]
            raise fail(f"ground-truth sticker {sticker_id} is unusable: {message}", reason)
        if self.sticker_set_of.get(sticker_id) != set_id:
            raise fail(
                f"ground-truth sticker {sticker_id} is not in the emoji_mapping.txt of its set {set_id}",
                "sticker_not_in_mapping",
            )

        # Context words.
        g = self.size
        words = utterance_words(example.texts)
        self.num_nonempty[g] = len(words)
        self.num_words[g] = sum(len(w) for w in words)
        kept = context_words(words, config.context_len, config.max_words)
        row = self.contexts[g] = self.vocab.encode_context(words, config.context_len, config.max_words)
        unknown["words"] += sum(len(w) for w in kept)
        unknown["unknown_words"] += int((row == specs.UNK_ID).sum())
        self.num_utterances[g] = len(kept)
        self.participants[g] = len(example.speakers)

        # Candidates and the user's history (earlier kept selections, oldest first).
        candidates, label, topped_up = self.sampler.candidates(set_id, sticker_id, split_index, line_number)
        history = self.stream.history(example.user)

        i = data.size
        data.index[i] = g
        data.line[i] = line_number
        data.label[i] = label
        data.candidate_ids[i] = candidates
        data.candidate_rows[i] = [self.store.row(s) for s in candidates]
        data.candidate_emoji[i] = [self.sticker_emoji[s] for s in candidates]
        if history:
            data.history[i, : len(history)] = history
        data.topped_up += topped_up
        data.line_hash[i] = int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest(), "little", signed=True)
        data.size += 1

        self.in_last10[g] = self.stream.in_last10(example.user, sticker_id)
        self.stream.add(example.user, g, sticker_id)
        self.users[g] = example.user
        self.selected[g] = sticker_id
        self.selected_rows[g] = self.store.row(sticker_id)
        self.size += 1
