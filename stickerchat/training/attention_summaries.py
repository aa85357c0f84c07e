"""TensorBoard image summaries of the sticker-wise attention τ_s at each validation.

A few fixed validation examples are scored by a copy of the model that also
returns its attentions (same weights); for each, the candidates are drawn
with their τ_s heatmaps (Figure 10 of the paper), the ground truth first.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from stickerchat import specs
from stickerchat.evaluation import visualize
from stickerchat.models import build_model


class AttentionSummaries:
    """`on_validation(model, step)` hook of `RankingValidation`.

    Args:
        config: the run's `Config` (to build the attention-returning copy).
        batch: one `(inputs, targets, meta)` validation batch (numpy or tensors).
        num_examples: examples drawn per validation.
        num_candidates: candidates drawn per example (ground truth first).
    """

    def __init__(self, config, batch, num_examples: int = 3, num_candidates: int = 4):
        self.config = config
        inputs, targets, _ = batch
        n = min(num_examples, int(np.shape(targets[specs.LABEL])[0]))
        self.inputs = {k: np.asarray(v)[:n] for k, v in inputs.items()}
        self.labels = np.asarray(targets[specs.LABEL])[:n]
        self.num_candidates = num_candidates
        self._model = None

    def _attention_model(self, model):
        if self._model is None:
            self._model = build_model(self.config.model_name, self.config, return_attention=True)
        self._model.set_weights(model.get_weights())
        return self._model

    def render(self, model) -> np.ndarray:
        """Returns `(examples, H, W, 3)` uint8 pictures, or an empty array if the model has no τ_s."""
        outputs = self._attention_model(model).predict_on_batch(self.inputs)
        if specs.STICKER_ATTENTION not in outputs:
            return np.zeros((0, 1, 1, 3), np.uint8)
        scores = np.asarray(outputs[specs.SCORES])
        tau_s = np.asarray(outputs[specs.STICKER_ATTENTION], np.float32)
        pictures = []
        for i, label in enumerate(self.labels):
            order = [int(label)] + [j for j in np.argsort(-scores[i]) if j != label][: self.num_candidates - 1]
            images = [self.inputs[specs.CANDIDATE_IMAGES][i, j] for j in order]
            maps = [visualize.sticker_attention_map(tau_s[i, j], self.inputs[specs.CONTEXT][i]) for j in order]
            titles = ["ground truth"] + [f"candidate {j}" for j in order[1:]]
            fig = visualize.plot_stickers(images, maps, [float(scores[i, j]) for j in order], titles)
            pictures.append(visualize.figure_to_array(fig))
        return np.stack(pictures)

    def __call__(self, model, step: int) -> None:
        pictures = self.render(model)
        if len(pictures):
            tf.summary.image("sticker_attention", pictures, step=step, max_outputs=len(pictures))
