import json
import os

import numpy as np
import pytest

from stickerchat.data.corpus import SPLITS, load_corpus
from stickerchat.data.errors import DataError
from stickerchat.data.stats import history_stats
from tests.data import tiny


_config = tiny.data_config
_load = tiny.load


def test_sample_line_of_data_format(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    corpus = _load(root, tmp_path, context_len=3, max_words=4)
    train = corpus.split("train")
    g = train.index[0]
    v = corpus.vocab
    expected = np.zeros((3, 4), np.int32)
    expected[0] = [v.lookup("我"), 1, 1, 1]  # 正在 用 大: unknown words
    expected[1] = [v.lookup("没"), 1, 1, 1]
    np.testing.assert_array_equal(corpus.contexts[g], expected)
    assert corpus.users[g] == 271484871
    assert corpus.selected[g] == 556029562811581404  # > 2**53, exact
    assert 556029562811581404 in train.candidate_ids[0].tolist()
    assert train.candidate_ids[0, train.label[0]] == 556029562811581404
    assert train.line[0] == 0
    assert corpus.participants[g] == 2  # 284336329 and the sender
    assert corpus.num_nonempty[g] == 2 and corpus.num_words[g] == 15
    assert corpus.sticker_set_of[556029562811581404] == tiny.SET_A
    assert corpus.unknown["unknown_words"] > 0


def test_context_keeps_last_nonempty_cut_to_max_words(tmp_path):
    lines = [tiny.example(["hello a", "", "world b c d e f", "   ", "foo", "bar hello"], 5, tiny.SET_A, tiny.STICKERS_A[0])]
    corpus = _load(tiny.write_tiny_corpus(tmp_path / "d", train_lines=lines), tmp_path, context_len=3, max_words=4)
    v = corpus.vocab
    ctx = corpus.contexts[corpus.split("train").index[0]]
    assert ctx.tolist() == [
        [v.lookup("world"), 1, 1, 1],
        [v.lookup("foo"), 0, 0, 0],
        [v.lookup("bar"), v.lookup("hello"), 0, 0],
    ]
    np.testing.assert_array_equal(corpus.encode_context(["hello a", "", "world b c d e f", None, "foo", "bar hello"]), ctx)


def test_negatives_distinct_never_ground_truth_stable_and_shuffled(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    a = _load(root, tmp_path)
    b = _load(root, tmp_path)
    labels = []
    for split in SPLITS:
        sa, sb = a.split(split), b.split(split)
        np.testing.assert_array_equal(sa.candidate_ids, sb.candidate_ids)
        np.testing.assert_array_equal(sa.label, sb.label)
        for i in range(len(sa)):
            ids = sa.candidate_ids[i].tolist()
            gt = a.selected[sa.index[i]]
            assert len(set(ids)) == len(ids) == 5
            assert ids.count(gt) == 1 and ids[sa.label[i]] == gt
            assert all(a.sticker_set_of[s] == a.sticker_set_of[gt] for s in ids)  # sets have >= 5 stickers
            assert sa.candidate_emoji[i].tolist() == [a.sticker_emoji[s] for s in ids]
            np.testing.assert_array_equal(a.store.rows(ids), sa.candidate_rows[i])
        labels += sa.label.tolist()
    assert len(set(labels)) > 2
    c = _load(root, tmp_path, seed=1)
    assert not np.array_equal(c.split("train").candidate_ids, a.split("train").candidate_ids)


def test_first_protocol_takes_mapping_order(tmp_path):
    corpus = _load(tiny.write_tiny_corpus(tmp_path / "d"), tmp_path, negatives="first")
    train = corpus.split("train")
    for i in range(len(train)):
        gt = corpus.selected[train.index[i]]
        order = corpus.sticker_sets[corpus.sticker_set_of[gt]]
        negatives = [s for s in train.candidate_ids[i].tolist() if s != gt]
        assert negatives == [s for s in order if s != gt][:4]


def test_small_set_topped_up_and_counted(tmp_path):
    lines = [tiny.example(["hello"], 5, tiny.SET_SMALL, tiny.STICKERS_SMALL[i % 3]) for i in range(4)]
    root = tiny.write_tiny_corpus(tmp_path / "d", train_lines=lines)
    for negatives in ("random", "first"):
        corpus = _load(root, tmp_path, negatives=negatives)
        train = corpus.split("train")
        assert corpus.topped_up["train"] == 4
        for i in range(4):
            ids = train.candidate_ids[i].tolist()
            gt = corpus.selected[train.index[i]]
            assert len(set(ids)) == 5 and ids.count(gt) == 1
            assert set(tiny.STICKERS_SMALL) <= set(ids)  # the whole small set, then other sets
            assert all(s in corpus.sticker_set_of for s in ids)


def _brute_force_history(corpus, history_len):
    stream = []  # (split, position, global row, user)
    for split in SPLITS:
        data = corpus.split(split)
        for i in range(len(data)):
            stream.append((split, i, data.index[i], corpus.users[data.index[i]]))
    expected = {}
    for t, (split, i, g, user) in enumerate(stream):
        earlier = [row for (_, _, row, u) in stream[:t] if u == user]
        expected[(split, i)] = earlier[-history_len:]
    return expected


def test_history_is_earlier_same_user_chronological(tmp_path):
    corpus = _load(tiny.write_tiny_corpus(tmp_path / "d"), tmp_path, history_len=3)
    expected = _brute_force_history(corpus, 3)
    seen_nonempty = 0
    for split in SPLITS:
        data = corpus.split(split)
        for i in range(len(data)):
            got = [h for h in data.history[i].tolist() if h >= 0]
            assert got == expected[(split, i)]
            assert data.history[i, len(got):].tolist() == [-1] * (3 - len(got))  # padding after
            assert all(h < data.index[i] for h in got)  # strictly earlier: never itself or later
            assert got == sorted(got)
            seen_nonempty += bool(got)
    assert seen_nonempty > 10
    stats = history_stats(corpus, "train")
    assert 0 < stats["share_with_history"] <= 1
    assert history_stats(corpus, "test")["share_with_history"] == 1.0  # test users all appear in train


BAD_CASES = {
    "malformed_json": '{"context": [',
    "missing_key": json.dumps({"context": []}),
    "malformed_example": '{"context": [], "current": {"from_id": 1, "sticker_set_id": 5.5e17, "sticker_id": 1}}',
    "sticker_set_missing": json.dumps(tiny.example(["a"], 1, 123456789012345678, 123456789012345679)),
    "sticker_not_in_mapping": json.dumps(tiny.example(["a"], 1, tiny.SET_A, tiny.STICKERS_B[0])),
}


@pytest.mark.parametrize("reason", sorted(BAD_CASES))
def test_bad_lines_error_or_count(tmp_path, reason):
    lines = [tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[0]), BAD_CASES[reason],
             tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[1])]
    root = tiny.write_tiny_corpus(tmp_path / "d", train_lines=lines)
    with pytest.raises(DataError, match=r"release_train\.json:2: ") as e:
        _load(root, tmp_path)
    assert e.value.reason == reason
    corpus = _load(root, tmp_path, skip_bad_examples=True)
    assert corpus.skipped == {reason: 1}
    train = corpus.split("train")
    assert train.line.tolist() == [0, 2]
    # The skipped line is nobody's history: the third example's history is the first only.
    assert [h for h in train.history[1].tolist() if h >= 0] == [train.index[0]]


