"""The HTTP service: started on a free loopback port, answers checked against Recommender, 4xx for bad requests."""

import json
import re
import shutil
import urllib.error
import urllib.request

import pytest

from stickerchat.serving.catalogue import CatalogueRecommender
from tests.e2e import RECALL_OPTIONS, serving

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
def served(tiny_service):
    """The session's service on a copy of the tiny model (rerank depth 30; conftest.py), shared with test_web_page.py."""
    return tiny_service.port, tiny_service.cat, tiny_service.process


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


# ---------------------------------------------------------------------------------- the web page and what it reads
def _raw(port, path, headers=None, method=None, timeout=60):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_the_web_page_and_its_files(served):
    port, _, _ = served
    status, headers, body = _raw(port, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode("utf-8")
    assert '<script src="/static/app.js" defer></script>' in page and 'href="/static/style.css"' in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/app.js" defer>']  # no inline script...
    assert not re.search(r"\son[a-z]+\s*=", page)  # ... nor inline handlers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and headers["Cache-Control"] == "no-cache"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, body = _raw(port, f"/static/{name}")
        assert status == 200 and headers["Content-Type"] == f"{kind}; charset=utf-8" and len(body) > 1000
    script = re.sub(r"(?m)^\s*//.*$", "", _raw(port, "/static/app.js")[2].decode())  # the code, without its comments
    # Text goes into the page as text only; ids are never turned into numbers.
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "parseInt(sticker", "Number(sticker"):
        assert unsafe not in script, unsafe
    assert "textContent" in script
    status, _, body = _raw(port, "/static/serve.py")
    assert status == 404 and "no static file" in json.loads(body)["error"]
    assert _raw(port, "/static/..%2Fserver.py")[0] == 404
    assert _raw(port, "/", method="POST")[0] == 405


