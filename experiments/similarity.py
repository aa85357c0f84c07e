"""Figure 12 and §3.3 (RQ5): R10@1 against candidate similarity; Figure 3 histograms.

    python -m experiments.similarity [--data_dir DATA] [--preset cpu] [--train_steps 600] [--out_dir results/similarity]

For each test example, the SSIM (`tf.image.ssim`, on the stickers at the
configured image size) between the ground truth and each negative is
averaged: the example's candidate similarity (§3.3). Test examples are
grouped into five equal-width similarity bins and the R10@1 of SRS (trained,
or reused, as in the paper's Figure 12) is computed per bin. Also written:
the histogram of candidate similarity over the test split (Figure 3(b)) and
of user-history length over the training split (Figure 3(a)).

Outputs: `figure12.png`, `figure3a.png`, `figure3b.png`, `similarity.json`
and `similarity.md`.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags

from experiments import common
from stickerchat.evaluation import metrics as metrics_lib
from stickerchat.evaluation.predictions import read_predictions

flags.DEFINE_string("model", "srs", "Model whose R10@1 is binned (the paper: SRS).")
flags.DEFINE_integer("bins", 5, "Number of similarity groups.")
common.define_flags("results/similarity")
FLAGS = flags.FLAGS


def candidate_similarity(corpus, predictions, batch: int = 256) -> np.ndarray:
    """Mean SSIM between the ground truth and each negative, per example."""
    import tensorflow as tf

    pos, neg, owner = [], [], []
    for i, (ids, label) in enumerate(zip(predictions.sticker_ids, predictions.labels)):
        for j, sticker in enumerate(ids):
            if j != label:
                pos.append(ids[label])
                neg.append(sticker)
                owner.append(i)
    values = np.empty(len(pos), np.float64)
    cache = {}

    def image(sticker_id):
        if sticker_id not in cache:
            cache[sticker_id] = corpus.sticker_image(sticker_id)
        return cache[sticker_id]

    for start in range(0, len(pos), batch):
        a = np.stack([image(s) for s in pos[start : start + batch]]).astype(np.float32)
        b = np.stack([image(s) for s in neg[start : start + batch]]).astype(np.float32)
        values[start : start + batch] = tf.image.ssim(a, b, max_val=255.0).numpy()
    sums = np.bincount(owner, weights=values, minlength=len(predictions.labels))
    counts = np.bincount(owner, minlength=len(predictions.labels))
    return sums / np.maximum(counts, 1)


def binned_recall(similarity: np.ndarray, recall: np.ndarray, bins: int):
    """Equal-width bins over [min, max]; returns (edges, per-bin R10@1, per-bin counts)."""
    edges = np.linspace(similarity.min(), similarity.max(), bins + 1)
    which = np.clip(np.digitize(similarity, edges[1:-1]), 0, bins - 1)
    r1 = [float(recall[which == b].mean()) if np.any(which == b) else float("nan") for b in range(bins)]
    counts = [int(np.sum(which == b)) for b in range(bins)]
    return edges, r1, counts


def history_lengths(corpus, split: str = "train") -> np.ndarray:
    """History length of each example of a split."""
    return (corpus.split(split).history >= 0).sum(axis=1)


def main(argv):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stickerchat import data as data_lib
    from stickerchat.rundir import RunDir

    model_dir, _ = common.train_or_reuse(FLAGS.model, FLAGS.model)
    run = RunDir(model_dir)
    config = run.read_config()
    corpus = data_lib.load_corpus(config.data_dir, config.data)
    predictions = read_predictions(run.predictions_file())
    similarity = candidate_similarity(corpus, predictions)
    recall = metrics_lib.recall_at_k_per_example(predictions.scores, predictions.labels, 1)
    edges, r1, counts = binned_recall(similarity, recall, FLAGS.bins)
    lengths = history_lengths(corpus, "train")

    centres = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(centres, r1, marker="o")
    ax.set_xlabel("mean SSIM between the ground truth and the negatives")
    ax.set_ylabel("R10@1")
    ax.set_title(f"RQ5: {FLAGS.model.upper()} by candidate similarity")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(FLAGS.out_dir, "figure12.png"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(similarity, bins=30)
    ax.set_xlabel("mean candidate SSIM")
    ax.set_ylabel("test examples")
    ax.set_title(f"Figure 3(b): candidate similarity (mean {similarity.mean():.3f})")
    fig.tight_layout()
    fig.savefig(os.path.join(FLAGS.out_dir, "figure3b.png"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(lengths, bins=np.arange(config.data.history_len + 2) - 0.5, rwidth=0.85)
    ax.set_xlabel("history length")
    ax.set_ylabel("training examples")
    ax.set_title(f"Figure 3(a): user history length (mean {lengths.mean():.2f})")
    fig.tight_layout()
    fig.savefig(os.path.join(FLAGS.out_dir, "figure3a.png"), dpi=120)
    plt.close(fig)

    result = {
        "mean_similarity": float(similarity.mean()),
        "bin_edges": edges.tolist(),
        "R10@1": r1,
        "examples": counts,
        "history_coverage": float(np.mean(lengths > 0)),
        "mean_history_length": float(lengths.mean()),
    }
    with open(os.path.join(FLAGS.out_dir, "similarity.json"), "w") as f:
        json.dump(result, f, indent=2)
    rows = "\n".join(
        f"| {edges[b]:.3f}–{edges[b + 1]:.3f} | {counts[b]} | {r1[b]:.3f} |" for b in range(FLAGS.bins)
    )
    common.write_text(
        "similarity.md",
        f"## Figure 12: {FLAGS.model.upper()} R10@1 by candidate similarity\n\n"
        f"Mean candidate SSIM over the test split: {similarity.mean():.3f} (paper: 0.258).\n\n"
        f"| SSIM bin | examples | R10@1 |\n|---|---|---|\n{rows}\n\n"
        f"Training examples with a history: {100 * result['history_coverage']:.2f}% (paper: 88.12%); "
        f"mean history length {result['mean_history_length']:.2f} (paper: 6.82).",
    )


if __name__ == "__main__":
    app.run(main)