@pytest.mark.parametrize("case", ["missing", "unreadable"])
def test_bad_sticker_file(tmp_path, case, capsys):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    bad = tiny.STICKERS_A[3]
    path = os.path.join(root, "npy_stickers", str(tiny.SET_A), f"{bad}.npy")
    if case == "missing":
        os.remove(path)
    else:
        with open(path, "wb") as f:
            f.write(b"not an npy file")
    with pytest.raises(DataError, match=rf"{bad}") as e:
        _load(root, tmp_path)
    assert e.value.reason == f"sticker_file_{case}" and path in str(e.value)
    corpus = load_corpus(root, _config(tmp_path, skip_bad_examples=True), verbose=True)
    assert bad in corpus.bad_stickers and bad not in corpus.sticker_set_of
    uses = sum(
        json.loads(line)["current"]["sticker_id"] == bad
        for split in SPLITS
        for line in open(os.path.join(root, f"release_{split}.json"), encoding="utf-8")
    )
    assert corpus.skipped == {f"sticker_file_{case}": uses}
    for split in SPLITS:
        assert bad not in corpus.split(split).candidate_ids
    assert f"sticker_file_{case}" in capsys.readouterr().out


def test_missing_set_directory_mapping(tmp_path):
    root = tiny.write_tiny_corpus(tmp_path / "d")
    os.remove(os.path.join(root, "npy_stickers", str(tiny.SET_B), "emoji_mapping.txt"))
    with pytest.raises(DataError, match="emoji_mapping.txt"):
        _load(root, tmp_path)
    corpus = _load(root, tmp_path, skip_bad_examples=True)
    assert tiny.SET_B in corpus.bad_sets
    assert corpus.skipped["sticker_set_missing"] == 10 + 5  # train (every other) + test


