"""Recommender latency with and without the sticker-feature cache (run by hand).

    python -m benchmarks.recommend [--bench_model_dir=runs/demo_pesrs] [--repeats=20]
    python -m benchmarks.recommend --bench_preset=paper --bench_train_steps=2 --repeats=3

Without `--bench_model_dir`, trains a PESRS briefly with `--bench_preset`
(`cpu`: the small CNN at 64 px; `paper`: Inception-v3 at 128 px) for
`--bench_train_steps` on a demo corpus generated with `--bench_sets` sticker
sets (48: 1,056 stickers, so that 1,000 candidates are 1,000 distinct
stickers), in a temporary directory. Then, in one run:

* ranking 10, 50 and 1,000 distinct candidates for one dialog (with a
  5-item user history): median latency over `--repeats` calls with the
  feature cache (warm: every sticker already encoded) and without it
  (`use_cache=False`: the sticker encoder runs on every candidate and
  history sticker at every call, as the full model does), and their ratio;
  then the matcher's share: the same cached ranking's time inside the
  matcher, which bounds what any feature cache can reach (the ratio cannot
  exceed (encoder + matcher) / matcher);
* the test split's evaluation time: the full model on the pipeline's batches
  (what `stickerchat.evaluate` does) against `Recommender.score_split` with
  the cache (time to fill it reported separately), with the largest score
  difference between the two.

Prints a markdown table.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("bench_model_dir", None, "Trained model directory (default: train one briefly).")
flags.DEFINE_integer("bench_train_steps", 60, "Steps of the model trained when no model dir is given.")
flags.DEFINE_enum("bench_preset", "cpu", ["cpu", "paper"], "Preset of the model trained when no model dir is given.")
flags.DEFINE_integer("repeats", 20, "Timed calls per setting (median reported).")
flags.DEFINE_integer("bench_sets", 48, "Sticker sets of the demo corpus generated for the trained model (~22 stickers each).")


def _median_seconds(fn, repeats):
    fn()  # warm-up (tracing, cache fill)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv):
    del argv
    import numpy as np

    from stickerchat import specs
    from stickerchat.data import pipeline
    from stickerchat.cli.flags import resolve_config
    from stickerchat.serving.recommender import Recommender
    from stickerchat.training import trainer

    model_dir = FLAGS.bench_model_dir
    if model_dir is None:
        model_dir = tempfile.mkdtemp(prefix="bench-recommend-")
        steps = FLAGS.bench_train_steps
        preset = FLAGS.bench_preset
        from stickerchat.data import demo

        data_dir = os.path.join(model_dir, "corpus")
        demo.write_demo_corpus(data_dir, demo.DemoSpec(num_sets=FLAGS.bench_sets), verbose=False)
        config = resolve_config(preset, data_dir, "pesrs", train_steps=steps, eval_every=steps, eval_batches=2)
        config.train.attention_images = 0
        start = time.perf_counter()
        trainer.train(config, model_dir, verbose=0)
        print(f"trained {steps} steps ({preset} preset) into {model_dir} in {time.perf_counter() - start:.0f} s")

    cached = Recommender.from_model_dir(model_dir)
    uncached = Recommender(cached.model, cached.config, cached.corpus, use_cache=False)
    corpus = cached.corpus
    every = sorted(cached.known_sticker_ids())
    sets = list(corpus.sticker_sets)
    history = [([f"earlier dialog {k}"], corpus.sticker_sets[sets[k + 1]][0]) for k in range(5)]
    dialog = ["are you coming to the party tonight ?", "yes ! i am so happy"]
    start = time.perf_counter()
    cached.precompute()
    fill = time.perf_counter() - start

    from stickerchat.serving.recommender import MAX_ROW_FACTOR

    c = cached.config
    rows = [
        f"{c.preset} preset ({c.model.image_encoder}, image {c.data.image_size}px, d={c.model.hidden_dim}, "
        f"matcher rows of up to {MAX_ROW_FACTOR * c.data.num_candidates} candidates), "
        f"{len(every)} demo stickers, history of {len(history)}; median of {FLAGS.repeats} calls",
        "",
        "| candidates | no cache (ms) | cache (ms) | speed-up | matcher alone (ms) | encoder alone (ms) | bound on the speed-up |",
        "|-----------:|--------------:|-----------:|---------:|-------------------:|-------------------:|----------------------:|",
    ]
    if len(every) < 1000:
        raise SystemExit(f"the model's corpus has {len(every)} stickers; 1,000 distinct candidates are needed")
    for n in (10, 50, 1000):
        candidates = every[:n]
        t_cache = _median_seconds(lambda: cached.rank(dialog, history, candidates=candidates), FLAGS.repeats)
        t_full = _median_seconds(lambda: uncached.rank(dialog, history, candidates=candidates), FLAGS.repeats)
        a = dict(cached.rank(dialog, history, candidates=candidates))
        b = dict(uncached.rank(dialog, history, candidates=candidates))
        assert max(abs(a[i] - b[i]) for i in a) < 1e-5
        # What no feature cache can skip (the matcher), and what it does skip (the encoder).
        inputs = cached.matcher_inputs(dialog, history, candidates)
        matcher = cached.matcher()
        t_match = _median_seconds(lambda: matcher.predict_on_batch(inputs), FLAGS.repeats)
        ids = candidates + [sticker for _, sticker in history]
        t_encode = _median_seconds(lambda: uncached.encode_stickers(ids), FLAGS.repeats)
        rows.append(
            f"| {n} | {1e3 * t_full:.1f} | {1e3 * t_cache:.1f} | {t_full / t_cache:.1f}× | {1e3 * t_match:.1f} | "
            f"{1e3 * t_encode:.1f} | {(t_match + t_encode) / t_match:.1f}× |"
        )

    # Test split: the full model on the pipeline's batches vs the cached matcher.
    def full_eval():
        ds = pipeline.make_dataset(corpus, "test", cached.config.data, batch_size=cached.config.train.batch_size, training=False)
        return np.concatenate([np.asarray(cached.model.predict_on_batch(x)[specs.SCORES]) for x, _ in ds])

    full_eval()  # warm-up
    start = time.perf_counter()
    full_scores = full_eval()
    t_full = time.perf_counter() - start
    cached.score_split("test")  # warm-up
    start = time.perf_counter()
    cached_scores = cached.score_split("test")
    t_cache = time.perf_counter() - start
    diff = float(np.max(np.abs(full_scores - cached_scores)))
    rows += [
        "",
        f"| test split ({len(full_scores)} examples) | full model (s) | cache (s) | speed-up |",
        "|---|---:|---:|---:|",
        f"| evaluation | {t_full:.2f} | {t_cache:.2f} | {t_full / t_cache:.1f}× |",
        "",
        f"filling the cache with all {len(every)} stickers: {fill:.2f} s (once per model; then reused from the .npz file); "
        f"max |score difference| cached vs full on the test split: {diff:.1e}",
    ]
    print("\n".join(rows))


if __name__ == "__main__":
    app.run(main)
