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
command measures a fix and its absence. Writes `takeoff.json` (every run's
steps and test metrics) and `takeoff.md` (a table per model with the mean ±
std over seeds).
"""

import json
import os

import numpy as np
from absl import app, flags

from experiments import common
from stickerchat.rundir import RunDir
from stickerchat.training.callbacks import StepLosses, takeoff_step

common.define_flags("results/takeoff", default_steps=558)
flags.DEFINE_list("models", ["srs", "pesrs"], "Registered models to train.")
FLAGS = flags.FLAGS


def summarise(records, metric_names=("MAP", "R10@1")):
    """A markdown table: per model, take-off step and metrics per seed, then mean ± std."""
    lines = [
        "| model | seed | leaves the plateau (steps after warm-up) | halfway down | " + " | ".join(metric_names) + " |",
        "|---|---|---|---|" + "---|" * len(metric_names),
    ]
    for model in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == model]
        for r in rows:
            cells = [model, str(r["seed"])] + [
                ("never" if r["recorded"] else "not recorded") if r[k] is None else str(r[k]) for k in ("takeoff", "halfway")
            ]
            lines.append("| " + " | ".join(cells + [f"{r[m]:.3f}" for m in metric_names]) + " |")
        took = [r["takeoff"] for r in rows if r["takeoff"] is not None]
        mean_std = [f"**{np.mean([r[m] for r in rows]):.3f} ± {np.std([r[m] for r in rows], ddof=1) if len(rows) > 1 else 0:.3f}**" for m in metric_names]
        unknown = "not recorded" if not all(r["recorded"] for r in rows) else "never"
        worst = unknown if len(took) < len(rows) else f"≤ {max(took)}"
        halves = [r["halfway"] for r in rows if r["halfway"] is not None]
        worst_half = unknown if len(halves) < len(rows) else f"≤ {max(halves)}"
        lines.append("| " + " | ".join([f"**{model}**", f"{len(rows)} seeds", worst, worst_half] + mean_std) + " |")
    return "\n".join(lines)


def main(argv):
    overrides = common.parse_overrides(FLAGS.set)
    seeds = [int(s) for s in (FLAGS.seeds or [FLAGS.seed or 0])]
    records = []
    for model in FLAGS.models:
        for seed in seeds:
            name = f"{model}-seed{seed}"
            recorder = StepLosses()
            model_dir, metrics = common.train_or_reuse(name, model, callbacks=[recorder], seed=seed)
            losses_path = os.path.join(model_dir, "step_losses.json")
            if recorder.losses:
                with open(losses_path + ".tmp", "w") as f:
                    json.dump(recorder.losses, f)
                os.replace(losses_path + ".tmp", losses_path)
            losses = None
            if os.path.exists(losses_path):
                with open(losses_path) as f:
                    losses = json.load(f)
            else:  # a run another script trained (and this one reuses) has no per-step record
                print(f"{name}: no step_losses.json (trained without this script): take-off not known", flush=True)
            cfg = RunDir(model_dir).read_config()  # the run's own warm-up, candidates and margin
            warmup = cfg.train.classify_warmup_steps
            plateau = (cfg.data.num_candidates - 1) * cfg.train.margin
            step = takeoff_step(losses, plateau, start=warmup) if losses else None
            half = takeoff_step(losses, plateau, start=warmup, fraction=0.5) if losses else None
            records.append(
                {
                    "model": model,
                    "seed": seed,
                    "takeoff": None if step is None else step - warmup,
                    "halfway": None if half is None else half - warmup,
                    "recorded": losses is not None,
                    **metrics,
                }
            )
            print(f"{name}: take-off {records[-1]['takeoff']} steps after the warm-up, MAP {metrics['MAP']:.3f}", flush=True)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    with open(os.path.join(FLAGS.out_dir, "takeoff.json"), "w") as f:
        json.dump({"overrides": overrides, "runs": records}, f, indent=2)
    common.write_text("takeoff.md", summarise(records))


if __name__ == "__main__":
    app.run(main)
