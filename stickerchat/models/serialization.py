"""Model and layer configs: derived from the constructor, with the dtype policy.

`ConfigFromInit` gives a class a `get_config` that returns the arguments it
was constructed with (bound to its `__init__` signature, defaults included),
so no class lists its fields a second time.

A functional model subclass rebuilds its layers in `from_config`; without the
policy in its config a `mixed_bfloat16` model would reload as float32 (every
layer takes the global policy at load time). As keras-hub's `Backbone` does,
`get_config` stores the policy its layers compute in (`dtype_config`) and
`from_config` rebuilds under it (`from_config_with_policy`). A config without
`dtype` (a file saved before this) still loads, under the global policy.
"""

from __future__ import annotations

import inspect

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


# Constructor arguments a model's or layer's base config already holds.
_BASE_KEYS = ("self", "name", "dtype", "trainable")


class ConfigFromInit:
    """`get_config` from the arguments the object was constructed with.

    Mixed in before `keras.Model` or `keras.layers.Layer`. `__new__` binds
    the call's arguments to the class's `__init__` signature, defaults
    included (as Keras's own auto-config does, but also for arguments that
    are Keras objects or dtype policies), so a subclass never lists its
    fields twice. `get_config` returns them, plus `name` and `trainable`
    and, for a model, the `dtype` policy its layers compute in
    (`dtype_config`), so a `mixed_bfloat16` model reloads under its policy.
    An argument stored on the object as a Keras layer of the same name (a
    ranker's `matcher`) is serialized from that attribute.

    `store_arguments` sets declared constructor arguments as attributes,
    each cast to its declared type.
    """

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls, *args, **kwargs)
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:  # Keras's own `cls.__new__(cls)` probes, never initialised
            return instance
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name, parameter in signature.parameters.items():
            if parameter.kind == inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
        vars(instance)["_init_arguments"] = {k: v for k, v in arguments.items() if k not in _BASE_KEYS}
        return instance

    def store_arguments(self, **types):
        """Sets `self.<name> = cast(<the name argument>)` for every `name=cast` of `types`.

        For a `__init__` whose arguments are plain sizes and rates: the
        arguments come from the call as bound in `__new__` (defaults
        included), and `get_config` returns the cast values, as the
        attributes hold them.
        """
        for name, cast in types.items():
            value = cast(self._init_arguments[name])
            self._init_arguments[name] = value
            setattr(self, name, value)

    def get_config(self):
        if isinstance(self, keras.Model):
            config = {"name": self.name, "trainable": self.trainable}
            config.update(dtype_config(self))
        else:
            config = super().get_config()
        for key, value in self._init_arguments.items():
            attribute = getattr(self, key, None)
            if isinstance(attribute, keras.layers.Layer):
                value = keras.saving.serialize_keras_object(attribute)
            config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        if issubclass(cls, keras.Model):
            return from_config_with_policy(cls, config)
        return super().from_config(config)
