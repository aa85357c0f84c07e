"""Corpus statistics: the paper's Table 1 and the §3.2 figures.

    python -m stickerchat.data.stats --data_dir DIR     # no --data_dir: the demo corpus

Per split: context-sticker pairs, mean words per (non-empty) context
utterance, mean participants per dialog (distinct `from_id`s of the context
messages and the sticker sender), mean non-empty utterances per context (before
the `context_len` cut), history coverage (share of examples with >= 1 earlier
selection of the same user), mean history length (over all examples, up to
`history_len`), share of chosen stickers among the user's 10 most recent
earlier selections, examples topped up from other sets and skipped examples;
plus the number of sets, stickers and the mean set size (corpus-wide), and
exact duplicate examples (the same line): within each split and shared with
the other splits (a test example that is also a training example inflates
the test metrics; a warning line says so).
Paper (train): 320,168 pairs, 7.54 words, 5.81 users, 88.12% with history,
6.82 mean history length, 54.09% among the last 10; 3,516 sets, 174,695
stickers, 49.6 per set.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
from absl import flags

from stickerchat.data.corpus import SPLITS, Corpus


def corpus_statistics(corpus: Corpus) -> pd.DataFrame:
    """The statistics of every split as a DataFrame (rows: statistics, columns: splits).

    Corpus-wide numbers (sets, stickers, mean set size, skipped) repeat in
    every column; `skipped` counts all splits together.
    """
    num_sets = len(corpus.sticker_sets)
    num_stickers = corpus.num_stickers
    duplicates = corpus.duplicates()
    rows = {}
    for split in SPLITS:
        data = corpus.split(split)
        index = data.index
        n = len(data)
        utterances = corpus.num_nonempty[index]
        history = corpus.history_stats(split) if n else {}
        rows[split] = {
            "pairs": n,
            "mean_words_per_utterance": float(corpus.num_words[index].sum() / max(utterances.sum(), 1)),
            "mean_participants": float(corpus.participants[index].mean()) if n else 0.0,
            "mean_utterances_per_context": float(utterances.mean()) if n else 0.0,
            "share_with_history": history.get("share_with_history", 0.0),
            "mean_history_length": history.get("mean_history_length", 0.0),
            "share_in_last10": history.get("share_in_last10", 0.0),
            "topped_up": data.topped_up,
            "sets": num_sets,
            "stickers": num_stickers,
            "mean_set_size": num_stickers / max(num_sets, 1),
            "skipped": int(sum(corpus.skipped.values())),
            "duplicates_within_split": duplicates[split]["within"],
            **{f"duplicates_in_{other}": duplicates[split].get(f"in_{other}", 0) for other in SPLITS},
        }
    return pd.DataFrame(rows)


def format_statistics(corpus: Corpus) -> str:
    frame = corpus_statistics(corpus)
    lines = [frame.to_string(float_format=lambda v: f"{v:.4g}")]
    if corpus.skipped:
        lines.append("skipped by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(corpus.skipped.items())))
    lines.extend(duplicate_warnings(corpus))
    return "\n".join(lines)


def duplicate_warnings(corpus: Corpus) -> list:
    """One line per split with exact duplicate examples, within it or shared with an earlier split."""
    out = []
    for split, counts in corpus.duplicates().items():
        parts = []
        if counts["within"]:
            parts.append(f"{counts['within']} repeat an earlier line of {split}")
        earlier = SPLITS[: SPLITS.index(split)]
        parts += [f"{counts[f'in_{o}']} also in {o}" for o in earlier if counts.get(f"in_{o}")]
        if parts:
            out.append(f"warning: exact duplicate examples in {split}: " + "; ".join(parts))
    return out


FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Data directory in the released layout (absent: the demo corpus).")
flags.DEFINE_integer("context_len", 15, "Utterances kept per context.")
flags.DEFINE_integer("max_words", 30, "Words kept per utterance.")
flags.DEFINE_integer("history_len", 10, "History items per example.")
flags.DEFINE_integer("image_size", 128, "Sticker size the images are packed at.")
flags.DEFINE_bool("skip_bad_examples", False, "Count and skip bad examples instead of failing.")
flags.DEFINE_string("cache_dir", None, "Cache directory.")


def main(argv: Sequence[str]) -> None:
    del argv
    from stickerchat.config import DataConfig
    from stickerchat.data import load_corpus

    config = DataConfig(
        context_len=FLAGS.context_len,
        max_words=FLAGS.max_words,
        history_len=FLAGS.history_len,
        image_size=FLAGS.image_size,
        skip_bad_examples=FLAGS.skip_bad_examples,
        cache_dir=FLAGS.cache_dir,
    )
    corpus = load_corpus(FLAGS.data_dir, config)
    print(format_statistics(corpus))


if __name__ == "__main__":
    from stickerchat.cli import runner

    runner.run(main)
