"""End to end: `python -m stickerchat.train` on the demo corpus, evaluate, resume, distribution, precision."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = [
    "--preset=test",
    "--batch_size=8",
    "--train_steps=12",
    "--eval_every=6",
    "--eval_batches=2",
    "--log_every=2",
    "--context_len=4",
    "--max_words=8",
    "--image_size=32",
]


def run_module(module, *args, env=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={k: v for k, v in {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}.items() if v != ""},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def event_tags(directory):
    """Scalar/image tags written to the TensorBoard event files of a directory."""
    import tensorflow as tf

    tags = set()
    for name in os.listdir(directory):
        if name.startswith("events.out.tfevents"):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name)):
                for value in event.summary.value:
                    tags.add(value.tag)
    return tags


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("run") / "pesrs")
    proc = run_module("stickerchat.train", "--model=pesrs", f"--model_dir={model_dir}", *TINY, env={"TF_CPP_MIN_LOG_LEVEL": ""})
    return model_dir, proc.stdout, proc.stderr


def test_train_writes_every_file(trained):
    import keras

    import stickerchat.models  # noqa: F401  (registers the model classes, as a user's loading code must)
    from stickerchat import config as config_lib
    from stickerchat import specs
    from stickerchat.evaluation.predictions import read_predictions

    model_dir, stdout, _ = trained
    assert "test: MAP" in stdout
    assert "stickers de-duplicated per batch: yes" in stdout
    cfg = config_lib.Config.from_json(open(os.path.join(model_dir, "config.json")).read())
    assert cfg.model_name == "pesrs" and cfg.train.train_steps == 12 and cfg.model.vocab_size > 2
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert set(metrics) == {"MAP", "MRR", "R10@1", "R10@2", "R10@5", "R2@1", "P@1", "num_examples"}
    preds = read_predictions(os.path.join(model_dir, "predictions.tsv"))
    assert len(preds.examples) == metrics["num_examples"] > 0
    np.testing.assert_array_equal(preds.examples, np.arange(len(preds.examples)))  # file order
    assert preds.scores.shape == (len(preds.examples), cfg.data.num_candidates)
    assert all(len(set(ids)) == cfg.data.num_candidates for ids in preds.sticker_ids)
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"), safe_mode=True)
    assert specs.SCORES in model.output
    assert {"loss", "hinge_loss", "emoji_loss", "learning_rate"} <= event_tags(os.path.join(model_dir, "train"))
    val_tags = event_tags(os.path.join(model_dir, "validation"))
    assert {"MAP", "MRR", "R10@1", "R10@2", "R10@5", "sticker_attention"} <= val_tags
    best = json.load(open(os.path.join(model_dir, "best.json")))
    assert best["step"] in (6, 12)
    # The backup exists while training runs and is removed once the run completes.
    assert not os.path.exists(os.path.join(model_dir, "backup"))


def test_evaluate_reproduces_metrics_and_predictions(trained):
    model_dir, _, _ = trained
    metrics = open(os.path.join(model_dir, "metrics.json")).read()
    predictions = open(os.path.join(model_dir, "predictions.tsv")).read()
    proc = run_module("stickerchat.evaluate", f"--model_dir={model_dir}")
    assert open(os.path.join(model_dir, "eval_test_metrics.json")).read() == metrics
    assert open(os.path.join(model_dir, "eval_test_predictions.tsv")).read() == predictions
    assert "the same as the training run's" in proc.stdout
    run_module("stickerchat.evaluate", f"--model_dir={model_dir}", "--split=val")
    assert json.load(open(os.path.join(model_dir, "eval_val_metrics.json")))["num_examples"] > 0


def test_evaluate_never_replaces_the_training_metrics(trained, tmp_path):
    """Different numbers from evaluate are reported, and the run's own files stay as training wrote them."""
    import shutil

    model_dir = str(tmp_path / "copy")
    shutil.copytree(trained[0], model_dir)
    path = os.path.join(model_dir, "metrics.json")
    recorded = json.load(open(path))
    recorded["MAP"] += 0.25  # as if training had scored another model
    open(path, "w").write(json.dumps(recorded))
    predictions = open(os.path.join(model_dir, "predictions.tsv")).read()
    proc = run_module("stickerchat.evaluate", f"--model_dir={model_dir}")
    assert json.load(open(path)) == recorded
    assert open(os.path.join(model_dir, "predictions.tsv")).read() == predictions
    assert "differ from the training run's" in proc.stderr and "MAP" in proc.stderr


