"""Ranks stickers for a dialog with a trained model directory.

    python -m stickerchat.recommend --model_dir=runs/demo_pesrs \\
        --dialog "are you coming tonight ?" --dialog "sure , see you at 8" \\
        [--user_history_file history.jsonl] \\
        [--sticker_set 3 | --candidates 123456789012345678,123456789012345679 | --exhaustive] \\
        [--rerank_depth 100] [--top_k 10]

`--dialog` is repeated once per utterance, oldest first. Without
`--sticker_set` or `--candidates` the whole catalogue (every sticker of the
corpus) is searched: the recall stage picks `--rerank_depth` stickers and the
model ranks them (`stickerchat.serving.catalogue`; the recall stage is
trained on first use). `--exhaustive` has the model score every sticker
instead. Prints a tab-separated table `rank sticker_id set_id score emoji`,
best first (`emoji`: the sticker's label in its set's `emoji_mapping.txt`).

User history file (`--user_history_file`): JSON Lines, one earlier sticker
reply of the user per line, oldest first:

    {"context": ["hi", "how are you ?"], "sticker_id": 123456789012345678}

`context` is the list of utterances the sticker answered (oldest first);
`sticker_id` is an integer (or a string of digits). The file is parsed with
the stdlib `json`, which reads integers exactly, so 18-digit ids are kept; a
sticker id written as a float (`1.2e17`, `5.0`) is rejected. Blank lines are
ignored. Only the last `history_len` lines are used.

Sticker features are cached in `model_dir/sticker_features.npz` (see
`stickerchat.recommender`; `--cache_file=` with an empty value disables the
file, `--cache_file=PATH` puts it elsewhere).
"""

from __future__ import annotations

import json
import sys
from typing import List, Tuple

from absl import app, flags

FLAGS = flags.FLAGS


class HistoryFileError(ValueError):
    """A malformed user history file (the message names the file and line)."""


def read_user_history(path: str) -> List[Tuple[List[str], int]]:
    """Reads a user history file (format in the module docstring) -> `[(utterances, sticker_id), ...]`."""
    from stickerchat.recommender import RecommenderError, parse_sticker_id

    history = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryFileError(f"{where}: not JSON: {e}") from None
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


def define_flags():
    flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.")
    flags.DEFINE_multi_string("dialog", [], "An utterance of the dialog; repeat, oldest first.")
    flags.DEFINE_string("user_history_file", None, "JSON Lines user history (see the module docstring).")
    flags.DEFINE_string("sticker_set", None, "Rank the stickers of this set.")
    flags.DEFINE_list("candidates", None, "Comma-separated sticker ids to rank.")
    flags.DEFINE_integer("top_k", 10, "Print the best K (0: all).")
    flags.DEFINE_string("data_dir", None, "Data directory (default: the run's own).")
    flags.DEFINE_string("cache_file", None, "Sticker-feature cache (default: MODEL_DIR/sticker_features.npz; empty: none).")
    flags.DEFINE_bool("exhaustive", False, "Without --candidates/--sticker_set: score every sticker (no recall stage).")
    flags.DEFINE_integer("rerank_depth", 100, "Stickers the recall stage passes to the model.", lower_bound=1)
    flags.mark_flag_as_required("model_dir")


def format_ranking(ranking, sticker_set_of=None, emoji_of=None) -> str:
    """Tab-separated `rank sticker_id set_id score emoji` lines (`emoji_of`: sticker id -> label)."""
    lines = ["rank\tsticker_id\tset_id\tscore\temoji"]
    for k, (sticker_id, score) in enumerate(ranking, start=1):
        set_id = sticker_set_of.get(sticker_id, "") if sticker_set_of else ""
        emoji = emoji_of(sticker_id) if emoji_of else ""
        lines.append(f"{k}\t{sticker_id}\t{set_id}\t{score:.6f}\t{emoji}")
    return "\n".join(lines)


def emoji_lookup(corpus):
    """sticker id -> its emoji label (the token of `corpus.sticker_emoji`)."""
    tokens = corpus.emoji_vocab.tokens
    return lambda sticker_id: tokens[corpus.sticker_emoji[sticker_id]] if sticker_id in corpus.sticker_emoji else ""


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]} (quote each utterance: --dialog \"...\")")
    from stickerchat.recommender import Recommender, RecommenderError, default_cache_file

    if FLAGS.sticker_set is not None and FLAGS.candidates:
        raise app.UsageError("give --sticker_set or --candidates, not both")
    cache_file = default_cache_file(FLAGS.model_dir) if FLAGS.cache_file is None else (FLAGS.cache_file or None)
    try:
        history = read_user_history(FLAGS.user_history_file) if FLAGS.user_history_file else None
        rec = Recommender.from_model_dir(FLAGS.model_dir, data_dir=FLAGS.data_dir, cache_file=cache_file)
        candidates = FLAGS.candidates
        if FLAGS.sticker_set is None and not candidates:
            from stickerchat.serving.catalogue import CatalogueRecommender

            cat = CatalogueRecommender.from_model_dir(FLAGS.model_dir, FLAGS.data_dir, rec=rec, verbose=False)
            found = cat.recommend(
                FLAGS.dialog, history, top_k=FLAGS.top_k or None, rerank_depth=FLAGS.rerank_depth, exhaustive=FLAGS.exhaustive
            )
            print(format_ranking([(r.sticker_id, r.score) for r in found], rec.corpus.sticker_set_of, emoji_lookup(rec.corpus)))
            return
        if FLAGS.exhaustive:
            raise RecommenderError("--exhaustive applies to the whole catalogue: drop --candidates/--sticker_set")
        ranking = rec.rank(
            FLAGS.dialog,
            user_history=history,
            candidates=candidates if FLAGS.sticker_set is None else None,
            sticker_set=FLAGS.sticker_set,
            top_k=FLAGS.top_k or None,
        )
    except (RecommenderError, HistoryFileError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    print(format_ranking(ranking, rec.corpus.sticker_set_of, emoji_lookup(rec.corpus)))


def run():
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
