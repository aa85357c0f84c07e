"""stickerchat: sticker response selection (SRS, PESRS) in Keras 3.

Importing the package is cheap and imports neither Keras nor TensorFlow;
`stickerchat.Recommender` is loaded on first use (so a model can be served
under `KERAS_BACKEND=jax` without TensorFlow installed).
"""

__version__ = "0.1.0"

__all__ = ["Recommender"]


def __getattr__(name):
    if name == "Recommender":
        from stickerchat.serving.recommender import Recommender

        return Recommender
    raise AttributeError(f"module 'stickerchat' has no attribute {name!r}")
