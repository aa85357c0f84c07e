"""PESRS's defaults against each of their deviations from §5 reverted alone, over seeds.

    python -m experiments.deviations --seeds=0,1,2 --train_steps=558 --eval_every=93 --out_dir=runs/deviations

Each row is PESRS at the defaults with one flag set back to the paper's
letter (the README's "Where the defaults leave the paper's letter"), plus
SRS for scale; ▲/▼ mark a significant difference from the defaults (the
paired t-test of the paper, seeds paired and their test dialogs pooled).
Writes `deviations.md`.
"""

from absl import app

from experiments import common

METHODS = (
    ("PESRS (defaults)", "pesrs", {}),
    ("--preference=candidate (r_c inside the gate only)", "pesrs", {"model.preference": "candidate"}, "pesrs_candidate"),
    ("--preference=literal (Eq. 31-32 as printed)", "pesrs", {"model.preference": "literal"}, "pesrs_literal_memory"),
    ("--nolexical_match", "pesrs", {"model.lexical_match": False}, "pesrs_no_lexical_match"),
    ("--context_encoding=max (Eq. 17, 22)", "pesrs", {"model.context_encoding": "max"}, "pesrs_context_max"),
    ("--memory_address=bilinear (Eq. 23)", "pesrs", {"model.memory_address": "bilinear"}, "pesrs_address_bilinear"),
    ("--history_encoding=rnn (Eq. 19-20)", "pesrs", {"model.history_encoding": "rnn"}, "pesrs_history_rnn"),
    ("--memory_loss=0", "pesrs", {"model.memory_loss": 0.0}, "pesrs_no_memory_loss"),
    ("--context_classify=0", "pesrs", {"model.context_classify": 0.0}, "pesrs_no_context_classify"),
    ("--context_dropout=0", "pesrs", {"model.context_dropout": 0.0}, "pesrs_no_context_dropout"),
    ("--memory_lookalike=0", "pesrs", {"model.memory_lookalike": 0.0}, "pesrs_no_lookalike"),
    ("SRS", "srs", {}),
)

common.define_flags("results/deviations")


def main(argv):
    rows = common.train_rows(common.selected(METHODS))
    common.write_text(
        "deviations.md", "## PESRS's deviations from §5, one at a time\n\n" + common.markdown_table(rows, "PESRS (defaults)")
    )


if __name__ == "__main__":
    app.run(main)
