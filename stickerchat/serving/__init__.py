"""Whole-catalogue recommendation: recall, rerank with the trained ranker, HTTP serving.

`CatalogueRecommender` (recall + rerank) is in `stickerchat.serving.catalogue`,
the recall towers in `.recall`, the top-k indexes in `.index` and the HTTP
service in `.server` (`python -m stickerchat.serve`).
"""


def __getattr__(name):
    if name in ("CatalogueRecommender", "Recommendation", "evaluate_catalogue"):
        from stickerchat.serving import catalogue

        return getattr(catalogue, name)
    raise AttributeError(name)
