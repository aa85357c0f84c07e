"""Loopback load on `python -m stickerchat.serve` (run by hand; stops by itself).

    python -m benchmarks.serve --bench_model_dir=runs/demo_pesrs [--concurrency=1,4,16] [--requests=300] [--max_seconds=60]

Starts the service on a free 127.0.0.1 port (and stops it at the end), then
for each concurrency level sends `--requests` POST /recommend requests
(recall + rerank over the whole catalogue, `top_k` 5, the service's rerank
depth) built from the test split's dialogs and user histories, keeping that
many in flight, and stops a level after `--max_seconds`. Reports
requests/s, latency p50/p99 and errors (non-200 answers, failed
connections). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("bench_model_dir", None, "Trained model directory (with or without a recall stage).", required=True)
flags.DEFINE_list("concurrency", ["1", "4", "16"], "Requests in flight, one level after another.")
flags.DEFINE_integer("requests", 300, "Requests per level.")
flags.DEFINE_float("max_seconds", 60.0, "A level stops after this long.")
flags.DEFINE_integer("rerank_depth", 100, "The service's rerank depth.")
flags.DEFINE_integer("startup_seconds", 900, "How long to wait for the service to answer /healthz.")


def build_requests(model_dir: str, count: int):
    """Request bodies from the test split (raw text decoded from the corpus)."""
    import numpy as np

    from stickerchat import data as data_lib
    from stickerchat.rundir import RunDir

    config = RunDir(model_dir).read_config()
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)
    tokens = corpus.vocab.tokens

    def text(context):
        return [" ".join(tokens[w] for w in row if w) for row in np.asarray(context) if np.any(row)]

    data = corpus.split("test")
    bodies = []
    for k in range(min(count, len(data))):
        history = data.history[k]
        items = [
            {"context": text(corpus.contexts[h]), "sticker_id": str(int(corpus.selected[h]))} for h in history if h >= 0
        ]
        bodies.append(json.dumps({"dialog": text(corpus.contexts[data.index[k]]), "history": items, "top_k": 5}).encode())
    return bodies


async def load(port: int, bodies, concurrency: int, total: int, max_seconds: float):
    import aiohttp

    latencies, errors = [], {}
    next_index = 0
    deadline = time.perf_counter() + max_seconds

    async def worker(session):
        nonlocal next_index
        while next_index < total and time.perf_counter() < deadline:
            body = bodies[next_index % len(bodies)]
            next_index += 1
            t0 = time.perf_counter()
            try:
                async with session.post(f"http://127.0.0.1:{port}/recommend", data=body, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    if r.status != 200:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - t0)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def main(argv):
    del argv
    import numpy as np

    levels = [int(c) for c in FLAGS.concurrency]
    bodies = build_requests(FLAGS.bench_model_dir, 400)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    log_path = os.path.join(FLAGS.bench_model_dir, "bench_serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "stickerchat.serve", f"--model_dir={FLAGS.bench_model_dir}", f"--port={port}", f"--rerank_depth={FLAGS.rerank_depth}"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=root),
    )
    try:
        start = time.perf_counter()
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the service exited; see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    health = json.loads(r.read())
                    break
            except OSError:
                pass
            if time.perf_counter() - start > FLAGS.startup_seconds:
                raise SystemExit(f"the service did not start in {FLAGS.startup_seconds} s; see {log_path}")
            time.sleep(0.5)
        print(f"service up in {time.perf_counter() - start:.0f} s: {health}", flush=True)
        asyncio.run(load(port, bodies, 1, 5, 30))  # warm-up
        rows = [
            f"POST /recommend (recall + rerank, depth {FLAGS.rerank_depth}, top 5) on 127.0.0.1, {health['num_stickers']} stickers, "
            f"{health['index']} index; up to {FLAGS.requests} requests or {FLAGS.max_seconds:.0f} s per level",
            "",
            "| concurrency | requests | requests/s | p50 (ms) | p99 (ms) | errors |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for level in levels:
            latencies, errors, elapsed = asyncio.run(load(port, bodies, level, FLAGS.requests, FLAGS.max_seconds))
            ms = 1e3 * np.asarray(latencies) if latencies else np.asarray([np.nan])
            done = len(latencies) + sum(errors.values())
            rows.append(
                f"| {level} | {done} | {len(latencies) / elapsed:.1f} | {np.percentile(ms, 50):.1f} | {np.percentile(ms, 99):.1f} | "
                f"{sum(errors.values())} {json.dumps(errors) if errors else ''} |"
            )
        print("\n".join(rows), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


if __name__ == "__main__":
    app.run(main)
