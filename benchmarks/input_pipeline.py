"""Throughput of the input pipeline alone, and peak memory of packing + streaming.

    python -m benchmarks.input_pipeline [--big_sets 850] [--big_train 20000] [--workdir /tmp/sc-bench]

1. examples/s of `make_dataset` (training order, cpu preset) on the demo
   corpus, iterating batches without a model, with and without per-batch
   sticker de-duplication, and the sticker-encoder calls per batch that
   de-duplication saves (PESRS: candidates and history; SRS: candidates);
2. the same on a larger synthetic corpus (the demo generator with more sets,
   users and examples; ~24 stickers per set), at the cpu preset's 64×64 and at
   the paper's 128×128 with 15 utterances × 30 words;
3. peak RSS (`resource.getrusage`) of this process, measured after packing the
   large corpus at 128×128 and after streaming it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from typing import Sequence

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "/tmp/stickerchat-bench", "Where the synthetic corpora and the cache go.")
flags.DEFINE_integer("big_sets", 850, "Sets of the large synthetic corpus (~24 stickers each).")
flags.DEFINE_integer("big_train", 20000, "Training examples of the large synthetic corpus.")
flags.DEFINE_integer("batches", 300, "Batches timed per measurement.")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def throughput(corpus, config, batches: int, **options) -> float:
    from stickerchat.data import pipeline

    dataset = pipeline.make_dataset(
        corpus,
        "train",
        config.data,
        batch_size=config.train.batch_size,
        shuffle_buffer=config.train.shuffle_buffer,
        training=True,
        repeat=True,
        **options,
    )
    iterator = iter(dataset)
    for _ in range(5):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - start
    del iterator
    return batches * config.train.batch_size / seconds


def main(argv: Sequence[str]) -> None:
    del argv
    os.environ.setdefault("STICKERCHAT_CACHE", os.path.join(FLAGS.workdir, "cache"))
    from stickerchat.config import get_preset
    from stickerchat.data import demo, load_corpus, pipeline

    cpu = get_preset("cpu")
    cpu.data.cache_dir = os.environ["STICKERCHAT_CACHE"]
    print(f"cores: {os.cpu_count()}")
    corpus = load_corpus(None, cpu.data)
    print(f"demo corpus, cpu preset (64px, batch 32): {throughput(corpus, cpu, FLAGS.batches):,.0f} examples/s")
    unique_rate = throughput(corpus, cpu, FLAGS.batches, unique_stickers=pipeline.UniqueStickers())
    print(f"demo corpus, de-duplicated stickers (what training reads): {unique_rate:,.0f} examples/s")

    for model, history in (("PESRS", True), ("SRS", False)):
        slots, unique = pipeline.encoder_calls(corpus, "train", cpu.train.batch_size, unique_history=history)
        print(f"sticker-encoder calls per training batch of {cpu.train.batch_size}, {model}: {slots:.0f} slots, "
              f"{unique:.1f} distinct images ({1 - unique / slots:.0%} saved)")

    big_dir = os.path.join(FLAGS.workdir, f"big-{FLAGS.big_sets}-{FLAGS.big_train}")
    if not os.path.exists(os.path.join(big_dir, demo.COMPLETE_MARKER)):
        # In a child process, so that generating does not count in this process's peak RSS.
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "stickerchat.data.demo", f"--out={big_dir}", "--seed=1", "--noceiling",
             f"--num_train={FLAGS.big_train}", "--num_val=1000", "--num_test=1000", f"--num_sets={FLAGS.big_sets}",
             "--num_users=2000", "--npy_size=128"],
            check=True,
        )
        print(f"generated in {time.perf_counter() - start:.0f} s")
    rss_before = peak_rss_mb()  # TF imported, demo corpus loaded and streamed.
    paper = get_preset("paper")
    paper.data.cache_dir = cpu.data.cache_dir
    start = time.perf_counter()
    big = load_corpus(big_dir, paper.data)
    print(f"load + pack at 128px: {time.perf_counter() - start:.1f} s; {big.num_stickers} stickers, "
          f"packed file {os.path.getsize(big.store.path) / 2**20:,.0f} MiB; peak RSS {peak_rss_mb():,.0f} MiB "
          f"(before: {rss_before:,.0f} MiB)")
    rate = throughput(big, paper, FLAGS.batches)
    print(f"large corpus, paper shapes (128px, 15x30 words, batch 32): {rate:,.0f} examples/s; "
          f"peak RSS after streaming {FLAGS.batches} batches: {peak_rss_mb():,.0f} MiB")
    big64 = load_corpus(big_dir, cpu.data)
    print(f"large corpus, cpu preset (64px): {throughput(big64, cpu, FLAGS.batches):,.0f} examples/s; "
          f"peak RSS {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    app.run(main)
