"""An explicit registry of the paper's models: one literal table, `build_model(name, config)`.

`MODELS` maps each name (`--model`) to its builder and the `ModelConfig`
overrides the name implies: the PESRS variants (Table 3 ablations, §7.8
memory variants, SRS) are overrides of one builder; the baselines of §6.2 and
§7.8 have their own builders. A builder takes a `stickerchat.config.Config`
(with the overrides applied) and `return_attention`, and returns a
`StickerRanker` (MostSelected: a ranker-shaped model with no weights).

To add a model: write its builder (a matcher in `stickerchat.models.baselines`
and `StickerRanker.from_stickerchat_config`) and add a row here.
"""

import dataclasses

import keras

from stickerchat.models.baselines import (
    build_dam,
    build_lstur,
    build_most_selected,
    build_mrfn,
    build_psac,
    build_smn,
    build_synergistic,
)
from stickerchat.models.pesrs import PESRS


def build_pesrs(config, return_attention=False):
    """SRS / PESRS / a PESRS variant, as the config's `model` section says."""
    return PESRS.from_stickerchat_config(config, return_attention=return_attention)


# name -> (builder, ModelConfig overrides on top of the given config).
MODELS = {
    "srs": (build_pesrs, {"use_memory": False}),
    "pesrs": (build_pesrs, {}),
    "pesrs_no_classify": (build_pesrs, {"use_classify": False}),
    "pesrs_no_din": (build_pesrs, {"use_din": False}),
    "pesrs_no_fr": (build_pesrs, {"use_fusion_rnn": False}),
    "pesrs_fr2t": (build_pesrs, {"fusion_rnn_type": "transformer"}),
    "pesrs_no_upm": (build_pesrs, {"use_memory": False}),
    "pesrs_no_tar": (build_pesrs, {"use_time_aware_rnn": False}),
    "average_mem": (build_pesrs, {"memory": "average"}),
    "weighted_mem": (build_pesrs, {"memory": "weighted"}),
    "smn": (build_smn, {}),
    "dam": (build_dam, {}),
    "mrfn": (build_mrfn, {}),
    "synergistic": (build_synergistic, {}),
    "psac": (build_psac, {}),
    "lstur": (build_lstur, {}),
    "most_selected": (build_most_selected, {}),
}
MODEL_NAMES = tuple(MODELS)


def resolve_model_config(name: str, config):
    """The `ModelConfig` that model `name` actually uses (with its overrides).

    The training task reads `use_classify` from here so that
    `pesrs_no_classify` trains without L_s.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model '{name}'; registered: {', '.join(MODEL_NAMES)}")
    return dataclasses.replace(config.model, **MODELS[name][1])


def build_model(name: str, config, return_attention: bool = False) -> keras.Model:
    """Builds the registered model `name` for a `stickerchat.config.Config`."""
    model_config = resolve_model_config(name, config)
    builder = MODELS[name][0]
    return builder(dataclasses.replace(config, model=model_config), return_attention=return_attention)
