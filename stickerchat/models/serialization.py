"""The dtype policy in a model's config, as keras-hub's `Backbone` keeps it.

A functional model subclass rebuilds its layers in `from_config`; without the
policy in its config a `mixed_bfloat16` model would reload as float32 (every
layer takes the global policy at load time). `get_config` stores the policy
its layers compute in (`dtype_config`) and `from_config` rebuilds under it
(`from_config_with_policy`). A config without `dtype` (a file saved before
this) still loads, under the global policy.
"""

from __future__ import annotations

import keras


def model_policy(model):
    """The dtype policy most of a model's weighted leaf layers compute in.

    A functional model's own `dtype_policy` is the global policy at build
    time; its layers hold the one it was built with (`dtype=`), which is what
    a reload must reproduce. A few layers keep float32 on purpose (score
    heads); they take it again from their own constructors.
    """
    counts, policies = {}, {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not list(layer._flatten_layers(include_self=False, recursive=False)):
            name = layer.dtype_policy.name
            counts[name] = counts.get(name, 0) + 1
            policies.setdefault(name, layer.dtype_policy)
    if not counts:
        return model.dtype_policy
    return policies[max(counts, key=counts.get)]


def dtype_config(model) -> dict:
    """`{"dtype": <serialized policy>}` for a model's `get_config`."""
    return {"dtype": keras.dtype_policies.serialize(model_policy(model))}


def from_config_with_policy(cls, config: dict):
    """`cls(**config)` with a serialized `dtype` turned back into a policy, reported by the model too."""
    config = dict(config)
    policy = config.get("dtype")
    if isinstance(policy, (dict, str)):
        policy = config["dtype"] = keras.dtype_policies.get(policy)
    model = cls(**config)
    if policy is not None:
        model.dtype_policy = policy
    return model
