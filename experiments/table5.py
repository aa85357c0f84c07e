"""Table 5 (RQ2): the ablations of Table 3, significance against PESRS.

    python -m experiments.table5 [--data_dir DATA] [--preset cpu] [--train_steps 600] [--seeds 0,1,2] [--out_dir results/table5]
"""

from absl import app

from experiments import common

METHODS = (
    ("PESRS w/o Classify", "pesrs_no_classify"),
    ("PESRS w/o DIN", "pesrs_no_din"),
    ("PESRS w/o FR", "pesrs_no_fr"),
    ("PESRS FR2T", "pesrs_fr2t"),
    # PESRS without the memory is SRS (the registry builds `pesrs_no_upm` and
    # `srs` from the same configuration): the row shares SRS's runs instead
    # of training the same model twice under two names.
    ("PESRS w/o UPM", "srs"),
    ("PESRS w/o TAR", "pesrs_no_tar"),
    ("PESRS", "pesrs"),
)
PAPER = {
    "PESRS w/o Classify": (0.714, 0.598, 0.707, 0.866),
    "PESRS w/o DIN": (0.728, 0.612, 0.725, 0.888),
    "PESRS w/o FR": (0.727, 0.609, 0.725, 0.886),
    "PESRS FR2T": (0.725, 0.610, 0.719, 0.881),
    "PESRS w/o UPM": (0.709, 0.590, 0.703, 0.872),
    "PESRS w/o TAR": (0.710, 0.589, 0.706, 0.873),
    "PESRS": (0.743, 0.632, 0.740, 0.897),
}

common.define_flags("results/table5")


def main(argv):
    rows = common.train_rows(common.selected(METHODS))
    common.write_text("table5.md", "## Table 5: ablations\n\n" + common.markdown_table(rows, "PESRS", PAPER))


if __name__ == "__main__":
    app.run(main)
