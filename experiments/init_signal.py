"""How much a fresh model's candidate scores depend on the candidate, and where the gradient goes.

    python -m experiments.init_signal [--preset=cpu] [--set=model.init_stddev=0.02,...] [--batches=4]

A ranking model trains only once its scores differ between the candidates
of a dialog: the hinge loss of Eq. 33 sees nothing else. For the model of
the given configuration, freshly initialised (seeded) and in training mode,
on a few training batches of the corpus, this prints

* the *score spread*: the standard deviation of the scores over the
  candidates of a dialog, averaged over dialogs, next to the margin;
* the hinge loss and the rms of its gradient for each group of weights
  (sticker encoder, utterance encoder, interaction, fusion, memory, gate and
  score), which says which parts the ranking loss reaches at the start.

Compare the literal paper (`--set=model.init_stddev=0.02,model.preference=literal,...`)
with the defaults to see what each fix changes. TensorFlow backend.
"""

import json

import numpy as np
import tensorflow as tf
from absl import app, flags

from experiments import common
from stickerchat import data as data_lib
from stickerchat.cli import flags as sc_flags
from stickerchat import specs
from stickerchat.data import pipeline
from stickerchat.models import build_model
from stickerchat.models import losses

flags.DEFINE_string("model", "pesrs", "Registered model.")
flags.DEFINE_integer("batches", 4, "Training batches to average over.")
common.define_flags("results/init_signal", default_steps=0)
FLAGS = flags.FLAGS

GROUPS = (
    ("sticker encoder", "sticker_encoder"),
    ("utterance encoder", "utterance_encoder"),
    ("interaction (Eq. 9-15)", "interaction"),
    ("fusion (Eq. 25-30)", "fusion"),
    ("history encoders (Eq. 19-20)", "history_"),
    ("memory read (Eq. 23)", "preference_memory"),
    ("gate and score (Eq. 31-32)", "gated_fusion"),
    ("score (SRS)", "score_head"),
)


def measure(cfg, batches):
    import keras

    corpus = data_lib.load_corpus(cfg.data_dir, cfg.data, verbose=False)
    cfg.model.vocab_size, cfg.model.num_emoji = len(corpus.vocab), len(corpus.emoji_vocab)
    keras.utils.set_random_seed(cfg.data.seed)
    model = build_model(cfg.model_name, cfg)
    dataset = pipeline.make_dataset(corpus, "train", cfg, training=True, repeat=True)
    spreads, hinges, grads = [], [], {}
    for inputs, targets in dataset.take(batches):
        with tf.GradientTape() as tape:
            scores = model(inputs, training=True)[specs.SCORES]
            hinge = losses.hinge_ranking_loss(scores, targets[specs.LABEL], cfg.train.margin)
        spreads.append(float(tf.reduce_mean(tf.math.reduce_std(scores, axis=-1))))
        hinges.append(float(hinge))
        for var, grad in zip(model.trainable_variables, tape.gradient(hinge, model.trainable_variables)):
            if grad is None:
                continue
            for label, key in GROUPS:
                if key in var.path:
                    grads.setdefault(label, []).append(float(tf.reduce_mean(tf.square(grad))))
    return {
        "score_spread": float(np.mean(spreads)),
        "margin": cfg.train.margin,
        "hinge": float(np.mean(hinges)),
        "grad_rms": {label: float(np.sqrt(np.mean(v))) for label, v in grads.items()},
    }


def main(argv):
    overrides = common.parse_overrides(FLAGS.set)
    cfg = sc_flags.resolve_config(FLAGS.preset, FLAGS.data_dir, FLAGS.model, seed=FLAGS.seed, **overrides)
    result = measure(cfg, FLAGS.batches)
    print(json.dumps({"model": FLAGS.model, "overrides": overrides, **result}, indent=2))


if __name__ == "__main__":
    app.run(main)
