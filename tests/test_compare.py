"""predictions.tsv round trip and the paired t-test of `stickerchat.compare`."""

import numpy as np
import pytest

from stickerchat.evaluation import compare
from stickerchat.evaluation.predictions import Predictions, read_predictions, write_predictions


def _write(path, scores, labels, seed=0):
    n = len(labels)
    big = 556029562811581404  # 18 digits, above 2**53
    preds = Predictions(
        examples=np.arange(n, dtype=np.int64),
        users=[271484871 + i for i in range(n)],
        labels=np.asarray(labels, np.int64),
        sticker_ids=[[big + j for j in range(scores.shape[1])] for _ in range(n)],
        scores=scores.astype(np.float32),
    )
    write_predictions(str(path), preds)
    return preds


def test_predictions_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    preds = _write(tmp_path / "p.tsv", rng.normal(size=(5, 10)), rng.integers(0, 10, 5))
    back = read_predictions(str(tmp_path / "p.tsv"))
    np.testing.assert_array_equal(back.scores, preds.scores)
    assert back.sticker_ids == preds.sticker_ids
    assert back.sticker_ids[0][0] == 556029562811581404
    assert (tmp_path / "p.tsv").read_text().splitlines()[0] == "example\tuser\tlabel\tsticker_ids\tscores"


def test_bad_predictions_file_names_line(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("example\tuser\tlabel\tsticker_ids\tscores\n0\t1\t0\t5,6\n")
    with pytest.raises(ValueError, match=r"p.tsv:2"):
        read_predictions(str(p))


def test_better_run_is_marked(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    labels = rng.integers(0, 10, n)
    noise = rng.normal(size=(n, 10))
    good = noise.copy()
    good[np.arange(n), labels] += 2.0
    _write(tmp_path / "a.tsv", noise, labels)
    _write(tmp_path / "b.tsv", good, labels)
    result = compare.compare_runs(str(tmp_path / "a.tsv"), str(tmp_path / "b.tsv"))
    assert result["MAP"]["mark"] == "▲" and result["MAP"]["B"] > result["MAP"]["A"]
    reverse = compare.compare_runs(str(tmp_path / "b.tsv"), str(tmp_path / "a.tsv"))
    assert reverse["R10@1"]["mark"] == "▼"
    same = compare.compare_runs(str(tmp_path / "a.tsv"), str(tmp_path / "a.tsv"))
    assert same["MAP"]["mark"] == "" and same["MAP"]["p"] == 1.0
    assert "▲" in compare.format_comparison(result, "a", "b")


def test_runs_on_different_candidates_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    _write(tmp_path / "a.tsv", rng.normal(size=(20, 10)), np.zeros(20, int))
    _write(tmp_path / "b.tsv", rng.normal(size=(20, 10)), np.ones(20, int))
    with pytest.raises(ValueError, match="same candidates"):
        compare.compare_runs(str(tmp_path / "a.tsv"), str(tmp_path / "b.tsv"))
