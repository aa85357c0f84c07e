"""`negatives="catalogue"`: random negatives from the whole corpus, any set (for corpora without real sets)."""

import collections

import numpy as np
import pytest

from stickerchat import config as config_lib
from stickerchat.data.corpus import SPLITS
from stickerchat.data.errors import DataError
from tests.data import tiny


def test_catalogue_negatives_cross_sets_distinct_stable_never_topped_up(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    a = tiny.load(root, tmp_path, negatives="catalogue", num_candidates=8)
    b = tiny.load(root, tmp_path, negatives="catalogue", num_candidates=8)
    foreign = 0
    drawn = collections.Counter()
    labels = set()
    for split in SPLITS:
        sa, sb = a.split(split), b.split(split)
        np.testing.assert_array_equal(sa.candidate_ids, sb.candidate_ids)  # fixed per example
        np.testing.assert_array_equal(sa.label, sb.label)
        assert sa.topped_up == 0
        for i in range(len(sa)):
            ids = sa.candidate_ids[i].tolist()
            gt = int(a.selected[sa.index[i]])
            assert len(set(ids)) == len(ids) == 8
            assert ids.count(gt) == 1 and ids[sa.label[i]] == gt
            foreign += sum(a.sticker_set_of[s] != a.sticker_set_of[gt] for s in ids)
            drawn.update(s for s in ids if s != gt)
            labels.add(int(sa.label[i]))
    assert foreign > 0  # negatives come from other sets than the ground truth's
    assert set(drawn) <= set(a.sticker_set_of)
    assert len(drawn) > 15  # spread over the catalogue (23 stickers), not one set's first few
    assert len(labels) > 2
    # The small set (3 stickers) needs no top-up: every example is drawn from the whole catalogue.
    c = tiny.load(root, tmp_path, negatives="catalogue", num_candidates=8, seed=1)
    assert not np.array_equal(c.split("train").candidate_ids, a.split("train").candidate_ids)


def test_same_set_protocols_unchanged(tmp_path):
    """The set-based protocols still draw from the ground truth's set where it is large enough."""
    root = tiny.write_tiny_corpus(tmp_path / "d")
    corpus = tiny.load(root, tmp_path, negatives="random")
    train = corpus.split("train")
    for i in range(len(train)):
        gt = int(corpus.selected[train.index[i]])
        assert {corpus.sticker_set_of[s] for s in train.candidate_ids[i].tolist()} == {corpus.sticker_set_of[gt]}


def test_catalogue_needs_enough_stickers_and_is_a_known_value(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    with pytest.raises(DataError, match="fewer than num_candidates"):
        tiny.load(root, tmp_path, negatives="catalogue", num_candidates=24)
    assert "catalogue" in config_lib.NEGATIVES
    cfg = config_lib.get_preset("test").replace(negatives="catalogue")
    config_lib.check(cfg)  # accepted
    with pytest.raises(ValueError, match="negatives"):
        config_lib.check(cfg.replace(negatives="catalog"))
