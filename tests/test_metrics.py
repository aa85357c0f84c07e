"""Metric values on hand-made score matrices, ties included."""

import numpy as np
import pytest

from stickerchat.evaluation import metrics

RANDOM_MAP_10 = np.mean(1.0 / np.arange(1, 11))


def test_all_equal_scores_give_random_expectation():
    scores = np.zeros((7, 10))
    labels = np.arange(7) % 10
    m = metrics.ranking_metrics(scores, labels)
    assert m["R10@1"] == pytest.approx(0.1)
    assert m["R10@2"] == pytest.approx(0.2)
    assert m["R10@5"] == pytest.approx(0.5)
    assert m["MAP"] == pytest.approx(RANDOM_MAP_10)
    assert m["MAP"] == pytest.approx(0.2929, abs=1e-4)
    assert m["R2@1"] == pytest.approx(0.5)
    assert m["num_examples"] == 7


def test_hand_computed_ranks():
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # positive first -> rank 1
            [0.5, 0.6, 0.7, 0.1],  # label 0: two above -> rank 3
            [0.1, 0.2, 0.3, 0.4],  # label 0: rank 4
        ]
    )
    labels = np.array([0, 0, 0])
    np.testing.assert_allclose(metrics.reciprocal_rank_per_example(scores, labels), [1, 1 / 3, 1 / 4])
    np.testing.assert_allclose(metrics.recall_at_k_per_example(scores, labels, 1), [1, 0, 0])
    np.testing.assert_allclose(metrics.recall_at_k_per_example(scores, labels, 3), [1, 1, 0])


def test_partial_ties_are_expected_rank():
    # One negative above, two tied with the positive: rank uniform on {2, 3, 4}.
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    labels = np.array([0])
    assert metrics.recall_at_k_per_example(scores, labels, 1)[0] == 0
    assert metrics.recall_at_k_per_example(scores, labels, 2)[0] == pytest.approx(1 / 3)
    assert metrics.recall_at_k_per_example(scores, labels, 3)[0] == pytest.approx(2 / 3)
    assert metrics.recall_at_k_per_example(scores, labels, 4)[0] == pytest.approx(1.0)
    assert metrics.reciprocal_rank_per_example(scores, labels)[0] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_label_slot_does_not_matter():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 10))
    labels = rng.integers(0, 10, size=50)
    perm = rng.permutation(10)
    inverse = np.argsort(perm)
    m1 = metrics.ranking_metrics(scores, labels)
    m2 = metrics.ranking_metrics(scores[:, perm], inverse[labels])
    for k in ("MAP", "R10@1", "R10@2", "R10@5"):
        assert m1[k] == pytest.approx(m2[k])


def test_r2_at_1_uses_a_seeded_negative_not_a_fixed_slot():
    scores = np.tile(np.arange(10, dtype=float), (200, 1))  # candidate j scores j
    labels = np.full(200, 5)
    r2 = metrics.r2_at_1_per_example(scores, labels, seed=3)
    # The positive (score 5) beats negatives 0-4 and loses to 6-9: about 5/9 wins.
    assert 0.4 < r2.mean() < 0.7
    np.testing.assert_array_equal(r2, metrics.r2_at_1_per_example(scores, labels, seed=3))
    assert not np.array_equal(r2, metrics.r2_at_1_per_example(scores, labels, seed=4))


def test_perfect_and_worst():
    scores = np.eye(10)[[3, 1]]
    m = metrics.ranking_metrics(scores, np.array([3, 1]))
    assert m["MAP"] == 1 and m["R10@1"] == 1 and m["R2@1"] == 1
    m = metrics.ranking_metrics(-scores, np.array([3, 1]))
    assert m["MAP"] == pytest.approx(0.1) and m["R10@5"] == 0 and m["R2@1"] == 0


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        metrics.ranking_metrics(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(ValueError, match="labels"):
        metrics.ranking_metrics(np.zeros((2, 3)), np.array([0, 3]))
