"""Where the preference memory reads: the read weights δ of Eq. 23 on the test split.

    python -m experiments.memory_addressing runs/i20/pesrs-seed0 [RUN_DIR ...] [--out_dir=results/memory_addressing]

For each trained run directory whose model reads the history with key
addressing (PESRS, WeightedMem), scores the test split with the attentions
as outputs and reports, over the test dialogs whose history holds both
slots *of the same kind* (the history sticker's emoji label is the ground
truth's) and slots of another kind:

* `same-kind mass`: the mean share of δ on the same-kind slots;
* `uniform share`: what δ uniform over the real slots would put there (the
  average read of AverageMem, and PESRS at step 0 with W_δ at zero);
* `lift`: their ratio. A memory that addresses by the dialog reads the
  slots of similar dialogs (lift well above 1); one that averages has lift
  1;
* `entropy / log n`: how spread δ is (1: uniform);
* `gate`: the mean fusion gate f_g of Eq. 31 on the ground truth (1: the
  text only, 0: the memory only);
* `query AUC` and `query centroid`: whether the memory query h of Eq. 22
  (and so the keys of Eq. 17, pooled by the same encoder) tells dialogs of
  one kind from another: the probability that two test dialogs of the same
  kind have a higher cosine similarity than two of different kinds (0.5:
  blind), and the accuracy of reading a dialog's kind from the nearest
  kind mean of h.

It also reports the gradient norms of the training loss, on one training
batch, for W_δ, the key encoder (Eq. 19) and the value encoder (Eq. 20):
whether the addressing gets a learning signal at all. Writes
`memory_addressing.md` and `memory_addressing.json`.
"""

import json
import os

import numpy as np
from absl import app, flags

from experiments.common import memory_query
from stickerchat import specs
from stickerchat.rundir import RunDir

flags.DEFINE_string("out_dir", "results/memory_addressing", "Where memory_addressing.md and .json are written.")
flags.DEFINE_integer("batch_size", 50, "Test dialogs per batch.")
FLAGS = flags.FLAGS


def read_weights(model_dir: str, batch_size: int) -> dict:
    """δ statistics of one run on its test split (see the module docstring)."""
    from stickerchat import data as data_lib
    from stickerchat.data import pipeline
    from stickerchat.models import build_model

    run = RunDir(model_dir)
    config = run.read_config()
    model = run.load_model()
    if not getattr(model, "reads_history", False):
        raise SystemExit(f"{model_dir}: the model ({config.model_name}) does not read the history")
    attention = build_model(config.model_name, config, return_attention=True)
    corpus = data_lib.load_corpus(config.data_dir, config.data, verbose=False)
    dataset = pipeline.make_dataset(corpus, "test", corpus.config, batch_size=batch_size, training=False, with_meta=True)
    attention.set_weights(model.get_weights())
    split = corpus.splits["test"]
    mass, uniform, entropy, gates = [], [], [], []
    offset = 0
    for inputs, targets, meta in dataset:
        out = attention.predict_on_batch(inputs)
        if specs.MEMORY_WEIGHTS not in out:
            raise SystemExit(f"{model_dir}: the model ({config.model_name}) has no read weights")
        delta = np.asarray(out[specs.MEMORY_WEIGHTS], np.float64)
        labels = np.asarray(targets[specs.LABEL])
        if delta.ndim == 3:  # one read per candidate (`memory_query='candidate'`): the ground truth's
            delta = delta[np.arange(delta.shape[0]), labels]
        gate = np.asarray(out[specs.FUSION_GATE], np.float64)[..., 0]
        for b in range(delta.shape[0]):
            i = offset + b
            rows = split.history[i]
            real = rows >= 0
            n = int(real.sum())
            truth = corpus.sticker_emoji[int(split.candidate_ids[i, split.label[i]])]
            kinds = np.array([corpus.sticker_emoji[int(corpus.selected[r])] if r >= 0 else -1 for r in rows])
            same = real & (kinds == truth)
            gates.append(gate[b, labels[b]])
            if n < 2 or not same.any() or same.sum() == n:
                continue
            mass.append(delta[b, same].sum())
            uniform.append(same.sum() / n)
            d = delta[b, real]
            entropy.append(float(-(d * np.log(np.maximum(d, 1e-12))).sum() / np.log(n)))
        offset += delta.shape[0]
    return {
        "model_dir": model_dir,
        "dialogs": len(mass),
        "same_kind_mass": float(np.mean(mass)),
        "uniform_share": float(np.mean(uniform)),
        "lift": float(np.mean(mass) / np.mean(uniform)),
        "entropy": float(np.mean(entropy)),
        "gate": float(np.mean(gates)),
        **query_separation(model.matcher, corpus),
        **gradient_norms(model, config, corpus),
    }


