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

import numpy as np

from absl import flags

from stickerchat.cli import flags as sc_flags
from stickerchat.evaluation import compare
from stickerchat.rundir import RunDir

FLAGS = flags.FLAGS

TABLE_METRICS = ("MAP", "R10@1", "R10@2", "R10@5")


def define_flags(default_out: str, default_steps: int = 600):
    sc_flags.define_data_flags()
    flags.DEFINE_string("out_dir", default_out, "Where runs and results are written.")
    flags.DEFINE_integer("train_steps", default_steps, "Training steps of each run (0: the preset's epochs).")
    flags.DEFINE_integer("eval_every", 0, "Validation interval of each run (0: a quarter of train_steps, rounded up).")
    flags.DEFINE_integer("batch_size", None, "Override the preset's batch size.")
    flags.DEFINE_integer("seed", None, "Override the preset's seed.")
    flags.DEFINE_list(
        "seeds", None, "Train every row once per seed (data order, initialisation, and the demo corpus) and report mean ± std."
    )
    flags.DEFINE_integer("verbose", 2, "Keras verbosity of each run (0, 1 or 2).")
    flags.DEFINE_list("methods", None, "Only these rows of the table (by label; default: all).")
    flags.DEFINE_list(
        "set", [], "Config overrides key=value for every run, e.g. model.preference=literal,model.init_stddev=0.02."
    )


def parse_overrides(items) -> dict:
    """`['model.dropout=0', 'train.margin=1']` -> `{'model.dropout': 0, 'train.margin': 1}` (values read as JSON)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set takes key=value, got '{item}'")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


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
    every = FLAGS.eval_every or (-(-steps // 4) if steps else 0)  # at most four validations, the last at the end
    return {
        "train_steps": steps,
        "eval_every": every,
        "batch_size": FLAGS.batch_size,
        "seed": FLAGS.seed,
        "skip_bad_examples": FLAGS.skip_bad_examples,
        **parse_overrides(FLAGS.set),
    }


def run_config(model_name: str, **overrides):
    """The `Config` of one run: the script's flags (`base_overrides`), then `overrides`."""
    return sc_flags.resolve_config(FLAGS.preset, FLAGS.data_dir, model_name, **{**base_overrides(), **overrides})


def run_dir(name: str) -> str:
    return os.path.join(FLAGS.out_dir, name)


def train_or_reuse(name: str, model_name: str, callbacks=(), **overrides) -> Tuple[str, Dict[str, float]]:
    """Trains `model_name` into `out_dir/name` unless a finished run with the same config is there.

    `overrides` are config keys (`flags.resolve_config`) on top of the
    script's flags; `callbacks` are passed to the trainer (not run when the
    run is reused).
    """
    from stickerchat.training import trainer

    cfg = run_config(model_name, **overrides)
    model_dir = run_dir(name)
    run = RunDir(model_dir)
    if os.path.exists(run.metrics_file()):
        previous = run.read_config()
        # vocab sizes are filled in from the data: compare everything else.
        cfg.model.vocab_size, cfg.model.num_emoji = previous.model.vocab_size, previous.model.num_emoji
        if previous.to_dict() == cfg.to_dict():
            print(f"reusing {model_dir}", flush=True)
            return model_dir, run.read_metrics()
        raise SystemExit(f"{model_dir} holds a finished run with another configuration: remove it or change --out_dir")
    print(f"=== training {name} ({model_name})", flush=True)
    return model_dir, trainer.train(cfg, model_dir, verbose=FLAGS.verbose, extra_callbacks=callbacks)


def seeds() -> List[Optional[int]]:
    """The seeds every row is trained with: `--seeds`, else just `--seed` (None: the preset's)."""
    if FLAGS.seeds:
        return [int(s) for s in FLAGS.seeds]
    return [FLAGS.seed]


