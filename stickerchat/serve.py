"""Serves whole-catalogue sticker recommendations over HTTP.

    python -m stickerchat.serve --model_dir=runs/demo_pesrs [--port=8080] [--host=127.0.0.1]

Loads the run's model, its sticker features (`sticker_features.npz`, encoded
once if missing), the recall stage (trained first if the run has none) and
its index, warms the matchers up, then answers `POST /recommend` and
`GET /healthz`, and serves the web page (`GET /`: type a dialog, see the
stickers) with what it needs: `GET /sticker/<id>.png`, `GET /users` and
`GET /users/<id>/history` (`stickerchat.serving.server` documents the JSON).
Stops on SIGINT/SIGTERM.

`--nouser_histories` turns `/users` off: it shows the corpus's users' recent
sticker replies and the words of the dialogs they answered to anyone who can
reach the port.
"""

from __future__ import annotations

import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A model directory written by stickerchat.train.", required=True)
flags.DEFINE_string("data_dir", None, "Data directory (default: the run's own).")
flags.DEFINE_string("host", "127.0.0.1", "Address to listen on.")
flags.DEFINE_integer("port", 8080, "Port to listen on.", lower_bound=0, upper_bound=65535)
flags.DEFINE_integer("rerank_depth", 100, "Default number of recalled stickers the model reranks.", lower_bound=1)
flags.DEFINE_enum("index", "auto", ["auto", "exact", "hnsw"], "Recall index (auto: exact up to 1,000,000 stickers).")
flags.DEFINE_integer("max_body_bytes", 64 * 1024, "Largest request body accepted (413 above).", lower_bound=1024)
flags.DEFINE_boolean(
    "user_histories", True,
    "Serve the corpus's users and their recent sticker replies (with their dialogs' words) on GET /users, for the web page.",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from stickerchat.serving.recommender import RecommenderError
    from stickerchat.serving import server
    from stickerchat.serving.catalogue import CatalogueRecommender

    try:
        cat = CatalogueRecommender.from_model_dir(FLAGS.model_dir, FLAGS.data_dir, index_kind=FLAGS.index)
        server.warm_up(cat, FLAGS.rerank_depth)
    except (FileNotFoundError, RecommenderError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    url = f"http://{FLAGS.host}:{FLAGS.port}"
    server.serve(
        cat,
        host=FLAGS.host,
        port=FLAGS.port,
        rerank_depth=FLAGS.rerank_depth,
        max_body_bytes=FLAGS.max_body_bytes,
        user_histories=FLAGS.user_histories,
        ready=lambda *a: print(f"serving {len(cat)} stickers on {url} (the web page at {url}/; POST /recommend, GET /healthz)", flush=True),
    )


def run():
    app.run(main)


if __name__ == "__main__":
    run()
