"""Writes `quickstart.ipynb` and `attention_heatmaps.ipynb` (outputs cleared).

    python notebooks/build_notebooks.py

The notebooks only call the package; edit them here and re-run.
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = """import os, sys
# Run from a checkout without installing: the repository root on the path.
sys.path.insert(0, os.path.abspath(".." if os.path.basename(os.getcwd()) == "notebooks" else "."))
%matplotlib inline"""

QUICKSTART = [
    new_markdown_cell(
        "# stickerchat quickstart\n\n"
        "Train a small PESRS on the built-in demo corpus, evaluate it, and rank stickers for a dialog you type.\n"
        "The parameters below train for a few minutes with the `cpu` preset; the test suite runs this notebook "
        "with the `test` preset and a handful of steps (environment variables)."
    ),
    new_code_cell(SETUP),
    new_code_cell(
        "# Parameters\n"
        "import tempfile\n"
        'MODEL_DIR = os.environ.get("STICKERCHAT_QUICKSTART_DIR") or tempfile.mkdtemp(prefix="quickstart-")\n'
        'PRESET = os.environ.get("STICKERCHAT_QUICKSTART_PRESET", "cpu")\n'
        'TRAIN_STEPS = int(os.environ.get("STICKERCHAT_QUICKSTART_STEPS", "300"))'
    ),
    new_markdown_cell("## Train\n`trainer.train` writes `config.json`, `model.keras`, `metrics.json` and `predictions.tsv` into `MODEL_DIR` and returns the test metrics."),
    new_code_cell(
        "from stickerchat.cli.flags import resolve_config\n"
        "from stickerchat.training import trainer\n\n"
        'config = resolve_config(PRESET, None, "pesrs", train_steps=TRAIN_STEPS, eval_every=TRAIN_STEPS, eval_batches=2)\n'
        "test_metrics = trainer.train(config, MODEL_DIR, verbose=0)\n"
        "test_metrics"
    ),
    new_markdown_cell("## Evaluate\nRe-score the validation split from the saved model (as `python -m stickerchat.evaluate` does)."),
    new_code_cell(
        "from stickerchat.evaluate import evaluate\n\n"
        'val_metrics = evaluate(MODEL_DIR, split="val")'
    ),
    new_markdown_cell(
        "## Recommend\nType a dialog (oldest utterance first) and rank a whole sticker set, or any list of sticker ids. "
        "The sticker encoder runs once per sticker; later rankings reuse the cached features."
    ),
    new_code_cell(
        "from stickerchat import Recommender\nfrom stickerchat.serving import explain\n\n"
        "rec = Recommender.from_model_dir(MODEL_DIR)\n"
        'dialog = ["are you coming to the party tonight ?", "yes ! i am so happy"]\n'
        "sticker_set = list(rec.corpus.sticker_sets)[0]\n"
        "rec.rank(dialog, sticker_set=sticker_set, top_k=5)"
    ),
    new_code_cell(
        "# With the user's earlier sticker replies (oldest first): (utterances, sticker_id).\n"
        "history = [([\"good morning\"], rec.corpus.sticker_sets[sticker_set][0])]\n"
        "rec.rank(dialog, user_history=history, candidates=sorted(rec.known_sticker_ids())[:50], top_k=5)"
    ),
    new_code_cell(
        "# The best-ranked sticker of the set and three others, with the sticker-wise attention.\n"
        "explain.figure10(explain.explain(rec, dialog, history, sticker_set=sticker_set));"
    ),
]

HEATMAPS = [
    new_markdown_cell(
        "# What PESRS attends to\n\n"
        "For a few test dialogs: (Figure 10) the chosen sticker and three other candidates with the sticker-wise "
        "attention τ_s (Eq. 12) overlaid; (Figure 11) the utterance words shaded by the utterance-wise attention "
        "τ_u (Eq. 11); and the preference-memory read weights δ (Eq. 23) over the user's history stickers.\n\n"
        "Set `STICKERCHAT_MODEL_DIR` (or `MODEL_DIR` below) to a directory written by `python -m stickerchat.train`."
    ),
    new_code_cell(SETUP),
    new_code_cell(
        "# Parameters\n"
        'MODEL_DIR = os.environ.get("STICKERCHAT_MODEL_DIR", "runs/demo_pesrs")\n'
        'SPLIT = "test"\n'
        "NUM_EXAMPLES = 3"
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from stickerchat import Recommender\nfrom stickerchat.serving import explain\n\n"
        "rec = Recommender.from_model_dir(MODEL_DIR)\n"
        "examples = explain.pick_examples(rec, SPLIT, NUM_EXAMPLES)\n"
        "examples"
    ),
    new_code_cell(
        "for position in examples:\n"
        "    e = explain.explain_example(rec, SPLIT, position)\n"
        "    explain.figure10(e)\n"
        "    explain.figure11(e)\n"
        "    explain.memory_figure(e)\n"
        "    plt.show()"
    ),
]


def write(name, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    nbformat.write(nb, os.path.join(HERE, name))


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
    write("attention_heatmaps.ipynb", HEATMAPS)
