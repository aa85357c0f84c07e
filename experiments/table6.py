"""Table 6 (RQ8): MostSelected and the two memory variants, significance against PESRS.

    python -m experiments.table6 [--data_dir DATA] [--preset cpu] [--train_steps 600] [--seeds 0,1,2] [--out_dir results/table6]
    # The demo corpus whose favourites depend on the dialog (a favourite variant per user and emotion):
    python -m experiments.table6 --seeds 0,1,2 --train_steps 558 --set data.demo_preference=per_emotion --out_dir results/per_emotion

MostSelected has no trainable weights: its run trains nothing (a zero-step
run) and is evaluated like the others. "PESRS (memory as printed)" is PESRS
with the memory of Eq. 16–24 and 31–32 as printed (`--preference=literal
--history_encoding=rnn --memory_read_init=default --memory_loss=0
--context_classify=0 --memory_query=dialog --context_encoding=max
--memory_address=bilinear --context_dropout=0 --memory_lookalike=0`), the
other defaults kept: what the memory's deviations add.
"""

from absl import app

from experiments import common

METHODS = (
    ("SRS", "srs", {}),
    ("MostSelected", "most_selected", {"train_steps": 1, "eval_every": 1}),
    ("AverageMem", "average_mem", {}),
    ("WeightedMem", "weighted_mem", {}),
    ("PESRS", "pesrs", {}),
    (
        "PESRS (memory as printed)",
        "pesrs",
        {
            "preference": "literal",
            "history_encoding": "rnn",
            "memory_read_init": "default",
            "memory_loss": 0.0,
            "context_classify": 0.0,
            "memory_query": "dialog",
            "context_encoding": "max",
            "memory_address": "bilinear",
            "context_dropout": 0.0,
            "memory_lookalike": 0.0,
        },
        "pesrs_memory_as_printed",
    ),
)
PAPER = {
    "SRS": (0.709, 0.590, 0.703, 0.872),
    "MostSelected": (0.545, 0.419, 0.490, 0.679),
    "AverageMem": (0.701, 0.573, 0.701, 0.870),
    "WeightedMem": (0.694, 0.565, 0.689, 0.866),
    "PESRS": (0.743, 0.632, 0.740, 0.897),
}

common.define_flags("results/table6")


def main(argv):
    rows = common.train_rows(common.selected(METHODS))
    common.write_text("table6.md", "## Table 6: user preference memory variants\n\n" + common.markdown_table(rows, "PESRS", PAPER))


if __name__ == "__main__":
    app.run(main)
