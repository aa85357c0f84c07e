import filecmp
import json
import os

import numpy as np

from stickerchat.config import DataConfig
from stickerchat.data import demo
from stickerchat.data.corpus import load_corpus

SMALL = dict(num_train=120, num_val=30, num_test=30, num_sets=4, num_users=8, npy_size=48)


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_deterministic_from_seed_and_released_layout(tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    demo.write_demo_corpus(a, demo.DemoSpec(seed=3, **SMALL), verbose=False)
    demo.write_demo_corpus(b, demo.DemoSpec(seed=3, **SMALL), verbose=False)
    demo.write_demo_corpus(c, demo.DemoSpec(seed=4, **SMALL), verbose=False)
    files = _tree(a)
    assert files == _tree(b)
    assert all(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False) for f in files)
    assert not filecmp.cmp(os.path.join(a, "release_train.json"), os.path.join(c, "release_train.json"), shallow=False)

    top = {f for f in files if "/" not in f}
    assert top == {"release_train.json", "release_val.json", "release_test.json", "vocab", "emoji_vocab"}
    sets = os.listdir(os.path.join(a, "npy_stickers"))
    assert len(sets) == 4 and all(int(s) > 2**53 for s in sets)
    forms = set()
    for s in sets:
        mapping = open(os.path.join(a, "npy_stickers", s, "emoji_mapping.txt"), encoding="utf-8").read().splitlines()
        for line in mapping:
            sticker, emoji = line.split("\t")
            assert int(sticker) > 2**53 and emoji in demo.EMOJI
            arr = np.load(os.path.join(a, "npy_stickers", s, f"{sticker}.npy"), allow_pickle=False)
            forms.add((arr.dtype.kind, arr.ndim, arr.shape[-1] if arr.ndim == 3 else 1))
    assert {("u", 3, 3), ("u", 3, 4), ("f", 3, 3), ("u", 2, 1)} <= forms
    with open(os.path.join(a, "release_train.json"), encoding="utf-8") as f:
        example = json.loads(f.readline())
    assert set(example) == {"context", "current"}
    assert set(example["context"][0]) == {"text", "reply_to_msg_id", "id", "from_id"}
    assert set(example["current"]) == {"from_id", "reply_to_msg_id", "sticker_set_id", "sticker_id", "sticker_alt"}
    assert all(len(line.split()) == 2 for line in open(os.path.join(a, "vocab"), encoding="utf-8"))

    corpus = load_corpus(a, DataConfig(context_len=4, max_words=6, image_size=32, cache_dir=str(tmp_path / "cache")),
                         verbose=False)
    assert corpus.num_examples("train") == 120 and not corpus.skipped


def test_draw_sticker_shows_emotion_and_accessory():
    style = {"background": (200, 200, 200), "face": (230, 230, 230), "outline": (0, 0, 0), "shape": 0}
    base, _ = demo.draw_sticker(style, 0, 0, 64)
    assert not np.array_equal(base, demo.draw_sticker(style, 1, 0, 64)[0])
    assert not np.array_equal(base, demo.draw_sticker(style, 0, 1, 64)[0])
