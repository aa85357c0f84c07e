"""A hand-made tiny corpus in the released layout, for the data tests."""

import json
import os

import numpy as np

SAMPLE_LINE = (
    '{"context": [{"text": "我 正在 用 大 套子 ， 好久 没用 了", "reply_to_msg_id": null, "id": 52000, "from_id": 284336329}, '
    '{"text": "没 想到 还 能 上 TG", "reply_to_msg_id": null, "id": 52002, "from_id": 284336329}], '
    '"current": {"from_id": 271484871, "reply_to_msg_id": null, "sticker_set_id": 556029562811580420, '
    '"sticker_id": 556029562811581404, "sticker_alt": "😀"}}'
)
SET_A = 556029562811580420
SET_B = 556029562811590000
SET_SMALL = 556029562811600000
STICKERS_A = [SET_A + 984 + k for k in range(12)]  # includes 556029562811581404 at k=0
STICKERS_B = [SET_B + 7 + k for k in range(8)]
STICKERS_SMALL = [SET_SMALL + 1 + k for k in range(3)]


def example(texts, user, set_id, sticker_id, alt="😀"):
    return {
        "context": [{"text": t, "reply_to_msg_id": None, "id": 100 + i, "from_id": 1000 + i % 2} for i, t in enumerate(texts)],
        "current": {"from_id": user, "reply_to_msg_id": None, "sticker_set_id": set_id, "sticker_id": sticker_id, "sticker_alt": alt},
    }


def write_tiny_corpus(root, train_lines=None, val_lines=None, test_lines=None, vocab_lines=None, small_set=True):
    """Writes a tiny corpus; lines are JSON strings or dicts. Returns root."""
    root = str(root)
    rng = np.random.default_rng(0)
    sets = {SET_A: STICKERS_A, SET_B: STICKERS_B}
    if small_set:
        sets[SET_SMALL] = STICKERS_SMALL
    for set_id, ids in sets.items():
        d = os.path.join(root, "npy_stickers", str(set_id))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
            for k, s in enumerate(ids):
                f.write(f"{s}\t{'😀' if k % 2 == 0 else '😢'}\n")
        for s in ids:
            np.save(os.path.join(d, f"{s}.npy"), rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8))
    if train_lines is None:
        train_lines = [SAMPLE_LINE] + [
            example(["hello world", "", "foo bar baz"], 7 + i % 3, SET_A if i % 2 else SET_B,
                    (STICKERS_A if i % 2 else STICKERS_B)[i % 8])
            for i in range(20)
        ]
    if val_lines is None:
        val_lines = [example(["hello", "bar"], 7 + i % 3, SET_A, STICKERS_A[i]) for i in range(6)]
    if test_lines is None:
        test_lines = [example(["world"], 7 + i % 3, SET_B, STICKERS_B[i]) for i in range(5)]
    for split, lines in (("train", train_lines), ("val", val_lines), ("test", test_lines)):
        with open(os.path.join(root, f"release_{split}.json"), "w", encoding="utf-8") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")
    with open(os.path.join(root, "vocab"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_lines or ["hello 10", "world 8", "foo", "bar 3", "我 2", "没 1", "TG 1"]) + "\n")
    with open(os.path.join(root, "emoji_vocab"), "w", encoding="utf-8") as f:
        f.write("😀 5\n😢\n")
    return root


def data_config(tmp_path, **kw):
    """A small `DataConfig` for the tiny corpus, caching under `tmp_path`; `kw` overrides fields."""
    from stickerchat.config import DataConfig

    base = dict(context_len=3, max_words=4, num_candidates=5, history_len=3, image_size=16,
                cache_dir=str(tmp_path / "cache"))
    base.update(kw)
    return DataConfig(**base)


def load(root, tmp_path, **kw):
    """`load_corpus` of `root` with `data_config(tmp_path, **kw)`, quietly."""
    from stickerchat.data.corpus import load_corpus

    return load_corpus(str(root), data_config(tmp_path, **kw), verbose=False)
