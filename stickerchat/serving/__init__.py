"""Using a trained model: ranking, explaining, exporting and serving.

* `recommender`: `Recommender`, ranks given candidates for raw text with the
  sticker features cached (`feature_cache`).
* `explain`: the attentions behind one ranking, for `evaluation.visualize`.
* `user_history`: a user's history as a JSON Lines file.
* `export`: the model as a TensorFlow SavedModel (`python -m stickerchat.export`).
* `catalogue`: `CatalogueRecommender`, whole-catalogue recall + rerank, the
  recall towers in `recall`, the top-k indexes in `index`, the HTTP service
  in `server` (`python -m stickerchat.serve`).
"""


def __getattr__(name):
    if name in ("CatalogueRecommender", "Recommendation", "evaluate_catalogue"):
        from stickerchat.serving import catalogue

        return getattr(catalogue, name)
    raise AttributeError(name)
