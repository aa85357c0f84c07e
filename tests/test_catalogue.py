"""Whole-catalogue recommendation: recall towers, indexes, recall + rerank, evaluation, CLIs."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from stickerchat.rundir import runfiles
from stickerchat.serving.recommender import RecommenderError
from stickerchat.serving import catalogue as catalogue_lib
from stickerchat.serving.catalogue import CatalogueRecommender
from stickerchat.serving.index import ExactIndex, HNSWIndex, build_index

DIALOG = ["hello there", "how are you today ?"]
RECALL_OPTIONS = {"max_examples": 256, "teacher_examples": 64, "epochs": 2, "embed_dim": 16, "hidden_dim": 32}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir, tmp_path_factory):
    """A copy of the tiny run with a (briefly trained) recall stage."""
    model_dir = str(tmp_path_factory.mktemp("catalogue") / "run")
    shutil.copytree(tiny_model_dir, model_dir)
    CatalogueRecommender.from_model_dir(model_dir, recall_options=RECALL_OPTIONS, verbose=False)
    return model_dir


@pytest.fixture(scope="module")
def cat(run_dir):
    return CatalogueRecommender.from_model_dir(run_dir, train_if_missing=False, verbose=False)


def _history(corpus):
    sets = list(corpus.sticker_sets)
    return [(["good morning"], corpus.sticker_sets[sets[1]][0]), (["so sad"], corpus.sticker_sets[sets[2]][3])]


def test_exact_index_is_the_brute_force_top_k():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    queries = rng.standard_normal((5, 8)).astype(np.float32)
    brute = queries @ vectors.T
    for use_faiss in (True, False):
        index = ExactIndex(vectors, use_faiss=use_faiss)
        scores, rows = index.search(queries, 7)
        for b in range(5):
            assert list(rows[b]) == list(np.argsort(-brute[b], kind="stable")[:7])
            np.testing.assert_allclose(scores[b], brute[b, rows[b]], rtol=1e-5)
        assert index.search(queries[:1], 1000)[1].shape == (1, 300)  # k capped at n
    assert build_index(vectors, "auto").kind == "exact"
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(vectors, "annoy")


def test_hnsw_index_finds_nearly_the_exact_top_k():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((20, 16))
    vectors = (centres[rng.integers(0, 20, 2000)] + 0.3 * rng.standard_normal((2000, 16))).astype(np.float32)
    queries = (centres[rng.integers(0, 20, 20)] + 0.3 * rng.standard_normal((20, 16))).astype(np.float32)
    _, exact = ExactIndex(vectors).search(queries, 50)
    _, approx = HNSWIndex(vectors, m=32, ef_construction=128, ef_search=512, threads=1).search(queries, 50)
    overlap = np.mean([len(set(a) & set(e)) / 50 for a, e in zip(approx, exact)])
    assert overlap >= 0.9, overlap


def test_recall_files_are_keyed_and_validated(run_dir, cat):
    for name in (catalogue_lib.RECALL_FILE, catalogue_lib.RECALL_INFO_FILE, catalogue_lib.EMBEDDINGS_FILE):
        assert os.path.exists(os.path.join(run_dir, name))
    assert cat.embeddings_status == "loaded"
    assert cat.embeddings.shape == (len(cat), cat.recall.index_dim)
    np.testing.assert_allclose(cat.embeddings, cat.encode_stickers(cat.vectors), atol=1e-5)
    path = os.path.join(run_dir, catalogue_lib.EMBEDDINGS_FILE)
    with np.load(path, allow_pickle=False) as f:  # no pickled objects
        keys = {k: str(f[k]) for k in ("ranker_sha256", "recall_sha256", "catalogue_digest")}
        ids = [int(s) for s in f["sticker_ids"]]
    assert ids == sorted(cat.rec.known_sticker_ids())
    assert keys["catalogue_digest"] == catalogue_lib.ids_digest(ids)
    embeddings, status = catalogue_lib.load_embeddings(path, dict(keys, recall_sha256="other"), ids, cat.recall.index_dim)
    assert embeddings is None and status == "stale"
    _, status = catalogue_lib.load_embeddings(path, keys, ids[:-1], cat.recall.index_dim)  # another catalogue
    assert status == "stale"
    # Right keys, wrong contents: the re-encoded sample catches it and the file is rewritten.
    with np.load(path, allow_pickle=False) as f:
        saved = {k: f[k] for k in f.files}
    catalogue_lib.save_embeddings(path, keys, ids, saved["embeddings"] + 1.0)
    again = CatalogueRecommender(cat.rec, cat.recall, embeddings_file=path, keys={k: v for k, v in keys.items() if k != "catalogue_digest"})
    assert again.embeddings_status == "stale"
    np.testing.assert_allclose(again.embeddings, cat.embeddings, atol=1e-5)
    # A recall model trained for other ranker weights is not used.
    info_path = os.path.join(run_dir, catalogue_lib.RECALL_INFO_FILE)
    with open(info_path) as f:
        info = json.load(f)
    try:
        runfiles.write_json(info_path, dict(info, ranker_sha256="0" * 64))
        with pytest.raises(FileNotFoundError, match="another model.keras"):
            CatalogueRecommender.from_model_dir(run_dir, rec=cat.rec, train_if_missing=False, verbose=False)
    finally:
        runfiles.write_json(info_path, info)


def test_recall_returns_the_top_of_the_recall_score(cat):
    corpus = cat.rec.corpus
    query = catalogue_lib.raw_query(cat.rec, DIALOG, _history(corpus))
    q = cat.query_vectors([query])[0]
    brute = cat.embeddings @ q
    ids = cat.recall_ids(query, 25)
    rows = [cat.row_of[i] for i in ids]
    assert len(set(rows)) == 25 and np.all(np.diff(brute[rows]) <= 1e-5)  # best first
    others = np.setdiff1d(np.arange(len(cat)), rows)
    assert brute[rows].min() >= brute[others].max() - 1e-5  # the top 25 of the recall score
    assert sorted(cat.recall_ids(query, len(cat))) == sorted(cat.rec.known_sticker_ids())  # depth n: everything
    # The history enters the query.
    plain = cat.query_vectors([catalogue_lib.raw_query(cat.rec, DIALOG, None)])[0]
    assert not np.allclose(plain, q)


def test_recommend_reranks_with_the_ranker(cat):
    corpus = cat.rec.corpus
    history = _history(corpus)
    found = cat.recommend(DIALOG, history, top_k=None, rerank_depth=40)
    assert len(found) == 40 and len({r.sticker_id for r in found}) == 40
    query = catalogue_lib.raw_query(cat.rec, DIALOG, history)
    assert {r.sticker_id for r in found} == set(cat.recall_ids(query, 40))
    ranked = cat.rec.rank(DIALOG, history, candidates=[r.sticker_id for r in found])
    assert [i for i, _ in ranked] == [r.sticker_id for r in found]
    np.testing.assert_allclose([r.score for r in found], [s for _, s in ranked], atol=1e-5)
    tokens = corpus.emoji_vocab.tokens
    assert all(r.emoji == tokens[corpus.sticker_emoji[r.sticker_id]] and r.set_id == corpus.sticker_set_of[r.sticker_id] for r in found)
    assert len(cat.recommend(DIALOG, history, top_k=3)) == 3
    # Exhaustive: the ranker over every sticker.
    every = cat.recommend(DIALOG, history, top_k=None, exhaustive=True)
    ids, scores = cat.rec.score(DIALOG, history, candidates=sorted(cat.rec.known_sticker_ids()))
    assert len(every) == len(ids) and every[0].sticker_id == ids[int(np.argmax(scores))]
    # Given candidates: exactly Recommender.rank.
    some = sorted(cat.rec.known_sticker_ids())[5:17]
    assert [(r.sticker_id, pytest.approx(r.score, abs=1e-5)) for r in cat.recommend(DIALOG, history, top_k=None, candidates=some)] == cat.rec.rank(DIALOG, history, candidates=some)


def test_recommend_errors(cat):
    with pytest.raises(RecommenderError, match="rerank_depth"):
        cat.recommend(DIALOG, rerank_depth=0)
    with pytest.raises(RecommenderError, match="unknown candidate sticker id 5"):
        cat.recommend(DIALOG, candidates=[5])
    with pytest.raises(RecommenderError, match="unknown history sticker id 77"):
        cat.recommend(DIALOG, [(["hi"], 77)])
    with pytest.raises(RecommenderError, match="empty dialog"):
        cat.recommend(["", " "])


def test_evaluate_catalogue_keys_and_properties(cat):
    full = catalogue_lib.evaluate_catalogue(cat, "test", rerank_depth=len(cat), max_examples=12, warmup=1)
    assert set(full) == {
        "num_stickers", "num_examples", "R@1", "R@10", "MRR", "rerank_depth", "recall_of_exhaustive_top1",
        "exhaustive_R@1", "exhaustive_R@10", "latency_ms_p50", "latency_ms_p99",
    }
    assert full["num_stickers"] == len(cat) and full["num_examples"] == 12
    # Recalling everything: recall + rerank is the exhaustive ranker.
    assert full["recall_of_exhaustive_top1"] == 1.0
    assert full["R@1"] == pytest.approx(full["exhaustive_R@1"]) and full["R@10"] == pytest.approx(full["exhaustive_R@10"])
    shallow = catalogue_lib.evaluate_catalogue(cat, "test", rerank_depth=5, max_examples=12, warmup=1)
    assert shallow["rerank_depth"] == 5 and shallow["recall_of_exhaustive_top1"] <= 1.0
    assert 0 <= shallow["R@1"] <= shallow["R@10"] <= 1 and 0 <= shallow["MRR"] <= 1
    assert shallow["latency_ms_p50"] <= shallow["latency_ms_p99"]
    none = catalogue_lib.evaluate_catalogue(cat, "test", rerank_depth=5, max_examples=3, warmup=0, exhaustive_max=10)
    assert none["exhaustive_R@1"] is None and none["recall_of_exhaustive_top1"] is None


def test_rank_metrics_count_ties_at_their_expected_rank():
    m = catalogue_lib._rank_metrics(np.array([0.5, 0.9, 0.5, 0.5, 0.1]), 0, ks=(1, 2, 10))
    assert m["R@1"] == 0.0 and m["R@2"] == pytest.approx(1 / 3) and m["R@10"] == 1.0
    assert m["RR"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def test_cli_evaluate_catalogue_and_recommend(run_dir, cat, tmp_path):
    model_dir = str(tmp_path / "run")
    shutil.copytree(run_dir, model_dir)
    with open(os.path.join(model_dir, "metrics.json"), "rb") as f:
        metrics_before = f.read()
    cmd = [sys.executable, "-m", "stickerchat.evaluate", f"--model_dir={model_dir}", "--catalogue", "--rerank_depth=20"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(os.path.join(model_dir, "catalogue_metrics.json")) as f:
        result = json.load(f)
    assert result["rerank_depth"] == 20 and result["num_stickers"] == len(cat)
    assert result["num_examples"] == cat.rec.corpus.num_examples("test")
    with open(os.path.join(model_dir, "metrics.json"), "rb") as f:
        assert f.read() == metrics_before

    corpus = cat.rec.corpus
    sticker = corpus.sticker_sets[list(corpus.sticker_sets)[1]][0]
    history = tmp_path / "h.jsonl"
    history.write_text(f'{{"context": ["good morning"], "sticker_id": "{sticker}"}}\n')
    cmd = [
        sys.executable, "-m", "stickerchat.recommend", f"--model_dir={model_dir}", "--dialog", DIALOG[0], "--dialog", DIALOG[1],
        f"--user_history_file={history}", "--top_k=4", "--rerank_depth=30",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split("\t") == ["rank", "sticker_id", "set_id", "score", "emoji"] and len(lines) == 5
    expected = cat.recommend(DIALOG, [(["good morning"], sticker)], top_k=4, rerank_depth=30)
    for line, r in zip(lines[1:], expected):
        _, got_id, got_set, got_score, got_emoji = line.split("\t")
        assert (int(got_id), int(got_set), got_emoji) == (r.sticker_id, r.set_id, r.emoji)
        assert abs(float(got_score) - r.score) < 1e-5
    out = subprocess.run(cmd[:8] + ["--exhaustive", "--top_k=1"], capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    best = cat.recommend(DIALOG, top_k=1, exhaustive=True)[0]
    assert int(out.stdout.strip().splitlines()[1].split("\t")[1]) == best.sticker_id
