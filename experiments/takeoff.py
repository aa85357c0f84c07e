"""When each model leaves its initial plateau, per seed, and what it then scores.

    python -m experiments.takeoff --models=srs,pesrs --seeds=0,1,2,3,4 --train_steps=558 --eval_every=93 \\
        --out_dir=experiments/results/takeoff [--set=model.preference=literal,model.init_stddev=0.02]

A fresh model scores every candidate alike, so its hinge loss sits at the
plateau `(num_candidates − 1) × margin` until it learns to tell candidates
apart. For every model and seed (`--seed` is also the demo corpus's seed
when there is no `--data_dir`), this trains one run, records the hinge loss
of every step (`StepLosses`) and reports the *take-off step*: the first step
at which the mean hinge of the last 20 steps is 10% under the plateau
(`takeoff_step`), and the step where it is halfway down (under 0.5 × the
plateau), both counted after the emoji warm-up. `--set` applies config
overrides to every run (e.g. the literal-paper settings), so the same
command measures a fix and its absence. `--stop_after=N` screens a setting
cheaply: each run stops after N steps (its learning-rate schedule still
spans `--train_steps`, so the first N steps are those of the full run), is
trained in a temporary directory that is then removed, and reports its
take-off only; it never reuses or leaves a run, so a stopped run cannot be
mistaken for a finished one. Writes `takeoff.json` (every run's
steps and test metrics) and `takeoff.md` (a table per model with the mean ±
std over seeds).
"""

import os
import shutil
import tempfile

import numpy as np
from absl import app, flags

import keras

from experiments import common
from stickerchat.rundir import RunDir, runfiles
from stickerchat.training import trainer
from stickerchat.training.callbacks import StepLosses, takeoff_step

common.define_flags("results/takeoff", default_steps=558)
flags.DEFINE_list("models", ["srs", "pesrs"], "Registered models to train.")
flags.DEFINE_integer(
    "stop_after", 0, "Screening: stop each run after this many steps, in a temporary directory (take-off only, no test metrics)."
)
FLAGS = flags.FLAGS


class StopAfter(keras.callbacks.Callback):
    """Stops training after `steps` optimizer steps of this call to `fit`."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps, self.seen = int(steps), 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen >= self.steps:
            self.model.stop_training = True


def screen(model, seed, recorder):
    """Trains the first `--stop_after` steps of one run in a temporary directory; returns its config."""
    cfg = common.run_config(model, seed=seed)
    scratch = tempfile.mkdtemp(prefix="takeoff-screen-")
    try:
        print(f"=== screening {model}-seed{seed}: the first {FLAGS.stop_after} of {cfg.train.train_steps} steps", flush=True)
        trainer.train(cfg, scratch, verbose=FLAGS.verbose, extra_callbacks=[recorder, StopAfter(FLAGS.stop_after)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return cfg


def _steps_cell(row, steps):
    if steps is not None:
        return str(steps)
    if not row["recorded"]:
        return "not recorded"
    return "never" if "MAP" in row else f"not in the first {row['steps']} steps"


def _mean_std(values):
    if not values:
        return "—"
    return f"**{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}**"


def summarise(records, metric_names=("MAP", "R10@1")):
    """A markdown table: per model, take-off step and metrics per seed, then mean ± std."""
    lines = [
        "| model | seed | leaves the plateau (steps after warm-up) | halfway down | " + " | ".join(metric_names) + " |",
        "|---|---|---|---|" + "---|" * len(metric_names),
    ]
    for model in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == model]
        for r in rows:
            cells = [model, str(r["seed"])] + [_steps_cell(r, r[k]) for k in ("takeoff", "halfway")]
            lines.append("| " + " | ".join(cells + [f"{r[m]:.3f}" if m in r else "—" for m in metric_names]) + " |")
        took = [r["takeoff"] for r in rows if r["takeoff"] is not None]
        mean_std = [_mean_std([r[m] for r in rows if m in r]) for m in metric_names]
        unknown = "not recorded" if not all(r["recorded"] for r in rows) else _steps_cell(rows[0], None)
        worst = unknown if len(took) < len(rows) else f"≤ {max(took)}"
        halves = [r["halfway"] for r in rows if r["halfway"] is not None]
        worst_half = unknown if len(halves) < len(rows) else f"≤ {max(halves)}"
        lines.append("| " + " | ".join([f"**{model}**", f"{len(rows)} seeds", worst, worst_half] + mean_std) + " |")
    return "\n".join(lines)


def record(model, seed, losses, cfg, metrics):
    """One row of `takeoff.json`: the take-off and halfway steps after the warm-up, and the metrics."""
    warmup = cfg.train.classify_warmup_steps
    plateau = (cfg.data.num_candidates - 1) * cfg.train.margin
    step = takeoff_step(losses, plateau, start=warmup) if losses else None
    half = takeoff_step(losses, plateau, start=warmup, fraction=0.5) if losses else None
    row = {
        "model": model,
        "seed": seed,
        "takeoff": None if step is None else step - warmup,
        "halfway": None if half is None else half - warmup,
        "recorded": losses is not None,
        "steps": len(losses or ()),
        **metrics,
    }
    score = f", MAP {metrics['MAP']:.3f}" if "MAP" in metrics else f" (stopped after {row['steps']} steps)"
    print(f"{model}-seed{seed}: take-off {row['takeoff']} steps after the warm-up{score}", flush=True)
    return row


def main(argv):
    overrides = common.parse_overrides(FLAGS.set)
    seeds = [int(s) for s in (FLAGS.seeds or [FLAGS.seed or 0])]
    records = []
    for model in FLAGS.models:
        for seed in seeds:
            name = f"{model}-seed{seed}"
            recorder = StepLosses()
            if FLAGS.stop_after:
                cfg = screen(model, seed, recorder)
                records.append(record(model, seed, recorder.losses, cfg, {}))
                continue
            model_dir, metrics = common.train_or_reuse(name, model, callbacks=[recorder], seed=seed)
            losses_path = os.path.join(model_dir, "step_losses.json")
            losses = recorder.losses or None
            if losses:
                runfiles.write_json(losses_path, losses, indent=None)
            elif os.path.exists(losses_path):  # a run this script trained before, reused
                losses = runfiles.read_json(losses_path, "per-step losses")
            else:  # a run another script trained (and this one reuses) has no per-step record
                print(f"{name}: no step_losses.json (trained without this script): take-off not known", flush=True)
            cfg = RunDir(model_dir).read_config()  # the run's own warm-up, candidates and margin
            records.append(record(model, seed, losses, cfg, metrics))
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    runfiles.write_json(os.path.join(FLAGS.out_dir, "takeoff.json"), {"overrides": overrides, "runs": records})
    common.write_text("takeoff.md", summarise(records))


if __name__ == "__main__":
    app.run(main)
