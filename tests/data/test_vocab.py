import pytest

from stickerchat import specs
from stickerchat.data.errors import DataError
from stickerchat.data.vocab import Vocab


def test_both_line_forms_and_reserved_ids(tmp_path):
    path = tmp_path / "vocab"
    path.write_text("hello 10\nworld\n\n<unk> 3\nhello 2\n", encoding="utf-8")
    vocab = Vocab.from_file(str(path))
    assert vocab.tokens == ["<pad>", "<unk>", "hello", "world"]
    assert len(vocab) == 4
    assert vocab.lookup("<pad>") == specs.PAD_ID == 0
    assert vocab.lookup("hello") == 2 and vocab.lookup("world") == 3
    assert vocab.lookup("missing") == specs.UNK_ID == 1
    assert vocab.encode(["world", "nope", "hello"]).tolist() == [3, 1, 2]
    assert vocab.encode(["world"]).dtype.name == "int32"


def test_three_fields_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "emoji_vocab"
    path.write_text("a 1\nb 2 3\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:2: .*3 fields"):
        Vocab.from_file(str(path))


def test_non_integer_count_and_missing_file(tmp_path):
    path = tmp_path / "vocab"
    path.write_text("a x\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:1"):
        Vocab.from_file(str(path))
    with pytest.raises(DataError, match="not found"):
        Vocab.from_file(str(tmp_path / "absent"))
