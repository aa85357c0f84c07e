"""`python -m stickerchat.serve` in a child process on a free loopback port, for tests and benchmarks.

    with serve_in_subprocess(model_dir, rerank_depth=30) as served:
        urllib.request.urlopen(f"http://127.0.0.1:{served.port}/healthz")

The context manager starts the service with this interpreter (the repository
root on `PYTHONPATH`, its output in `log_path`), waits until `GET /healthz`
answers 200 and stops it (SIGTERM, then SIGKILL after 30 s) on the way out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Iterator, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ServerStartError(RuntimeError):
    """The service exited or did not answer `/healthz` in time (the message holds its log's end)."""


@dataclasses.dataclass
class ServedProcess:
    port: int
    health: dict  # the first `/healthz` answer
    process: subprocess.Popen
    log_path: str


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> Optional[dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (urllib.error.URLError, ConnectionError, OSError):
        return None


@contextlib.contextmanager
def serve_in_subprocess(
    model_dir: str,
    *,
    rerank_depth: int = 100,
    log_path: Optional[str] = None,
    startup_seconds: float = 300,
    extra_flags: Sequence[str] = (),
) -> Iterator[ServedProcess]:
    """Runs the service on `model_dir` for the duration of the block.

    Args:
        model_dir: str. A model directory written by `stickerchat.train`.
        rerank_depth: int. The service's `--rerank_depth`.
        log_path: Optional[str]. The service's stdout and stderr (default:
            `model_dir/serve.log`).
        startup_seconds: float. How long to wait for `/healthz`.
        extra_flags: more command-line flags of the service
            (`["--nouser_histories"]`).

    Raises:
        ServerStartError: the service exited, or did not answer in time.
    """
    port = free_port()
    log_path = log_path or os.path.join(model_dir, "serve.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stickerchat.serve", f"--model_dir={model_dir}", f"--port={port}", f"--rerank_depth={rerank_depth}", *extra_flags],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=ROOT),
        )
        try:
            deadline = time.time() + startup_seconds
            while True:
                if process.poll() is not None:
                    log.flush()
                    with open(log_path) as f:
                        raise ServerStartError(f"the server exited (log {log_path}): " + f.read()[-3000:])
                health = _health(port)
                if health is not None:
                    break
                if time.time() > deadline:
                    raise ServerStartError(f"the server did not answer /healthz in {startup_seconds:.0f} s (log {log_path})")
                time.sleep(0.5)
            yield ServedProcess(port, health, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
