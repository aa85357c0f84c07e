"""Whole-catalogue recommendation on a generated catalogue (run by hand; stops by itself).

    python -m benchmarks.catalogue --bench_model_dir=runs/demo_pesrs               # cpu preset
    python -m benchmarks.catalogue --bench_preset=paper --bench_train_steps=2 --recall_only_size=0

Without `--bench_model_dir` a PESRS is trained briefly with `--bench_preset`
on the demo corpus (in a temporary directory); its recall stage is trained
on first use. Then:

1. **A generated catalogue of `--catalogue_size` stickers** (100,000): each
   generated sticker copies the ranker's cached features (O and O_flat) of a
   random real demo sticker plus Gaussian noise (30% of each feature's
   spread), so that the catalogue has the real one's cluster structure; the
   ranker and the recall towers see only features, so no images are
   generated. Reported: recall vectors (sticker tower) time, index build
   time and memory (exact: the matrix; faiss HNSW: resident-memory growth),
   recall-stage latency per dialog (query tower + top-100) for both indexes
   and HNSW's overlap with the exact top 100, recall + rerank latency at
   rerank depths 50/100/200 (p50/p99 over `--dialogs` test dialogs, warm,
   one at a time), and the exhaustive path (the ranker on every sticker, in
   chunks of 5,120) on `--exhaustive_dialogs` dialogs, side by side.
2. **The recall stage alone on `--recall_only_size` stickers** (1,000,000;
   0 skips): O_flat generated the same way, recall vectors, exact and HNSW
   build time, memory, latency and overlap.

Prints markdown tables.
"""

from __future__ import annotations

import os
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("bench_model_dir", None, "Trained model directory (default: train one briefly).")
flags.DEFINE_enum("bench_preset", "cpu", ["cpu", "paper"], "Preset of the model trained when no model dir is given.")
flags.DEFINE_integer("bench_train_steps", 60, "Steps of the model trained when no model dir is given.")
flags.DEFINE_integer("catalogue_size", 100_000, "Stickers of the generated catalogue.")
flags.DEFINE_integer("recall_only_size", 1_000_000, "Stickers of the recall-only measurement (0: skip).")
flags.DEFINE_integer("dialogs", 200, "Test dialogs timed per setting.")
flags.DEFINE_integer("exhaustive_dialogs", 5, "Dialogs the exhaustive path is timed on.")
flags.DEFINE_list("depths", ["50", "100", "200"], "Rerank depths.")
flags.DEFINE_integer("hnsw_m", 16, "faiss HNSW graph degree.")
flags.DEFINE_integer("hnsw_ef_construction", 40, "faiss HNSW build beam.")
flags.DEFINE_integer("hnsw_ef_search", 256, "faiss HNSW search beam.")
flags.DEFINE_integer("seed", 0, "Seed of the generated catalogue.")

EXHAUSTIVE_CHUNK = 5120


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(times_s):
    import numpy as np

    ms = 1e3 * np.asarray(times_s)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def generate(rng, real, n, scale=0.3, block=10_000):
    """`n` rows: a random real row plus Gaussian noise of `scale` × each feature's spread, in blocks."""
    import numpy as np

    spread = real.reshape(len(real), -1).std(axis=0).reshape(real.shape[1:]) + 1e-6
    for start in range(0, n, block):
        size = min(block, n - start)
        base = rng.integers(0, len(real), size)
        yield start, (real[base] + scale * spread * rng.standard_normal((size,) + real.shape[1:])).astype(np.float32)


