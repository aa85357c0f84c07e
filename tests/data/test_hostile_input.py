"""Hostile input: every case is a DataError naming file:line, or a counted skip; never a traceback."""

import json
import os

import pytest

from stickerchat.data import stats
from stickerchat.data.errors import DataError
from stickerchat.data.vocab import Vocab
from tests.data import tiny


_config = tiny.data_config
_load = tiny.load


def _with_current(**current):
    line = tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[0])
    line["current"].update(current)
    return json.dumps(line, ensure_ascii=False)


HOSTILE_LINES = {
    "sticker id above 2**63": (_with_current(sticker_id=2**64 + 5), "malformed_example", "64-bit"),
    "user id above 2**63": (_with_current(from_id=2**63), "malformed_example", "64-bit"),
    "set id below -2**63": (_with_current(sticker_set_id=-(2**63) - 1), "malformed_example", "64-bit"),
    "unicode digits": (_with_current(sticker_id="²"), "malformed_example", "not an integer"),
    "arabic-indic digits": (_with_current(from_id="١٢٣"), "malformed_example", "not an integer"),
    "list from_id": (_with_current(from_id=[1, 2]), "malformed_example", "not an integer"),
    "list context from_id": (
        json.dumps({**tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[0]),
                    "context": [{"text": "hi", "from_id": [1]}]}),
        "malformed_example",
        "context\\[0\\].from_id",
    ),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "malformed_json", "nested too deeply"),
    "nested object 100,000 deep": ('{"a":' * 100_000 + "1" + "}" * 100_000, "malformed_json", "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_LINES))
def test_hostile_example_lines_error_or_count(tmp_path, case):
    line, reason, message = HOSTILE_LINES[case]
    lines = [tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[0]), line,
             tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[1])]
    root = tiny.write_tiny_corpus(tmp_path / "d", train_lines=lines)
    with pytest.raises(DataError, match=r"release_train\.json:2: .*" + message) as e:
        _load(root, tmp_path)
    assert e.value.reason == reason
    corpus = _load(root, tmp_path, skip_bad_examples=True)
    assert corpus.skipped == {reason: 1}
    assert corpus.split("train").line.tolist() == [0, 2]


def _append_mapping_line(root, set_id, raw: bytes):
    with open(os.path.join(root, "npy_stickers", str(set_id), "emoji_mapping.txt"), "ab") as f:
        f.write(raw)


@pytest.mark.parametrize(
    "raw, message",
    [
        (f"{2**64}\t😀\n".encode(), "64-bit"),
        ("²\t😀\n".encode(), "expected"),
        (b"556029562811581999\t\xff\xfe\n", "not UTF-8"),
    ],
    ids=["id above 2**63", "unicode digit", "non-UTF-8"],
)
def test_hostile_mapping_lines(tmp_path, raw, message):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    _append_mapping_line(root, tiny.SET_A, raw)
    line_number = len(tiny.STICKERS_A) + 1
    with pytest.raises(DataError, match=rf"emoji_mapping\.txt:{line_number}: .*{message}"):
        _load(root, tmp_path)
    corpus = _load(root, tmp_path, skip_bad_examples=True)
    assert f"{tiny.SET_A}:{line_number}" in corpus.bad_stickers
    assert len(corpus.sticker_sets[tiny.SET_A]) == len(tiny.STICKERS_A)


