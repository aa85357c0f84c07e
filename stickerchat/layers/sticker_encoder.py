"""Sticker encoder (Eq. 1, 18) and the emoji classification head (§5.2)."""

import keras
from keras import ops

from stickerchat.layers.initializers import truncated_normal

BACKBONES = ("inception_v3", "small_cnn")


class ImageWeightsError(RuntimeError):
    """The backbone's pretrained weights could not be had (offline machine, bad file)."""
INCEPTION_MIN_SIZE = 75


def sticker_map_size(backbone, image_size):
    """The side p of the sticker map O `(p, p, d)` for a backbone and image size.

    Inception-v3's `mixed7` block: 6 at 128×128 (the paper), 3 at 75×75,
    17 at 299×299. `small_cnn`: three stride-2 'same' convolutions,
    `ceil(image_size / 8)`.
    """
    if backbone == "inception_v3":
        s = (image_size - 3) // 2 + 1  # conv 3x3 /2 valid
        s = s - 2  # conv 3x3 valid (then a 'same' conv)
        s = (s - 3) // 2 + 1  # max-pool 3x3 /2
        s = s - 2  # conv 1x1, then conv 3x3 valid
        s = (s - 3) // 2 + 1  # max-pool 3x3 /2 -> mixed0..2
        return (s - 3) // 2 + 1  # mixed3 reduction -> mixed4..7
    if backbone == "small_cnn":
        s = image_size
        for _ in range(3):
            s = -(-s // 2)
        return s
    raise ValueError(f"Unknown image encoder '{backbone}'; choose one of {BACKBONES}")


@keras.saving.register_keras_serializable(package="stickerchat")
class StickerEncoder(keras.layers.Layer):
    """Encodes sticker images into a p×p map O and a vector O_flat (Eq. 1).

    `O, O_flat = Inception-v3(c)`: O is Inception-v3's `mixed7` feature map
    (`(6, 6, 768)` at 128×128, so p = 6) and O_flat the global-average-pooled
    final feature map (2048-d, "the original image representation output").
    Both are linearly projected to `hidden_dim` so that they can interact
    with the utterance encodings (Eq. 10) and be stored in the memory
    (Eq. 18, where only O_flat is used). Images are uint8 RGB and are scaled
    to [-1, 1] inside (Inception's preprocessing).

    The `small_cnn` backbone (CPU/test preset) gives the same two outputs:
    three stride-2 ReLU convolutions (`f`, `2f`, `4f` filters) give the map
    (p = ceil(S/8)), a fourth (`8f`) followed by global average pooling gives
    the vector.

    The Inception backbone is built under this layer's dtype policy and
    keeps Keras's own initialisers (or the `imagenet` / file weights), whose
    batch normalisation keeps its outputs at unit scale. `small_cnn` has no
    normalisation, so its ReLU convolutions use He-normal initialisation
    (with §6.4's std of 0.02 the four stacked convolutions would shrink the
    sticker signal by ~10⁻⁴ and the candidates would be indistinguishable at
    initialisation); the two projections use the truncated normal of §6.4.

    Args:
        hidden_dim: int. Output width d.
        image_size: int. Side S of the square input images.
        backbone: str. `inception_v3` or `small_cnn`. Defaults to
            `inception_v3`.
        image_weights: optional str. Inception weights: None (random),
            `imagenet`, or a weights-file path. Defaults to None.
        cnn_filters: int. Base width f of `small_cnn`. Defaults to 32.
        init_stddev: float. Truncated-normal std. Defaults to 0.02.
        normalize: bool. Layer-normalise O and O_flat after their
            projections (`ModelConfig.sticker_norm`). Not in the paper: with
            the §6.4 initialisation the projected sticker features have an
            rms of ~0.04 against ~1 for the (layer-normalised) utterance
            encodings they meet in Eq. 10, and the memory values (Eq. 18)
            are as small. Defaults to False.

    Call args:
        images: uint8 (or float in [0, 255]) tensor `(n, S, S, 3)`, or
            `(batch, stickers, S, S, 3)` (any leading axes, encoded in one
            pass of `batch * stickers` images).
        training: bool.

    Returns:
        tuple `(O, O_flat)`: `(..., p, p, hidden_dim)` and
        `(..., hidden_dim)`, with the leading axes of `images`.

    References:
        Eq. 1 (§5.2) and Eq. 18 (§5.5.1) of the PESRS paper.
    """

    def __init__(
        self,
        hidden_dim,
        image_size,
        backbone="inception_v3",
        image_weights=None,
        cnn_filters=32,
        init_stddev=0.02,
        normalize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.normalize = bool(normalize)
        if backbone not in BACKBONES:
            raise ValueError(f"Unknown image encoder '{backbone}'; choose one of {BACKBONES}")
        if backbone == "inception_v3" and image_size < INCEPTION_MIN_SIZE:
            raise ValueError(f"inception_v3 needs image_size >= {INCEPTION_MIN_SIZE}, got {image_size}")
        self.hidden_dim = int(hidden_dim)
        self.image_size = int(image_size)
        self.backbone = backbone
        self.image_weights = image_weights
        self.cnn_filters = int(cnn_filters)
        self.init_stddev = float(init_stddev)
        self.map_size = sticker_map_size(backbone, self.image_size)

    def _build_inception(self):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.dtype_policy)
        try:
            try:
                base = keras.applications.InceptionV3(
                    include_top=False,
                    weights=self.image_weights,
                    input_shape=(self.image_size, self.image_size, 3),
                )
            except Exception as e:  # keras.utils.get_file raises a bare Exception when offline
                if self.image_weights != "imagenet":
                    raise
                raise ImageWeightsError(
                    "could not download the ImageNet weights of Inception-v3 "
                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no message'}); "
                    "pass --image_weights=FILE (a weights file you downloaded elsewhere, e.g. "
                    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5) or --image_weights=none (random init)"
                ) from e
            self.inception = keras.Model(
                base.inputs, [base.get_layer("mixed7").output, base.output], name="inception_v3_features"
            )
        finally:
            keras.config.set_dtype_policy(previous)
        return 768, 2048

    def _build_small_cnn(self):
        f = self.cnn_filters
        self.convs = []
        channels = 3
        for i, filters in enumerate((f, 2 * f, 4 * f, 8 * f)):
            conv = keras.layers.Conv2D(
                filters,
                3,
                strides=2,
                padding="same",
                activation="relu",
                kernel_initializer="he_normal",
                dtype=self.dtype_policy,
                name=f"conv_{i}",
            )
            conv.build((None, None, None, channels))
            channels = filters
            self.convs.append(conv)
        return 4 * f, 8 * f

    def build(self, images_shape):
        if self.backbone == "inception_v3":
            map_channels, vector_channels = self._build_inception()
        else:
            map_channels, vector_channels = self._build_small_cnn()
        self.map_projection = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer=truncated_normal(self.init_stddev),
            dtype=self.dtype_policy,
            name="map_projection",
        )
        self.map_projection.build((None, None, None, map_channels))
        self.vector_projection = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer=truncated_normal(self.init_stddev),
            dtype=self.dtype_policy,
            name="vector_projection",
        )
        self.vector_projection.build((None, vector_channels))
        self.map_norm = self.vector_norm = None
        if self.normalize:
            self.map_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="map_norm")
            self.map_norm.build((None, None, None, self.hidden_dim))
            self.vector_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="vector_norm")
            self.vector_norm.build((None, self.hidden_dim))
        self.built = True

    def call(self, images, training=False):
        if len(images.shape) != 4:  # (..., S, S, 3): encode the leading axes as one
            leading = tuple(ops.shape(images)[:-3])
            sticker_map, sticker_vector = self.call(ops.reshape(images, (-1,) + tuple(images.shape[-3:])), training)
            p, d = self.map_size, self.hidden_dim
            return ops.reshape(sticker_map, leading + (p, p, d)), ops.reshape(sticker_vector, leading + (d,))
        x = ops.cast(images, self.compute_dtype) / 127.5 - 1.0  # Inception's [-1, 1]
        if self.backbone == "inception_v3":
            feature_map, final_map = self.inception(x, training=training)
        else:
            for i, conv in enumerate(self.convs):
                x = conv(x)
                if i == 2:
                    feature_map = x
            final_map = x
        vector = ops.mean(final_map, axis=(1, 2))
        sticker_map, sticker_vector = self.map_projection(feature_map), self.vector_projection(vector)  # Eq. 1
        if self.normalize:
            sticker_map, sticker_vector = self.map_norm(sticker_map), self.vector_norm(sticker_vector)
        return sticker_map, sticker_vector  # O, O_flat

    def compute_output_shape(self, images_shape):
        p, leading = self.map_size, tuple(images_shape[:-3])
        return leading + (p, p, self.hidden_dim), leading + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "image_size": self.image_size,
                "backbone": self.backbone,
                "image_weights": self.image_weights,
                "cnn_filters": self.cnn_filters,
                "init_stddev": self.init_stddev,
                "normalize": self.normalize,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="stickerchat")