def main(argv):
    del argv
    import numpy as np

    from stickerchat.cli.flags import resolve_config
    from stickerchat.data.features import example_inputs
    from stickerchat.serving import catalogue as catalogue_lib
    from stickerchat.serving.index import ExactIndex, HNSWIndex
    from stickerchat.training import trainer

    rng = np.random.default_rng(FLAGS.seed)
    model_dir = FLAGS.bench_model_dir
    if model_dir is None:
        model_dir = tempfile.mkdtemp(prefix="bench-catalogue-")
        from stickerchat.data import demo

        data_dir = os.path.join(model_dir, "corpus")
        demo.write_demo_corpus(data_dir, demo.DemoSpec(), verbose=False)
        steps = FLAGS.bench_train_steps
        config = resolve_config(FLAGS.bench_preset, data_dir, "pesrs", train_steps=steps, eval_every=steps, eval_batches=2)
        config.train.attention_images = 0
        start = time.perf_counter()
        trainer.train(config, model_dir, verbose=0)
        print(f"trained {steps} steps ({FLAGS.bench_preset} preset) into {model_dir} in {time.perf_counter() - start:.0f} s", flush=True)
        options = {"max_examples": 1024, "teacher_examples": 512, "epochs": 4}
    else:
        options = None
    real_cat = catalogue_lib.CatalogueRecommender.from_model_dir(model_dir, recall_options=options)
    rec, recall = real_cat.rec, real_cat.recall
    c = rec.config
    real_ids = [int(i) for i in real_cat.sticker_ids]
    real_maps, real_vectors = rec.cache.gather(real_ids)
    n = FLAGS.catalogue_size
    depths = [int(d) for d in FLAGS.depths]
    out = [
        f"## {c.preset} preset ({c.model.image_encoder}, O {real_maps.shape[1:]}, O_flat {real_vectors.shape[1]}), "
        f"recall vectors of {recall.index_dim}; a generated catalogue of {n:,} stickers; {FLAGS.dialogs} test dialogs, warm, one at a time",
        "",
    ]

    # --- The generated catalogue: features into the ranker's cache --------------------------------
    ids = [10**17 + j for j in range(n)]  # 18 digits; not ids of the demo corpus
    rss0 = rss_mib()
    start = time.perf_counter()
    # One add of preallocated arrays: the cache grows once (peak about twice the features, not three times).
    maps_all = np.empty((n,) + real_maps.shape[1:], np.float32)
    vectors_all = np.empty((n,) + real_vectors.shape[1:], np.float32)
    for (s, maps_block), (_, vectors_block) in zip(
        generate(rng, real_maps, n), generate(np.random.default_rng(FLAGS.seed + 1), real_vectors, n)
    ):
        maps_all[s : s + len(maps_block)] = maps_block
        vectors_all[s : s + len(vectors_block)] = vectors_block
    rec.cache.add(ids, maps_all, vectors_all)
    del maps_all, vectors_all
    t_features = time.perf_counter() - start
    features_mib = rss_mib() - rss0
    start = time.perf_counter()
    cat = catalogue_lib.CatalogueRecommender(rec, recall, sticker_ids=ids, index_kind="exact")
    t_embed = time.perf_counter() - start
    exact = cat.index
    start = time.perf_counter()
    rss1 = rss_mib()
    hnsw = HNSWIndex(cat.embeddings, m=FLAGS.hnsw_m, ef_construction=FLAGS.hnsw_ef_construction, ef_search=FLAGS.hnsw_ef_search)
    t_hnsw = time.perf_counter() - start
    hnsw_mib = rss_mib() - rss1
    out.append(
        f"ranker features of {n:,} generated stickers into the cache: {t_features:.1f} s, {features_mib:,.0f} MiB resident; "
        f"recall vectors + exact index: {t_embed:.1f} s"
    )
    out.append("")

    queries = [example_inputs(rec.corpus, "test", k % rec.corpus.num_examples("test")) for k in range(FLAGS.dialogs)]

    def recall_time(index, k=100):
        cat.index = index
        times, rows = [], []
        for q in queries[:3]:
            cat.recall_rows([q], k)
        for q in queries:
            t0 = time.perf_counter()
            rows.append(cat.recall_rows([q], k)[1][0])
            times.append(time.perf_counter() - t0)
        return percentiles(times), rows

    (e50, e99), exact_rows = recall_time(exact)
    (h50, h99), hnsw_rows = recall_time(hnsw)
    overlap = np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(exact_rows, hnsw_rows)])
    out += [
        f"| recall stage, {n:,} stickers, top 100 | build (s) | index memory (MiB) | p50 (ms) | p99 (ms) | overlap with exact top 100 |",
        "|---|---:|---:|---:|---:|---:|",
        f"| exact (faiss IndexFlatIP, one thread) | {t_embed:.2f} (with the recall vectors) | {exact.nbytes / 2**20:.0f} | {e50:.2f} | {e99:.2f} | 1 |",
        f"| faiss HNSW (M={FLAGS.hnsw_m}, efC={FLAGS.hnsw_ef_construction}, efS={FLAGS.hnsw_ef_search}) | {t_hnsw:.1f} | {hnsw_mib:.0f} | {h50:.2f} | {h99:.2f} | {overlap:.3f} |",
        "",
    ]

    def pipeline_time(index, depth):
        cat.index = index
        times = []

        def one(q):
            ids_ = cat.recall_ids(q, depth)
            return catalogue_lib.score_many(rec, [q], [ids_])[0]

        for q in queries[:3]:
            one(q)
        for q in queries:
            t0 = time.perf_counter()
            one(q)
            times.append(time.perf_counter() - t0)
        return percentiles(times)

    # Exhaustive: the ranker on every sticker (in chunks), for a few dialogs.
    chunks = [ids[s : s + EXHAUSTIVE_CHUNK] for s in range(0, n, EXHAUSTIVE_CHUNK)]
    widths = {len(ch) for ch in chunks}

    def exhaustive(q):
        scores = []
        for ch in chunks:
            scores.append(catalogue_lib.score_many(rec, [q], [ch])[0])
        return np.concatenate(scores)

    for width in widths:  # compile each matcher width once
        catalogue_lib.score_many(rec, [queries[0]], [ids[:width]])
    ex_times, ex_top1 = [], []
    for q in queries[: FLAGS.exhaustive_dialogs]:
        t0 = time.perf_counter()
        scores = exhaustive(q)
        ex_times.append(time.perf_counter() - t0)
        ex_top1.append(int(np.argmax(scores)))
    ex50 = 1e3 * float(np.median(ex_times))
    out += [
        f"| recall + rerank, {n:,} stickers | p50 (ms) | p99 (ms) | exhaustive p50 / this p50 |",
        "|---|---:|---:|---:|",
    ]
    for depth in depths:
        p50, p99 = pipeline_time(exact, depth)
        out.append(f"| exact recall, rerank depth {depth} | {p50:.1f} | {p99:.1f} | {ex50 / p50:.0f}× |")
    p50, p99 = pipeline_time(hnsw, 100)
    out.append(f"| HNSW recall, rerank depth 100 | {p50:.1f} | {p99:.1f} | {ex50 / p50:.0f}× |")
    cat.index = exact
    kept = np.mean([t in set(cat.recall_rows([q], 100)[1][0]) for q, t in zip(queries, ex_top1)])
    out += [
        f"| exhaustive: the ranker on all {n:,} stickers ({len(ex_times)} dialogs) | {ex50:.0f} | {1e3 * max(ex_times):.0f} (max) | 1× |",
        "",
        f"exhaustive top-1 kept by the recall top 100 on the generated catalogue: {kept:.2f} of {len(ex_top1)} dialogs "
        "(the generated stickers are noisy copies, so this is about speed, not quality)",
        "",
    ]
    print("\n".join(out), flush=True)
    out = []
    cat = exact = hnsw = None  # free them (the closures above are not called again)

    # --- Recall alone on recall_only_size stickers -------------------------------------------------
    m = FLAGS.recall_only_size
    if m:
        start = time.perf_counter()
        vectors = np.empty((m, real_vectors.shape[1]), np.float32)
        for s, block in generate(np.random.default_rng(FLAGS.seed + 2), real_vectors, m, block=100_000):
            vectors[s : s + len(block)] = block
        embed = np.concatenate([np.asarray(recall.encode_stickers(vectors[s : s + 65536]), np.float32) for s in range(0, m, 65536)])
        t_vec = time.perf_counter() - start
        del vectors
        big_exact = ExactIndex(embed)
        qv = real_cat.query_vectors(queries)
        times, rows_e = [], []
        for q in qv:
            t0 = time.perf_counter()
            rows_e.append(big_exact.search(q[None], 100)[1][0])
            times.append(time.perf_counter() - t0)
        be50, be99 = percentiles(times)
        rss1 = rss_mib()
        start = time.perf_counter()
        big_hnsw = HNSWIndex(embed, m=FLAGS.hnsw_m, ef_construction=FLAGS.hnsw_ef_construction, ef_search=FLAGS.hnsw_ef_search)
        t_build = time.perf_counter() - start
        mem = rss_mib() - rss1
        times, rows_h = [], []
        for q in qv:
            t0 = time.perf_counter()
            rows_h.append(big_hnsw.search(q[None], 100)[1][0])
            times.append(time.perf_counter() - t0)
        bh50, bh99 = percentiles(times)
        overlap = np.mean([len(set(a) & set(b)) / 100 for a, b in zip(rows_e, rows_h)])
        out += [
            f"| recall stage alone, {m:,} generated stickers, top 100 (search only) | build (s) | index memory (MiB) | p50 (ms) | p99 (ms) | overlap with exact |",
            "|---|---:|---:|---:|---:|---:|",
            f"| exact | 0 | {big_exact.nbytes / 2**20:.0f} | {be50:.2f} | {be99:.2f} | 1 |",
            f"| faiss HNSW | {t_build:.0f} | {mem:.0f} | {bh50:.2f} | {bh99:.2f} | {overlap:.3f} |",
            "",
            f"generating {m:,} O_flat rows and their recall vectors: {t_vec:.1f} s",
        ]
        print("\n".join(out), flush=True)


if __name__ == "__main__":
    app.run(main)
