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
* with `memory_weight > 0` and a model that outputs `memory_scores`
  (PESRS with `ModelConfig.memory_loss > 0`), the same hinge loss on the
  memory's own scores, weighted by `memory_weight` (`GatedFusion`);
* with `context_classify_weight > 0` and a model that outputs
  `context_emoji_logits`, a cross-entropy predicting the response's emoji
  from the memory query (`ModelConfig.context_classify`);
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
        memory_weight: float. Weight of the hinge loss on `memory_scores`
            (when the model outputs them; warmed up with the ranking loss).
        context_classify_weight: float. Weight of the cross-entropy of
            `context_emoji_logits` against the response's emoji (when the
            model outputs them; trained from the first step, like L_s).
    """

    def __init__(
        self,
        model,
        margin=0.1,
        use_classify=True,
        classify_weight=1.0,
        classify_warmup_steps=0,
        memory_weight=0.0,
        context_classify_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.model = model
        self.margin = float(margin)
        self.use_classify = bool(use_classify)
        self.classify_weight = float(classify_weight)
        self.classify_warmup_steps = int(classify_warmup_steps) if use_classify else 0
        self.memory_weight = float(memory_weight)
        self.context_classify_weight = float(context_classify_weight)
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

    def _ranking_loss(self, y, y_pred, hinge):
        """Eq. 33's hinge, plus the memory loss when the model has memory scores and `memory_weight > 0`."""
        if self.memory_weight and specs.MEMORY_SCORES in y_pred:
            memory = losses.hinge_ranking_loss(y_pred[specs.MEMORY_SCORES], y[specs.LABEL], self.margin)
            return hinge + self.memory_weight * memory
        return hinge

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        hinge, emoji = self._loss_terms(y, y_pred)
        ranking = self._ranking_loss(y, y_pred, hinge)
        total = self.classify_weight * emoji
        if self.context_classify_weight and specs.CONTEXT_EMOJI_LOGITS in y_pred:
            context = losses.context_emoji_loss(y_pred[specs.CONTEXT_EMOJI_LOGITS], y[specs.LABEL], y[specs.CANDIDATE_EMOJI])
            total = total + self.context_classify_weight * context
        if self.classify_warmup_steps and training:
            ranking_on = ops.cast(
                ops.greater_equal(self.optimizer.iterations, self.classify_warmup_steps), "float32"
            )
            total = total + ranking_on * ranking
        else:
            total = total + ranking
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
                "memory_weight": self.memory_weight,
                "context_classify_weight": self.context_classify_weight,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