def test_output_without_a_terminal_is_one_line_per_interval(trained):
    """Piped output: no progress-bar control characters, one line per validation, no TensorFlow chatter."""
    _, stdout, stderr = trained
    for control in ("\b", "\r", "\x1b["):
        assert control not in stdout + stderr
    lines = [line for line in stdout.splitlines() if " validation: " in line]
    assert len(lines) == 2
    assert lines[0].startswith("step 6/12 loss ") and lines[1].startswith("step 12/12 loss ")
    for chatter in ("cuInit", "oneDNN", "absl::InitializeLog", "cudart_stub", "I0000", "E0000"):
        assert chatter not in stderr, stderr[-2000:]
def test_compare_two_runs(trained):
    model_dir, _, _ = trained
    proc = run_module("stickerchat.compare", model_dir, model_dir)
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("MAP", "R10@1"))]
    assert len(rows) == 2 and not any("▲" in r or "▼" in r for r in rows)


def _tiny_srs_config(train_steps):
    """SRS on the demo corpus at test sizes, validated every 4 steps on one batch."""
    from stickerchat.cli import flags as sc_flags

    cfg = sc_flags.resolve_config(
        "test", None, "srs", batch_size=8, train_steps=train_steps, eval_every=4, eval_batches=1, context_len=4,
        max_words=8, image_size=32,
    )
    cfg.train.attention_images = 0
    return cfg


def test_resume_continues_at_its_step(tmp_path):
    """A run killed after its first validation resumes from there with the same step count."""
    import keras

    from stickerchat.training import trainer

    cfg = _tiny_srs_config(12)

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 6:
                raise KeyboardInterrupt("simulated kill")

    class Record(keras.callbacks.Callback):
        first = None

        def on_train_batch_begin(self, batch, logs=None):
            if Record.first is None:
                Record.first = int(self.model.optimizer.iterations.numpy())

        def on_train_end(self, logs=None):
            Record.last = int(self.model.optimizer.iterations.numpy())

    model_dir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[Kill()])
    assert not os.path.exists(os.path.join(model_dir, "metrics.json"))
    trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[Record()])
    assert Record.first == 4  # the backup of the first validation interval
    assert Record.last == 12
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))


def test_takes_exactly_the_steps_asked_for(tmp_path):
    """An interval that does not divide the total is cut short: 10 steps, validated at 4, 8 and 10."""
    import keras

    from stickerchat.training import trainer

    cfg = _tiny_srs_config(10)

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.validated_at = []

        def on_epoch_end(self, epoch, logs=None):
            self.validated_at.append(int(self.model.optimizer.iterations.numpy()))

    record = Record()
    model_dir = str(tmp_path / "run")
    trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[record])
    assert record.validated_at == [4, 8, 10]
    assert json.load(open(os.path.join(model_dir, "best.json")))["step"] <= 10
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))
    assert not os.path.exists(os.path.join(model_dir, "backup"))  # a finished run, not an interrupted one


def test_a_run_stopped_short_keeps_its_backup(tmp_path):
    """Only a run that took every step removes its backup: one stopped early by a callback can resume."""
    import keras

    from stickerchat.training import callbacks as callbacks_lib
    from stickerchat.training import trainer

    cfg = _tiny_srs_config(12)

    class StopEarly(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 6:
                self.model.stop_training = True

    model_dir = str(tmp_path / "run")
    trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[StopEarly()])
    assert callbacks_lib.AtomicBackup.read_state(os.path.join(model_dir, "backup"))["step"] == 6


