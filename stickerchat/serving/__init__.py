"""Using a trained model: ranking, explaining, exporting and serving.

* `recommender`: `Recommender`, ranks given candidates for raw text with the
  sticker features cached (`feature_cache`).
* `explain`: the attentions behind one ranking, for `evaluation.visualize`.
* `user_history`: a user's history as a JSON Lines file.
* `export`: the model as a TensorFlow SavedModel (`python -m stickerchat.export`).
* `requests`: what a request means in the corpus's terms (ids, sets, words,
  history), checked once for every caller.
* `catalogue`: `CatalogueRecommender`, whole-catalogue recall + rerank, the
  recall towers in `recall` (trained by `recall_training`), the top-k indexes
  in `index`, the HTTP service in `server` (`python -m stickerchat.serve`)
  with its web page in `static/` and the corpus's users for it in `users`.
"""


def __getattr__(name):
    if name in ("CatalogueRecommender", "Recommendation"):
        from stickerchat.serving import catalogue

        return getattr(catalogue, name)
    raise AttributeError(name)
