"""Training throughput: examples/s of SRS and PESRS per preset, precision and XLA.

    python -m benchmarks.train_throughput                       # cpu preset, this machine
    python -m benchmarks.train_throughput --presets=paper,cpu --precisions=float32,mixed_bfloat16 --jit=0,1
    KERAS_BACKEND=jax python -m benchmarks.train_throughput --presets=paper --precisions=float32,mixed_bfloat16,mixed_float16 --jit=1

Runs on in-memory batches of the exact shapes of `stickerchat.specs` (random
images and word ids; the images repeat within a batch as the demo corpus's
do, so `--unique=1`, each distinct image encoded once, has the repeats to
save), so it needs no data and no TensorFlow: under
`KERAS_BACKEND=jax` or `torch` it measures the model alone, e.g. on a GPU
machine without TensorFlow. Each row is the median over `--steps` timed
training steps after `--warmup` untimed ones, with the backend and device;
`epoch_min` projects one epoch of the full training split (320,168 examples)
at that rate. Run by hand; never part of the test suite.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["srs", "pesrs"], "Registered models to measure.")
flags.DEFINE_list("presets", ["cpu"], "Presets to measure (paper, cpu).")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Dtype policies.")
flags.DEFINE_list("jit", ["0"], "jit_compile settings to measure (0, 1).")
flags.DEFINE_list("unique", ["0", "1"], "Per-batch sticker de-duplication settings to measure (0, 1).")
flags.DEFINE_float(
    "distinct_fraction",
    0.51,
    "Distinct sticker images per batch slot in the synthetic batches (the demo corpus has 326 of 640 at batch 32; "
    "`python -m benchmarks.input_pipeline` measures a corpus).",
)
flags.DEFINE_integer("steps", 10, "Timed steps per row.")
flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation).")
flags.DEFINE_integer("batch_size", None, "Override the preset's batch size.")
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size of the synthetic batches.")
flags.DEFINE_integer("num_emoji", 900, "Emoji vocabulary size of the synthetic batches.")
flags.DEFINE_integer("epoch_examples", 320168, "Examples in one epoch, for the projection.")
flags.DEFINE_string("json_out", None, "Also write the rows as JSON here.")


def device_name() -> str:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            d = jax.devices()[0]
            return f"{d.platform}:{getattr(d, 'device_kind', d)}"
        if backend == "torch":
            import torch

            return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"gpu:{gpus[0].name}" if gpus else "cpu"
    except Exception as e:  # the device name is informative only
        return f"unknown ({e})"
    return "cpu"


def synthetic_batch(config, batch_size: int, seed: int = 0, unique: bool = False, history: bool = True):
    """Random inputs and targets with the exact spec shapes and dtypes.

    The candidate and history images are drawn from a pool of
    `--distinct_fraction` × slots distinct random images, so that sticker
    de-duplication has the repeats a real batch has. With `unique=True` the
    batch is in the de-duplicated form (`specs.unique_sticker_specs`): the
    same batch, each distinct image once (of the candidates only when
    `history` is False, for models that do not read the history).
    """
    import numpy as np

    from stickerchat import specs

    rng = np.random.default_rng(seed)
    d = config.data
    inputs = {}
    for name, spec in specs.input_specs(d).items():
        shape = (batch_size,) + spec.shape
        if spec.dtype == "uint8":
            continue
        elif name == specs.HISTORY_MASK:
            inputs[name] = (rng.random(shape) < 0.8).astype(spec.dtype)
        else:
            ids = rng.integers(2, config.model.vocab_size, size=shape).astype(spec.dtype)
            ids[rng.random(shape) < 0.3] = 0  # padding words
            inputs[name] = ids
    slots = batch_size * (d.num_candidates + d.history_len)
    pool = rng.integers(0, 256, size=(max(1, round(FLAGS.distinct_fraction * slots)), d.image_size, d.image_size, 3), dtype=np.uint8)
    candidate_slots = rng.integers(0, len(pool), size=(batch_size, d.num_candidates)).astype("int32")
    history_slots = rng.integers(0, len(pool), size=(batch_size, d.history_len)).astype("int32")
    if unique and history:
        inputs.update({specs.STICKER_IMAGES: pool, specs.CANDIDATE_SLOTS: candidate_slots, specs.HISTORY_SLOTS: history_slots})
    elif unique:
        used, rows = np.unique(candidate_slots, return_inverse=True)
        inputs.update({specs.STICKER_IMAGES: pool[used], specs.CANDIDATE_SLOTS: rows.reshape(candidate_slots.shape).astype("int32")})
    else:
        inputs.update({specs.CANDIDATE_IMAGES: pool[candidate_slots], specs.HISTORY_IMAGES: pool[history_slots]})
    targets = {
        specs.LABEL: rng.integers(0, d.num_candidates, size=(batch_size,)).astype("int32"),
        specs.CANDIDATE_EMOJI: rng.integers(2, config.model.num_emoji, size=(batch_size, d.num_candidates)).astype("int32"),
    }
    return inputs, targets


def measure(model_name: str, preset: str, precision: str, jit: bool, unique: bool) -> dict:
    import keras

    from stickerchat import config as config_lib
    from stickerchat.models import build_model
    from stickerchat.training.task import RankingTask

    cfg = config_lib.get_preset(preset)
    cfg.model_name = model_name
    cfg.model.vocab_size, cfg.model.num_emoji = FLAGS.vocab_size, FLAGS.num_emoji
    batch = FLAGS.batch_size or cfg.train.batch_size
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        model = build_model(model_name, cfg)
        task = RankingTask(model, margin=cfg.train.margin, classify_warmup_steps=0)
        task.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit)
        x, y = synthetic_batch(cfg, batch, unique=unique, history=model.reads_history)
        times = []
        for i in range(FLAGS.warmup + FLAGS.steps):
            start = time.perf_counter()
            task.train_on_batch(x, y)  # returns host values: the step has finished
            if i >= FLAGS.warmup:
                times.append(time.perf_counter() - start)
    finally:
        keras.config.set_dtype_policy(previous)
    step = statistics.median(times)
    return {
        "backend": keras.backend.backend(),
        "device": device_name(),
        "model": model_name,
        "preset": preset,
        "precision": precision,
        "jit": jit,
        "unique": unique,
        "batch": batch,
        "step_s": round(step, 4),
        "examples_per_s": round(batch / step, 1),
        "epoch_min": round(FLAGS.epoch_examples / (batch / step) / 60, 1),
    }


def main(argv):
    rows = []
    print(f"host: {platform.machine()} {os.cpu_count()} cores")
    header = f"{'backend':10s} {'device':24s} {'model':6s} {'preset':6s} {'precision':15s} {'jit':4s} {'uniq':5s} {'batch':>5s} {'step s':>8s} {'ex/s':>8s} {'epoch min':>10s}"
    print(header)
    for preset in FLAGS.presets:
        for model_name in FLAGS.models:
            for precision in FLAGS.precisions:
                for jit in FLAGS.jit:
                    for unique in FLAGS.unique:
                        r = measure(model_name, preset, precision, bool(int(jit)), bool(int(unique)))
                        rows.append(r)
                        print(
                            f"{r['backend']:10s} {r['device'][:24]:24s} {r['model']:6s} {r['preset']:6s} "
                            f"{r['precision']:15s} {str(int(r['jit'])):4s} {str(int(r['unique'])):5s} {r['batch']:5d} "
                            f"{r['step_s']:8.4f} {r['examples_per_s']:8.1f} {r['epoch_min']:10.1f}",
                            flush=True,
                        )
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    app.run(main)
