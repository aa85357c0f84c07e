import time

import numpy as np
import pytest

from stickerchat.layers import EmojiClassifier, StickerEncoder, sticker_map_size
from testing import TestCase, to_numpy


def _images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.uint8)


class TestStickerEncoder(TestCase):
    def test_small_cnn_layer_behaviors(self):
        self.run_layer_test(
            StickerEncoder,
            init_kwargs={"hidden_dim": 16, "image_size": 32, "backbone": "small_cnn", "cnn_filters": 4},
            input_data={"images": _images(3, 32)},
            expected_output_shape=((3, 4, 4, 16), (3, 16)),
            # 4 convolutions and 2 projections, kernel + bias each.
            expected_num_trainable_weights=12,
        )

    def test_normalized_outputs_have_unit_scale(self):
        """normalize=True layer-normalises O and O_flat: zero mean, unit variance per unit at init."""
        init = {"hidden_dim": 16, "image_size": 32, "backbone": "small_cnn", "cnn_filters": 4}
        plain = StickerEncoder(**init)
        o_map, o_flat = (to_numpy(x) for x in plain(_images(4, 32)))
        assert np.sqrt(np.mean(o_flat**2)) < 0.5  # the §6.4 projections shrink the features
        layer = StickerEncoder(**init, normalize=True)
        o_map, o_flat = (to_numpy(x) for x in layer(_images(4, 32)))
        for x in (o_map, o_flat):
            np.testing.assert_allclose(x.mean(-1), 0.0, atol=1e-4)
            np.testing.assert_allclose(x.std(-1), 1.0, atol=0.02)
        self.run_layer_test(
            StickerEncoder,
            init_kwargs=dict(init, normalize=True),
            input_data={"images": _images(3, 32)},
            expected_output_shape=((3, 4, 4, 16), (3, 16)),
            expected_num_trainable_weights=16,  # + gamma and beta of the two norms
        )

    def test_offline_imagenet_weights_get_a_clear_error(self):
        import keras

        from stickerchat.layers.sticker_encoder import ImageWeightsError

        def offline(**kwargs):
            assert kwargs["weights"] == "imagenet"
            raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(keras.applications, "InceptionV3", offline)
            with pytest.raises(ImageWeightsError, match=r"--image_weights=FILE .* or --image_weights=none"):
                StickerEncoder(8, 75, image_weights="imagenet")(_images(1, 75))

    def test_map_size(self):
        assert sticker_map_size("inception_v3", 128) == 6  # the paper: 6 × 6 × 768
        assert sticker_map_size("inception_v3", 75) == 3
        assert sticker_map_size("inception_v3", 299) == 17
        assert sticker_map_size("small_cnn", 64) == 8
        assert sticker_map_size("small_cnn", 30) == 4

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError):
            StickerEncoder(16, 64, backbone="inception_v3")
        with pytest.raises(ValueError):
            StickerEncoder(16, 64, backbone="resnet")

    def test_scales_images_to_minus_one_one(self):
        layer = StickerEncoder(8, 16, backbone="small_cnn", cnn_filters=2)
        layer(_images(1, 16))
        # A black image is -1 everywhere: the first convolution sees -1, not 0.
        black = to_numpy(layer(np.zeros((1, 16, 16, 3), np.uint8))[1])
        # Negative first-layer weights, so that -1 passes its ReLU whatever the random start (with 2 random filters
        # both could be shut by -1 one run in four).
        kernel = layer.convs[0].weights[0]
        kernel.assign(-np.abs(to_numpy(kernel)) - 0.01)
        zero_input = layer.convs[0](-np.ones((1, 16, 16, 3), np.float32))
        assert np.all(np.isfinite(black)) and float(np.abs(to_numpy(zero_input)).sum()) > 0

    def test_inception_v3_map_size_75(self):
        start = time.time()
        layer = StickerEncoder(16, 75, backbone="inception_v3")
        sticker_map, vector = layer(_images(2, 75))
        assert tuple(sticker_map.shape) == (2, 3, 3, 16)
        assert tuple(vector.shape) == (2, 16)
        assert layer.inception.outputs[0].shape[-1] == 768
        assert layer.inception.outputs[1].shape[-1] == 2048
        assert time.time() - start < 60

    def test_inception_v3_paper_size_128(self):
        layer = StickerEncoder(16, 128, backbone="inception_v3")
        sticker_map, vector = layer(_images(1, 128))
        assert tuple(sticker_map.shape) == (1, 6, 6, 16)
        assert tuple(layer.inception.outputs[0].shape) == (None, 6, 6, 768)


class TestEmojiClassifier(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            EmojiClassifier,
            init_kwargs={"num_emoji": 7},
            input_data={"sticker_vector": np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)},
            expected_output_shape=(2, 3, 7),
            expected_num_trainable_weights=2,
            float32_outputs=(0,),
        )