def test_sticker_png_is_the_stored_image(served):
    import io

    import numpy as np
    from PIL import Image

    port, cat, _ = served
    corpus = cat.rec.corpus
    size = corpus.config.image_size
    ids = sorted(cat.rec.known_sticker_ids())
    for sticker_id in (ids[0], ids[len(ids) // 2], ids[-1]):
        status, headers, body = _raw(port, f"/sticker/{sticker_id}.png")
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
        image = Image.open(io.BytesIO(body))
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (size, size)
        np.testing.assert_array_equal(np.asarray(image), corpus.sticker_image(sticker_id))  # lossless: the stored array
        assert "max-age=" in headers["Cache-Control"] and "public" in headers["Cache-Control"]
        etag = headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        again = _raw(port, f"/sticker/{sticker_id}.png", {"If-None-Match": etag})
        assert again[0] == 304 and again[2] == b"" and again[1]["ETag"] == etag
        assert _raw(port, f"/sticker/{sticker_id}.png", {"If-None-Match": '"other"'})[0] == 200
    assert ids[-1] > 2**53  # the 18-digit ids are served exactly
    assert _raw(port, f"/sticker/{ids[0]}.png")[2] != _raw(port, f"/sticker/{ids[1]}.png")[2]
    status, headers, body = _raw(port, "/sticker/123.png")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"error": "unknown sticker id 123: not a sticker of the corpus"}
    for bad in ("abc", "12a", "-5", "1.5", "%20", "1" * 21, "%EF%BC%91"):  # the last: a full-width digit
        status, _, body = _raw(port, f"/sticker/{bad}.png")
        assert status == 400 and "is not a string of digits" in json.loads(body)["error"], (bad, status, body)
    assert _raw(port, f"/sticker/{ids[0]}")[0] == 404
    assert _raw(port, f"/sticker/{ids[0]}.png", method="POST")[0] == 405


def test_users_are_the_corpus_users(served):
    import collections

    port, cat, _ = served
    corpus = cat.rec.corpus
    counts = collections.Counter(int(u) for u in corpus.users)
    status, answer = _call(port, "/users")
    assert status == 200
    assert answer["total"] == len(counts) and answer["history_len"] == corpus.config.history_len
    users = answer["users"]
    assert len(users) == len(counts)
    assert all(isinstance(u["user_id"], str) for u in users)
    assert {int(u["user_id"]): u["history_size"] for u in users} == dict(counts)
    sizes = [u["history_size"] for u in users]
    assert sizes == sorted(sizes, reverse=True)
    status, top = _call(port, "/users?limit=2")
    assert status == 200 and top["users"] == users[:2] and top["total"] == len(counts)
    for bad in ("0", "abc", "100001"):
        status, answer = _call(port, f"/users?limit={bad}")
        assert status == 400 and "limit must be" in answer["error"]


def test_user_history_is_the_corpus_history(served):
    import numpy as np

    port, cat, _ = served
    corpus = cat.rec.corpus
    h = corpus.config.history_len
    status, users = _call(port, "/users")
    user_id = users["users"][0]["user_id"]
    status, answer = _call(port, f"/users/{user_id}/history")
    assert status == 200 and answer["user_id"] == user_id
    rows = np.flatnonzero(corpus.users == int(user_id))  # stream order
    assert answer["history_size"] == len(rows) and len(answer["history"]) == h
    for item, row in zip(answer["history"], rows[-h:]):
        assert set(item) == {"context", "sticker_id"}
        assert item["sticker_id"] == str(int(corpus.selected[row]))
        assert all(isinstance(u, str) and u for u in item["context"])
        # The text re-encodes to the corpus's word ids: sent back, it means what the corpus's history means.
        np.testing.assert_array_equal(corpus.encode_context(item["context"]), corpus.contexts[row])
    # ... and the whole history, encoded by the recommender, is the corpus's history features.
    from stickerchat.data import features

    contexts, ids, mask = cat.rec.encode_history([(i["context"], i["sticker_id"]) for i in answer["history"]])
    slots = np.asarray(rows[-h:], np.int64)[None]
    np.testing.assert_array_equal(contexts, features.history_context(corpus, slots)[0])
    assert ids == [int(i) for i in features.history_sticker_ids(corpus, slots)[0]] and mask.all()
    # It is a valid /recommend history as it is.
    status, rec = _call(port, "/recommend", {"dialog": DIALOG, "history": answer["history"], "top_k": 3})
    assert status == 200 and len(rec["stickers"]) == 3
    expected = cat.recommend(DIALOG, [(i["context"], int(i["sticker_id"])) for i in answer["history"]], top_k=3, rerank_depth=30)
    assert [s["sticker_id"] for s in rec["stickers"]] == [str(r.sticker_id) for r in expected]
    unknown = max(int(u) for u in corpus.users) + 1
    status, answer = _call(port, f"/users/{unknown}/history")
    assert status == 404 and answer["error"] == f"unknown user {unknown}: not a user of the corpus"
    for bad in ("abc", "1.5", "%20"):
        status, answer = _call(port, f"/users/{bad}/history")
        assert status == 400 and "is not a string of digits" in answer["error"], bad


def test_without_user_histories_the_service_lists_no_users(served):
    """`create_app(user_histories=False)` (`--nouser_histories`): no users, no histories; the rest as before."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from stickerchat.serving.server import create_app

    _, cat, _ = served

    async def run():
        async with TestClient(TestServer(create_app(cat, rerank_depth=30, user_histories=False), host="127.0.0.1")) as client:
            users = await client.get("/users")
            assert users.status == 200 and await users.json() == {"users": [], "total": 0, "history_len": cat.rec.history_len}
            history = await client.get(f"/users/{int(cat.rec.corpus.users[0])}/history")
            assert history.status == 404 and "--nouser_histories" in (await history.json())["error"]
            page = await client.get("/")
            assert page.status == 200
            sticker = await client.get(f"/sticker/{int(cat.sticker_ids[0])}.png")
            assert sticker.status == 200 and sticker.content_type == "image/png"

    asyncio.run(run())


def test_the_page_ships_with_the_package(tmp_path):
    """setup.py's package_data puts the page's files in a built (so an installed) package."""
    import os
    import subprocess
    import sys

    from stickerchat.serving import server

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", f"--build-lib={tmp_path}"], cwd=root, check=True, capture_output=True, timeout=300
    )
    shipped = tmp_path / "stickerchat" / "serving" / "static"
    assert sorted(os.listdir(shipped)) == sorted(server.STATIC_FILES) == sorted(os.listdir(server.STATIC_DIR))
    for name in server.STATIC_FILES:
        assert (shipped / name).read_bytes() == open(os.path.join(server.STATIC_DIR, name), "rb").read()


# ---------------------------------------------------------------------------------- your own chats, end to end
@pytest.mark.slow
def test_a_generated_export_converts_trains_and_serves(telegram_run, tmp_path):
    """A generated Telegram export -> `stickerchat.data.telegram` -> `stickerchat.train` (test preset) -> the service and its page.

    The export, its conversion and the training are the session's `telegram_run` (conftest.py), which
    test_telegram.py's end-to-end test checks too; the model directory is copied before the recall stage is added.
    """
    import io
    import os

    import numpy as np
    from PIL import Image

    from stickerchat.data import telegram

    info, corpus_dir = telegram_run.info, telegram_run.corpus_dir
    for proc in (telegram_run.convert, telegram_run.train):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    model_dir = tmp_path / "run"
    shutil.copytree(telegram_run.model_dir, model_dir)

    cat = CatalogueRecommender.from_model_dir(str(model_dir), recall_options=RECALL_OPTIONS, verbose=False)
    corpus = cat.rec.corpus
    assert corpus.data_dir == str(corpus_dir) and len(cat) == info.stickers
    with serving(str(model_dir), cat, rerank_depth=100) as server:  # the default depth: more than the catalogue
        port = server.port
        assert server.health["num_stickers"] == info.stickers
        status, headers, page = _raw(port, "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8" and b"/static/app.js" in page
        # The export's users, with their histories.
        status, users = _call(port, "/users")
        assert status == 200 and {int(u["user_id"]) for u in users["users"]} <= set(info.users) and users["users"]
        user = users["users"][0]
        status, history = _call(port, f"/users/{user['user_id']}/history")
        assert status == 200 and history["history_size"] == user["history_size"] and history["history"]
        # Raw text, as a person types it: the service splits it by the converter's rule (conversion.json).
        dialog = ["Haha that was SO funny!", "lol"]
        body = {"dialog": dialog, "history": history["history"], "top_k": 3}
        status, answer = _call(port, "/recommend", body)
        assert status == 200, answer
        assert answer["mode"] == "recall+rerank" and answer["rerank_depth"] == info.stickers
        items = [(h["context"], int(h["sticker_id"])) for h in history["history"]]
        expected = cat.recommend([telegram.tokenize(text) for text in dialog], items, top_k=3, rerank_depth=100)
        assert [s["sticker_id"] for s in answer["stickers"]] == [str(r.sticker_id) for r in expected]
        for got, want in zip(answer["stickers"], expected):
            assert abs(got["score"] - want.score) < 1e-5 and got["emoji"] == want.emoji
            status, headers, png = _raw(port, f"/sticker/{got['sticker_id']}.png")
            assert status == 200 and headers["Content-Type"] == "image/png"
            image = Image.open(io.BytesIO(png))
            assert image.size == (32, 32)
            np.testing.assert_array_equal(np.asarray(image.convert("RGB")), corpus.sticker_image(int(got["sticker_id"])))
        assert server.process.poll() is None