def query_separation(matcher, corpus, pairs: int = 20000) -> dict:
    """How well the query h of Eq. 22 separates the test dialogs by the emoji of the sticker sent."""

    split = corpus.splits["test"]
    contexts = corpus.contexts[split.index]
    kinds = np.array([corpus.sticker_emoji[int(split.candidate_ids[i, split.label[i]])] for i in range(len(split))])
    h = np.asarray(memory_query(matcher, contexts), np.float64)
    h /= np.maximum(np.linalg.norm(h, axis=-1, keepdims=True), 1e-12)
    similarity = h @ h.T
    different = kinds[:, None] != kinds[None, :]
    same = ~different & ~np.eye(len(kinds), dtype=bool)
    rng = np.random.default_rng(0)
    auc = float(np.mean(rng.choice(similarity[same], pairs) > rng.choice(similarity[different], pairs)))
    labels = np.unique(kinds)
    means = np.stack([h[kinds == k].mean(0) for k in labels])
    centroid = float(np.mean(labels[np.argmax(h @ means.T, axis=1)] == kinds))
    return {"query_auc": auc, "query_centroid": centroid}


def gradient_norms(model, config, corpus) -> dict:
    """Norms of the training loss's gradient on one training batch, per memory part."""
    import tensorflow as tf

    from stickerchat.data import pipeline
    from stickerchat.models import losses

    inputs, targets = next(iter(pipeline.make_dataset(corpus, "train", corpus.config, batch_size=config.train.batch_size, training=True)))
    matcher = model.matcher
    parts = {
        "grad_read_kernel": getattr(matcher, "preference_memory", None),
        "grad_key_encoder": getattr(matcher, "history_key_encoder", None),
        "grad_value_encoder": getattr(matcher, "history_value_encoder", None),
        "grad_utterance_encoder": getattr(matcher, "utterance_encoder", None),
    }
    parts = {k: v for k, v in parts.items() if v is not None and v.trainable_weights}
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        loss = losses.hinge_ranking_loss(out[specs.SCORES], targets[specs.LABEL], margin=config.train.margin)
    variables = [v for layer in parts.values() for v in layer.trainable_weights]
    grads = tape.gradient(loss, variables)
    norms, k = {}, 0
    for name, layer in parts.items():
        g = grads[k : k + len(layer.trainable_weights)]
        k += len(layer.trainable_weights)
        norms[name] = float(np.sqrt(sum(float(tf.reduce_sum(tf.square(x))) for x in g if x is not None)))
    return norms


def main(argv):
    dirs = argv[1:]
    if not dirs:
        raise app.UsageError("usage: python -m experiments.memory_addressing RUN_DIR [RUN_DIR ...]")
    rows = [read_weights(d, FLAGS.batch_size) for d in dirs]
    grad_names = sorted({k for r in rows for k in r if k.startswith("grad_")})
    lines = [
        "| run | dialogs | same-kind mass | uniform share | lift | entropy / log n | gate | query AUC | query centroid | "
        + " | ".join(grad_names)
        + " |",
        "|" + "---|" * (9 + len(grad_names)),
    ]
    for r in rows:
        lines.append(
            f"| {r['model_dir']} | {r['dialogs']} | {r['same_kind_mass']:.3f} | {r['uniform_share']:.3f} | "
            f"{r['lift']:.2f} | {r['entropy']:.3f} | {r['gate']:.3f} | {r['query_auc']:.3f} | {r['query_centroid']:.3f} | "
            + " | ".join(f"{r.get(k, float('nan')):.2e}" for k in grad_names)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    from stickerchat.rundir import runfiles

    runfiles.write_text(os.path.join(FLAGS.out_dir, "memory_addressing.md"), text)
    runfiles.write_text(os.path.join(FLAGS.out_dir, "memory_addressing.json"), json.dumps(rows, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    app.run(main)
