"""Shared test setup: nothing is written to the home directory."""

import os
import tempfile

import pytest

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
