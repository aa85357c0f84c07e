import pickle

import numpy as np
import pytest

from stickerchat.data.errors import DataError
from stickerchat.data.stickers import StickerStore, load_sticker, normalize_sticker


def _check(out, size):
    assert out.dtype == np.uint8 and out.shape == (size, size, 3)


def test_uint8_rgb_same_size_is_unchanged():
    a = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(normalize_sticker(a, 8), a)


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 1)])
def test_grey_is_repeated(shape):
    a = np.arange(64, dtype=np.uint8).reshape(shape)
    out = normalize_sticker(a, 8)
    _check(out, 8)
    np.testing.assert_array_equal(out[..., 0], a.reshape(8, 8))
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_float_ranges():
    a = np.full((4, 4, 3), 0.5, np.float32)
    assert normalize_sticker(a, 4)[0, 0, 0] == 128  # [0, 1]
    b = np.full((4, 4, 3), 200.0, np.float64)
    b[0, 0] = 300.0
    out = normalize_sticker(b, 4)
    assert out[1, 1, 0] == 200 and out[0, 0, 0] == 255  # [0, 255], clipped
    with pytest.raises(ValueError, match="non-finite"):
        normalize_sticker(np.full((4, 4), np.nan), 4)


def test_rgba_composited_over_white():
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200
    a[0, 0, 3] = 255  # opaque red-ish
    a[0, 1, 3] = 0  # fully transparent -> white
    a[0, 2, 3] = 128
    out = normalize_sticker(a, 4)
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [int(round(200 * 128 / 255 + 255 * 127 / 255)), 127, 127]


def test_float_rgba_and_resize():
    a = np.ones((50, 30, 4), np.float32)
    out = normalize_sticker(a, 16)
    _check(out, 16)
    assert (out == 255).all()


def test_bad_shapes():
    for shape in [(4,), (4, 4, 2), (4, 4, 5), (2, 4, 4, 3)]:
        with pytest.raises(ValueError, match="unsupported"):
            normalize_sticker(np.zeros(shape, np.uint8), 4)


def test_load_never_unpickles_and_names_file_and_id(tmp_path):
    path = tmp_path / "5.npy"
    # An object-dtype .npy (what np.save writes for Python objects), written by
    # hand: a valid header, then a pickle payload that must never be run.
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        f.write(pickle.dumps([{"a": 1}]))
    with pytest.raises(DataError, match=rf"{path}.*sticker 5") as e:
        load_sticker(str(path), 5, 8)
    assert e.value.reason == "sticker_file_unreadable"
    with pytest.raises(DataError, match="sticker 6 not found") as e:
        load_sticker(str(tmp_path / "6.npy"), 6, 8)
    assert e.value.reason == "sticker_file_missing"


def test_store_packs_once_and_reads_rows(tmp_path):
    data = tmp_path / "data"
    set_dir = data / "npy_stickers" / "1"
    set_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for s in (10, 11, 12)}
    for s, img in images.items():
        np.save(set_dir / f"{s}.npy", img)
    stickers = [(1, 10), (1, 11), (1, 12)]
    store = StickerStore.build(str(data), stickers, 8, str(tmp_path / "cache"), verbose=False)
    again = StickerStore.build(str(data), stickers, 8, str(tmp_path / "cache"), verbose=False)
    assert again.path == store.path
    np.testing.assert_array_equal(store.image(11), images[11])
    got = store.gather(np.array([[2, -1], [0, 1]]))
    assert got.shape == (2, 2, 8, 8, 3)
    np.testing.assert_array_equal(got[0, 0], images[12])
    assert (got[0, 1] == 0).all()
    np.testing.assert_array_equal(np.load(store.path, mmap_mode="r")[1], images[11])
    # A changed file gives a new pack.
    np.save(set_dir / "10.npy", np.zeros((9, 9, 3), np.uint8))
    changed = StickerStore.build(str(data), stickers, 8, str(tmp_path / "cache"), verbose=False)
    assert changed.path != store.path and (changed.image(10) == 0).all()
