"""End-to-end runs that several test files share, each made once per session by a fixture of `tests/conftest.py`.

* `tiny_service` (fixture `tiny_service`): `python -m stickerchat.serve` on a
  copy of the session's tiny PESRS (`tiny_model_dir`) with a small recall
  stage, and the in-process `CatalogueRecommender` of the same directory that
  the tests check the service's answers against (`tests/test_serve.py`,
  `tests/test_web_page.py`);
* `telegram_run` (fixture `telegram_run`): a generated Telegram export
  converted by `python -m stickerchat.data.telegram` and trained on by
  `python -m stickerchat.train` (`tests/data/test_telegram.py`,
  `tests/test_serve.py`).

Their users only read them (copy a directory before changing it).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Iterator, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A small recall stage: the service's tests check its answers against the in-process recommender of the same
# recall model, not the recall's quality. Without distillation (teacher_examples=0): the ranker scoring the
# whole catalogue for the teacher was most of its cost; test_catalogue.py trains and checks a distilled one.
RECALL_OPTIONS = {"max_examples": 256, "teacher_examples": 0, "epochs": 2, "embed_dim": 16, "hidden_dim": 32}


@contextlib.contextmanager
def serving(model_dir: str, cat, *, rerank_depth: int, warm_depths: Sequence[int] = (), **kwargs):
    """`serve_in_subprocess(model_dir, rerank_depth=...)`, with `cat` warmed up while the service starts.

    `cat` (the in-process recommender of `model_dir`, its recall stage
    trained, which the tests compare the service's answers with) compiles
    its matchers as the service compiles its own (`server.warm_up`, at
    `rerank_depth` and at each of `warm_depths`) while the child process
    starts, rather than at the first check that asks it. Nothing is compared
    here: the tests compute what they compare afresh.
    """
    from stickerchat.serving import server as server_lib
    from stickerchat.serving.launch import serve_in_subprocess

    with contextlib.ExitStack() as stack:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            starting = pool.submit(stack.enter_context, serve_in_subprocess(model_dir, rerank_depth=rerank_depth, **kwargs))
            try:
                for depth in (rerank_depth, *warm_depths):
                    server_lib.warm_up(cat, depth)
            finally:
                served = starting.result()  # (also when the warm-up failed: the stack then stops the service)
        yield served


@dataclasses.dataclass
class Service:
    port: int
    process: subprocess.Popen
    cat: object  # the in-process CatalogueRecommender of `model_dir`
    model_dir: str


@contextlib.contextmanager
def tiny_service(tiny_model_dir: str, model_dir: str, *, rerank_depth: int = 30, warm_depths: Sequence[int] = ()) -> Iterator[Service]:
    """The service on a copy (`model_dir`) of `tiny_model_dir`, its recall stage trained with `RECALL_OPTIONS`."""
    from stickerchat.serving.catalogue import CatalogueRecommender

    shutil.copytree(tiny_model_dir, model_dir)
    cat = CatalogueRecommender.from_model_dir(model_dir, recall_options=RECALL_OPTIONS, verbose=False)
    with serving(model_dir, cat, rerank_depth=rerank_depth, warm_depths=warm_depths) as served:
        yield Service(served.port, served.process, cat, model_dir)


@dataclasses.dataclass
class TelegramRun:
    info: object  # telegram_export.ExportInfo: what a correct conversion finds in the export
    corpus_dir: pathlib.Path  # the conversion's output
    model_dir: pathlib.Path  # the training's model directory
    convert: subprocess.CompletedProcess  # `python -m stickerchat.data.telegram ...`
    train: subprocess.CompletedProcess  # `python -m stickerchat.train --data_dir=corpus_dir ...`


def telegram_run(root: pathlib.Path) -> TelegramRun:
    """A generated export (`telegram_export.write_export`) converted by the command, then a tiny PESRS trained on it.

    The commands' results are returned, not checked: the tests check them.
    """
    from tests.data import telegram_export

    info = telegram_export.write_export(root / "export")
    out = root / "corpus"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    convert = subprocess.run(
        [sys.executable, "-m", "stickerchat.data.telegram", f"--export={info.path}", f"--out={out}", "--npy_size=32"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )
    model_dir = root / "run"
    train = [
        sys.executable, "-m", "stickerchat.train", "--model=pesrs", f"--data_dir={out}", f"--model_dir={model_dir}",
        "--negatives=catalogue", "--preset=test", "--batch_size=8", "--train_steps=8", "--eval_every=4",
        "--eval_batches=1", "--log_every=2", "--image_size=32", f"--cache_dir={root / 'cache'}",
    ]
    trained = subprocess.run(train, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    return TelegramRun(info, out, model_dir, convert, trained)
