"""The HTTP service: started on a free loopback port, answers checked against Recommender, 4xx for bad requests."""

import json
import shutil
import urllib.error
import urllib.request

import pytest

from stickerchat.serving.catalogue import CatalogueRecommender
from stickerchat.serving.launch import serve_in_subprocess

RECALL_OPTIONS = {"max_examples": 256, "teacher_examples": 64, "epochs": 2, "embed_dim": 16, "hidden_dim": 32}
DIALOG = ["hello there", "how are you today ?"]


def _call(port, path, body=None, method=None, raw=None, timeout=120):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("serve") / "run")
    shutil.copytree(tiny_model_dir, model_dir)
    cat = CatalogueRecommender.from_model_dir(model_dir, recall_options=RECALL_OPTIONS, verbose=False)
    with serve_in_subprocess(model_dir, rerank_depth=30) as server:
        yield server.port, cat, server.process


def test_healthz(served):
    port, cat, _ = served
    status, body = _call(port, "/healthz")
    assert status == 200 and body["status"] == "ok" and body["num_stickers"] == len(cat) and body["rerank_depth"] == 30


def test_candidates_answer_equals_the_recommender(served):
    port, cat, _ = served
    corpus = cat.rec.corpus
    sets = list(corpus.sticker_sets)
    history_sticker = corpus.sticker_sets[sets[1]][0]
    candidates = corpus.sticker_sets[sets[3]]
    body = {
        "dialog": DIALOG,
        "history": [{"context": ["good morning"], "sticker_id": str(history_sticker)}],
        "top_k": 4,
        "candidates": [str(i) for i in candidates],
    }
    status, answer = _call(port, "/recommend", body)
    assert status == 200, answer
    expected = cat.rec.rank(DIALOG, [(["good morning"], history_sticker)], candidates=candidates, top_k=4)
    assert answer["mode"] == "candidates" and len(answer["stickers"]) == 4
    tokens = corpus.emoji_vocab.tokens
    for got, (sticker_id, score) in zip(answer["stickers"], expected):
        assert got["sticker_id"] == str(sticker_id)  # a string: exact
        assert got["set_id"] == str(sets[3]) and abs(got["score"] - score) < 1e-5
        assert got["emoji"] == tokens[corpus.sticker_emoji[sticker_id]]


def test_catalogue_answer_equals_recall_then_rerank(served):
    port, cat, _ = served
    corpus = cat.rec.corpus
    history_sticker = corpus.sticker_sets[list(corpus.sticker_sets)[2]][1]
    body = {"dialog": DIALOG, "history": [{"context": ["so sad"], "sticker_id": str(history_sticker)}], "top_k": 5}
    status, answer = _call(port, "/recommend", body)
    assert status == 200, answer
    assert answer["mode"] == "recall+rerank" and answer["rerank_depth"] == 30
    expected = cat.recommend(DIALOG, [(["so sad"], history_sticker)], top_k=5, rerank_depth=30)
    assert [s["sticker_id"] for s in answer["stickers"]] == [str(r.sticker_id) for r in expected]
    # ... and the scores are the ranker's (Recommender) on the recalled stickers.
    ranked = dict(cat.rec.rank(DIALOG, [(["so sad"], history_sticker)], candidates=[r.sticker_id for r in expected]))
    for s in answer["stickers"]:
        assert abs(s["score"] - ranked[int(s["sticker_id"])]) < 1e-5
    status, deeper = _call(port, "/recommend", dict(body, rerank_depth=60, top_k=1))
    assert status == 200 and deeper["rerank_depth"] == 60
    assert deeper["stickers"][0]["sticker_id"] == str(cat.recommend(DIALOG, [(["so sad"], history_sticker)], top_k=1, rerank_depth=60)[0].sticker_id)


def test_bad_requests_get_4xx_and_the_server_stays_up(served):
    port, cat, process = served
    known = sorted(cat.rec.known_sticker_ids())
    big = known[-1]
    assert big > 2**53
    cases = [
        ({"dialog": "hello"}, 400, "dialog must be a list of strings"),
        ({"dialog": [1, 2]}, 400, "dialog must be a list of strings"),
        ({}, 400, "missing field 'dialog'"),
        ({"dialog": DIALOG, "top_k": "5"}, 400, "top_k must be an integer"),
        ({"dialog": DIALOG, "top_k": True}, 400, "top_k must be an integer"),
        ({"dialog": DIALOG, "top_k": 0}, 400, "top_k must be between"),
        ({"dialog": DIALOG, "rerank_depth": 10**6}, 400, "rerank_depth must be between"),
        ({"dialog": DIALOG, "colour": "red"}, 400, "unknown field 'colour'"),
        ({"dialog": ["", "  "]}, 400, "empty dialog"),
        ({"dialog": DIALOG, "candidates": [str(big), "123"]}, 400, "unknown candidate sticker id 123"),
        ({"dialog": DIALOG, "candidates": []}, 400, "non-empty list"),
        ({"dialog": DIALOG, "candidates": [big]}, 400, "send it as a string"),  # 18 digits as a JSON number
        ({"dialog": DIALOG, "candidates": [float(big)]}, 400, "not float"),
        ({"dialog": DIALOG, "history": [{"context": ["hi"], "sticker_id": big}]}, 400, "history[0].sticker_id"),
        ({"dialog": DIALOG, "history": [{"context": ["hi"], "sticker_id": "77"}]}, 400, "unknown history sticker id 77"),
        ({"dialog": DIALOG, "history": [{"context": "hi", "sticker_id": str(big)}]}, 400, "history[0].context"),
        ({"dialog": DIALOG, "history": {"a": 1}}, 400, "history must be a list"),
        ([1, 2], 400, "JSON object"),
    ]
    for body, code, message in cases:
        status, answer = _call(port, "/recommend", body)
        assert status == code and message in answer["error"], (body, status, answer)
    assert _call(port, "/recommend", raw=b"{not json")[0] == 400
    assert _call(port, "/recommend", raw=b"\xff\xfe")[0] == 400
    status, answer = _call(port, "/recommend", raw=json.dumps({"dialog": ["x" * 100] * 1000}).encode())  # ~100 kB
    assert status == 413, answer
    assert _call(port, "/recommend", method="GET")[0] == 405
    assert _call(port, "/nothing")[0] == 404
    # Still serving, and still right.
    assert process.poll() is None
    status, answer = _call(port, "/recommend", {"dialog": DIALOG, "top_k": 2, "candidates": [str(known[0]), known[1] if known[1] < 2**53 else str(known[1])]})
    assert status == 200 and len(answer["stickers"]) == 2
