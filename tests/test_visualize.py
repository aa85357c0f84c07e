"""The attention-plotting helpers used by the notebook and TensorBoard."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from stickerchat.evaluation import visualize


def test_upsample_keeps_constants_and_corners():
    np.testing.assert_allclose(visualize.upsample(np.full((3, 3), 0.7), 12), 0.7)
    tau = np.zeros((4, 4))
    tau[0, 0] = 1.0
    up = visualize.upsample(tau, 32)
    assert up.shape == (32, 32)
    assert up[0, 0] == up.max() and up[-1, -1] == 0


def test_overlay_is_brightest_where_attention_is_high():
    image = np.full((48, 48, 3), 128, np.uint8)
    tau = np.zeros((6, 6))
    tau[5, 5] = 1.0  # bottom-right unit
    out = visualize.heatmap_overlay(image, tau)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[-4:, -4:].astype(int).sum() > out[:4, :4].astype(int).sum()
    with pytest.raises(ValueError, match=r"\(S, S, 3\)"):
        visualize.heatmap_overlay(np.zeros((8, 8)), tau)


def test_sticker_map_ignores_padded_utterances():
    tau_s = np.zeros((3, 2, 2))
    tau_s[0] = 0.2
    tau_s[2] = 9.0  # a padding utterance must not count
    context = np.array([[5, 6], [7, 0], [0, 0]])
    np.testing.assert_allclose(visualize.sticker_attention_map(tau_s, context), 0.2)
    np.testing.assert_allclose(visualize.sticker_attention_map(tau_s, np.zeros((3, 2))), 0.0)


def test_figures_render_to_arrays():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    maps = [rng.random((4, 4)) for _ in range(4)]
    arr = visualize.figure_to_array(visualize.plot_stickers(images, maps, [0.9, 0.1, 0.2, 0.3]))
    assert arr.ndim == 3 and arr.shape[-1] == 3 and arr.dtype == np.uint8
    fig = visualize.plot_utterance_attention([["hello", "there"], ["so", "happy", "today"]], rng.random((4, 5)))
    assert visualize.figure_to_array(fig).shape[-1] == 3
    assert visualize.figure_to_array(visualize.plot_memory_weights(images[:2], [0.3, 0.7])).ndim == 3
    assert visualize.figure_to_array(visualize.plot_memory_weights([], [])).ndim == 3
