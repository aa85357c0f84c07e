import keras
import numpy as np
from keras import ops

from stickerchat import specs
from stickerchat.models import losses
from testing import TestCase, to_numpy


class TestLosses(TestCase):
    def test_hinge_ranking_loss_eq_33(self):
        scores = np.array([[0.9, 0.5, 0.85], [0.2, 0.6, 0.1]], np.float32)
        label = np.array([0, 0], np.int32)
        # Example 0: max(0, .5-.9+.1) + max(0, .85-.9+.1) = 0 + .05; example 1: .5 + 0.
        got = float(to_numpy(losses.hinge_ranking_loss(scores, label, margin=0.1)))
        np.testing.assert_allclose(got, (0.05 + 0.5) / 2, atol=1e-6)

    def test_hinge_is_float32_under_bfloat16(self):
        scores = ops.cast(np.array([[0.3, 0.4]]), "bfloat16")
        loss = losses.hinge_ranking_loss(scores, np.array([1]), 0.2)
        assert keras.backend.standardize_dtype(loss.dtype) == "float32"

    def test_emoji_loss_ignores_padding(self):
        logits = np.random.default_rng(0).normal(size=(1, 3, 4)).astype(np.float32)
        ids = np.array([[2, 0, 3]], np.int32)
        got = float(to_numpy(losses.emoji_classification_loss(logits, ids)))
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        np.testing.assert_allclose(got, -(logp[0, 0, 2] + logp[0, 2, 3]) / 2, atol=1e-5)
        assert float(to_numpy(losses.emoji_classification_loss(logits, np.zeros((1, 3), np.int32)))) == 0.0

    def test_model_loss(self):
        outputs = {
            specs.SCORES: np.array([[0.2, 0.6]], np.float32),
            specs.EMOJI_LOGITS: np.zeros((1, 2, 3), np.float32),
        }
        targets = {specs.LABEL: np.array([0]), specs.CANDIDATE_EMOJI: np.array([[1, 2]])}
        total, hinge, emoji = (float(to_numpy(x)) for x in losses.model_loss(outputs, targets, 0.1, True, 0.5))
        np.testing.assert_allclose(hinge, 0.5, atol=1e-6)
        np.testing.assert_allclose(emoji, np.log(3), atol=1e-5)
        np.testing.assert_allclose(total, hinge + 0.5 * emoji, atol=1e-5)
        total, hinge, emoji = (float(to_numpy(x)) for x in losses.model_loss(outputs, targets, 0.1, False, 0.5))
        assert emoji == 0.0 and total == hinge

    def test_context_emoji_loss_targets_the_sent_stickers_emoji(self):
        logits = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
        label = np.array([1, 0])
        candidate_emoji = np.array([[3, 4, 2], [0, 2, 2]])  # example 1's positive has no label (0): left out
        got = float(to_numpy(losses.context_emoji_loss(logits, label, candidate_emoji)))
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        np.testing.assert_allclose(got, -logp[0, 4], atol=1e-5)

    def test_model_loss_adds_the_auxiliary_terms_when_weighted(self):
        outputs = {
            specs.SCORES: np.array([[0.2, 0.6]], np.float32),
            specs.EMOJI_LOGITS: np.zeros((1, 2, 3), np.float32),
            specs.MEMORY_SCORES: np.array([[0.5, 0.1]], np.float32),
            specs.CONTEXT_EMOJI_LOGITS: np.zeros((1, 3), np.float32),
        }
        targets = {specs.LABEL: np.array([0]), specs.CANDIDATE_EMOJI: np.array([[1, 2]])}
        base, hinge, emoji = (float(to_numpy(x)) for x in losses.model_loss(outputs, targets, 0.1, True, 1.0))
        total = float(to_numpy(losses.model_loss(outputs, targets, 0.1, True, 1.0, memory_weight=2.0, context_weight=0.5)[0]))
        # memory hinge: max(0, 0.1 - 0.5 + 0.1) = 0; context: log 3.
        np.testing.assert_allclose(total, base + 2.0 * 0.0 + 0.5 * np.log(3), atol=1e-5)
        outputs[specs.MEMORY_SCORES] = np.array([[0.1, 0.5]], np.float32)
        total = float(to_numpy(losses.model_loss(outputs, targets, 0.1, True, 1.0, memory_weight=2.0)[0]))
        np.testing.assert_allclose(total, base + 2.0 * 0.5, atol=1e-5)
