"""Table 4 (RQ1): every method, significance against MRFN.

    python -m experiments.table4 [--data_dir DATA] [--preset cpu] [--train_steps 600] [--seeds 0,1,2] [--out_dir results/table4]

Writes `table4.md` in `--out_dir`: MAP, R10@1, R10@2, R10@5 of each method on
the test split, ▲/▼ from the paired t-test against MRFN (as the paper's
Table 4), and the paper's numbers beside ours.
"""

from absl import app

from experiments import common

METHODS = (
    ("Synergistic", "synergistic"),
    ("PSAC", "psac"),
    ("SMN", "smn"),
    ("DAM", "dam"),
    ("MRFN", "mrfn"),
    ("LSTUR", "lstur"),
    ("SRS", "srs"),
    ("PESRS", "pesrs"),
    # Not in the paper's Table 4 (its Table 6): the history-only heuristic, for scale.
    ("MostSelected", "most_selected", {"train_steps": 1, "eval_every": 1}),
)
PAPER = {
    "Synergistic": (0.593, 0.438, 0.569, 0.798),
    "PSAC": (0.662, 0.533, 0.641, 0.836),
    "SMN": (0.524, 0.357, 0.488, 0.737),
    "DAM": (0.620, 0.474, 0.601, 0.813),
    "MRFN": (0.684, 0.557, 0.672, 0.853),
    "LSTUR": (0.689, 0.558, 0.680, 0.874),
    "SRS": (0.709, 0.590, 0.703, 0.872),
    "PESRS": (0.743, 0.632, 0.740, 0.897),
    "MostSelected": (0.545, 0.419, 0.490, 0.679),
}

common.define_flags("results/table4")


def main(argv):
    rows = common.train_rows(common.selected(METHODS))
    common.write_text("table4.md", "## Table 4: all methods\n\n" + common.markdown_table(rows, "MRFN", PAPER))


if __name__ == "__main__":
    app.run(main)
