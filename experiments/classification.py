"""§7.9 and Figure 15 (RQ9): the emoji head as a sticker classifier; emoji label distribution.

    python -m experiments.classification [--data_dir DATA] [--preset cpu] [--train_steps 600] [--out_dir results/classification]

Classifies every distinct sticker of the test split's candidates with the
trained PESRS sticker encoder and emoji head (§5.2) and reports accuracy and
macro-averaged F1, recall and precision against the set authors' emoji
labels (the paper: 65.74%, 50.75%, 47.02%, 61.20%; "for reference only",
since the labels are noisy). Also plots the top-50 emoji labels over the
distinct stickers chosen in the training split (Figure 15).
"""

from __future__ import annotations

import collections
import json
import os

import numpy as np
from absl import app, flags

from experiments import common
from stickerchat.evaluation.predictions import read_predictions

flags.DEFINE_string("model", "pesrs", "Model whose emoji head is evaluated.")
common.define_flags("results/classification")
FLAGS = flags.FLAGS


def classification_scores(true: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy and macro precision / recall / F1 over the classes present in `true`."""
    true, pred = np.asarray(true), np.asarray(pred)
    classes = np.unique(true)
    precision, recall, f1 = [], [], []
    for c in classes:
        tp = np.sum((pred == c) & (true == c))
        p = tp / max(1, np.sum(pred == c))
        r = tp / max(1, np.sum(true == c))
        precision.append(p)
        recall.append(r)
        f1.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return {
        "accuracy": float(np.mean(true == pred)),
        "F1": float(np.mean(f1)),
        "recall": float(np.mean(recall)),
        "precision": float(np.mean(precision)),
        "stickers": int(len(true)),
        "classes": int(len(classes)),
    }


def main(argv):
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stickerchat import data as data_lib
    from stickerchat.rundir import RunDir

    model_dir, _ = common.train_or_reuse(FLAGS.model, FLAGS.model)
    run = RunDir(model_dir)
    config = run.read_config()
    corpus = data_lib.load_corpus(config.data_dir, config.data)
    model = run.load_model()
    predictions = read_predictions(run.predictions_file())
    stickers = sorted({s for ids in predictions.sticker_ids for s in ids})
    true = np.array([corpus.sticker_emoji[s] for s in stickers])
    logits = []
    for start in range(0, len(stickers), 256):
        images = np.stack([corpus.sticker_image(s) for s in stickers[start : start + 256]])
        _, o_flat = model.sticker_encoder(images)
        logits.append(keras.ops.convert_to_numpy(model.emoji_classifier(o_flat)))
    logits = np.concatenate(logits).astype(np.float32)
    logits[:, :2] = -np.inf  # padding and unknown are not labels
    result = classification_scores(true, logits.argmax(-1))

    used = np.unique(corpus.selected[corpus.split("train").index])  # stickers chosen in training
    counts = collections.Counter(corpus.emoji_vocab.tokens[corpus.sticker_emoji[int(s)]] for s in used)
    top = counts.most_common(50)
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.bar(range(len(top)), [c for _, c in top])
    ax.set_xticks(range(len(top)))
    ax.set_xticklabels([f"#{i + 1}" for i in range(len(top))], rotation=90, fontsize=6)
    ax.set_ylabel("stickers")
    ax.set_title(f"Figure 15: top {len(top)} of {len(counts)} emoji labels (training split)")
    fig.tight_layout()
    fig.savefig(os.path.join(FLAGS.out_dir, "figure15.png"), dpi=120)
    plt.close(fig)

    result["top_emoji"] = [[e, c] for e, c in top]
    with open(os.path.join(FLAGS.out_dir, "classification.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
    legend = ", ".join(f"#{i + 1} {e} ({c})" for i, (e, c) in enumerate(top[:10]))
    common.write_text(
        "classification.md",
        "## §7.9: sticker classification by the emoji head\n\n"
        "| | accuracy | F1 | recall | precision |\n|---|---|---|---|---|\n"
        f"| ours ({result['stickers']} stickers, {result['classes']} labels) | {result['accuracy']:.4f} | "
        f"{result['F1']:.4f} | {result['recall']:.4f} | {result['precision']:.4f} |\n"
        "| paper | 0.6574 | 0.5075 | 0.4702 | 0.6120 |\n\n"
        f"Figure 15, most used labels: {legend}.",
    )


if __name__ == "__main__":
    app.run(main)
