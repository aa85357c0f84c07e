"""Recommender: equals the full model, any number of candidates, the feature cache, errors, CLI."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from stickerchat import specs
from stickerchat.models import CANDIDATE_STICKER_VECTOR
from stickerchat.rundir.runfiles import file_sha256
from stickerchat.serving.feature_cache import CACHE_FORMAT, FeatureCache
from stickerchat.serving.recommender import Recommender, RecommenderError

DIALOG = ["hello there", "", "how are you today ?"]


@pytest.fixture(scope="module")
def rec(tiny_model_dir):
    return Recommender.from_model_dir(tiny_model_dir)


def _history(corpus):
    sets = list(corpus.sticker_sets)
    return [(["good morning"], corpus.sticker_sets[sets[1]][0]), (["so sad", "really"], corpus.sticker_sets[sets[2]][3])]


def _full_scores(rec, dialog, history, candidates):
    from stickerchat.data import pipeline

    inputs = pipeline.encode_example(rec.corpus, dialog, history, candidates)
    return np.asarray(rec.model.predict_on_batch(inputs)[specs.SCORES])[0]


@pytest.mark.parametrize("use_cache", [True, False])
def test_rank_equals_the_full_model(tiny_model_dir, rec, use_cache):
    r = rec if use_cache else Recommender.from_model_dir(tiny_model_dir, use_cache=False)
    corpus = r.corpus
    candidates = corpus.sticker_sets[list(corpus.sticker_sets)[0]][: r.num_candidates]
    history = _history(corpus)
    expected = _full_scores(r, DIALOG, history, candidates)
    ranking = r.rank(DIALOG, history, candidates=candidates)
    got = dict(ranking)
    np.testing.assert_allclose([got[i] for i in candidates], expected, atol=1e-5)
    # Second call: from the cache.
    ids, scores = r.score(DIALOG, history, candidates=candidates)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_scores_do_not_depend_on_other_candidates_or_chunking(rec):
    corpus = rec.corpus
    sets = list(corpus.sticker_sets)
    c = rec.num_candidates
    many = [s for k in sets[:3] for s in corpus.sticker_sets[k]]
    assert len(many) % c != 0 or len(many) > c
    history = _history(corpus)
    ids, scores = rec.score(DIALOG, history, candidates=many)
    # Each group of C scored alone by the full model gives the same scores.
    for start in range(0, c * 3, c):
        group = many[start : start + c]
        np.testing.assert_allclose(scores[start : start + c], _full_scores(rec, DIALOG, history, group), atol=1e-5)
    # Reversed order and a single candidate give the same per-candidate scores.
    _, reversed_scores = rec.score(DIALOG, history, candidates=many[::-1])
    np.testing.assert_allclose(reversed_scores[::-1], scores, atol=1e-6)
    _, single = rec.score(DIALOG, history, candidates=[many[7]])
    np.testing.assert_allclose(single, scores[7:8], atol=1e-6)


def test_the_model_is_served_as_it_is(rec):
    # No copy of the matcher per width: the model's own matcher scores any
    # number of candidates, and the attentions come from the same layers.
    assert rec.matcher() is rec.model.matcher
    attention = rec.attention_model()
    assert {id(w) for w in attention.weights} == {id(w) for w in rec.model.matcher.weights}
    corpus = rec.corpus
    many = [s for k in list(corpus.sticker_sets)[:2] for s in corpus.sticker_sets[k]]
    inputs = rec.matcher_inputs(DIALOG, _history(corpus), many)
    width = rec.compiled_width(len(many))
    assert inputs[CANDIDATE_STICKER_VECTOR].shape[:2] == (1, width)
    out = attention.predict_on_batch(inputs)
    _, scores = rec.score(DIALOG, _history(corpus), candidates=many)
    np.testing.assert_allclose(np.asarray(out[specs.SCORES])[0, : len(many)], scores, atol=1e-5)
    assert np.asarray(out[specs.STICKER_ATTENTION]).shape[:2] == (1, width)


def test_xla_compiles_few_widths(tiny_model_dir, rec):
    # Under XLA a PESRS row is padded to C·2^k candidates (its scores are per
    # candidate), so 1..1,000 candidates need a handful of compiled widths.
    c = rec.num_candidates
    assert rec.jit_compile and rec.model.matcher.independent_candidates
    assert {rec.compiled_width(n) for n in range(1, c + 1)} == {c}
    assert rec.compiled_width(c + 1) == 2 * c and rec.compiled_width(1000) >= 1000
    assert len({rec.compiled_width(n) for n in range(1, 1001)}) <= 1 + int(np.ceil(np.log2(1000 / c)))
    plain = Recommender.from_model_dir(tiny_model_dir, jit_compile=False)
    assert plain.compiled_width(c + 1) == c + 1  # without XLA: no padding


@pytest.mark.parametrize("name", ["mrfn", "lstur"])
def test_a_baseline_is_served(rec, name):
    from stickerchat.models import build_model

    model = build_model(name, rec.config)
    served = Recommender(model, rec.config, rec.corpus, jit_compile=False)
    corpus = rec.corpus
    candidates = corpus.sticker_sets[list(corpus.sticker_sets)[0]][: rec.num_candidates]
    _, scores = served.score(DIALOG, _history(corpus), candidates=candidates)
    np.testing.assert_allclose(scores, _full_scores(served, DIALOG, _history(corpus), candidates), atol=1e-5)
    # LSTUR's softmax over the candidates: its rows are never padded.
    assert model.matcher.independent_candidates == (name == "mrfn")
    xla = Recommender(model, rec.config, rec.corpus, jit_compile=True)
    assert xla.compiled_width(3) == (rec.num_candidates if name == "mrfn" else 3)
    three = candidates[:3]
    expected = served.score(DIALOG, _history(corpus), candidates=three)[1]
    np.testing.assert_allclose(xla.score(DIALOG, _history(corpus), candidates=three)[1], expected, atol=1e-5)
    if name == "mrfn":
        np.testing.assert_allclose(expected, scores[:3], atol=1e-5)
    with pytest.raises(RecommenderError, match="no attention"):
        served.attention_model()


def test_a_model_without_a_matcher_is_refused(rec):
    from stickerchat.models import build_model

    with pytest.raises(RecommenderError, match="StickerRanker"):
        Recommender(build_model("most_selected", rec.config), rec.config, rec.corpus)


def test_xla_matcher_equals_the_plain_one(tiny_model_dir, rec):
    plain = Recommender.from_model_dir(tiny_model_dir, jit_compile=False)
    assert rec.jit_compile and not plain.jit_compile
    assert rec.matcher().jit_compile is True
    corpus = rec.corpus
    many = [s for k in list(corpus.sticker_sets)[:2] for s in corpus.sticker_sets[k]]
    _, xla = rec.score(DIALOG, _history(corpus), candidates=many)
    _, reference = plain.score(DIALOG, _history(corpus), candidates=many)
    np.testing.assert_allclose(xla, reference, atol=1e-5)


def test_ranking_is_sorted_and_covers_every_candidate(rec):
    set_id = list(rec.corpus.sticker_sets)[4]
    ranking = rec.rank(DIALOG, _history(rec.corpus), sticker_set=set_id)
    assert sorted(i for i, _ in ranking) == sorted(rec.corpus.sticker_sets[set_id])
    scores = [s for _, s in ranking]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(i, int) for i, _ in ranking)
    assert len(rec.rank(DIALOG, sticker_set=set_id, top_k=3)) == 3
    # 1,000 candidates (ids repeat): every occurrence is ranked.
    every = sorted(rec.known_sticker_ids())
    thousand = (every * 2)[:1000]
    assert len(rec.rank(DIALOG, candidates=thousand)) == 1000


def test_ids_stay_exact(rec):
    big = max(rec.known_sticker_ids())
    assert big > 2**53  # the demo ids are 18 digits: floats would round them
    ranking = rec.rank(DIALOG, candidates=[str(big), big - 1 if big - 1 in rec.known_sticker_ids() else big])
    assert ranking[0][0] in (big, big - 1) and big in [i for i, _ in ranking]
    with pytest.raises(RecommenderError, match="float"):
        rec.rank(DIALOG, candidates=[float(big)])


def test_clear_errors(rec):
    known = sorted(rec.known_sticker_ids())
    with pytest.raises(RecommenderError, match="unknown candidate sticker id 123"):
        rec.rank(DIALOG, candidates=[known[0], 123])
    with pytest.raises(RecommenderError, match="unknown history sticker id 77"):
        rec.rank(DIALOG, [(["hi"], 77)], candidates=known[:3])
    with pytest.raises(RecommenderError, match="empty dialog"):
        rec.rank(["", "   "], candidates=known[:3])
    with pytest.raises(RecommenderError, match="unknown sticker set"):
        rec.rank(DIALOG, sticker_set=424242)
    with pytest.raises(RecommenderError, match="exactly one"):
        rec.rank(DIALOG)


def test_file_cache_round_trip_and_invalidation(tiny_model_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    shutil.copytree(tiny_model_dir, model_dir)
    cache_file = str(tmp_path / "features.npz")
    first = Recommender.from_model_dir(model_dir, cache_file=cache_file)
    assert first.cache_status == "missing"
    corpus = first.corpus
    candidates = corpus.sticker_sets[list(corpus.sticker_sets)[0]]
    expected = first.rank(DIALOG, _history(corpus), candidates=candidates)
    assert os.path.exists(cache_file)
    with np.load(cache_file, allow_pickle=False) as f:  # no pickled objects inside
        assert str(f["format"]) == CACHE_FORMAT
        assert str(f["model_sha256"]) == file_sha256(os.path.join(model_dir, "model.keras"))
        assert set(int(s) for s in f["sticker_ids"]) == set(candidates) | {i for _, i in _history(corpus)}

    second = Recommender.from_model_dir(model_dir, cache_file=cache_file)
    assert second.cache_status == "loaded" and len(second.cache) == len(first.cache)
    second.encode_stickers = None  # must not be needed: every sticker comes from the file
    assert second.rank(DIALOG, _history(corpus), candidates=candidates) == expected

    # Another model.keras (different bytes): the file is stale and rebuilt.
    import keras

    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    weights = model.sticker_encoder.get_weights()
    model.sticker_encoder.set_weights([w * 1.5 for w in weights])
    model.save(os.path.join(model_dir, "model.keras"))
    third = Recommender.from_model_dir(model_dir, cache_file=cache_file)
    assert third.cache_status == "stale" and len(third.cache) == 0
    ranking = third.rank(DIALOG, _history(corpus), candidates=candidates)
    full = _full_scores(third, DIALOG, _history(corpus), candidates[: third.num_candidates])
    np.testing.assert_allclose([dict(ranking)[i] for i in candidates[: third.num_candidates]], full, atol=1e-5)
    with np.load(cache_file, allow_pickle=False) as f:
        assert str(f["model_sha256"]) == file_sha256(os.path.join(model_dir, "model.keras"))


def test_feature_cache_unreadable_file(tmp_path):
    path = str(tmp_path / "x.npz")
    with open(path, "wb") as f:
        f.write(b"not a zip")
    cache, status = FeatureCache.load(path, "abc")
    assert status == "unreadable" and len(cache) == 0


def test_score_split_equals_the_full_model(rec):
    from stickerchat.data import pipeline

    scores = rec.score_split("test", max_examples=40)
    ds = pipeline.make_dataset(rec.corpus, "test", rec.config.data, training=False, batch_size=40)
    inputs, _ = next(iter(ds))
    np.testing.assert_allclose(scores, np.asarray(rec.model.predict_on_batch(inputs)[specs.SCORES]), atol=1e-5)


def test_explain_example_matches_scores_and_draws(rec):
    import matplotlib

    matplotlib.use("Agg")
    from stickerchat.evaluation import visualize
    from stickerchat.serving import explain

    e = explain.explain_example(rec, "test", 0)
    np.testing.assert_allclose(e.scores, rec.score_split("test", max_examples=1)[0], atol=1e-5)
    c = rec.config.data
    assert e.utterance_attention.shape == (c.num_candidates, c.context_len, c.max_words)
    assert e.sticker_attention.shape[:2] == (c.num_candidates, c.context_len)
    assert e.shown()[0] == e.label and len(e.shown()) == 4
    assert e.memory_weights is not None and len(e.memory_weights) == len(e.history_ids)
    for fig in (explain.figure10(e), explain.figure11(e), explain.memory_figure(e)):
        assert visualize.figure_to_array(fig).ndim == 3
    raw = explain.explain(rec, DIALOG, _history(rec.corpus), candidates=sorted(rec.known_sticker_ids())[:7])
    assert raw.label is None and len(raw.scores) == 7 and raw.words == [["hello", "there"], ["how", "are", "you", "today", "?"]]
    # A null utterance (JSON null) is an empty one, as in the corpus: not the word "None".
    with_null = explain.explain(rec, [None, *DIALOG, None], _history(rec.corpus), candidates=sorted(rec.known_sticker_ids())[:7])
    assert with_null.words == raw.words
    np.testing.assert_array_equal(rec.encode_dialog([None, *DIALOG]), rec.encode_dialog(DIALOG))


def test_recommend_cli_prints_a_ranking(tiny_model_dir, rec, tmp_path):
    corpus = rec.corpus
    history = tmp_path / "history.jsonl"
    sticker = corpus.sticker_sets[list(corpus.sticker_sets)[1]][0]
    # Written by hand: the 18-digit id must be read exactly (stdlib json, no float).
    history.write_text(f'{{"context": ["good morning"], "sticker_id": {sticker}}}\n\n')
    set_id = list(corpus.sticker_sets)[2]
    cmd = [
        sys.executable, "-m", "stickerchat.recommend", f"--model_dir={tiny_model_dir}",
        "--dialog", "hello there", "--dialog", "how are you ?", f"--user_history_file={history}",
        f"--sticker_set={set_id}", "--top_k=3", f"--cache_file={tmp_path / 'f.npz'}",
    ]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split("\t") == ["rank", "sticker_id", "set_id", "score", "emoji"]
    assert len(lines) == 4
    expected = rec.rank(["hello there", "how are you ?"], [(["good morning"], sticker)], sticker_set=set_id, top_k=3)
    for line, (sticker_id, score) in zip(lines[1:], expected):
        rank, got_id, got_set, got_score, emoji = line.split("\t")
        assert int(got_id) == sticker_id and int(got_set) == set_id
        assert abs(float(got_score) - score) < 1e-5
        assert emoji == rec.corpus.sticker_alt[sticker_id] and emoji  # the label of emoji_mapping.txt

    sheet = tmp_path / "top.png"
    out = subprocess.run(cmd + [f"--contact_sheet={sheet}"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    from PIL import Image

    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.size == (3 * (128 + 4) + 4, 128 + 16 + 8)

    for top_k in ("-1", "-5"):
        bad = subprocess.run(cmd + [f"--top_k={top_k}"], capture_output=True, text=True, env=env, timeout=300)
        assert bad.returncode == 2 and "top_k" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    unknown = subprocess.run(
        cmd[:4] + ["--dialog", "zzqx qqzx", f"--sticker_set={set_id}", f"--cache_file={tmp_path / 'f.npz'}"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert unknown.returncode == 0 and "warning: none of the dialog's 2 words is in the model's vocabulary" in unknown.stderr

    bad = subprocess.run(cmd[:4] + ["--dialog", " ", f"--sticker_set={set_id}"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "empty dialog" in bad.stderr


def test_user_history_file_format(tmp_path):
    from stickerchat.serving.user_history import HistoryFileError, read_user_history

    path = tmp_path / "h.jsonl"
    path.write_text('{"context": ["a b"], "sticker_id": 553524901516373034}\n{"context": [], "sticker_id": "553524901516373035"}\n')
    assert read_user_history(str(path)) == [(["a b"], 553524901516373034), ([], 553524901516373035)]
    path.write_text('{"context": ["a"], "sticker_id": 5.535249015163730e17}\n')
    with pytest.raises(HistoryFileError, match="h.jsonl:1"):
        read_user_history(str(path))
    path.write_text('{"context": "a", "sticker_id": 1}\n')
    with pytest.raises(HistoryFileError, match="list of strings"):
        read_user_history(str(path))


def test_rank_refuses_non_positive_top_k_and_warns_on_unknown_words(rec):
    from stickerchat.serving.recommender import UnknownWordsWarning

    set_id = list(rec.corpus.sticker_sets)[0]
    everything = rec.rank(DIALOG, sticker_set=set_id)
    assert len(everything) == len(rec.corpus.sticker_sets[set_id])
    for top_k in (0, -1, 2.5, True):
        with pytest.raises(RecommenderError, match="top_k"):
            rec.rank(DIALOG, sticker_set=set_id, top_k=top_k)
    with pytest.warns(UnknownWordsWarning, match="none of the dialog's 3 words"):
        rec.rank(["zzqx", "qqzx wwzx"], sticker_set=set_id, top_k=2)
    assert rec.known_words(DIALOG)[0] > 0


def _cache_arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _write_cache(path, arrays, recompute_checksum):
    from stickerchat.serving.feature_cache import _checksum

    arrays = dict(arrays)
    if recompute_checksum:
        ids = np.asarray([int(s) for s in arrays["sticker_ids"]], np.int64)
        arrays["checksum"] = np.asarray(_checksum(ids, arrays["maps"], arrays["vectors"]))
    np.savez(path, **arrays)


def _scaled(a):
    return dict(a, maps=a["maps"] * 1.5, vectors=a["vectors"] * 1.5)


def _permuted(a):
    return dict(a, sticker_ids=a["sticker_ids"][::-1].copy())


def _nan(a):
    maps = a["maps"].copy()
    maps[len(maps) // 2, 0, 0, 0] = np.nan
    return dict(a, maps=maps)


TAMPERING = {
    "scaled values": (_scaled, False),
    "scaled values, checksum recomputed": (_scaled, True),
    "permuted ids": (_permuted, False),
    "permuted ids, checksum recomputed": (_permuted, True),
    "NaNs": (_nan, True),
    "a missing row": (lambda a: dict(a, maps=a["maps"][:-1]), True),
    "wrong shape": (lambda a: dict(a, maps=a["maps"].reshape(len(a["maps"]), -1, a["maps"].shape[-1])), True),
    "a repeated id": (lambda a: dict(a, sticker_ids=np.concatenate([a["sticker_ids"][:1], a["sticker_ids"][:-1]])), True),
    "a longer feature vector": (lambda a: dict(a, vectors=np.pad(a["vectors"], ((0, 0), (0, 1)))), True),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_a_tampered_cache_is_discarded_and_rebuilt(tiny_model_dir, rec, tmp_path, case, capsys):
    tamper, recompute = TAMPERING[case]
    sha = file_sha256(os.path.join(tiny_model_dir, "model.keras"))
    cache_file = str(tmp_path / "features.npz")
    set_id = list(rec.corpus.sticker_sets)[0]
    fresh = Recommender(rec.model, rec.config, rec.corpus, cache_file=cache_file, model_sha256=sha)
    expected = fresh.rank(DIALOG, sticker_set=set_id)
    _write_cache(cache_file, tamper(_cache_arrays(cache_file)), recompute)
    capsys.readouterr()
    again = Recommender(rec.model, rec.config, rec.corpus, cache_file=cache_file, model_sha256=sha)
    assert again.cache_status == "discarded" and len(again.cache) == 0
    assert "warning: sticker feature cache" in capsys.readouterr().err
    got = again.rank(DIALOG, sticker_set=set_id)
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)
    # The rewritten file is whole again.
    assert Recommender(rec.model, rec.config, rec.corpus, cache_file=cache_file, model_sha256=sha).cache_status == "loaded"


def test_cache_is_keyed_by_the_sticker_data_image_size_and_policy(tiny_model_dir, rec, tmp_path):
    """New images under the same sticker ids make the cache stale; the ranking follows the new images."""
    from stickerchat import data as data_lib
    from stickerchat.serving.feature_cache import cache_key

    data_dir = str(tmp_path / "data")
    shutil.copytree(data_lib.demo_dir(rec.config.data, verbose=False), data_dir)
    model_dir = str(tmp_path / "run")
    shutil.copytree(tiny_model_dir, model_dir)
    cache_file = str(tmp_path / "features.npz")
    first = Recommender.from_model_dir(model_dir, data_dir=data_dir, cache_file=cache_file)
    set_id = list(first.corpus.sticker_sets)[0]
    before = first.rank(DIALOG, sticker_set=set_id)
    assert Recommender.from_model_dir(model_dir, data_dir=data_dir, cache_file=cache_file).cache_status == "loaded"

    # The images change, the ids stay: each sticker of the set gets another sticker's picture.
    ids = first.corpus.sticker_sets[set_id]
    set_dir = os.path.join(data_dir, "npy_stickers", str(set_id))
    arrays = [np.load(os.path.join(set_dir, f"{i}.npy"), allow_pickle=False) for i in ids]
    for i, array in zip(ids, arrays[::-1]):
        np.save(os.path.join(set_dir, f"{i}.npy"), array)
    second = Recommender.from_model_dir(model_dir, data_dir=data_dir, cache_file=cache_file)
    assert second.cache_status == "stale" and "stickers_sha256" in second.cache.problem
    after = second.rank(DIALOG, sticker_set=set_id)
    assert after != before
    candidates = [i for i, _ in after][: second.num_candidates]
    full = _full_scores(second, DIALOG, [], candidates)
    np.testing.assert_allclose([dict(after)[i] for i in candidates], full, atol=1e-5)

    key = cache_key("m", "s", 32, "float32")
    for changed in (cache_key("m", "s", 64, "float32"), cache_key("m", "s", 32, "mixed_bfloat16"), cache_key("m", "t", 32, "float32")):
        path = str(tmp_path / "k.npz")
        FeatureCache(key).save(path)
        cache, status = FeatureCache.load(path, changed)
        assert status == "stale" and len(cache) == 0


def test_importing_stickerchat_does_not_import_tensorflow():
    code = "import sys, stickerchat; stickerchat.Recommender; assert 'tensorflow' not in sys.modules, 'tf imported'"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), KERAS_BACKEND="jax")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
