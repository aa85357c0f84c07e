"""The ranking task: a model plus the paper's objective (Eq. 33 + L_s).

`RankingTask` wraps a sticker-ranking model (any model of the registry: its
outputs are a dict with `scores` and `emoji_logits`) and trains it with
`keras.Model.fit`:

* the hinge loss of Eq. 33 over the candidate scores, with `margin`;
* the auxiliary emoji-classification loss L_s (§5.2) over the candidate
  stickers, weighted by `classify_weight` (off for "w/o Classify");
* batches whose sticker images are de-duplicated
  (`make_dataset(..., unique_stickers=UniqueStickers())`) go to the model's
  `call_on_unique_stickers` (every registered model has it), the others to
  the model itself;
* the authors' encoder warm-up: for the first `classify_warmup_steps`
  optimizer steps only L_s is minimised, so the sticker encoder learns the
  emoji task before the whole model trains.

The task is backend-agnostic Keras 3 (`keras.ops` only). The warm-up reads
`optimizer.iterations` inside the loss, which the TensorFlow and torch
trainers see as a live value; under JAX the loss is traced once, so the task
refuses a warm-up there rather than silently freezing the schedule.
"""

from __future__ import annotations

import keras
from keras import ops

from stickerchat import specs
from stickerchat.models import losses


@keras.saving.register_keras_serializable(package="stickerchat")
class RankingTask(keras.Model):
    """Trains `model` on the ranking objective; `task(inputs)` returns `model(inputs)`.

    Args:
        model: keras.Model. Maps the input dict of `specs.input_specs` to a
            dict with `specs.SCORES` `(batch, candidates)` and
            `specs.EMOJI_LOGITS` `(batch, candidates, num_emoji)`.
        margin: float. Hinge margin of Eq. 33.
        use_classify: bool. Add the emoji loss L_s.
        classify_weight: float. Weight of L_s.
        classify_warmup_steps: int. Steps of L_s alone before the hinge loss.
    """

    def __init__(
        self,
        model,
        margin=0.1,
        use_classify=True,
        classify_weight=1.0,
        classify_warmup_steps=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.model = model
        self.margin = float(margin)
        self.use_classify = bool(use_classify)
        self.classify_weight = float(classify_weight)
        self.classify_warmup_steps = int(classify_warmup_steps) if use_classify else 0
        if self.classify_warmup_steps and keras.backend.backend() == "jax":
            raise ValueError(
                "classify_warmup_steps > 0 needs the tensorflow or torch backend (the JAX trainer traces "
                "the loss once, so a step-dependent schedule would be frozen); set it to 0 under jax."
            )
        self.hinge_tracker = keras.metrics.Mean(name="hinge_loss")
        self.emoji_tracker = keras.metrics.Mean(name="emoji_loss")

    def call(self, inputs, training=False):
        if specs.STICKER_IMAGES in inputs:  # a batch with de-duplicated stickers (every ranker takes one)
            return self.model.call_on_unique_stickers(inputs, training=training)
        return self.model(inputs, training=training)

    def _loss_terms(self, y, y_pred):
        hinge = losses.hinge_ranking_loss(y_pred[specs.SCORES], y[specs.LABEL], self.margin)
        if self.use_classify:
            emoji = losses.emoji_classification_loss(y_pred[specs.EMOJI_LOGITS], y[specs.CANDIDATE_EMOJI])
        else:
            emoji = ops.zeros((), dtype="float32")
        return hinge, emoji

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        hinge, emoji = self._loss_terms(y, y_pred)
        total = self.classify_weight * emoji
        if self.classify_warmup_steps and training:
            ranking_on = ops.cast(
                ops.greater_equal(self.optimizer.iterations, self.classify_warmup_steps), "float32"
            )
            total = total + ranking_on * hinge
        else:
            total = total + hinge
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        hinge, emoji = self._loss_terms(y, y_pred)
        self.hinge_tracker.update_state(hinge)
        self.emoji_tracker.update_state(emoji)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": keras.saving.serialize_keras_object(self.model),
                "margin": self.margin,
                "use_classify": self.use_classify,
                "classify_weight": self.classify_weight,
                "classify_warmup_steps": self.classify_warmup_steps,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
