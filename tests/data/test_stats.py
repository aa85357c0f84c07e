import pytest

from stickerchat.config import DataConfig
from stickerchat.data.corpus import load_corpus
from stickerchat.data.stats import corpus_statistics, format_statistics
from tests.data import tiny


def test_statistics_of_a_hand_made_corpus(tmp_path):
    train = [
        tiny.example(["a b c", "", "d"], 1, tiny.SET_A, tiny.STICKERS_A[0]),  # 2 utts, 4 words, users {1000,1001?}
        tiny.example(["a b"], 1, tiny.SET_A, tiny.STICKERS_A[0]),
        tiny.example(["a b c d e f"], 2, tiny.SET_A, tiny.STICKERS_A[1]),
        '{"broken',
    ]
    val = [tiny.example(["x"], 2, tiny.SET_A, tiny.STICKERS_A[1])]
    test = [tiny.example(["y z"], 3, tiny.SET_B, tiny.STICKERS_B[0])]
    root = tiny.write_tiny_corpus(tmp_path / "d", train, val, test, small_set=False)
    config = DataConfig(context_len=5, max_words=10, num_candidates=5, history_len=3, image_size=16,
                        skip_bad_examples=True, cache_dir=str(tmp_path / "cache"))
    frame = corpus_statistics(load_corpus(root, config, verbose=False))
    t = frame["train"]
    assert t["pairs"] == 3
    assert t["mean_words_per_utterance"] == pytest.approx((4 + 2 + 6) / 4)
    assert t["mean_utterances_per_context"] == pytest.approx(4 / 3)
    # Context speakers: utterance i is from 1000 + i % 2; plus the sender.
    assert t["mean_participants"] == pytest.approx((3 + 2 + 2) / 3)
    assert t["share_with_history"] == pytest.approx(1 / 3)
    assert t["mean_history_length"] == pytest.approx(1 / 3)
    assert t["share_in_last10"] == pytest.approx(1 / 3)
    assert frame["val"]["share_in_last10"] == 1.0 and frame["val"]["mean_history_length"] == 1.0
    assert frame["test"]["share_with_history"] == 0.0
    assert t["sets"] == 2 and t["stickers"] == 20 and t["mean_set_size"] == 10
    assert t["skipped"] == 1


def test_format_mentions_reasons(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d", train_lines=[tiny.SAMPLE_LINE, "{"])
    config = DataConfig(context_len=5, max_words=10, num_candidates=5, history_len=3, image_size=16,
                        skip_bad_examples=True, cache_dir=str(tmp_path / "cache"))
    text = format_statistics(load_corpus(root, config, verbose=False))
    assert "malformed_json 1" in text and "pairs" in text
