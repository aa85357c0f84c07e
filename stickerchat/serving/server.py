"""HTTP service over a `CatalogueRecommender` (aiohttp).

Endpoints:

* `GET /healthz` -> `{"status": "ok", "num_stickers": n, "index": "exact", "rerank_depth": 100}`.
* `POST /recommend` with a JSON body

      {"dialog": ["are you coming tonight ?", "sure"],
       "history": [{"context": ["good morning"], "sticker_id": "556029562811581404"}],
       "top_k": 5,
       "candidates": ["556029562811581404", ...],   # optional: rank these instead of the catalogue
       "rerank_depth": 100}                          # optional

  -> `{"stickers": [{"sticker_id": "...", "set_id": "...", "score": 0.93, "emoji": "😀"}, ...],
  "mode": "recall+rerank" | "candidates", "rerank_depth": 100}`, best first.
  Ids are returned as strings.

* `GET /` -> the web page (`static/index.html`, with `static/app.js` and
  `static/style.css` under `GET /static/<name>`): type a dialog, pick a user,
  see the top-k stickers update as you type (it calls the endpoints here).
* `GET /sticker/<id>.png` -> the sticker's stored image (the catalogue's
  packed `(S, S, 3)` array) as an S×S RGB PNG, with `Cache-Control` and an
  `ETag` (a sha256 of the PNG; `If-None-Match` gets a 304). 400 for an id
  that is not a string of digits, 404 for an id that is not a sticker of the
  corpus.
* `GET /users[?limit=N]` -> `{"users": [{"user_id": "313808630",
  "history_size": 465}, ...], "total": 60, "history_len": 10}`: the corpus's
  users, the largest histories first (default limit 1000, at most 100000);
  `{"users": [], "total": 0, ...}` when the service was started with
  `user_histories=False` (`--nouser_histories`).
* `GET /users/<id>/history` -> `{"user_id": "...", "history_size": 465,
  "history": [{"context": [...], "sticker_id": "..."}, ...]}`: the user's
  last `history_len` sticker replies (the ones the model reads), oldest
  first, in the shape of `/recommend`'s `history`, to be sent back as they
  are (`stickerchat.serving.users`). 400 for a malformed id, 404 for a user
  that is not in the corpus (or when histories are off).

`/recommend` itself knows nothing of users: a client sends a history
explicitly (what the page does after `GET /users/<id>/history`), or none.

Bad requests get a 4xx with `{"error": "<one line>"}` and never stop the
process: 413 for bodies over `max_body_bytes`, 400 for invalid JSON, wrong
types, unknown fields, unknown sticker ids, an empty dialog, out-of-range
`top_k`/`rerank_depth`, too many candidates or history items, 405 for other
methods, 404 for other paths.

**Sticker ids above 2^53 must be sent as strings.** The corpus's ids are
18-digit integers; a JSON number that large is a float in JavaScript and in
many JSON libraries, which silently round it to a neighbouring integer that
may be another real sticker. This server's parser (Python's `json`) would
read it exactly, but it cannot know whether the client's serialiser already
rounded it, so it rejects such numbers (400, naming the field) rather than
risk answering for the wrong sticker. Integers up to 2^53 - 1 and strings of
digits are accepted; floats are rejected.

The model runs on one worker thread (the matcher and its caches are not
shared between threads), so the event loop keeps answering `/healthz` and
rejecting bad requests while a recommendation is computed. Sticker features,
recall vectors and the index are loaded once, when the app is created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import io
import json
import os
from typing import Optional

from stickerchat.serving.recommender import RecommenderError

MAX_EXACT_JSON_INT = 2**53 - 1
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_TOP_K = 100
MAX_RERANK_DEPTH = 1000
MAX_CANDIDATES = 2000
MAX_HISTORY = 100
MAX_UTTERANCES = 100
FIELDS = ("dialog", "history", "top_k", "candidates", "rerank_depth")
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
DEFAULT_USERS_LIMIT = 1000
MAX_USERS_LIMIT = 100_000
STICKER_CACHE_SIZE = 4096  # rendered PNGs kept in memory
STICKER_MAX_AGE = 86400  # seconds a browser may reuse a sticker image without asking
# The page loads nothing but its own files, and runs no inline script.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


class BadRequest(ValueError):
    """A request the service answers with 400 (the message says why)."""


def parse_id(value, where: str) -> str:
    """A sticker id from JSON: a string of digits, or an integer up to 2^53 - 1 (see the module docstring)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{where}: a sticker id must be a string of digits, not {type(value).__name__}")
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_JSON_INT:
            raise BadRequest(
                f"{where}: sticker id {value} is a JSON number above 2^53, which many clients round; send it as a string"
            )
        return str(value)
    text = value.strip()
    if not text.isdigit():
        raise BadRequest(f"{where}: sticker id {value!r} is not a string of digits")
    return text


