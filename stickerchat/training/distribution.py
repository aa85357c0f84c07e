"""`tf.distribute` strategies and logical CPU devices."""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("none", "mirrored", "multi_worker")


def configure_cpu_devices(count: int) -> None:
    """Splits the host CPU into `count` logical devices (to run MirroredStrategy on a CPU).

    Must run before TensorFlow initialises its devices; a clear error otherwise.
    """
    if count <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as e:
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing == count:
            return
        raise RuntimeError(
            f"cannot split the CPU into {count} logical devices: TensorFlow has already initialised "
            f"{existing}; configure devices before anything runs a TensorFlow op"
        ) from e


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Returns the strategy named by `--strategy`.

    * `none`: the default strategy (one device).
    * `mirrored`: synchronous data parallelism over all local GPUs, or over the
      logical CPU devices when there is no GPU.
    * `multi_worker`: `MultiWorkerMirroredStrategy`, configured by `TF_CONFIG`.
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy '{name}'; choose one of {STRATEGIES}")
