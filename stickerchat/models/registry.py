"""An explicit registry of the paper's models: `build_model(name, config)`.

Each PESRS variant is a `ModelConfig` override (Table 3 ablations, §7.8
memory variants, SRS). Other models (baselines) register a builder with
`register_model(name, builder)`, where `builder(config, return_attention)`
returns a `keras.Model` with the same inputs and outputs.
"""

import dataclasses
from typing import Callable, Dict

import keras

from stickerchat.models.pesrs import PESRS

# name -> ModelConfig overrides on top of the given config.
VARIANTS = {
    "srs": {"use_memory": False},
    "pesrs": {},
    "pesrs_no_classify": {"use_classify": False},
    "pesrs_no_din": {"use_din": False},
    "pesrs_no_fr": {"use_fusion_rnn": False},
    "pesrs_fr2t": {"fusion_rnn_type": "transformer"},
    "pesrs_no_upm": {"use_memory": False},
    "pesrs_no_tar": {"use_time_aware_rnn": False},
    "average_mem": {"memory": "average"},
    "weighted_mem": {"memory": "weighted"},
}

_REGISTRY: Dict[str, Callable] = {}
MODEL_NAMES = []


def register_model(name: str, builder: Callable, overrides=None):
    """Registers `builder(config, return_attention=False) -> keras.Model`.

    Args:
        name: str. The name for `build_model` and `--model`.
        builder: callable taking a `stickerchat.config.Config` and
            `return_attention`.
        overrides: optional dict of `ModelConfig` overrides the variant
            implies (returned by `resolve_model_config`).
    """
    if name in _REGISTRY:
        raise ValueError(f"Model '{name}' is already registered")
    _REGISTRY[name] = builder
    if overrides is not None:
        VARIANTS.setdefault(name, dict(overrides))
    MODEL_NAMES.append(name)


def resolve_model_config(name: str, config):
    """The `ModelConfig` that model `name` actually uses (with its overrides).

    The training task should read `use_classify` from here so that
    `pesrs_no_classify` trains without L_s.
    """
    return dataclasses.replace(config.model, **VARIANTS.get(name, {}))


def build_model(name: str, config, return_attention: bool = False) -> keras.Model:
    """Builds the registered model `name` for a `stickerchat.config.Config`."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model '{name}'; registered: {', '.join(MODEL_NAMES)}")
    return _REGISTRY[name](config, return_attention=return_attention)


def _pesrs_builder(overrides):
    def build(config, return_attention=False):
        variant = dataclasses.replace(config, model=dataclasses.replace(config.model, **overrides))
        return PESRS.from_stickerchat_config(variant, return_attention=return_attention)

    return build


for _name, _overrides in list(VARIANTS.items()):
    register_model(_name, _pesrs_builder(_overrides))

import stickerchat.models.baselines  # noqa: E402,F401  (registers the §6.2 / §7.8 baselines)
