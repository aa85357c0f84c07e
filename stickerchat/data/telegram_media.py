"""Sticker files of a Telegram Desktop export as images: static `.webp`, animated `.tgs`, video `.webm`.

`decode_sticker(data)` reads a file's bytes into an RGBA `PIL.Image`; the kind
is told by the bytes, not the file name:

* `webp` (`RIFF....WEBP`) and any other image Pillow reads (the export's
  `.jpg` thumbnails): Pillow, first frame.
* `tgs` (gzip, `1f 8b`): a gzipped Lottie JSON animation, rendered with
  rlottie (`rlottie-python`). At most 16 MiB once decompressed.
* `webm` (EBML, `1a 45 df a3`): a VP9 (or VP8) video, decoded with PyAV
  (`av`); with libvpx when the stream carries an alpha channel
  (`alpha_mode=1`: FFmpeg's own VP9 decoder drops it), else FFmpeg's decoder.

Animated kinds use their first frame; a first frame that is entirely
transparent (animations that fade in) is replaced by the first visible one:
Lottie's middle frame, or the first visible frame among a video's first 30;
an animation with none of those visible is an error (nothing to show).

The two animated decoders are optional (`pip install 'stickerchat[telegram]'`);
without one, `decode_sticker` raises `DecoderMissing` naming the package, and
the converter falls back to the export's thumbnail. Any other failure raises
`StickerDecodeError` with what went wrong.

`sticker_array(image, size)` is the stored form: alpha composited over white,
padded to a square with white (centred), resized to `size × size` (Lanczos),
uint8 `(size, size, 3)`.
"""

from __future__ import annotations

import importlib.util
import io
import zlib
from typing import Dict

import numpy as np
from PIL import Image

MAX_LOTTIE_BYTES = 16 << 20
MAX_SIDE = 4096  # larger images are refused (a sticker is at most 512 px)
VIDEO_FRAMES_SCANNED = 30

# The package each animated kind needs, and the import name that tells whether it is installed.
DECODER_PACKAGES = {"tgs": ("rlottie-python", "rlottie_python"), "webm": ("av", "av")}


class StickerDecodeError(ValueError):
    """A sticker file that cannot be read as an image (the message says why)."""


class DecoderMissing(StickerDecodeError):
    """The optional decoder of an animated kind (`tgs`, `webm`) is not installed."""

    def __init__(self, kind: str):
        package = DECODER_PACKAGES[kind][0]
        super().__init__(f"no decoder for .{kind} stickers: pip install {package} (or 'stickerchat[telegram]')")
        self.kind = kind
        self.package = package


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_decoders() -> Dict[str, bool]:
    """Which kinds can be decoded here: `webp` always, `tgs` and `webm` when their package is installed."""
    found = {"webp": True}
    for kind, (_, module) in DECODER_PACKAGES.items():
        found[kind] = _installed(module)
    return found


def sniff_kind(data: bytes) -> str:
    """`tgs`, `webm`, `webp` or `image` (anything else, left to Pillow) from the first bytes."""
    if data[:2] == b"\x1f\x8b":
        return "tgs"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "image"


def decode_sticker(data: bytes) -> "tuple[Image.Image, str]":
    """`(RGBA image, kind)` of a sticker file's bytes.

    Raises:
        DecoderMissing: an animated kind whose optional decoder is absent.
        StickerDecodeError: anything else that fails (empty, truncated,
            not an image, too large, an animation with nothing to draw).
    """
    if not data:
        raise StickerDecodeError("the file is empty")
    kind = sniff_kind(data)
    try:
        if kind == "tgs":
            image = _decode_tgs(data)
        elif kind == "webm":
            image = _decode_webm(data)
        else:
            image = _decode_image(data)
    except StickerDecodeError:
        raise
    except Exception as e:  # noqa: BLE001 - a decoder's own failure, reported with its type
        raise StickerDecodeError(f"cannot decode the {kind} file: {type(e).__name__}: {e}") from e
    if image.width < 1 or image.height < 1:
        raise StickerDecodeError(f"the {kind} file decodes to an empty image")
    if max(image.width, image.height) > MAX_SIDE:
        raise StickerDecodeError(f"the {kind} file is {image.width}x{image.height}, larger than {MAX_SIDE} px a side")
    return image.convert("RGBA"), kind


