"""Shared test helpers for layers and models (keras-hub style).

`TestCase.run_layer_test` checks a layer's config and JSON round trips, its
weight count, an eager and a symbolic call, the output shapes, a `.keras`
round trip with identical outputs and the dtypes under mixed precision.
`TestCase.run_model_saving_test` saves a model as `.keras`, reloads it in
safe mode and compares the outputs. `random_batch` / `pad_batch` make input
dicts that follow `stickerchat.specs` (left-aligned words, padding
utterances and history slots after the real ones).
"""

import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np

from stickerchat import specs

MIXED_POLICIES = ("mixed_bfloat16", "mixed_float16")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def scores_under_backend(models, batch, backend="jax"):
    """Each model's `scores` on `batch` after a `.keras` round trip into another backend.

    Saves every model of the dict `models` under the current backend, then
    reloads them in safe mode in a fresh Python process with
    `KERAS_BACKEND=backend` (on the CPU) and scores `batch` there. Returns
    `{name: scores}`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            model.save(os.path.join(tmp, f"{name}.keras"))
        np.savez(os.path.join(tmp, "inputs.npz"), **batch)
        script = (
            "import sys, numpy as np, keras, stickerchat.models\n"
            "inputs = dict(np.load('inputs.npz'))\n"
            "for name in sys.argv[1:]:\n"
            "    model = keras.saving.load_model(name + '.keras', safe_mode=True)\n"
            "    np.save(name + '_scores.npy', keras.ops.convert_to_numpy(model(inputs)['scores']))\n"
            "print(keras.backend.backend())\n"
        )
        env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="")
        result = subprocess.run(
            [sys.executable, "-c", script, *models], cwd=tmp, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip().endswith(backend), result.stdout[-1000:]
        return {name: np.load(os.path.join(tmp, f"{name}_scores.npy")) for name in models}


def _flat(outputs):
    return keras.tree.flatten(outputs)


def _symbolic(value):
    value = np.asarray(value)
    dtype = "bool" if value.dtype == bool else str(value.dtype)
    return keras.KerasTensor((None,) + value.shape[1:], dtype=dtype)


class TestCase:
    """Base class of the layer and model tests."""

    def assertAllClose(self, a, b, atol=1e-6, rtol=1e-6):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=atol, rtol=rtol)

    def run_layer_test(
        self,
        cls,
        init_kwargs,
        input_data,
        expected_output_shape,
        expected_num_trainable_weights=None,
        float32_outputs=(),
        run_mixed_precision_check=True,
        run_saving_check=True,
    ):
        """Checks a layer end to end.

        Args:
            cls: the layer class.
            init_kwargs: dict of constructor arguments.
            input_data: dict of call arguments (numpy arrays).
            expected_output_shape: a shape tuple, or a tuple of them for
                layers with several outputs.
            expected_num_trainable_weights: optional int.
            float32_outputs: indices of the (flattened) outputs that must be
                float32 under mixed precision; the others must have the
                compute dtype.
            run_mixed_precision_check: bool.
            run_saving_check: bool. `.keras` round trip inside a functional
                model.
        """
        expected = expected_output_shape
        if not isinstance(expected[0], (tuple, list)):
            expected = (expected,)

        # Config and JSON round trips.
        layer = cls(**init_kwargs)
        config = layer.get_config()
        assert cls.from_config(config).get_config() == config
        serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
        revived = keras.saving.deserialize_keras_object(serialized)
        assert type(revived) is cls
        assert revived.get_config() == config

        # Eager call.
        outputs = _flat(layer(**input_data))
        assert tuple(tuple(o.shape) for o in outputs) == tuple(tuple(s) for s in expected)
        if expected_num_trainable_weights is not None:
            assert len(layer.trainable_weights) == expected_num_trainable_weights
        for o in outputs:
            assert np.all(np.isfinite(to_numpy(keras.ops.cast(o, "float32"))))

        # Symbolic call.
        symbolic_inputs = {k: _symbolic(v) for k, v in input_data.items()}
        symbolic_outputs = _flat(cls(**init_kwargs)(**symbolic_inputs))
        assert len(symbolic_outputs) == len(expected)
        for o, shape in zip(symbolic_outputs, expected):
            assert tuple(o.shape[1:]) == tuple(shape[1:])

        # `.keras` round trip with identical outputs.
        if run_saving_check:
            inputs = {
                k: keras.Input(np.asarray(v).shape[1:], dtype=_symbolic(v).dtype, name=k)
                for k, v in input_data.items()
            }
            model = keras.Model(inputs, cls(**init_kwargs)(**inputs))
            self.run_model_saving_test(model, input_data)

        # Mixed precision.
        if run_mixed_precision_check:
            for policy in MIXED_POLICIES:
                mixed = cls(**init_kwargs, dtype=policy)
                compute_dtype = keras.DTypePolicy(policy).compute_dtype
                for i, o in enumerate(_flat(mixed(**input_data))):
                    want = "float32" if i in float32_outputs else compute_dtype
                    assert keras.backend.standardize_dtype(o.dtype) == want, (policy, i, o.dtype)
                for w in mixed.weights:
                    assert keras.backend.standardize_dtype(w.dtype) == "float32", w.path

    def run_model_saving_test(self, model, input_data, atol=1e-6):
        """Saves `model` as `.keras`, reloads it in safe mode, compares outputs."""
        expected = model(input_data)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            restored = keras.saving.load_model(path, safe_mode=True)
        assert type(restored) is type(model)
        actual = restored(input_data)
        for a, b in zip(_flat(actual), _flat(expected)):
            self.assertAllClose(a, b, atol=atol)
        return restored


def random_batch(data_config, vocab_size, batch_size=3, seed=0, min_history=0):
    """A random input dict following `stickerchat.specs`, with realistic padding."""
    c = data_config
    rng = np.random.default_rng(seed)

    def context(shape):
        ids = np.zeros(shape + (c.context_len, c.max_words), np.int32)
        for index in np.ndindex(*shape):
            for u in range(rng.integers(1, c.context_len + 1)):
                n = rng.integers(1, c.max_words + 1)
                ids[index + (u, slice(0, n))] = rng.integers(2, vocab_size, n)
        return ids

    img = (c.image_size, c.image_size, 3)
    history_mask = np.zeros((batch_size, c.history_len), bool)
    for b in range(batch_size):
        history_mask[b, : rng.integers(min(min_history, c.history_len), c.history_len + 1)] = True
    history_context = context((batch_size, c.history_len)) * history_mask[:, :, None, None]
    history_images = rng.integers(0, 256, (batch_size, c.history_len) + img).astype(np.uint8)
    history_images *= history_mask[:, :, None, None, None].astype(np.uint8)
    batch = {
        specs.CONTEXT: context((batch_size,)),
        specs.CANDIDATE_IMAGES: rng.integers(0, 256, (batch_size, c.num_candidates) + img).astype(np.uint8),
        specs.HISTORY_CONTEXT: history_context.astype(np.int32),
        specs.HISTORY_IMAGES: history_images,
        specs.HISTORY_MASK: history_mask.astype(specs.input_specs(c)[specs.HISTORY_MASK].dtype),
    }
    for name, spec in specs.input_specs(c).items():
        assert batch[name].shape[1:] == spec.shape and str(batch[name].dtype) == spec.dtype, name
    return batch


def with_repeated_stickers(config, batch_size=4, pool=7, seed=0):
    """A batch whose candidate and history images are drawn from `pool` distinct images.

    Returns `(full, unique)`: the usual inputs, and the same batch with the
    stickers de-duplicated (`specs.unique_sticker_specs`), one zero image
    standing for the padded history slots.
    """
    d = config.data
    full = random_batch(d, config.model.vocab_size, batch_size=batch_size, seed=seed, min_history=1)
    rng = np.random.default_rng(seed + 7)
    images = rng.integers(0, 256, (pool, d.image_size, d.image_size, 3)).astype(np.uint8)
    images[0] = 0  # the padded history slots' image
    candidate_slots = rng.integers(1, pool, (batch_size, d.num_candidates)).astype(np.int32)
    history_slots = rng.integers(1, pool, (batch_size, d.history_len)).astype(np.int32)
    history_slots = np.where(full[specs.HISTORY_MASK] > 0, history_slots, 0).astype(np.int32)
    full[specs.CANDIDATE_IMAGES] = images[candidate_slots]
    full[specs.HISTORY_IMAGES] = images[history_slots]
    unique = {k: full[k] for k in (specs.CONTEXT, specs.HISTORY_CONTEXT, specs.HISTORY_MASK)}
    unique.update(
        {specs.STICKER_IMAGES: images, specs.CANDIDATE_SLOTS: candidate_slots, specs.HISTORY_SLOTS: history_slots}
    )
    return full, unique


def random_targets(data_config, num_emoji, batch_size=3, seed=0):
    rng = np.random.default_rng(seed + 1)
    return {
        specs.LABEL: rng.integers(0, data_config.num_candidates, batch_size).astype(np.int32),
        specs.CANDIDATE_EMOJI: rng.integers(0, num_emoji, (batch_size, data_config.num_candidates)).astype(np.int32),
    }


def pad_batch(batch, data_config):
    """Zero-pads a batch to the (larger) shapes of `data_config`."""
    c = data_config
    out = {}
    for name, spec in specs.input_specs(c).items():
        value = batch[name]
        if name in (specs.CANDIDATE_IMAGES,):
            out[name] = value
            continue
        pad = [(0, 0)] + [(0, want - have) for have, want in zip(value.shape[1:], spec.shape)]
        out[name] = np.pad(value, pad)
    return out
