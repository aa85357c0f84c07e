"""Shared machinery of the experiment scripts: flags, runs that are reused, tables.

Every script takes `--data_dir` (absent: the demo corpus), `--preset`,
`--train_steps` (the budget of each training run) and `--out_dir`. Each
training run lives in `out_dir/<run name>/`; a run whose `metrics.json`
exists with the same configuration is reused, not retrained, and an
interrupted one resumes (the trainer's backup).
"""

from __future__ import annotations

import json
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from absl import flags

from stickerchat import compare
from stickerchat import flags as sc_flags
from stickerchat import metrics as metrics_lib

FLAGS = flags.FLAGS

TABLE_METRICS = ("MAP", "R10@1", "R10@2", "R10@5")


def define_flags(default_out: str, default_steps: int = 600):
    sc_flags.define_data_flags()
    flags.DEFINE_string("out_dir", default_out, "Where runs and results are written.")
    flags.DEFINE_integer("train_steps", default_steps, "Training steps of each run (0: the preset's epochs).")
    flags.DEFINE_integer("eval_every", 0, "Validation interval of each run (0: train_steps / 4).")
    flags.DEFINE_integer("batch_size", None, "Override the preset's batch size.")
    flags.DEFINE_integer("seed", None, "Override the preset's seed.")
    flags.DEFINE_integer("verbose", 2, "Keras verbosity of each run (0, 1 or 2).")
    flags.DEFINE_list("methods", None, "Only these rows of the table (by label; default: all).")


def selected(methods):
    """The rows of a table kept by `--methods` (all by default)."""
    if not FLAGS.methods:
        return list(methods)
    keep = [m for m in methods if m[0] in FLAGS.methods]
    unknown = set(FLAGS.methods) - {m[0] for m in methods}
    if unknown:
        raise SystemExit(f"unknown --methods {sorted(unknown)}; rows are {[m[0] for m in methods]}")
    return keep


def base_overrides() -> dict:
    steps = FLAGS.train_steps
    every = FLAGS.eval_every or (max(1, steps // 4) if steps else 0)
    return {
        "train_steps": steps,
        "eval_every": every,
        "batch_size": FLAGS.batch_size,
        "seed": FLAGS.seed,
        "skip_bad_examples": FLAGS.skip_bad_examples,
    }


def run_dir(name: str) -> str:
    return os.path.join(FLAGS.out_dir, name)


def train_or_reuse(name: str, model_name: str, **overrides) -> Tuple[str, Dict[str, float]]:
    """Trains `model_name` into `out_dir/name` unless a finished run with the same config is there."""
    from stickerchat.training import trainer

    cfg = sc_flags.resolve_config(FLAGS.preset, FLAGS.data_dir, model_name, **{**base_overrides(), **overrides})
    model_dir = run_dir(name)
    metrics_path = os.path.join(model_dir, "metrics.json")
    if os.path.exists(metrics_path):
        previous = trainer.load_run_config(model_dir)
        # vocab sizes are filled in from the data: compare everything else.
        cfg.model.vocab_size, cfg.model.num_emoji = previous.model.vocab_size, previous.model.num_emoji
        if previous.to_dict() == cfg.to_dict():
            print(f"reusing {model_dir}", flush=True)
            return model_dir, trainer.read_metrics(model_dir)
        raise SystemExit(f"{model_dir} holds a finished run with another configuration: remove it or change --out_dir")
    print(f"=== training {name} ({model_name})", flush=True)
    return model_dir, trainer.train(cfg, model_dir, verbose=FLAGS.verbose)


def markdown_table(
    rows: Sequence[Tuple[str, str]],
    reference: Optional[str],
    paper: Optional[Dict[str, Sequence[float]]] = None,
    metric_names: Iterable[str] = TABLE_METRICS,
) -> str:
    """A markdown table of `(label, model_dir)` rows with ▲/▼ against `reference`'s run.

    The marks come from a two-tailed paired t-test over test examples at
    α = 0.01 (`stickerchat.compare`). `paper` maps a label to the paper's
    numbers, shown in a second column group.
    """
    metric_names = list(metric_names)
    ref_dir = dict(rows).get(reference) if reference else None
    if reference and ref_dir is None:
        reference = None  # the reference row was not selected: no marks
    header = ["Method"] + metric_names
    if paper:
        header += [f"paper {m}" for m in metric_names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, model_dir in rows:
        with open(os.path.join(model_dir, "metrics.json")) as f:
            m = json.load(f)
        marks = {}
        if ref_dir and model_dir != ref_dir:
            result = compare.compare_runs(ref_dir, model_dir)
            marks = {k: result[k]["mark"] for k in metric_names}
        cells = [label] + [f"{m[k]:.3f}{marks.get(k, '')}" for k in metric_names]
        if paper:
            cells += [f"{v:.3f}" for v in paper.get(label, [])] or ["–"] * len(metric_names)
        lines.append("| " + " | ".join(cells) + " |")
    if reference:
        lines.append(
            f"\n▲/▼: significantly better/worse than {reference} (two-tailed paired t-test over test examples, α = 0.01)."
        )
    return "\n".join(lines)


def write_text(name: str, text: str) -> str:
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    path = os.path.join(FLAGS.out_dir, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    print(text)
    print(f"wrote {path}")
    return path


def sweep_plot(name: str, title: str, xlabel: str, xs: List, results: List[Dict[str, float]], metric_names=TABLE_METRICS):
    """Writes `name.png` (one line per metric) and `name.json` (the numbers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(FLAGS.out_dir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for metric in metric_names:
        ax.plot(xs, [r[metric] for r in results], marker="o", label=metric)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = os.path.join(FLAGS.out_dir, f"{name}.png")
    fig.savefig(png, dpi=120)
    plt.close(fig)
    numbers = [{"x": x, **{k: r[k] for k in metric_names}} for x, r in zip(xs, results)]
    with open(os.path.join(FLAGS.out_dir, f"{name}.json"), "w") as f:
        json.dump(numbers, f, indent=2)
    table = "| " + xlabel + " | " + " | ".join(metric_names) + " |\n|" + "---|" * (len(metric_names) + 1) + "\n"
    table += "\n".join(f"| {n['x']} | " + " | ".join(f"{n[k]:.3f}" for k in metric_names) + " |" for n in numbers)
    write_text(f"{name}.md", table)
    return png


def random_baseline(num_candidates: int = 10) -> Dict[str, float]:
    """Metrics of a ranker that scores every candidate the same."""
    import numpy as np

    return metrics_lib.ranking_metrics(np.zeros((1, num_candidates)), np.zeros(1, int))