def _decode_image(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        if max(im.size) > MAX_SIDE:
            raise StickerDecodeError(f"the image is {im.size[0]}x{im.size[1]}, larger than {MAX_SIDE} px a side")
        im.seek(0)
        return im.convert("RGBA")


def _transparent(image: Image.Image) -> bool:
    alpha = image.getchannel("A")
    return alpha.getextrema()[1] == 0


def _decode_tgs(data: bytes) -> Image.Image:
    if not _installed("rlottie_python"):
        raise DecoderMissing("tgs")
    try:  # gzip, decompressed with a bound (a small file can expand without limit)
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = decompressor.decompress(data, MAX_LOTTIE_BYTES + 1)
    except zlib.error as e:
        raise StickerDecodeError(f"the tgs file is not valid gzip ({e})") from None
    if len(raw) > MAX_LOTTIE_BYTES or decompressor.unconsumed_tail:
        raise StickerDecodeError(f"the tgs file holds more than {MAX_LOTTIE_BYTES >> 20} MiB of Lottie JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StickerDecodeError("the tgs file's Lottie JSON is not UTF-8") from None
    from rlottie_python import LottieAnimation

    animation = LottieAnimation.from_data(text)
    try:
        width, height = animation.lottie_animation_get_size()
        frames = animation.lottie_animation_get_totalframe()
        if width < 1 or height < 1 or frames < 1:
            raise StickerDecodeError("the tgs file is not a Lottie animation rlottie can draw (no size or no frames)")
        if max(width, height) > MAX_SIDE:
            raise StickerDecodeError(f"the tgs animation is {width}x{height}, larger than {MAX_SIDE} px a side")
        image = animation.render_pillow_frame(frame_num=0)
        if _transparent(image) and frames > 1:
            image = animation.render_pillow_frame(frame_num=frames // 2)
        if _transparent(image):
            raise StickerDecodeError(f"the tgs animation draws nothing visible (frames 0 and {frames // 2} are transparent)")
        return image.copy()
    finally:
        animation.lottie_animation_destroy()


def _decode_webm(data: bytes) -> Image.Image:
    if not _installed("av"):
        raise DecoderMissing("webm")
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise StickerDecodeError("the webm file has no video stream")
        stream = container.streams.video[0]
        alpha = str(stream.metadata.get("alpha_mode", stream.metadata.get("ALPHA_MODE", ""))) == "1"
        libvpx = {"vp9": "libvpx-vp9", "vp8": "libvpx"}.get(stream.codec_context.name)
        decoder = None
        if alpha and libvpx in av.codecs_available:
            decoder = av.CodecContext.create(libvpx, "r")  # keeps the alpha plane FFmpeg's decoder drops
        seen = 0

        def frames():
            for packet in container.demux(stream):
                if decoder is None:
                    yield from packet.decode()
                else:
                    yield from decoder.decode(packet if packet.size else None)

        for frame in frames():
            image = Image.fromarray(np.ascontiguousarray(frame.to_ndarray(format="rgba")), "RGBA")
            if not _transparent(image):
                return image
            seen += 1
            if seen >= VIDEO_FRAMES_SCANNED:
                break
        if not seen:
            raise StickerDecodeError("the webm file has no decodable video frame")
        raise StickerDecodeError(f"the webm video shows nothing visible (its first {seen} frames are transparent)")


def sticker_array(image: Image.Image, size: int) -> np.ndarray:
    """The stored `.npy` form of a sticker: uint8 `(size, size, 3)`, alpha over white, padded square, resized."""
    rgba = image.convert("RGBA")
    side = max(rgba.width, rgba.height)
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    canvas.alpha_composite(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    rgb = canvas.convert("RGB")
    if side != size:
        rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


__all__ = [
    "DECODER_PACKAGES",
    "DecoderMissing",
    "StickerDecodeError",
    "available_decoders",
    "decode_sticker",
    "sniff_kind",
    "sticker_array",
]
