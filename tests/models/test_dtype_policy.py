"""A saved model carries its dtype policy: a mixed_bfloat16 model reloads as mixed_bfloat16."""

import os

import keras
import numpy as np
import pytest

from stickerchat import config as config_lib
from stickerchat import specs
from stickerchat.models import MODEL_NAMES, build_model
from testing import random_batch, to_numpy


def _build_under(policy, name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return build_model(name, config_lib.test())
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_round_trip_keeps_the_policy(name):
    model = _build_under("mixed_bfloat16", name)
    assert model.dtype_policy.name == "mixed_bfloat16"
    config = model.get_config()
    assert "dtype" in config
    # Rebuilt under the float32 global policy, as evaluate/recommend/export load.
    assert keras.config.dtype_policy().name == "float32"
    revived = type(model).from_config(config)
    assert revived.dtype_policy.name == "mixed_bfloat16"
    assert _leaf_policies(revived) == _leaf_policies(model)
    leaves = _leaf_policies(model)
    assert not leaves or leaves.count("mixed_bfloat16") > leaves.count("float32")  # MostSelected has no weights


def _leaf_policies(model):
    return sorted(
        l.dtype_policy.name
        for l in model._flatten_layers(include_self=False)
        if l.weights and not list(l._flatten_layers(include_self=False, recursive=False))
    )


@pytest.mark.parametrize("name", ["pesrs", "smn"])
def test_keras_file_reloads_in_bf16_with_the_same_scores(name, tmp_path):
    model = _build_under("mixed_bfloat16", name)
    config = config_lib.test()
    batch = random_batch(config.data, config.model.vocab_size, seed=3, min_history=1)
    expected = to_numpy(model(batch)[specs.SCORES])
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored.dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(to_numpy(restored(batch)[specs.SCORES]), expected)


def test_a_float32_model_stays_float32(tmp_path):
    model = build_model("pesrs", config_lib.test())
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        restored = keras.saving.load_model(path, safe_mode=True)
    finally:
        keras.config.set_dtype_policy(previous)
    assert restored.dtype_policy.name == "float32"
