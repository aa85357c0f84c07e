"""Figures 9, 13 and 14: PESRS as one setting varies.

    python -m experiments.sweeps --figure=9   # number of utterances 3…18 (RQ3)
    python -m experiments.sweeps --figure=13  # hidden size 50…200 (RQ6)
    python -m experiments.sweeps --figure=14  # user history length (RQ7)
    [--data_dir DATA] [--preset cpu] [--train_steps 600] [--out_dir results/figureN] [--values 3,6,9]

Each writes `figureN.png` (MAP and R10@k against the setting), `figureN.json`
and `figureN.md` (the numbers). Figure 9 changes the number of utterances of
both the current and the history contexts, as §7.3 does.
"""

from absl import app, flags

from experiments import common

SWEEPS = {
    9: ("context_len", "number of utterances", (3, 6, 9, 12, 15, 18), "RQ3: PESRS vs number of utterances"),
    13: ("hidden_dim", "hidden size", (50, 100, 150, 200), "RQ6: PESRS vs hidden size"),
    14: ("history_len", "user history length", (2, 4, 6, 8, 10), "RQ7: PESRS vs user history length"),
}

flags.DEFINE_enum("figure", "9", ["9", "13", "14"], "Which figure to regenerate.")
flags.DEFINE_list("values", None, "Values of the swept setting (default: the paper's).")
flags.DEFINE_string("model", "pesrs", "Model to sweep.")
common.define_flags("results/sweeps")


def main(argv):
    key, xlabel, default_values, title = SWEEPS[int(flags.FLAGS.figure)]
    values = [int(v) for v in (flags.FLAGS.values or default_values)]
    results = []
    for v in values:
        _, m = common.train_or_reuse(f"{flags.FLAGS.model}_{key}{v}", flags.FLAGS.model, **{key: v})
        results.append(m)
    common.sweep_plot(f"figure{flags.FLAGS.figure}", title, xlabel, values, results)


if __name__ == "__main__":
    app.run(main)
