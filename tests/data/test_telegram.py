"""`stickerchat.data.telegram`: Telegram Desktop exports -> the released layout, read by the loader and trained on."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from stickerchat.config import DataConfig
from stickerchat.data import telegram, telegram_media
from stickerchat.data.corpus import SPLITS, load_corpus
from stickerchat.data.errors import DataError
from tests.data import telegram_export as tx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAVE_RLOTTIE = telegram_media.available_decoders()["tgs"]
HAVE_AV = telegram_media.available_decoders()["webm"]
NEED_RLOTTIE = pytest.mark.skipif(not HAVE_RLOTTIE, reason="rlottie-python is not installed (pip install 'stickerchat[telegram]')")
NEED_WEBM = pytest.mark.skipif(not (HAVE_AV and tx.webm_writable()), reason="PyAV with a VP9 encoder is not installed (pip install av)")


def _convert(exports, out, **kw):
    kw.setdefault("npy_size", 32)
    kw.setdefault("verbose", False)
    return telegram.convert([str(e) for e in exports], str(out), telegram.ConvertOptions(**kw))


def _lines(out, split):
    with open(os.path.join(str(out), f"release_{split}.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _load(out, tmp_path, **kw):
    config = DataConfig(context_len=4, max_words=8, num_candidates=5, history_len=3, image_size=32,
                        negatives="catalogue", cache_dir=str(tmp_path / "cache"), **kw)
    return load_corpus(str(out), config, verbose=False)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("tg")
    info = tx.write_export(root / "export")
    summary = _convert([info.path], root / "corpus")
    return info, summary, root / "corpus"


# --- Layout, loader, stickers --------------------------------------------------------------------
def test_layout_is_the_released_one_and_the_loader_reads_it(converted, tmp_path):
    info, summary, out = converted
    for name in ("release_train.json", "release_val.json", "release_test.json", "vocab", "emoji_vocab", "conversion.json"):
        assert os.path.isfile(out / name), name
    sets = os.listdir(out / "npy_stickers")
    assert len(sets) == len(tx.EMOTIONS) == summary.num_sets  # one set per emoji
    for set_dir in sets:
        mapping = (out / "npy_stickers" / set_dir / "emoji_mapping.txt").read_text(encoding="utf-8").splitlines()
        labels = {line.split("\t")[1] for line in mapping}
        assert len(labels) == 1 and telegram.set_id_of(labels.pop()) == int(set_dir)
        for line in mapping:
            array = np.load(out / "npy_stickers" / set_dir / f"{line.split(chr(9))[0]}.npy", allow_pickle=False)
            assert array.shape == (32, 32, 3) and array.dtype == np.uint8
            assert array.min() < 200  # something drawn, not a blank sticker
    corpus = _load(out, tmp_path)
    assert sum(corpus.num_examples(s) for s in SPLITS) == info.examples
    assert corpus.num_stickers == info.stickers == summary.num_stickers
    assert not corpus.skipped and not corpus.bad_stickers
    assert set(corpus.users.tolist()) <= set(info.users)
    assert corpus.unknown["unknown_emoji"] == 0
    example = _lines(out, "train")[0]
    assert set(example["current"]) >= {"from_id", "reply_to_msg_id", "sticker_set_id", "sticker_id", "sticker_alt"}
    assert all(set(m) == {"text", "reply_to_msg_id", "id", "from_id"} for m in example["context"])
    written = json.loads((out / "conversion.json").read_text(encoding="utf-8"))
    assert written["train_flags"] == ["--negatives=catalogue"] and written["format"] == telegram.FORMAT
    assert written["tokenizer"] == "stickerchat.data.telegram.tokenize"


def test_every_sticker_kind_is_read(converted):
    info, summary, _ = converted
    expected = {"webp": info.kinds["webp"], "thumbnail": 1}
    if HAVE_RLOTTIE:
        expected["tgs"] = 1
    if "webm" in info.kinds and HAVE_AV:
        expected["webm"] = 1
    assert summary.decoded == expected
    assert summary.skipped.get("sticker_not_included") == info.not_included == 1
    assert summary.thumbnail_because == {"sticker_not_included": 1}
    assert summary.counts["sticker_messages"] == info.sticker_messages


@NEED_RLOTTIE
def test_tgs_first_frame_is_rendered(tmp_path):
    tx.write_tgs(str(tmp_path / "a.tgs"), colour=(0.0, 0.0, 1.0))
    image, kind = telegram_media.decode_sticker((tmp_path / "a.tgs").read_bytes())
    assert kind == "tgs" and image.size == (128, 128)
    rgba = np.asarray(image)
    assert tuple(rgba[64, 64]) == (0, 0, 255, 255) and rgba[0, 0, 3] == 0
    stored = telegram_media.sticker_array(image, 16)
    assert tuple(stored[0, 0]) == (255, 255, 255)  # transparent -> white


@NEED_WEBM
def test_webm_first_frame_keeps_its_alpha(tmp_path):
    face = tx.face_image(0, 0, size=64)
    tx.write_webm(str(tmp_path / "a.webm"), face)
    image, kind = telegram_media.decode_sticker((tmp_path / "a.webm").read_bytes())
    assert kind == "webm" and image.size == (64, 64)
    rgba = np.asarray(image).astype(int)
    expected = np.asarray(face).astype(int)
    assert rgba[0, 0, 3] < 10  # the transparent corner stays transparent (libvpx keeps the alpha plane)
    assert np.abs(rgba[32, 20, :3] - expected[32, 20, :3]).max() < 40  # the face, up to VP9's loss


def test_a_nothing_drawing_animation_is_an_error(tmp_path):
    if not HAVE_RLOTTIE:
        pytest.skip("rlottie-python is not installed (pip install 'stickerchat[telegram]')")
    import gzip

    empty = {"v": "5.5.2", "fr": 30, "ip": 0, "op": 10, "w": 64, "h": 64, "layers": []}
    with pytest.raises(telegram_media.StickerDecodeError, match="nothing visible"):
        telegram_media.decode_sticker(gzip.compress(json.dumps(empty).encode()))
    with pytest.raises(telegram_media.StickerDecodeError, match="not a Lottie animation"):
        telegram_media.decode_sticker(gzip.compress(b"{not json"))
    with pytest.raises(telegram_media.StickerDecodeError, match="gzip"):
        telegram_media.decode_sticker(b"\x1f\x8b" + b"garbage")


def test_without_a_decoder_the_thumbnail_is_used_or_the_sticker_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(telegram_media, "_installed", lambda module: False)
    assert telegram_media.available_decoders() == {"webp": True, "tgs": False, "webm": False}
    root = tmp_path / "export"
    tx.write_tgs(str(root / "stickers" / "AnimatedSticker.tgs"))
    tx.write_jpg(str(root / "stickers" / "AnimatedSticker.tgs_thumb.jpg"), tx.face_image(0, 0, 64))
    tx.write_webp(str(root / "stickers" / "a.webp"), tx.face_image(1, 0))
    tx.write_webp(str(root / "stickers" / "b.webp"), tx.face_image(2, 1))
    messages = [tx.text_message(1, 100, 101, "haha")]
    messages.append(tx.sticker_message(2, 110, 102, "stickers/AnimatedSticker.tgs", "😂", thumbnail="stickers/AnimatedSticker.tgs_thumb.jpg"))
    messages.append(tx.sticker_message(3, 120, 101, "stickers/AnimatedSticker.tgs", "😂"))  # no thumbnail
    for k in range(4):
        messages.append(tx.text_message(10 + 2 * k, 200 + 20 * k, 101, "sad day"))
        messages.append(tx.sticker_message(11 + 2 * k, 210 + 20 * k, 102, f"stickers/{'ab'[k % 2]}.webp", "😢😍"[k % 2]))
    _write_result(root, messages)
    summary = _convert([root], tmp_path / "out")
    assert summary.decoded == {"thumbnail": 1, "webp": 2}
    assert summary.thumbnail_because == {"no_decoder_tgs": 1}
    assert summary.skipped == {"no_decoder_tgs": 1}
    assert "pip install 'stickerchat[telegram]'" in summary.text()


def test_identical_stickers_across_chats_and_exports_are_one(converted, tmp_path):
    info, summary, out = converted
    chats_of = {}
    for split in SPLITS:
        for example in _lines(out, split):
            chats_of.setdefault(example["current"]["sticker_id"], set()).add(example["current"]["chat_id"])
    assert len(chats_of) == info.stickers
    assert sum(len(c) > 1 for c in chats_of.values()) == info.cross_chat_stickers > 0
    # The same export given twice, plus a one-chat export of another chat: messages and stickers merged.
    other = tx.write_export(tmp_path / "other", chats=1, single=True, seed=5, animated=False, video=False, missing=False)
    data = json.loads((tmp_path / "other" / "result.json").read_text(encoding="utf-8"))
    data["id"] = 9000  # another chat than the full export's chat 7000
    (tmp_path / "other" / "result.json").write_text(json.dumps(data), encoding="utf-8")
    merged = _convert([info.path, info.path, other.path], tmp_path / "merged")
    assert merged.counts["chats_merged"] == 3
    assert merged.counts["duplicate_messages"] == summary.counts["messages"]
    assert sum(s["examples"] for s in merged.splits.values()) == info.examples + other.examples
    assert merged.num_stickers == info.stickers  # the other export's webp stickers are the same bytes


# --- Contexts, text, ids -----------------------------------------------------------------------
def test_contexts_flatten_entities_drop_service_messages_and_keep_replies(converted):
    info, _, out = converted
    result = json.loads(open(os.path.join(info.path, "result.json"), encoding="utf-8").read())
    service_ids = {m["id"] for chat in result["chats"]["list"] for m in chat["messages"] if m["type"] == "service"}
    assert len(service_ids) == info.service_messages
    photo_ids = {m["id"] for chat in result["chats"]["list"] for m in chat["messages"] if "photo" in m}
    examples = [e for split in SPLITS for e in _lines(out, split)]
    context = {m["id"]: m for e in examples for m in e["context"]}
    assert not service_ids & set(context)
    assert photo_ids & set(context) and all(context[i]["text"] == "" for i in photo_ids & set(context))
    assert any("really see <url> @ friend" in m["text"] for m in context.values())  # an entity list, flattened
    assert any(m["reply_to_msg_id"] is not None for m in context.values())
    assert any(e["current"]["reply_to_msg_id"] is not None for e in examples)
    for e in examples:
        assert len(e["context"]) <= 20
        assert all(m["id"] < e["current"]["id"] for m in e["context"])  # only earlier messages
        assert all(m["from_id"] in info.users for m in e["context"])
        assert e["current"]["from_id"] in info.users


def test_context_window_is_respected(tmp_path):
    info = tx.write_export(tmp_path / "export", chats=1, turns_per_chat=12, animated=False, video=False, missing=False)
    _convert([info.path], tmp_path / "out", context_window=3)
    examples = [e for split in SPLITS for e in _lines(tmp_path / "out", split)]
    assert max(len(e["context"]) for e in examples) == 3


def test_tokenize_is_one_idempotent_rule():
    assert telegram.tokenize("Hello, World!! 😂😂 don't") == "hello , world ! ! 😂 😂 don't"
    assert telegram.tokenize("我正在用大套子，好久没用了") == "我 正 在 用 大 套 子 , 好 久 没 用 了"
    assert telegram.tokenize("see https://t.me/x?a=1 and www.example.org") == "see <url> and <url>"
    assert telegram.tokenize("👍🏽 👨\u200d👩\u200d👧 ❤️") == "👍🏽 👨\u200d👩\u200d👧 ❤️"
    assert telegram.tokenize("ＦＵＬＬ width") == "full width"
    assert telegram.tokenize(None) == telegram.tokenize("") == ""
    # `<unk>`, as a history the service sends back holds it, stays one word.
    assert telegram.tokenize("so <unk> Funny!<unk>") == "so <unk> funny ! <unk>"
    for text in ("Hello, World!! 😂 don't", "see https://t.me/x <url>", "नमस्ते दुनिया", "こんにちは世界 ok", "a <unk> b"):
        once = telegram.tokenize(text)
        assert telegram.tokenize(once) == once


def test_user_ids_are_exact_and_documented():
    assert telegram.user_id("user123") == 123
    assert telegram.user_id("chat5") == 2**61 + 5
    assert telegram.user_id("channel5") == 2**62 + 5
    for bad in ("robot7", "user", "user-1", "USER1", 123, None, "user" + str(2**61)):
        with pytest.raises(ValueError):
            telegram.user_id(bad)
    assert 0 <= telegram.sticker_id_of(b"x") < 2**63 and telegram.sticker_id_of(b"x") == telegram.sticker_id_of(b"x")


# --- Splits ------------------------------------------------------------------------------------------
def test_splits_are_cut_by_time_across_chats(converted):
    info, summary, out = converted
    dates = {split: [e["current"]["date"] for e in _lines(out, split)] for split in SPLITS}
    for split in SPLITS:
        assert dates[split] == sorted(dates[split]), split  # each file in time order (the history stream's order)
        assert dates[split], split
    assert max(dates["train"]) <= min(dates["val"]) and max(dates["val"]) <= min(dates["test"])
    n = info.examples
    assert len(dates["test"]) == round(0.1 * n) and len(dates["val"]) == round(0.1 * n)
    chats = {split: {e["current"]["chat_id"] for e in _lines(out, split)} for split in SPLITS}
    assert len(chats["train"]) == 3  # every chat contributes, interleaved in time
    for split in SPLITS:
        for e in _lines(out, split):
            assert info.dates[e["current"]["id"]] == e["current"]["date"]
    # vocab is counted on the training contexts only
    train_words = {w for e in _lines(out, "train") for m in e["context"] for w in m["text"].split()}
    vocab = {line.split()[0] for line in (out / "vocab").read_text(encoding="utf-8").splitlines()}
    assert vocab == train_words


def test_split_fractions(tmp_path):
    info = tx.write_export(tmp_path / "export", chats=1, turns_per_chat=20, animated=False, video=False, missing=False)
    summary = _convert([info.path], tmp_path / "out", val_fraction=0.2, test_fraction=0.3)
    n = info.examples
    assert summary.splits["test"]["examples"] == round(0.3 * n) and summary.splits["val"]["examples"] == round(0.2 * n)
    with pytest.raises(ValueError, match="below 1"):
        _convert([info.path], tmp_path / "out2", val_fraction=0.5, test_fraction=0.5)


# --- Bad input ---------------------------------------------------------------------------------------
def _write_result(root, messages, single=True):
    os.makedirs(root, exist_ok=True)
    result = {"name": "Test chat", "type": "personal_chat", "id": 42, "messages": messages}
    if not single:
        result = {"chats": {"about": "", "list": [result]}}
    with open(os.path.join(str(root), "result.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


def _good_messages(root, n=6):
    tx.write_webp(str(root / "stickers" / "a.webp"), tx.face_image(0, 0))
    tx.write_webp(str(root / "stickers" / "b.webp"), tx.face_image(1, 1))
    messages = []
    for k in range(n):
        messages.append(tx.text_message(100 + 2 * k, 1000 + 60 * k, 101 + k % 2, "haha nice"))
        messages.append(tx.sticker_message(101 + 2 * k, 1030 + 60 * k, 102 - k % 2, f"stickers/{'ab'[k % 2]}.webp", "😂😢"[k % 2]))
    return messages


BAD_MESSAGES = {
    "id": ({"id": "abc", "type": "message", "date_unixtime": "5000", "text": "x"}, "messages[12]: 'id'", "malformed_message"),
    "from_id": (dict(tx.text_message(900, 5000, 101, "x"), from_id="robot7"), "message 900: from_id 'robot7'", "malformed_message"),
    "date": (dict(tx.text_message(901, 5000, 101, "x"), date_unixtime="soon"), "message 901: 'date_unixtime'", "malformed_message"),
    "text": (dict(tx.text_message(902, 5000, 101, "x"), text=7), "message 902: 'text' is 7", "malformed_message"),
    "entity": (dict(tx.text_message(903, 5000, 101, "x"), text=["a", {"type": "bold", "text": 3}]), "message 903: text[1]", "malformed_message"),
    "missing_file": (tx.sticker_message(904, 5000, 101, "stickers/gone.webp", "😂"), "message 904: sticker file", "sticker_file_missing"),
    "unreadable": (tx.sticker_message(905, 5000, 101, "stickers/broken.webp", "😂"), "message 905: cannot read sticker file", "sticker_file_unreadable"),
    "unsafe": (tx.sticker_message(906, 5000, 101, "../outside.webp", "😂"), "message 906: the sticker file path '../outside.webp' leaves", "unsafe_path"),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_a_bad_message_is_an_error_naming_file_chat_and_message(tmp_path, case):
    root = tmp_path / "export"
    messages = _good_messages(root)
    bad, expected, reason = BAD_MESSAGES[case]
    (root / "stickers" / "broken.webp").write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage")
    (tmp_path / "outside.webp").write_bytes((root / "stickers" / "a.webp").read_bytes())
    _write_result(root, messages + [bad])
    with pytest.raises(DataError) as e:
        _convert([root], tmp_path / "out")
    message = str(e.value)
    assert message.startswith(str(root / "result.json") + ": chat 42: "), message
    assert expected in message, message
    assert e.value.reason == reason and "\n" not in message
    assert not os.path.exists(tmp_path / "out")  # nothing written
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".out")]  # no temporary directory left


def test_skip_bad_counts_every_bad_message_by_reason(tmp_path):
    root = tmp_path / "export"
    messages = _good_messages(root)
    (root / "stickers" / "broken.webp").write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage")
    (tmp_path / "outside.webp").write_bytes(b"x")
    bad = [BAD_MESSAGES[case][0] for case in sorted(BAD_MESSAGES)]
    bad.append(tx.sticker_message(907, 5100, 101, "stickers/broken.webp", "😂"))  # the same broken bytes again
    _write_result(root, messages + bad + ["not an object"])
    summary = _convert([root], tmp_path / "out", skip_bad=True)
    assert summary.skipped == {"malformed_message": 6, "sticker_file_missing": 1, "sticker_file_unreadable": 2, "unsafe_path": 1}
    assert sum(s["examples"] for s in summary.splits.values()) == 6
    written = json.loads((tmp_path / "out" / "conversion.json").read_text(encoding="utf-8"))
    assert written["skipped"] == summary.skipped
    assert "skipped by reason: malformed_message 6" in summary.text()


def test_bad_exports_are_errors_naming_the_file(tmp_path):
    root = tmp_path / "export"
    os.makedirs(root)
    (root / "result.json").write_text('{"messages": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"result\.json: malformed JSON"):
        _convert([root], tmp_path / "out")
    (root / "result.json").write_text('{"about": "x"}', encoding="utf-8")
    with pytest.raises(DataError, match=r"result\.json: not a Telegram Desktop export"):
        _convert([root], tmp_path / "out")
    with pytest.raises(DataError, match=r"nowhere.*result\.json: not found"):
        _convert([tmp_path / "nowhere"], tmp_path / "out")
    (root / "result.json").write_bytes(b'{"messages": ["\xff"]}')
    with pytest.raises(DataError, match="not UTF-8"):
        _convert([root], tmp_path / "out")
    _write_result(root, _good_messages(root, n=1))
    with pytest.raises(DataError, match="only 1 usable sticker messages"):
        _convert([root], tmp_path / "out")


def test_the_command_prints_a_summary_and_one_line_errors(tmp_path):
    root = tmp_path / "export"
    _write_result(root, _good_messages(root) + [BAD_MESSAGES["from_id"][0]], single=False)
    cmd = [sys.executable, "-m", "stickerchat.data.telegram", f"--export={root}", f"--out={tmp_path / 'out'}", "--npy_size=16"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "chats.list[0]" not in lines[0]
    assert "result.json: chat 42: message 900: from_id 'robot7'" in lines[0]
    proc = subprocess.run(cmd + ["--skip_bad"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "skipped by reason: malformed_message 1" in proc.stdout
    assert f"train with: python -m stickerchat.train --data_dir={tmp_path / 'out'} --negatives=catalogue --num_candidates=2" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "stickerchat.data.telegram", f"--out={tmp_path / 'x'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "--export is required" in proc.stderr


# --- Output ------------------------------------------------------------------------------------------
def test_output_is_replaced_only_when_allowed_and_atomically(tmp_path):
    root = tmp_path / "export"
    _write_result(root, _good_messages(root))
    out = tmp_path / "out"
    _convert([root], out)
    before = (out / "release_train.json").read_bytes()
    with pytest.raises(DataError, match="--overwrite replaces it"):
        _convert([root], out)
    # A failing conversion leaves the earlier corpus as it was.
    _write_result(root, _good_messages(root) + [BAD_MESSAGES["from_id"][0]])
    with pytest.raises(DataError, match="robot7"):
        _convert([root], out, overwrite=True)
    assert (out / "release_train.json").read_bytes() == before
    _write_result(root, _good_messages(root, n=8))
    _convert([root], out, overwrite=True)
    assert len(_lines(out, "train")) + len(_lines(out, "val")) + len(_lines(out, "test")) == 8
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".")) == []
    # A directory that is not a conversion is never replaced.
    other = tmp_path / "mine"
    os.makedirs(other)
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not an earlier conversion"):
        _convert([root], other, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    os.makedirs(empty)
    _convert([root], empty)
    assert (empty / "release_train.json").is_file()


# --- End to end --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_convert_then_train_a_tiny_model(telegram_run):
    """The command converts a generated export and `stickerchat.train --data_dir` trains on it and scores it.

    The session's `telegram_run` (conftest.py): the service's end-to-end test (test_serve.py) serves the same run.
    """
    proc, out, model_dir = telegram_run.convert, telegram_run.corpus_dir, telegram_run.model_dir
    assert proc.returncode == 0, proc.stderr
    proc = telegram_run.train
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["num_examples"] == len(_lines(out, "test")) > 0
    assert 0.0 < metrics["MAP"] <= 1.0 and 0.0 <= metrics["R10@1"] <= 1.0
    config = json.loads((model_dir / "config.json").read_text())
    assert config["data"]["negatives"] == "catalogue" and config["data_dir"] == str(out)


def test_one_chat_export_by_its_result_json_and_without_unixtimes(tmp_path):
    """A one-chat export (`messages` at the top), named by its result.json; an older export with `date` only."""
    info = tx.write_export(tmp_path / "one", chats=1, single=True, turns_per_chat=10, animated=False, video=False, missing=False)
    summary = _convert([os.path.join(info.path, "result.json")], tmp_path / "out")
    examples = [e for split in SPLITS for e in _lines(tmp_path / "out", split)]
    assert len(examples) == info.examples == sum(s["examples"] for s in summary.splits.values())
    assert {e["current"]["chat_id"] for e in examples} == {7000}
    path = os.path.join(info.path, "result.json")
    data = json.loads(open(path, encoding="utf-8").read())
    for message in data["messages"]:
        del message["date_unixtime"]  # exports before date_unixtime: `date` only (local time, read as UTC)
    open(path, "w", encoding="utf-8").write(json.dumps(data, ensure_ascii=False))
    _convert([info.path], tmp_path / "old")
    assert [e["current"]["date"] for e in examples] == [
        e["current"]["date"] for split in SPLITS for e in _lines(tmp_path / "old", split)
    ] == sorted(info.dates[e["current"]["id"]] for e in examples)