def test_unicode_digit_set_directory_is_not_a_set(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    os.makedirs(os.path.join(root, "npy_stickers", "²"))
    corpus = _load(root, tmp_path)
    assert "²" in corpus.bad_sets and len(corpus.sticker_sets) == 3


def test_vocab_bom_non_utf8_and_empty(tmp_path):
    path = tmp_path / "vocab"
    path.write_bytes("\ufeffhello 3\nworld 2\n".encode("utf-8"))
    vocab = Vocab.from_file(str(path))
    assert vocab.tokens[2:] == ["hello", "world"]  # the BOM does not turn "hello" into an unknown word
    assert vocab.lookup("hello") == 2
    path.write_bytes(b"hello 3\nw\xe9rld 2\n")
    with pytest.raises(DataError, match=r"vocab:2: not UTF-8"):
        Vocab.from_file(str(path))
    for empty in (b"", b"\n  \n"):
        path.write_bytes(empty)
        with pytest.raises(DataError, match="vocab: the vocabulary is empty"):
            Vocab.from_file(str(path))
    path.write_bytes("hello ²\n".encode())
    with pytest.raises(DataError, match="vocab:1: the count"):
        Vocab.from_file(str(path))


def test_non_utf8_vocab_of_a_corpus_names_the_file(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    with open(os.path.join(root, "vocab"), "ab") as f:
        f.write(b"\xc3\x28 1\n")
    with pytest.raises(DataError, match=r"vocab:8: not UTF-8"):
        _load(root, tmp_path)


def test_a_bom_at_the_start_of_a_split_file(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    path = os.path.join(root, "release_train.json")
    content = open(path, "rb").read()
    open(path, "wb").write(b"\xef\xbb\xbf" + content)
    corpus = _load(root, tmp_path)
    assert corpus.num_examples("train") == 21


def test_stats_report_exact_duplicates_within_and_across_splits(tmp_path):
    a = tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[0])
    b = tiny.example(["world"], 6, tiny.SET_B, tiny.STICKERS_B[0])
    c = tiny.example(["foo"], 7, tiny.SET_A, tiny.STICKERS_A[2])
    root = tiny.write_tiny_corpus(tmp_path / "d", train_lines=[a, b, a, a], val_lines=[c, c], test_lines=[b, c])
    corpus = _load(root, tmp_path)
    dup = corpus.duplicates()
    assert dup["train"] == {"within": 2, "in_val": 0, "in_test": 1}
    assert dup["val"] == {"within": 1, "in_train": 0, "in_test": 2}
    assert dup["test"] == {"within": 0, "in_train": 1, "in_val": 1}
    frame = stats.corpus_statistics(corpus)
    assert frame.loc["duplicates_within_split", "train"] == 2
    assert frame.loc["duplicates_in_train", "test"] == 1
    text = stats.format_statistics(corpus)
    assert "warning: exact duplicate examples in test: 1 also in train; 1 also in val" in text
    assert "warning: exact duplicate examples in train: 2 repeat an earlier line of train" in text
    clean = _load(tiny.write_tiny_corpus(tmp_path / "clean"), tmp_path)
    assert "warning" not in stats.format_statistics(clean)


def test_user_history_file_hostile_input(tmp_path):
    from stickerchat.serving.user_history import HistoryFileError, read_user_history
    from stickerchat.serving.recommender import RecommenderError, parse_sticker_id

    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"context": ["hi"], "sticker_id": 5}\n{"context": ["h\xffi"], "sticker_id": 6}\n')
    with pytest.raises(HistoryFileError, match=r"history\.jsonl:2: not UTF-8"):
        read_user_history(str(path))
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(HistoryFileError, match=r"history\.jsonl:1: .*nested too deeply"):
        read_user_history(str(path))
    path.write_text(json.dumps({"context": ["hi"], "sticker_id": "²"}) + "\n")
    with pytest.raises(HistoryFileError, match=r"history\.jsonl:1: .*not an integer"):
        read_user_history(str(path))
    path.write_text(json.dumps({"context": ["hi"], "sticker_id": 2**64}) + "\n")
    with pytest.raises(HistoryFileError, match=r"history\.jsonl:1: .*64-bit"):
        read_user_history(str(path))
    with pytest.raises(HistoryFileError, match="not found"):
        read_user_history(str(tmp_path / "missing.jsonl"))
    for bad in ("²", "١٢", str(2**63)):
        with pytest.raises(RecommenderError):
            parse_sticker_id(bad)
    assert parse_sticker_id(" 556029562811581404 ") == 556029562811581404
