"""A trained model directory as a TensorFlow SavedModel for TF Serving (`python -m stickerchat.export`).

`export_model_dir` reloads `model_dir/model.keras` (safe mode) and writes a SavedModel whose
`serving_default` signature takes the named input tensors of
`stickerchat.specs.input_specs` (batch dimension free):

| input             | dtype | shape                                          |
|-------------------|-------|------------------------------------------------|
| context           | int32 | (batch, context_len, max_words)                |
| candidate_images  | uint8 | (batch, num_candidates, image_size, image_size, 3) |
| history_context   | int32 | (batch, history_len, context_len, max_words)   |
| history_images    | uint8 | (batch, history_len, image_size, image_size, 3) |
| history_mask      | bool  | (batch, history_len)                           |

and returns `scores` float32 `(batch, num_candidates)` (Eq. 32). The shapes
are those of the run's `config.json`; `model_dir/config.json` is copied next
to the SavedModel (`assets.extra/config.json`, which TF Serving ignores) so a
client can encode its requests with the same vocabulary and sizes.

After writing, the SavedModel is reloaded with `tf.saved_model.load` and its
signature is called on a real batch of the test split; the export fails
(`ExportError`) unless it reproduces the Keras scores within `atol`.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from stickerchat import specs

SIGNATURE = "serving_default"


class ExportError(RuntimeError):
    """The SavedModel does not reproduce the Keras model."""


def export_model(model, data_config, out_dir: str):
    """Writes `model` (a PESRS-style keras.Model) as a SavedModel with the serving signature."""
    import keras
    import tensorflow as tf

    input_signature = {
        name: tf.TensorSpec((None,) + spec.shape, tf.as_dtype(spec.dtype), name=name)
        for name, spec in specs.input_specs(data_config).items()
    }

    def serve(inputs):
        return {specs.SCORES: model(inputs, training=False)[specs.SCORES]}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[input_signature])
    archive.write_out(out_dir, verbose=False)


def check_export(out_dir: str, model, inputs, atol: float = 1e-5) -> float:
    """Calls the reloaded SavedModel's signature on `inputs`; returns the max |Δscore|.

    Raises:
        ExportError: the signature is missing, or its scores differ from the
            Keras model's by more than `atol`.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(out_dir)
    if SIGNATURE not in loaded.signatures:
        raise ExportError(f"{out_dir}: no '{SIGNATURE}' signature (found {list(loaded.signatures)})")
    signature = loaded.signatures[SIGNATURE]
    served = signature(**{k: tf.constant(np.asarray(v)) for k, v in inputs.items()})[specs.SCORES].numpy()
    expected = np.asarray(model.predict_on_batch(inputs)[specs.SCORES])
    if served.shape != expected.shape:
        raise ExportError(f"SavedModel scores have shape {served.shape}, the Keras model's {expected.shape}")
    diff = float(np.max(np.abs(served - expected))) if served.size else 0.0
    if not diff <= atol:
        raise ExportError(
            f"the SavedModel in {out_dir} does not reproduce the Keras scores: max |difference| {diff:.3g} > {atol:g}"
        )
    return diff


def export_model_dir(model_dir: str, out_dir: str, data_dir=None, atol: float = 1e-5, overwrite: bool = False, verbose: bool = True) -> float:
    """Exports `model_dir/model.keras` to `out_dir` and checks it on a test batch; returns the max |Δscore|."""

    from stickerchat import data as data_lib
    from stickerchat.data import pipeline
    from stickerchat.rundir import RunDir
    from stickerchat.rundir.directory import CONFIG_FILE

    run = RunDir(model_dir)
    config = run.read_config()
    if data_dir is not None:
        config.data_dir = data_dir
    run.require_model()
    if os.path.exists(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(f"{out_dir} exists and is not empty (pass --overwrite to replace it)")
        shutil.rmtree(out_dir)
    model = run.load_model()  # safe mode, under the dtype policy it was trained with
    export_model(model, config.data, out_dir)
    extra = os.path.join(out_dir, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    shutil.copy(run.config_file, os.path.join(extra, CONFIG_FILE))

    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)
    batch = next(iter(pipeline.make_dataset(corpus, "test", config, training=False)))
    inputs = {k: np.asarray(v) for k, v in batch[0].items()}
    diff = check_export(out_dir, model, inputs, atol=atol)
    if verbose:
        n = len(inputs[specs.CONTEXT])
        print(f"wrote {out_dir}: signature '{SIGNATURE}' reproduces the Keras scores on {n} test examples "
              f"(max |difference| {diff:.2g})")
    return diff
