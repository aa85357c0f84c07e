import os

from stickerchat.config import DataConfig
from stickerchat.data import demo, demo_dir, load_corpus, resolve_cache_dir


def test_resolve_cache_dir(tmp_path, monkeypatch):
    assert resolve_cache_dir(DataConfig(cache_dir=str(tmp_path))) == str(tmp_path)
    monkeypatch.setenv("STICKERCHAT_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(DataConfig()) == str(tmp_path / "env")
    monkeypatch.delenv("STICKERCHAT_CACHE")
    assert resolve_cache_dir(None).endswith(os.path.join(".cache", "stickerchat"))


def test_demo_built_once_atomically_and_loaded(tmp_path, monkeypatch):
    calls = []
    original = demo.write_demo_corpus

    def small(out, spec, verbose=False):
        calls.append(out)
        spec.num_train, spec.num_val, spec.num_test, spec.num_sets, spec.num_users = 60, 20, 20, 3, 5
        return original(out, spec, verbose=verbose)

    monkeypatch.setattr(demo, "write_demo_corpus", small)
    config = DataConfig(context_len=4, max_words=6, image_size=32, seed=5, cache_dir=str(tmp_path))
    path = demo_dir(config, verbose=False)
    assert path == os.path.join(str(tmp_path), "demo-5") and len(calls) == 1
    assert calls[0] != path  # written into a temporary directory, then renamed
    corpus = load_corpus(None, config, verbose=False)
    assert len(calls) == 1 and corpus.data_dir == path and corpus.num_examples("val") == 20
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".demo")]
