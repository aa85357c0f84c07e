"""Pictures of what the model attends to (Figures 10 and 11 of the paper).

NumPy + matplotlib only; used by `notebooks/attention_heatmaps.ipynb` and by
the trainer's TensorBoard image summaries.

* `heatmap_overlay(image, tau_s)`: a sticker with its sticker-wise attention
  τ_s (a p×p map, Eq. 12) upsampled and blended over it: the lighter, the
  more attention (as in Figure 10).
* `sticker_attention_map(tau_s, context)`: one p×p map per candidate from the
  per-utterance maps: the maximum over the real utterances (the paper shows
  one map per sticker).
* `plot_stickers(...)`: the chosen sticker and other candidates with their
  heatmaps and scores (Figure 10).
* `plot_utterance_attention(words, tau_u)`: utterance words shaded by the
  utterance-wise attention τ_u (Eq. 11, Figure 11).
* `plot_memory_weights(images, delta)`: the user's history stickers with
  the preference-memory read weights δ (Eq. 23).
* `contact_sheet(images, captions)`: stickers in a grid with a caption under
  each (what `python -m stickerchat.recommend --contact_sheet` writes).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.min(x), np.max(x)
    if not np.isfinite(lo) or hi - lo < 1e-12:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def upsample(tau: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour-free bilinear upsampling of a (p, p) map to (size, size)."""
    tau = np.asarray(tau, dtype=np.float64)
    p = tau.shape[0]
    # Sample the map at pixel centres.
    coords = (np.arange(size) + 0.5) * p / size - 0.5
    coords = np.clip(coords, 0, p - 1)
    i0 = np.floor(coords).astype(int)
    i1 = np.minimum(i0 + 1, p - 1)
    w = coords - i0
    rows = tau[i0] * (1 - w)[:, None] + tau[i1] * w[:, None]
    return rows[:, i0] * (1 - w)[None, :] + rows[:, i1] * w[None, :]


def heatmap_overlay(image: np.ndarray, tau_s: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blends a (p, p) attention map over an (S, S, 3) uint8 sticker; returns uint8 RGB.

    The map is min-max normalised per sticker; bright (white-yellow) is high
    attention, dark is low, as in the paper's Figure 10.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be (S, S, 3); got {image.shape}")
    heat = _normalise(upsample(tau_s, image.shape[0]))
    # A black-red-yellow-white ramp ("hot").
    color = np.stack([np.clip(3 * heat, 0, 1), np.clip(3 * heat - 1, 0, 1), np.clip(3 * heat - 2, 0, 1)], -1)
    out = (1 - alpha) * image.astype(np.float64) / 255.0 + alpha * color
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def sticker_attention_map(tau_s: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Collapses per-utterance maps `(turns, p, p)` to one `(p, p)` map over real utterances.

    Args:
        tau_s: `(turns, p, p)` sticker-wise attention of one candidate.
        context: `(turns, words)` word ids of the dialog (0 = padding).
    """
    real = np.any(np.asarray(context) != 0, axis=-1)
    if not real.any():
        return np.zeros(tau_s.shape[1:])
    return np.max(np.asarray(tau_s)[real], axis=0)


def plot_stickers(images: Sequence[np.ndarray], maps: Sequence[np.ndarray], scores: Sequence[float], titles: Optional[Sequence[str]] = None):
    """A row of stickers, each with its attention overlay beneath and its score (Figure 10)."""
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i])
        axes[0, i].set_title((titles[i] if titles else f"candidate {i}") + f"\nscore {scores[i]:.3f}", fontsize=8)
        axes[1, i].imshow(heatmap_overlay(images[i], maps[i]))
        for ax in axes[:, i]:
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_utterance_attention(utterances: Sequence[Sequence[str]], tau_u: np.ndarray, title: str = ""):
    """Words of each utterance shaded by τ_u (darker = more attention; Figure 11).

    Args:
        utterances: the words of each real utterance, oldest first.
        tau_u: `(turns, words)` attention of one candidate; rows beyond
            `len(utterances)` and columns beyond each utterance are ignored.
    """
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    tau_u = np.asarray(tau_u)
    cmap = colormaps["Reds"]
    height = 0.45 * max(1, len(utterances)) + 0.5
    fig, ax = plt.subplots(figsize=(9, height))
    ax.axis("off")
    values = [tau_u[i, : len(u)] for i, u in enumerate(utterances) if len(u)]
    top = max((float(np.max(v)) for v in values), default=1.0) or 1.0
    for i, words in enumerate(utterances):
        x = 0.0
        y = 1 - (i + 0.5) / max(1, len(utterances))
        for j, word in enumerate(words):
            weight = float(tau_u[i, j]) / top if j < tau_u.shape[1] else 0.0
            ax.text(
                x, y, word, transform=ax.transAxes, fontsize=10, va="center",
                bbox=dict(boxstyle="square,pad=0.15", fc=cmap(0.1 + 0.8 * max(weight, 0.0)), ec="none"),
            )
            x += 0.012 * (len(word) + 2)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_memory_weights(images: Sequence[np.ndarray], delta: Sequence[float]):
    """The user's history stickers, oldest first, with their read weights δ_k."""
    import matplotlib.pyplot as plt

    n = max(1, len(images))
    fig, axes = plt.subplots(1, n, figsize=(1.8 * n, 2.3), squeeze=False)
    for i, image in enumerate(images):
        axes[0, i].imshow(image)
        axes[0, i].set_title(f"δ={float(delta[i]):.2f}", fontsize=9)
    for ax in axes[0]:
        ax.axis("off")
    if not len(images):
        axes[0, 0].text(0.5, 0.5, "no history", ha="center", va="center")
    fig.tight_layout()
    return fig


def figure_to_array(fig) -> np.ndarray:
    """Renders a matplotlib figure to an (H, W, 3) uint8 array and closes it."""
    import matplotlib.pyplot as plt

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return rgba[..., :3].copy()


def emoji_caption(label: str) -> str:
    """An emoji label as text any font can draw: its code points (`U+1F600`); ASCII labels as they are."""
    if label.isascii():
        return label
    return " ".join(f"U+{ord(c):04X}" for c in label if c not in "\ufe0f\u200d")


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], cell: int = 128, columns: int = 5):
    """A PIL image of `images` (uint8 H×W×3) in a grid, each scaled to `cell` pixels with its caption below.

    Args:
        images: the stickers, best first.
        captions: one line per sticker (e.g. rank, score, emoji).
        cell: side of each sticker in pixels.
        columns: stickers per row.
    """
    from PIL import Image, ImageDraw, ImageFont

    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images for {len(captions)} captions")
    columns = max(1, min(columns, len(images) or 1))
    rows = max(1, -(-len(images) // columns))
    caption_height, pad = 16, 4
    sheet = Image.new("RGB", (columns * (cell + pad) + pad, rows * (cell + caption_height + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, (image, caption) in enumerate(zip(images, captions)):
        x = pad + (k % columns) * (cell + pad)
        y = pad + (k // columns) * (cell + caption_height + pad)
        tile = Image.fromarray(np.ascontiguousarray(np.asarray(image, np.uint8))).convert("RGB").resize((cell, cell))
        sheet.paste(tile, (x, y))
        draw.text((x + 2, y + cell + 2), caption, fill="black", font=font)
    return sheet
