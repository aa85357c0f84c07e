"""The training loop: data, model, objective, schedule, callbacks, final test.

`train(config, model_dir)` is what `python -m stickerchat.train` runs, and
what the experiment scripts call. It

1. checks the configuration, loads the corpus (`config.data_dir`, or the
   built-in demo corpus) and checks that the training split holds a batch and
   the validation and test splits hold an example, all before anything is
   written: a rejected flag or missing data leaves no model directory behind;
   a run whose `metrics.json` is there with the same configuration is
   complete: it says so and stops;
2. writes the resolved configuration to `model_dir/config.json` (a resumed run
   must have the same one);
3. seeds Python, NumPy and the backend from `config.data.seed` (weight
   initialisation and dropout are then repeatable on one machine), builds
   the registered model and wraps it in a `RankingTask` (Eq. 33 + L_s,
   emoji warm-up) under the requested `tf.distribute` strategy and precision;
   training batches carry each distinct sticker image once where the model
   and strategy allow (`unique_sticker_options`);
4. trains with Adam, polynomially decayed learning rate and global-norm
   clipping for exactly `train_steps` steps (`StopAtStep` cuts the last
   interval short when `eval_every` does not divide them), validating every
   `eval_every` steps and at the end with the ranking metrics
   (TensorBoard scalars in `model_dir/train` and `model_dir/validation`),
   keeping the best model by validation MAP as `model_dir/model.keras`;
5. backs up weights and optimizer state at every validation
   (`model_dir/backup`, `callbacks.AtomicBackup`), so a run killed at any
   moment continues from its last validation with the same step count and
   the same batches an uninterrupted run would see next, when started again
   (from the validation before if that backup was damaged since, or from
   step 0 if none is intact, with a warning);
6. reloads `model.keras` (safe mode; if it is missing or not the file
   `best.json` records, the final model is saved first, with a warning),
   scores the test split and writes `predictions.tsv`, then `metrics.json`
   (which marks the run complete).

Every file is written atomically (`stickerchat.rundir.runfiles`). Keras "epochs" in
the progress bar are validation intervals of `eval_every` steps; when stdout
is not a terminal there is no progress bar, one line per interval instead.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import Callable, Dict, Optional

import keras

from stickerchat import config as config_lib
from stickerchat import data as data_lib
from stickerchat.data import pipeline
from stickerchat.evaluation import scoring
from stickerchat.models import build_model, resolve_model_config
from stickerchat.rundir import RunDir
from stickerchat.training import callbacks as callbacks_lib
from stickerchat.training import distribution
from stickerchat.training.attention_summaries import AttentionSummaries
from stickerchat.training.task import RankingTask

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


def config_difference(previous: config_lib.Config, config: config_lib.Config) -> list:
    """`["section.key: old -> new", ...]` of two configurations."""
    old, new = previous.to_dict(), config.to_dict()
    return [
        f"{section}.{k}: {old[section].get(k)!r} -> {new[section][k]!r}"
        for section in ("data", "model", "train")
        for k in new[section]
        if old[section].get(k) != new[section][k]
    ] + [f"{k}: {old[k]!r} -> {new[k]!r}" for k in ("preset", "model_name", "data_dir") if old[k] != new[k]]


def write_config(config: config_lib.Config, model_dir: str) -> None:
    """Writes `config.json` (atomically); refuses to resume a run whose configuration differs."""
    run = RunDir(model_dir)
    if run.has_config():
        previous = run.read_config()
        if previous.to_dict() != config.to_dict():
            raise TrainingError(
                f"{run.config_file} holds a different configuration ({'; '.join(config_difference(previous, config))}). "
                "Use a new --model_dir, or the same flags to resume."
            )
        return
    run.write_config(config)


def finished_run(config: config_lib.Config, model_dir: str) -> Optional[Dict[str, float]]:
    """The test metrics of a complete run of this configuration in `model_dir`, else None.

    A run is complete when its `metrics.json` is there (written last). A
    different configuration there raises `TrainingError`.
    """
    run = RunDir(model_dir)
    if not run.is_complete():
        return None
    previous = run.read_config()
    mine = config_lib.Config.from_dict(config.to_dict())
    # The vocabulary sizes are filled in from the data.
    mine.model.vocab_size, mine.model.num_emoji = previous.model.vocab_size, previous.model.num_emoji
    if previous.to_dict() != mine.to_dict():
        raise TrainingError(
            f"{model_dir} holds a finished run with a different configuration "
            f"({'; '.join(config_difference(previous, mine))}). Use a new --model_dir."
        )
    return run.read_metrics()


def check_inputs(config: config_lib.Config) -> None:
    """Checks the configuration and its input paths; raises before anything is written."""
    from stickerchat.models import MODEL_NAMES

    try:
        config_lib.check(config)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    if config.model_name not in MODEL_NAMES:
        raise TrainingError(f"unknown model {config.model_name!r}; registered: {', '.join(MODEL_NAMES)}")
    if config.data_dir is not None and not os.path.isdir(config.data_dir):
        raise data_lib.DataError(f"{config.data_dir}: data directory not found", "data_dir_missing")
    weights = config.model.image_weights
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise FileNotFoundError(f"{weights}: image weights file (--image_weights) not found")


def check_splits(corpus, config: config_lib.Config) -> None:
    """Every split the run needs has examples: train at least one batch, val and test at least one."""
    empty = [split for split in ("val", "test") if corpus.num_examples(split) == 0]
    if empty:
        raise TrainingError(
            " and ".join(f"the {split} split ({data_lib.corpus_lib.split_file(corpus.data_dir, split)})" for split in empty)
            + " has no usable examples: training validates on val and scores test at the end"
            + (f"; skipped examples: {corpus.skipped}" if corpus.skipped else "")
        )
    if corpus.num_examples("train") < config.train.batch_size:
        raise TrainingError(
            f"the training split ({data_lib.corpus_lib.split_file(corpus.data_dir, 'train')}) has "
            f"{corpus.num_examples('train')} usable examples, fewer than one batch of {config.train.batch_size}"
            + (f"; skipped examples: {corpus.skipped}" if corpus.skipped else "")
        )


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
        memory_weight=config.model.memory_loss,
        context_classify_weight=config.model.context_classify,
    )
    task.compile(optimizer=make_optimizer(config, total_steps), jit_compile=bool(config.train.jit_compile))
    return task


def unique_sticker_options(config: config_lib.Config, model, strategy) -> Optional[pipeline.UniqueStickers]:
    """How training batches de-duplicate their stickers; None: every slot is encoded.

    Every registered model takes de-duplicated batches
    (`call_on_unique_stickers`); they are used when `config.train.unique_stickers`
    is on and the strategy has one replica (the unique images are not
    batch-major, so they cannot be split across replicas). The history
    stickers are included when the model `reads_history`.
    """
    if not config.train.unique_stickers or getattr(strategy, "num_replicas_in_sync", 1) != 1:
        return None
    return pipeline.UniqueStickers(
        history=model.reads_history,
        bucket=config.train.sticker_bucket or (32 if config.train.jit_compile else 1),
    )


def train(
    config: config_lib.Config,
    model_dir: str,
    *,
    verbose: int = 1,
    extra_callbacks=(),
    on_validation: Optional[Callable] = None,
) -> Dict[str, float]:
    """Trains `config.model_name` and returns the test metrics (see module docstring)."""
    check_inputs(config)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise TrainingError(f"--model_dir={model_dir} is a file, not a directory")
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=bool(verbose))
    config.model.vocab_size = len(corpus.vocab)
    config.model.num_emoji = len(corpus.emoji_vocab)
    check_splits(corpus, config)
    done = finished_run(config, model_dir)
    if done is not None:
        if verbose:
            print(
                f"{model_dir} holds a complete run of this configuration (test: {scoring.format_metrics(done)}); "
                "nothing to do. Use a new --model_dir to train again.",
                flush=True,
            )
        return done
    total_steps, eval_every = resolve_steps(config, corpus.num_examples("train"))
    num_intervals = math.ceil(total_steps / eval_every)
    os.makedirs(model_dir, exist_ok=True)
    write_config(config, model_dir)

    strategy = distribution.make_strategy(config.train.strategy)
    eval_batches = config.train.eval_batches or None
    run = RunDir(model_dir)
    backup_dir = run.backup_dir
    backup = callbacks_lib.AtomicBackup.read_state(backup_dir)
    resumed_intervals = backup["epoch"] if backup else 0
    progress_bar = bool(verbose) and sys.stdout.isatty()

    def validation_dataset():
        return pipeline.make_dataset(
            corpus, "val", config.data, batch_size=config.train.batch_size, training=False, with_meta=True
        )

    with dtype_policy(config.train.mixed_precision):
        keras.utils.set_random_seed(config.data.seed)
        with strategy.scope():
            task = make_task(config, total_steps)
        unique = unique_sticker_options(config, task.model, strategy)
        train_ds = pipeline.make_dataset(
            corpus,
            "train",
            config.data,
            batch_size=config.train.batch_size,
            shuffle_buffer=config.train.shuffle_buffer,
            training=True,
            repeat=True,
            unique_stickers=unique,
            skip_batches=resumed_intervals * eval_every,
        )
        with strategy.scope():
            # Build the task (and its optimizer) so a backup can be restored into it.
            first_inputs, _ = next(iter(train_ds.take(1)))
            task(first_inputs)
            task.optimizer.build(task.trainable_variables)

        if on_validation is None and config.train.attention_images:
            val_batch = next(iter(validation_dataset()))
            on_validation = AttentionSummaries(config, val_batch, num_examples=config.train.attention_images)
        non_finite = callbacks_lib.NonFiniteLoss()
        callbacks = [
            non_finite,
            callbacks_lib.StopAtStep(total_steps, eval_every),
            callbacks_lib.TrainSummaries(model_dir, config.train.log_every),
            callbacks_lib.RankingValidation(
                validation_dataset,
                model_dir,
                max_batches=eval_batches,
                seed=config.data.seed,
                on_validation=on_validation,
                verbose=verbose,
                progress_bar=progress_bar,
                total_steps=total_steps,
            ),
            callbacks_lib.AtomicBackup(backup_dir, resume=backup),
            *extra_callbacks,
        ]
        if verbose:
            resumed = f"; resuming at step {resumed_intervals * eval_every}" if resumed_intervals else ""
            print(
                f"training {config.model_name} ({config.preset} preset) for {total_steps} steps, "
                f"validating every {eval_every}; stickers de-duplicated per batch: "
                f"{'no' if unique is None else 'yes'}; model_dir={model_dir}{resumed}",
                flush=True,
            )
        task.fit(
            train_ds,
            epochs=num_intervals,
            steps_per_epoch=eval_every,
            callbacks=callbacks,
            verbose=1 if progress_bar else 0,
            shuffle=False,  # the dataset shuffles (seeded); Keras would only warn
        )
        if non_finite.message:
            raise TrainingError(non_finite.message)  # the backups are kept
        if int(task.optimizer.iterations.numpy()) >= total_steps:  # finished: nothing is left to resume
            callbacks_lib.AtomicBackup.remove(backup_dir)

        if not callbacks_lib.best_model_is_intact(model_dir):
            print(
                f"warning: {run.model_file} is missing or is not the file best.json records; "
                "saving the final model in its place",
                file=sys.stderr,
                flush=True,
            )
            step = int(task.optimizer.iterations.numpy())
            callbacks_lib.save_best(task.model, model_dir, {"step": step, "final_model": True})
    predictions = scoring.score_split(run.load_model(), corpus, "test", batch_size=config.train.batch_size)
    result = scoring.write_evaluation(model_dir, predictions, seed=config.data.seed)
    if verbose:
        print(f"test: {scoring.format_metrics(result)}", flush=True)
        print(f"wrote {model_dir}/predictions.tsv and {model_dir}/metrics.json", flush=True)
    return result
