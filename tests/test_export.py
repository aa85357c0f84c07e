"""SavedModel export: the serving signature reproduces the Keras scores."""

import os
import subprocess
import sys

import numpy as np
import pytest

from stickerchat import specs
from stickerchat.serving import export


def test_export_reproduces_keras_scores(tiny_model_dir, tmp_path):
    import keras
    import tensorflow as tf

    from stickerchat import data as data_lib
    from stickerchat.data import pipeline
    from stickerchat.rundir import RunDir

    out = str(tmp_path / "saved" / "1")
    diff = export.export_model_dir(tiny_model_dir, out, verbose=False)
    assert diff <= 1e-5
    assert os.path.exists(os.path.join(out, "assets.extra", "config.json"))

    config = RunDir(tiny_model_dir).read_config()
    signature = tf.saved_model.load(out).signatures[export.SIGNATURE]
    _, named_inputs = signature.structured_input_signature
    expected = specs.input_specs(config.data)
    assert set(named_inputs) == set(expected)
    for name, spec in expected.items():
        assert tuple(named_inputs[name].shape[1:]) == spec.shape and named_inputs[name].dtype.name == spec.dtype
    assert set(signature.structured_outputs) == {specs.SCORES}

    # Another batch (validation split) through the signature.
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)
    inputs, _ = next(iter(pipeline.make_dataset(corpus, "val", config, training=False, batch_size=7)))
    model = keras.saving.load_model(os.path.join(tiny_model_dir, "model.keras"))
    served = signature(**inputs)[specs.SCORES].numpy()
    np.testing.assert_allclose(served, np.asarray(model.predict_on_batch(inputs)[specs.SCORES]), atol=1e-5)


def test_check_export_fails_loudly_on_a_mismatch(tiny_model_dir, tmp_path):
    import keras

    from stickerchat.rundir import RunDir

    config = RunDir(tiny_model_dir).read_config()
    model = keras.saving.load_model(os.path.join(tiny_model_dir, "model.keras"))
    out = str(tmp_path / "saved")
    export.export_model(model, config.data, out)
    other = keras.saving.load_model(os.path.join(tiny_model_dir, "model.keras"))
    other.set_weights([w + 0.5 for w in other.get_weights()])
    rng = np.random.default_rng(0)
    inputs = {
        name: (rng.integers(0, 9, (2,) + spec.shape) if spec.dtype != "bool" else np.ones((2,) + spec.shape)).astype(spec.dtype)
        for name, spec in specs.input_specs(config.data).items()
    }
    with pytest.raises(export.ExportError, match="does not reproduce"):
        export.check_export(out, other, inputs)


def test_export_cli(tiny_model_dir, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = str(tmp_path / "cli")
    cmd = [sys.executable, "-m", "stickerchat.export", f"--model_dir={tiny_model_dir}", f"--out={out}"]
    env = dict(os.environ, PYTHONPATH=root)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reproduces the Keras scores" in result.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode != 0 and "not empty" in again.stderr
