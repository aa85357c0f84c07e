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


def test_per_emotion_preferences_depend_on_the_emotion():
    default = demo.generate(demo.DemoSpec(seed=0, **SMALL))
    keyed = demo.generate(demo.DemoSpec(seed=0, preference="per_emotion", **SMALL))
    # One favourite per user in the default corpus, whatever the emotion.
    assert all(len(set(row)) == 1 for row in default.emotion_accessory)
    assert [row[0] for row in default.emotion_accessory] == default.user_accessory
    # Per emotion: every accessory is the favourite of 2 or 3 of a user's 8 emotions.
    for row in keyed.emotion_accessory:
        counts = sorted(row.count(a) for a in range(len(demo.ACCESSORIES)))
        assert counts == [2, 3, 3], row
    # The favourites are drawn from a second stream: the sets and users stay the default's.
    assert keyed.set_ids == default.set_ids and keyed.users == default.users and keyed.set_styles == default.set_styles
    # The sent variant follows the user's favourite for that emotion.
    hits = [
        lat["sticker"].accessory == keyed.emotion_accessory[lat["user"]][lat["emotion"]]
        for lat in keyed.latent["train"]
    ]
    assert np.mean(hits) > 0.75


def test_unknown_preference_or_images_are_refused():
    import pytest

    with pytest.raises(ValueError, match="per_emotion"):
        demo.generate(demo.DemoSpec(preference="per_user"))
    with pytest.raises(ValueError, match="emoji"):
        demo.generate(demo.DemoSpec(images="photos"))