def train_rows(methods) -> List[Tuple[str, List[str]]]:
    """Trains (or reuses) every `(label, model_name[, overrides[, run_name]])` row once per seed.

    Run directories are `<run_name>` (default: the model name) for a single
    run without `--seeds` and `<run_name>-seed<k>` with `--seeds`, so scripts
    that share an `--out_dir` share runs. Returns `(label, [model_dir per
    seed])` rows.
    """
    rows = []
    for method in methods:
        label, name, extra = (tuple(method) + ({},))[:3]
        base = method[3] if len(method) > 3 else name
        dirs = []
        for seed in seeds():
            run_name = base if not FLAGS.seeds else f"{base}-seed{seed}"
            overrides = dict(extra) if seed is None else dict(extra, seed=seed)
            dirs.append(train_or_reuse(run_name, name, **overrides)[0])
        rows.append((label, dirs))
    return rows


def markdown_table(
    rows: Sequence[Tuple[str, Sequence[str]]],
    reference: Optional[str],
    paper: Optional[Dict[str, Sequence[float]]] = None,
    metric_names: Iterable[str] = TABLE_METRICS,
) -> str:
    """A markdown table of `(label, model_dirs)` rows with ▲/▼ against `reference`'s runs.

    A row's `model_dirs` is one run directory per seed (a single string is
    one run). With several seeds each cell is the mean ± std (ddof 1) over
    the seeds. The marks come from a two-tailed paired t-test at α = 0.01
    (`stickerchat.compare`) over the test examples, as in the paper; with
    several seeds the runs are paired seed by seed (the same corpus and
    candidates) and the examples of all seeds are pooled. `paper` maps a
    label to the paper's numbers, shown in a second column group.
    """
    metric_names = list(metric_names)
    rows = [(label, [dirs] if isinstance(dirs, str) else list(dirs)) for label, dirs in rows]
    ref_dirs = dict(rows).get(reference) if reference else None
    if reference and ref_dirs is None:
        reference = None  # the reference row was not selected: no marks
    num_seeds = max(len(dirs) for _, dirs in rows)
    header = ["Method"] + metric_names
    if paper:
        header += [f"paper {m}" for m in metric_names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, dirs in rows:
        values = []
        for model_dir in dirs:
            values.append(RunDir(model_dir).read_metrics())
        marks = {}
        if ref_dirs and dirs != ref_dirs:
            if len(dirs) != len(ref_dirs):
                raise ValueError(f"row {label} has {len(dirs)} runs, the reference {len(ref_dirs)}")
            result = compare.compare_run_pairs(list(zip(ref_dirs, dirs)))
            marks = {k: result[k]["mark"] for k in metric_names}
        cells = [label]
        for k in metric_names:
            column = [v[k] for v in values]
            spread = f" ± {np.std(column, ddof=1):.3f}" if len(column) > 1 else ""
            cells.append(f"{np.mean(column):.3f}{spread}{marks.get(k, '')}")
        if paper:
            cells += [f"{v:.3f}" for v in paper.get(label, [])] or ["–"] * len(metric_names)
        lines.append("| " + " | ".join(cells) + " |")
    if num_seeds > 1:
        lines.append(f"\nMean ± standard deviation over {num_seeds} seeds (corpus, initialisation and data order).")
    if reference:
        pooled = f", the {num_seeds} seeds' runs paired seed by seed and their examples pooled" if num_seeds > 1 else ""
        lines.append(
            f"\n▲/▼: significantly better/worse than {reference} (two-tailed paired t-test over test examples{pooled}, α = 0.01)."
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


def mask_history(inputs):
    """A copy of one batch's model inputs with every history slot masked (the memory reads nothing)."""
    from stickerchat import specs

    inputs = dict(inputs)
    inputs[specs.HISTORY_MASK] = np.zeros_like(np.asarray(inputs[specs.HISTORY_MASK]))
    return inputs


def memory_query(matcher, contexts):
    """A matcher's memory query h of Eq. 21–22 (or the keys' h̄ᵏ of Eq. 16–17) for int32 contexts `(..., turns, words)`."""
    from keras import ops

    from stickerchat import specs

    mask = ops.not_equal(contexts, specs.PAD_ID)
    return matcher.context_pooling(matcher.utterance_encoder(contexts, padding_mask=mask), mask)
