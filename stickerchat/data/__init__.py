"""The data package: released-corpus reader, user histories, demo corpus, tf.data pipeline.

Entry points call `load_corpus(config.data_dir, config.data)`; without a data
directory the built-in demo corpus (`stickerchat.data.demo`) is generated once
into `<cache>/demo-<seed>` and read from there. The cache directory is
`DataConfig.cache_dir`, else `$STICKERCHAT_CACHE`, else `~/.cache/stickerchat`.

`stickerchat.data.pipeline` (which imports TensorFlow) builds the batches.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

from stickerchat.config import DataConfig
from stickerchat.data import corpus as corpus_lib
from stickerchat.data.corpus import SPLITS, Corpus, SplitData
from stickerchat.data.errors import DataError
from stickerchat.data.stickers import StickerStore, normalize_sticker
from stickerchat.data.vocab import Vocab

__all__ = [
    "SPLITS",
    "Corpus",
    "DataError",
    "SplitData",
    "StickerStore",
    "Vocab",
    "demo_dir",
    "load_corpus",
    "normalize_sticker",
    "resolve_cache_dir",
]


def resolve_cache_dir(data_config: Optional[DataConfig] = None) -> str:
    """The cache directory of a `DataConfig`.

    `data_config.cache_dir`, else `$STICKERCHAT_CACHE`, else `~/.cache/stickerchat`.
    """
    cache_dir = data_config.cache_dir if data_config is not None else None
    return os.path.abspath(os.path.expanduser(cache_dir or corpus_lib.default_cache_dir()))


def demo_dir(data_config: Optional[DataConfig] = None, *, verbose: bool = True) -> str:
    """Builds the demo corpus once into `<cache>/demo-<seed>` and returns its path.

    A corpus with a non-default `demo_preference` or `demo_images` goes to
    `<cache>/demo-<seed>-<preference>-<images>` (the default's name is kept).

    The corpus is written into a temporary directory beside it and renamed into
    place, so concurrent or interrupted builds never leave a partial corpus.
    """
    from stickerchat.data import demo  # Local: only needed without a data directory.

    data_config = data_config or DataConfig()
    cache_dir = resolve_cache_dir(data_config)
    seed = int(data_config.seed)
    preference, images = data_config.demo_preference, data_config.demo_images
    name = f"demo-{seed}" if (preference, images) == ("accessory", "drawn") else f"demo-{seed}-{preference}-{images}"
    final = os.path.join(cache_dir, name)
    if os.path.isfile(os.path.join(final, demo.COMPLETE_MARKER)):
        return final
    os.makedirs(cache_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir)
    try:
        if verbose:
            print(f"building the demo corpus (seed {seed}, {preference}, {images}) into {final}", flush=True)
        demo.write_demo_corpus(tmp, demo.DemoSpec(seed=seed, preference=preference, images=images), verbose=False)
        try:
            os.rename(tmp, final)
        except OSError:
            if not os.path.isfile(os.path.join(final, demo.COMPLETE_MARKER)):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_corpus(data_dir: Optional[str] = None, data_config: Optional[DataConfig] = None, *, verbose: bool = True) -> Corpus:
    """Loads a data directory, or the demo corpus when `data_dir` is None.

    Args:
        data_dir: Optional[str]. A directory in the released layout; None
            builds (once, cached) and uses the demo corpus.
        data_config: DataConfig. Shapes and protocol; None uses the defaults.
        verbose: bool. Print the loading summary.

    Returns:
        Corpus.
    """
    data_config = data_config or DataConfig()
    if data_dir is None:
        data_dir = demo_dir(data_config, verbose=verbose)
    return corpus_lib.load_corpus(data_dir, data_config, verbose=verbose)
