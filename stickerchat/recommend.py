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
`--top_k=K` keeps the best K (0: all; negative values are refused);
`--contact_sheet=PATH.png` also draws the printed stickers in a grid with
rank, score and emoji (as code points: `U+1F600`). A dialog none of whose
words is in the vocabulary is ranked with a warning: the model cannot read it.

User history file (`--user_history_file`): JSON Lines, one earlier sticker
reply of the user per line, oldest first:

    {"context": ["hi", "how are you ?"], "sticker_id": 123456789012345678}

`context` is the list of utterances the sticker answered (oldest first);
`sticker_id` is an integer (or a string of digits). The file is parsed with
the stdlib `json`, which reads integers exactly, so 18-digit ids are kept; a
sticker id written as a float (`1.2e17`, `5.0`) is rejected. Blank lines are
ignored. Only the last `history_len` lines are used.

Sticker features are cached in `model_dir/sticker_features.npz` (see
`stickerchat.serving.feature_cache`; `--cache_file=` with an empty value disables the
file, `--cache_file=PATH` puts it elsewhere).
"""

from __future__ import annotations

import sys

from stickerchat.cli import runner

runner.quiet_tensorflow()

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.")
    flags.DEFINE_multi_string("dialog", [], "An utterance of the dialog; repeat, oldest first.")
    flags.DEFINE_string("user_history_file", None, "JSON Lines user history (see the module docstring).")
    flags.DEFINE_string("sticker_set", None, "Rank the stickers of this set.")
    flags.DEFINE_list("candidates", None, "Comma-separated sticker ids to rank.")
    flags.DEFINE_integer("top_k", 10, "Print the best K (0: all).", lower_bound=0)
    flags.DEFINE_string("contact_sheet", None, "Also draw the printed stickers into this PNG file.")
    flags.DEFINE_string("data_dir", None, "Data directory (default: the run's own).")
    flags.DEFINE_string("cache_file", None, "Sticker-feature cache (default: MODEL_DIR/sticker_features.npz; empty: none).")
    flags.DEFINE_bool("exhaustive", False, "Without --candidates/--sticker_set: score every sticker (no recall stage).")
    flags.DEFINE_integer("rerank_depth", 100, "Stickers the recall stage passes to the model.", lower_bound=1)
    flags.mark_flag_as_required("model_dir")


def format_ranking(ranking, sticker_set_of=None, labels=None) -> str:
    """The printed table: `rank sticker_id set_id score emoji`, one row per sticker."""
    lines = ["rank\tsticker_id\tset_id\tscore\temoji"]
    for k, (sticker_id, score) in enumerate(ranking, start=1):
        set_id = sticker_set_of.get(sticker_id, "") if sticker_set_of else ""
        label = labels.get(sticker_id, "") if labels else ""
        lines.append(f"{k}\t{sticker_id}\t{set_id}\t{score:.6f}\t{label}")
    return "\n".join(lines)


def write_contact_sheet(path: str, rec, ranking) -> None:
    """Draws the ranked stickers (best first) with rank, score and emoji into a PNG file, atomically."""
    from stickerchat.rundir.runfiles import atomic_path
    from stickerchat.evaluation.visualize import contact_sheet, emoji_caption

    images = [rec.corpus.sticker_image(i) for i, _ in ranking]
    captions = [f"#{k} {score:.3f} {emoji_caption(rec.sticker_label(i))}" for k, (i, score) in enumerate(ranking, 1)]
    with atomic_path(path) as tmp:
        contact_sheet(images, captions).save(tmp, format="PNG")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]} (quote each utterance: --dialog \"...\")")
    import warnings

    from stickerchat.rundir import RunDir
    from stickerchat.serving.recommender import Recommender, RecommenderError
    from stickerchat.serving.user_history import HistoryFileError, read_user_history

    if FLAGS.sticker_set is not None and FLAGS.candidates:
        raise app.UsageError("give --sticker_set or --candidates, not both")
    if FLAGS.contact_sheet and not FLAGS.contact_sheet.lower().endswith(".png"):
        raise app.UsageError(f"--contact_sheet={FLAGS.contact_sheet}: the file name must end in .png")
    cache_file = RunDir(FLAGS.model_dir).feature_cache_file if FLAGS.cache_file is None else (FLAGS.cache_file or None)
    try:
        history = read_user_history(FLAGS.user_history_file) if FLAGS.user_history_file else None
        rec = Recommender.from_model_dir(FLAGS.model_dir, data_dir=FLAGS.data_dir, cache_file=cache_file)
        candidates = FLAGS.candidates
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if FLAGS.sticker_set is None and not candidates:
                from stickerchat.serving.catalogue import CatalogueRecommender

                cat = CatalogueRecommender.from_model_dir(FLAGS.model_dir, FLAGS.data_dir, rec=rec, verbose=False)
                found = cat.recommend(
                    FLAGS.dialog,
                    history,
                    top_k=FLAGS.top_k or None,
                    rerank_depth=FLAGS.rerank_depth,
                    exhaustive=FLAGS.exhaustive,
                )
                ranking = [(r.sticker_id, r.score) for r in found]
            else:
                if FLAGS.exhaustive:
                    raise RecommenderError("--exhaustive applies to the whole catalogue: drop --candidates/--sticker_set")
                ranking = rec.rank(
                    FLAGS.dialog,
                    user_history=history,
                    candidates=candidates if FLAGS.sticker_set is None else None,
                    sticker_set=FLAGS.sticker_set,
                    top_k=FLAGS.top_k or None,
                )
        for warning in caught:
            print(f"warning: {warning.message}", file=sys.stderr)
    except (RecommenderError, HistoryFileError) as e:
        print(f"error: {runner.one_line(e)}", file=sys.stderr)
        raise SystemExit(runner.EXIT_USER_ERROR)
    print(format_ranking(ranking, rec.corpus.sticker_set_of, rec.corpus.sticker_alt))
    if FLAGS.contact_sheet:
        write_contact_sheet(FLAGS.contact_sheet, rec, ranking)
        print(f"wrote {FLAGS.contact_sheet}", file=sys.stderr)


def run():
    define_flags()
    runner.run(main)


if __name__ == "__main__":
    run()