class EmojiClassifier(keras.layers.Layer):
    """The auxiliary sticker classification head: emoji logits from O_flat.

    "We feed O_flat into a linear classification layer and then use the
    cross-entropy loss L_s" (§5.2). The logits are float32 under mixed
    precision.

    Deviation: the paper's O_flat here is Inception-v3's 2,048-d pooled
    output; this head reads the *projected* O_flat (d dims, the vector the
    matcher and the memory use), so the warm-up on the emoji task trains
    the projection too and the matcher starts from stickers already sorted
    by emotion. A head on the 2,048-d features would leave the projection
    untrained during the warm-up.

    Args:
        num_emoji: int. Emoji vocabulary size (id 0 is padding).
        init_stddev: float. Truncated-normal std. Defaults to 0.02.

    Call args:
        sticker_vector: tensor `(batch, ..., dim)`, O_flat.

    Returns:
        float32 tensor `(batch, ..., num_emoji)`.

    References:
        §5.2 of the PESRS paper (the loss L_s).
    """

    def __init__(self, num_emoji, init_stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_emoji = int(num_emoji)
        self.init_stddev = float(init_stddev)

    def build(self, sticker_vector_shape):
        self.logits_dense = keras.layers.Dense(
            self.num_emoji,
            kernel_initializer=truncated_normal(self.init_stddev),
            dtype="float32",
            name="logits",
        )
        self.logits_dense.build((None, sticker_vector_shape[-1]))
        self.built = True

    def call(self, sticker_vector):
        return self.logits_dense(ops.cast(sticker_vector, "float32"))

    def compute_output_shape(self, sticker_vector_shape):
        return tuple(sticker_vector_shape[:-1]) + (self.num_emoji,)

    def compute_output_spec(self, sticker_vector):
        return keras.KerasTensor(self.compute_output_shape(sticker_vector.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"num_emoji": self.num_emoji, "init_stddev": self.init_stddev})
        return config
