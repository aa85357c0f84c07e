"""The training loop: data, model, objective, schedule, callbacks, final test.

`train(config, model_dir)` is what `python -m stickerchat.train` runs, and
what the experiment scripts call. It

1. writes the resolved configuration to `model_dir/config.json` (a resumed run
   must have the same one);
2. loads the corpus (`config.data_dir`, or the built-in demo corpus);
3. seeds Python, NumPy and the backend from `config.data.seed` (weight
   initialisation and dropout are then repeatable on one machine), builds
   the registered model and wraps it in a `RankingTask` (Eq. 33 + L_s,
   emoji warm-up) under the requested `tf.distribute` strategy and precision;
   training batches carry each distinct sticker image once where the model
   and strategy allow (`unique_sticker_options`);
4. trains with Adam, polynomially decayed learning rate and global-norm
   clipping, validating every `eval_every` steps with the ranking metrics
   (TensorBoard scalars in `model_dir/train` and `model_dir/validation`),
   keeping the best model by validation MAP as `model_dir/model.keras`;
5. backs up weights and optimizer state at every validation
   (`model_dir/backup`), so a run killed at any moment continues from its
   last validation with the same step count when started again;
6. reloads `model.keras` (safe mode), scores the test split and writes
   `metrics.json` and `predictions.tsv`.

Keras "epochs" in the progress bar are validation intervals of
`eval_every` steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from typing import Callable, Dict, Optional

import keras

from stickerchat import config as config_lib
from stickerchat import data as data_lib
from stickerchat.data import pipeline
from stickerchat.models import build_model, resolve_model_config
from stickerchat.training import callbacks as callbacks_lib
from stickerchat.training import distribution, evaluation
from stickerchat.training.attention_summaries import AttentionSummaries
from stickerchat.training.task import RankingTask

CONFIG_FILE = "config.json"


class TrainingError(RuntimeError):
    """Training could not go on (non-finite loss, mismatched resume, ...)."""


@contextlib.contextmanager
def dtype_policy(name: str):
    """Sets the global Keras dtype policy for the block, then restores it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def write_config(config: config_lib.Config, model_dir: str) -> None:
    """Writes `config.json`; refuses to resume a run whose configuration differs."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if os.path.exists(path):
        with open(path) as f:
            previous = config_lib.Config.from_json(f.read())
        if previous.to_dict() != config.to_dict():
            old, new = previous.to_dict(), config.to_dict()
            diff = [
                f"{section}.{k}: {old[section][k]!r} -> {new[section][k]!r}"
                for section in ("data", "model", "train")
                for k in new[section]
                if old[section].get(k) != new[section][k]
            ] + [f"{k}: {old[k]!r} -> {new[k]!r}" for k in ("preset", "model_name", "data_dir") if old[k] != new[k]]
            raise TrainingError(
                f"{path} holds a different configuration ({'; '.join(diff)}). "
                "Use a new --model_dir, or the same flags to resume."
            )
    with open(path, "w") as f:
        f.write(config.to_json() + "\n")


def resolve_steps(config: config_lib.Config, num_train: int) -> tuple:
    """Returns `(total_steps, eval_every)` for a training split of `num_train` examples."""
    steps_per_epoch = num_train // config.train.batch_size
    if steps_per_epoch == 0 and not config.train.train_steps:
        raise TrainingError(
            f"the training split has {num_train} examples, fewer than one batch of {config.train.batch_size}"
        )
    total = config.train.train_steps or config.train.epochs * steps_per_epoch
    every = config.train.eval_every or steps_per_epoch or total
    return total, min(every, total)


def make_optimizer(config: config_lib.Config, total_steps: int):
    """Adam with a polynomially decayed learning rate and global-norm clipping."""
    schedule = keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=config.train.learning_rate,
        decay_steps=max(1, total_steps),
        end_learning_rate=config.train.end_learning_rate,
        power=config.train.decay_power,
    )
    return keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=config.train.clipnorm or None)


def make_task(config: config_lib.Config, total_steps: int) -> RankingTask:
    """The registered model wrapped in the ranking objective, compiled."""
    model = build_model(config.model_name, config)
    # The variant's own switches (e.g. pesrs_no_classify turns L_s off).
    use_classify = resolve_model_config(config.model_name, config).use_classify
    task = RankingTask(
        model,
        margin=config.train.margin,
        use_classify=use_classify,
        classify_weight=config.train.classify_weight,
        classify_warmup_steps=config.train.classify_warmup_steps,
    )
    task.compile(optimizer=make_optimizer(config, total_steps), jit_compile=bool(config.train.jit_compile))
    return task


def unique_sticker_options(config: config_lib.Config, model, strategy) -> Optional[pipeline.UniqueStickers]:
    """How training batches de-duplicate their stickers; None: every slot is encoded.

    De-duplication is used when `config.train.unique_stickers` is on, the
    model has `call_on_unique_stickers` (PESRS and its variants) and the
    strategy has one replica (the unique images are not batch-major, so they
    cannot be split across replicas).
    """
    unique = bool(
        config.train.unique_stickers
        and hasattr(model, "call_on_unique_stickers")
        and getattr(strategy, "num_replicas_in_sync", 1) == 1
    )
    if not unique:
        return None
    return pipeline.UniqueStickers(
        history=bool(getattr(model, "use_memory", True)),
        bucket=config.train.sticker_bucket or (32 if config.train.jit_compile else 1),
    )


def evaluate_model_file(model_path: str, corpus, config: config_lib.Config, split: str, batch_size=None):
    """Reloads a `.keras` model in safe mode and scores a split; returns predictions."""
    model = keras.saving.load_model(model_path, safe_mode=True)
    dataset = pipeline.make_dataset(
        corpus, split, config, training=False, batch_size=batch_size or config.train.batch_size, with_meta=True
    )
    return evaluation.predict_dataset(model, dataset)


def train(
    config: config_lib.Config,
    model_dir: str,
    *,
    verbose: int = 1,
    extra_callbacks=(),
    on_validation: Optional[Callable] = None,
) -> Dict[str, float]:
    """Trains `config.model_name` and returns the test metrics (see module docstring)."""
    os.makedirs(model_dir, exist_ok=True)
    corpus = data_lib.load_corpus(config.data_dir, config.data)
    config.model.vocab_size = len(corpus.vocab)
    config.model.num_emoji = len(corpus.emoji_vocab)
    write_config(config, model_dir)

    total_steps, eval_every = resolve_steps(config, corpus.num_examples("train"))
    num_intervals = math.ceil(total_steps / eval_every)
    strategy = distribution.make_strategy(config.train.strategy)
    eval_batches = config.train.eval_batches or None

    with dtype_policy(config.train.mixed_precision):
        keras.utils.set_random_seed(config.data.seed)
        with strategy.scope():
            task = make_task(config, total_steps)
        unique = unique_sticker_options(config, task.model, strategy)
        train_ds = pipeline.make_dataset(corpus, "train", config, training=True, repeat=True, unique_stickers=unique)
        with strategy.scope():
            # Build the task (and its optimizer) so a backup can be restored into it.
            first_inputs, _ = next(iter(train_ds.take(1)))
            task(first_inputs)
            task.optimizer.build(task.trainable_variables)

        if on_validation is None and config.train.attention_images:
            val_batch = next(iter(pipeline.make_dataset(corpus, "val", config, training=False, with_meta=True)))
            on_validation = AttentionSummaries(config, val_batch, num_examples=config.train.attention_images)
        non_finite = callbacks_lib.NonFiniteLoss()
        callbacks = [
            non_finite,
            callbacks_lib.TrainSummaries(model_dir, config.train.log_every),
            callbacks_lib.RankingValidation(
                lambda: pipeline.make_dataset(corpus, "val", config, training=False, with_meta=True),
                model_dir,
                max_batches=eval_batches,
                seed=config.data.seed,
                on_validation=on_validation,
                verbose=verbose,
            ),
            keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup"), save_freq="epoch"),
            *extra_callbacks,
        ]
        if verbose:
            print(
                f"training {config.model_name} ({config.preset} preset) for {total_steps} steps, "
                f"validating every {eval_every}; stickers de-duplicated per batch: "
                f"{'no' if unique is None else 'yes'}; model_dir={model_dir}",
                flush=True,
            )
        task.fit(
            train_ds,
            epochs=num_intervals,
            steps_per_epoch=eval_every,
            callbacks=callbacks,
            verbose=verbose,
        )
        if non_finite.message:
            raise TrainingError(non_finite.message)

        model_path = os.path.join(model_dir, callbacks_lib.BEST_MODEL)
        if not os.path.exists(model_path):
            task.model.save(model_path)
        predictions = evaluate_model_file(model_path, corpus, config, "test")
    result = evaluation.write_evaluation(model_dir, predictions, seed=config.data.seed)
    if verbose:
        print(f"test: {evaluation.format_metrics(result)}", flush=True)
        print(f"wrote {model_dir}/metrics.json and {model_dir}/predictions.tsv", flush=True)
    return result


def load_run_config(model_dir: str) -> config_lib.Config:
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {model_dir} a stickerchat model directory?")
    with open(path) as f:
        return config_lib.Config.from_json(f.read())


def read_metrics(model_dir: str) -> Dict[str, float]:
    with open(os.path.join(model_dir, "metrics.json")) as f:
        return json.load(f)
