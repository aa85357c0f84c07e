"""PESRS learns from the user's history where the text cannot tell the candidates apart."""

import pytest

from stickerchat.cli import flags as sc_flags
from stickerchat.training import trainer
from tests.data.history_only import write_history_only_corpus

STEPS = 300


def _train(model_name, data_dir, model_dir, steps=STEPS, **overrides):
    cfg = sc_flags.resolve_config(
        "test", data_dir, model_name, train_steps=steps, eval_every=steps, batch_size=16, seed=0, **overrides
    )
    cfg.train.attention_images = 0
    return trainer.train(cfg, model_dir, verbose=0)


@pytest.mark.slow
def test_pesrs_beats_srs_when_only_the_history_decides(tmp_path):
    data_dir = write_history_only_corpus(tmp_path / "data")
    srs = _train("srs", data_dir, str(tmp_path / "srs"))
    pesrs = _train("pesrs", data_dir, str(tmp_path / "pesrs"))
    # 5 candidates: a ranker that cannot tell them apart has MAP ≈ 0.457 and R@1 = 0.2,
    # with a standard error of about 0.03 over the 50 test dialogs.
    assert srs["MAP"] < 0.6, srs
    assert pesrs["MAP"] > 0.8, pesrs
    assert pesrs["R10@1"] > srs["R10@1"] + 0.3, (srs, pesrs)


@pytest.mark.slow
def test_pesrs_addresses_its_memory_by_the_dialog(tmp_path):
    # Three topics, one favourite sticker per user and topic: the user's history holds all three
    # favourites alike, so its average cannot say which one this dialog's topic calls for; only
    # reading the selections made in dialogs of the same topic can (Eq. 21-24).
    data_dir = write_history_only_corpus(tmp_path / "data", num_topics=3)
    # Twice the steps of the test above: the addressing is learned after the ranking (at the defaults of issue 20's
    # fix, seed 0: MAP 0.797 at 300 steps, 0.990 at 600; AverageMem 0.822 at 600).
    average = _train("average_mem", data_dir, str(tmp_path / "average"), steps=2 * STEPS, history_len=6)
    pesrs = _train("pesrs", data_dir, str(tmp_path / "pesrs"), steps=2 * STEPS, history_len=6)
    # With 5 candidates, the best ranker that knows the user's three favourites but not which one
    # is meant (the other two are among the 4 negatives 0, 1 or 2 times, ties broken at random)
    # has R@1 = 0.611 and MAP = 0.797; one that reads by the topic can reach 1.
    assert pesrs["MAP"] > 0.85, pesrs
    assert pesrs["R10@1"] > average["R10@1"] + 0.15, (average, pesrs)