def _strings(value, where: str, limit: int):
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise BadRequest(f"{where} must be a list of strings")
    if len(value) > limit:
        raise BadRequest(f"{where} has {len(value)} items; at most {limit}")
    return value


def _int(value, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{where} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise BadRequest(f"{where} must be between {low} and {high}, got {value}")
    return value


def parse_request(body, default_depth: int) -> dict:
    """Validates a decoded JSON body; returns keyword arguments for `CatalogueRecommender.recommend`."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; expected some of {', '.join(FIELDS)}")
    if "dialog" not in body:
        raise BadRequest("missing field 'dialog' (a list of utterances, oldest first)")
    dialog = _strings(body["dialog"], "dialog", MAX_UTTERANCES)
    history_in = body.get("history") or []
    if not isinstance(history_in, list):
        raise BadRequest("history must be a list of {\"context\": [...], \"sticker_id\": \"...\"}")
    if len(history_in) > MAX_HISTORY:
        raise BadRequest(f"history has {len(history_in)} items; at most {MAX_HISTORY}")
    history = []
    for k, item in enumerate(history_in):
        if not isinstance(item, dict) or set(item) != {"context", "sticker_id"}:
            raise BadRequest(f"history[{k}] must be an object with exactly 'context' and 'sticker_id'")
        history.append((_strings(item["context"], f"history[{k}].context", MAX_UTTERANCES), parse_id(item["sticker_id"], f"history[{k}].sticker_id")))
    top_k = _int(body.get("top_k", 5), "top_k", 1, MAX_TOP_K)
    depth = _int(body.get("rerank_depth", default_depth), "rerank_depth", 1, MAX_RERANK_DEPTH)
    candidates = body.get("candidates")
    if candidates is not None:
        if not isinstance(candidates, list) or not candidates:
            raise BadRequest("candidates must be a non-empty list of sticker ids")
        if len(candidates) > MAX_CANDIDATES:
            raise BadRequest(f"candidates has {len(candidates)} ids; at most {MAX_CANDIDATES}")
        candidates = [parse_id(c, f"candidates[{k}]") for k, c in enumerate(candidates)]
    return {"dialog": dialog, "user_history": history, "top_k": top_k, "rerank_depth": depth, "candidates": candidates}


def read_static_files() -> dict:
    """`{name: (bytes, content type)}` of the page's files (shipped as package data)."""
    out = {}
    for name, kind in STATIC_FILES.items():
        path = os.path.join(STATIC_DIR, name)
        try:
            with open(path, "rb") as f:
                out[name] = (f.read(), kind)
        except OSError as e:
            raise FileNotFoundError(f"{path}: the web page's file is missing from the installed package ({e.strerror})") from None
    return out


def sticker_png(image) -> bytes:
    """A uint8 `(S, S, 3)` sticker array as PNG bytes."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def create_app(
    cat,
    *,
    rerank_depth: int = 100,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    user_histories: bool = True,
):
    """The aiohttp application serving `cat` (a `CatalogueRecommender`).

    With `user_histories`, `GET /users` lists the corpus's users and
    `GET /users/<id>/history` returns their recent sticker replies (their
    dialogs' words included: turn it off to serve a corpus whose chats are
    not to be shown to the service's clients).
    """
    from aiohttp import web

    from stickerchat.serving.users import UnknownUser, UserHistories, parse_user_id

    static = read_static_files()
    users = UserHistories.from_corpus(cat.rec.corpus) if user_histories else None
    known_stickers = cat.rec.known_sticker_ids()
    store = cat.rec.corpus.store

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="recommend")

    def error(status: int, message: str):
        return web.json_response({"error": message}, status=status)

    def page_file(name: str):
        body, kind = static[name]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=PAGE_HEADERS)

    async def index(request):
        return page_file("index.html")

    async def static_file(request):
        name = request.match_info["name"]
        if name not in static:
            return error(404, f"no static file {name!r}; the page has {', '.join(sorted(static))}")
        return page_file(name)

    @functools.lru_cache(maxsize=STICKER_CACHE_SIZE)
    def rendered(sticker_id: int):
        png = sticker_png(store.image(sticker_id))
        return png, '"' + hashlib.sha256(png).hexdigest()[:32] + '"'

    async def sticker(request):
        text = request.match_info["sticker_id"]
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            return error(400, f"sticker id {text!r} is not a string of digits")
        sticker_id = int(text)
        if sticker_id not in known_stickers:
            return error(404, f"unknown sticker id {sticker_id}: not a sticker of the corpus")
        png, etag = rendered(sticker_id)
        headers = {"Cache-Control": f"public, max-age={STICKER_MAX_AGE}", "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            return web.Response(status=304, headers=headers)
        return web.Response(body=png, content_type="image/png", headers=headers)

    async def list_users(request):
        raw = request.query.get("limit", str(DEFAULT_USERS_LIMIT))
        try:
            limit = int(raw)
        except ValueError:
            return error(400, f"limit must be an integer, got {raw!r}")
        if not 1 <= limit <= MAX_USERS_LIMIT:
            return error(400, f"limit must be between 1 and {MAX_USERS_LIMIT}, got {limit}")
        found = users.summary(limit) if users is not None else []
        return web.json_response(
            {
                "users": [{"user_id": u, "history_size": n} for u, n in found],
                "total": len(users) if users is not None else 0,
                "history_len": cat.rec.history_len,
            }
        )

    async def user_history(request):
        text = request.match_info["user_id"]
        try:
            user_id = parse_user_id(text)
        except ValueError as e:
            return error(400, str(e))
        if users is None:
            return error(404, "this service has no user histories (started with --nouser_histories)")
        try:
            rows = users.rows(user_id)
            history = users.history(user_id)
        except UnknownUser as e:
            return error(404, e.args[0])
        return web.json_response(
            {"user_id": str(user_id), "history_size": int(len(rows)), "history": history},
            dumps=lambda v: json.dumps(v, ensure_ascii=False),
        )

    async def healthz(request):
        return web.json_response(
            {"status": "ok", "num_stickers": len(cat), "index": cat.index.kind, "rerank_depth": rerank_depth}
        )

    def answer(kwargs: dict) -> dict:
        found = cat.recommend(**kwargs)
        return {
            "stickers": [
                {"sticker_id": str(r.sticker_id), "set_id": str(r.set_id), "score": r.score, "emoji": r.emoji} for r in found
            ],
            "mode": "candidates" if kwargs["candidates"] is not None else "recall+rerank",
            "rerank_depth": None if kwargs["candidates"] is not None else min(kwargs["rerank_depth"], len(cat)),
        }

    async def recommend(request):
        if request.content_length is not None and request.content_length > max_body_bytes:
            return error(413, f"body of {request.content_length} bytes; at most {max_body_bytes}")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"body over {max_body_bytes} bytes")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return error(400, f"body is not JSON: {e}")
        except RecursionError:
            return error(400, "body is nested too deeply")
        try:
            kwargs = parse_request(body, rerank_depth)
        except BadRequest as e:
            return error(400, str(e))
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(executor, answer, kwargs)
        except RecommenderError as e:
            return error(400, str(e).splitlines()[0])
        return web.json_response(result, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    @web.middleware
    async def guard(request, handler):
        try:
            return await handler(request)
        except web.HTTPException as e:
            return error(e.status, e.reason)
        except Exception as e:  # noqa: BLE001  (one bad request must not stop the service)
            return error(500, f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")

    app = web.Application(client_max_size=max_body_bytes, middlewares=[guard])
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/recommend", recommend)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/sticker/{sticker_id}.png", sticker)
    app.router.add_get("/users", list_users)
    app.router.add_get("/users/{user_id}/history", user_history)

    async def close_executor(app):
        executor.shutdown(wait=False)

    app.on_cleanup.append(close_executor)
    return app


def warm_up(cat, rerank_depth: int) -> None:
    """Compiles the matchers the service will use (recall + rerank at `rerank_depth`, a set-sized list)."""
    dialog = ["hello"]
    cat.recommend(dialog, top_k=1, rerank_depth=rerank_depth)
    cat.recommend(dialog, top_k=1, candidates=[int(i) for i in cat.sticker_ids[: cat.rec.num_candidates]])


def serve(
    cat,
    host: str = "127.0.0.1",
    port: int = 8080,
    rerank_depth: int = 100,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Optional[callable] = None,
    user_histories: bool = True,
):
    from aiohttp import web

    app = create_app(cat, rerank_depth=rerank_depth, max_body_bytes=max_body_bytes, user_histories=user_histories)
    web.run_app(app, host=host, port=port, print=ready or (lambda *a: None), handle_signals=True)