@pytest.mark.parametrize("model_name", ["pesrs", "srs"])
def test_unique_stickers_train_the_same_model(tmp_path, model_name):
    """Training on de-duplicated stickers takes the same steps as encoding every slot."""
    import keras

    from stickerchat.cli import flags as sc_flags
    from stickerchat.training import trainer

    class Losses(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    from stickerchat.evaluation.predictions import read_predictions

    runs = {}
    for unique in (True, False):
        cfg = sc_flags.resolve_config(
            "test", None, model_name, batch_size=8, train_steps=8, eval_every=8, eval_batches=1, context_len=4,
            max_words=8, image_size=32, unique_stickers=unique,
        )
        cfg.train.attention_images = 0
        losses = Losses()
        model_dir = str(tmp_path / str(unique))
        trainer.train(cfg, model_dir, verbose=0, extra_callbacks=[losses])
        runs[unique] = losses.losses, read_predictions(os.path.join(model_dir, "predictions.tsv")).scores
    assert len(runs[True][0]) == 8
    # The same function and gradients (tests/models/test_ranker.py): the first steps agree to
    # float32 round-off. The sums run in another order, and Adam turns round-off in gradients
    # that are zero in exact arithmetic (e.g. the attention key biases: a softmax ignores a
    # shift common to all logits) into steps of the learning rate's size, so later steps drift
    # apart by more (measured with the lexical term on, SRS: 1e-7 relative over the first 3
    # steps, 7e-4 at step 8; without it 2e-7 throughout).
    np.testing.assert_allclose(runs[True][0][:3], runs[False][0][:3], rtol=1e-5)
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=5e-3)
    assert runs[True][0][-1] != runs[True][0][0]  # the model did train
    # The trained models score the test split alike (float32 sums in another order: not bit for bit).
    np.testing.assert_allclose(runs[True][1], runs[False][1], atol=0.03)  # measured: 0.013


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    model_dir = str(tmp_path / "mirrored")
    proc = run_module(
        "stickerchat.train", "--model=pesrs", f"--model_dir={model_dir}", "--strategy=mirrored", "--cpu_devices=2",
        *[a for a in TINY if not a.startswith(("--train_steps", "--eval_every"))], "--train_steps=4", "--eval_every=4",
    )
    assert "MirroredStrategy" in proc.stdout + proc.stderr or os.path.exists(os.path.join(model_dir, "metrics.json"))
    # The de-duplicated sticker images are not batch-major: not split across replicas.
    assert "stickers de-duplicated per batch: no" in proc.stdout
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert np.isfinite(metrics["MAP"])


def test_mixed_bfloat16_run_reloads_in_bf16(tmp_path):
    """evaluate (which loads like recommend and export) reproduces a bf16 run's test metrics exactly."""
    from stickerchat.evaluation.predictions import read_predictions

    model_dir = str(tmp_path / "bf16")
    run_module(
        "stickerchat.train", "--model=pesrs", f"--model_dir={model_dir}", "--mixed_precision=mixed_bfloat16",
        *[a for a in TINY if not a.startswith(("--train_steps", "--eval_every"))], "--train_steps=4", "--eval_every=4",
    )
    preds = read_predictions(os.path.join(model_dir, "predictions.tsv"))
    assert np.all(np.isfinite(preds.scores))
    proc = run_module("stickerchat.evaluate", f"--model_dir={model_dir}")
    assert "differ" not in proc.stderr
    again = read_predictions(os.path.join(model_dir, "eval_test_predictions.tsv"))
    np.testing.assert_array_equal(again.scores, preds.scores)
    assert json.load(open(os.path.join(model_dir, "eval_test_metrics.json"))) == json.load(
        open(os.path.join(model_dir, "metrics.json"))
    )


def test_help_lists_the_main_flags_and_exits_0():
    proc = run_module("stickerchat.train", "--help", check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for flag in ("--model:", "--data_dir", "--model_dir", "--preset", "--mixed_precision", "--train_steps"):
        assert flag in proc.stdout, flag
    assert "<cpu|paper|test>" in proc.stdout
    assert "<float32|mixed_bfloat16|mixed_float16>" in proc.stdout
    from stickerchat.models import MODEL_NAMES

    model_help = proc.stdout.split("--model:")[1].split("(default")[0].replace("\n", "").replace(" ", "")
    assert model_help.startswith("<" + "|".join(MODEL_NAMES) + ">")  # the registered names


def test_bad_flags_give_clear_errors(tmp_path):
    """A rejected value is one line, exit 2, and nothing is written; the corrected command is not refused."""
    model_dir = tmp_path / "run"
    for args, message in (
        (["--model=nonsense"], "--model=nonsense"),
        (["--mixed_precision=bf16"], "--mixed_precision=bf16"),
        (["--preset=nope"], "--preset=nope"),
        ([f"--data_dir={tmp_path / 'missing'}"], "data directory not found"),
    ):
        proc = run_module(
            "stickerchat.train", *args, f"--model_dir={model_dir}", env={"TF_CPP_MIN_LOG_LEVEL": ""}, check=False
        )
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not model_dir.exists()


def test_traceback_on_request(tmp_path):
    args = ["stickerchat.train", f"--data_dir={tmp_path / 'missing'}", f"--model_dir={tmp_path / 'run'}"]
    proc = run_module(*args, env={"STICKERCHAT_TRACEBACK": "1"}, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "DataError" in proc.stderr
    proc = run_module(*args, "--verbosity=1", check=False)
    assert "Traceback" in proc.stderr