def test_ids_as_strings_are_exact_and_floats_rejected(tmp_path):
    line = json.dumps(tiny.example(["hello"], 5, tiny.SET_A, tiny.STICKERS_A[2]))
    line = line.replace(str(tiny.STICKERS_A[2]), f'"{tiny.STICKERS_A[2]}"')
    corpus = _load(tiny.write_tiny_corpus(tmp_path / "d", train_lines=[line]), tmp_path)
    assert corpus.selected[0] == tiny.STICKERS_A[2]


def test_accessors(tmp_path):
    corpus = _load(tiny.write_tiny_corpus(tmp_path / "d"), tmp_path)
    assert list(corpus.sticker_sets) == sorted(corpus.sticker_sets)
    assert corpus.sticker_sets[tiny.SET_A] == tiny.STICKERS_A
    assert corpus.sticker_image(tiny.STICKERS_A[0]).shape == (16, 16, 3)
    assert corpus.sticker_emoji[tiny.STICKERS_A[1]] == corpus.emoji_vocab.lookup("😢")
    assert corpus.num_examples("val") == 6
    with pytest.raises(ValueError):
        corpus.split("dev")


def test_a_converted_corpus_splits_raw_text_by_its_recorded_tokenizer(tmp_path):
    import json

    from stickerchat.data.corpus import read_tokenizer

    root = tiny.write_tiny_corpus(tmp_path / "d")
    plain = _load(root, tmp_path)
    assert plain.tokenizer is None
    # The released corpus's text is space-separated words: "Hello!" is one (unknown) word.
    assert plain.encode_context(["Hello!"])[-1][0] == plain.encode_context(["zzzunknown"])[-1][0]
    with open(os.path.join(root, "conversion.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "stickerchat.data.telegram.tokenize"}, f)
    converted = _load(root, tmp_path)
    assert converted.tokenizer == "stickerchat.data.telegram.tokenize"
    encoded = converted.encode_context(["Hello  WORLD!"])
    np.testing.assert_array_equal(encoded, converted.encode_context(["hello world !"]))
    assert converted.vocab.token_to_id["hello"] in encoded and converted.vocab.token_to_id["world"] in encoded
    with open(os.path.join(root, "conversion.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "mymodule.split"}, f)
    with pytest.raises(DataError, match="conversion.json: unknown tokenizer 'mymodule.split'"):
        read_tokenizer(str(root))
