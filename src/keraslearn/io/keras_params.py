"""Keras objects given as learner parameters (an optimizer, a loss, a schedule, a layer) as JSON and back.

An object is written only when its config rebuilds it exactly, in Keras' safe mode: Keras' own
classes, or classes registered with ``keras.saving.register_keras_serializable``. Loading then
runs no code from the file; anything else is left out (with the save's warning) rather than
rebuilt differently.
"""

from __future__ import annotations

import json

from keraslearn._keras_warnings import keras_warnings_ignored

KEY = "__keras__"


def _plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _same(a, b) -> bool:
    """The rebuilt object holds the plain settings of the original (a wrapped loss's ``delta``, ...)."""
    if type(a) is not type(b):
        return False
    mine, theirs = vars(a), vars(b)
    return all(k in theirs and theirs[k] == v for k, v in mine.items() if _plain(v))


def _public_module(config: dict) -> dict:
    """A backend's own optimizer class (torch's ``TorchAdamW``) named by its public one, which every backend builds."""
    import keras

    module = str(config.get("module", ""))
    if module.startswith("keras.src.backend.") and hasattr(keras.optimizers, str(config.get("class_name"))):
        config = {**config, "module": "keras.optimizers", "registered_name": None}
    return config


def to_json(value) -> dict | None:
    """``{KEY: config}`` for a Keras object that its config rebuilds exactly; None for anything else."""
    import keras

    if not isinstance(value, (keras.optimizers.Optimizer, keras.losses.Loss,
                              keras.optimizers.schedules.LearningRateSchedule, keras.layers.Layer)):
        return None
    try:
        with keras_warnings_ignored():
            config = _public_module(keras.saving.serialize_keras_object(value))
            # A loss made from a function keeps the function's settings (Huber's delta) out of its
            # config; its constructor takes them back.
            settings = getattr(value, "_fn_kwargs", None)
            if isinstance(settings, dict) and isinstance(config.get("config"), dict):
                config["config"] = {**{k: v for k, v in settings.items() if _plain(v)}, **config["config"]}
            text = json.dumps(config)
            # from_config may change the config it is given (an optimizer's schedule): rebuild from a copy
            if not _same(value, keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)):
                return None
    except Exception:  # a wrapped user function, an unregistered class, a value JSON cannot hold
        return None
    return {KEY: json.loads(text)}


def is_keras_json(value) -> bool:
    return isinstance(value, dict) and set(value) == {KEY}


def from_json(value):
    """The Keras object of :func:`to_json`'s output (raises if its class is not registered here)."""
    import keras

    with keras_warnings_ignored():
        return keras.saving.deserialize_keras_object(value[KEY], safe_mode=True)


def activation_name(value) -> str | None:
    """The name of one of Keras' activation functions (``keras.activations.gelu`` → "gelu"), else None."""
    import keras

    if not callable(value) or isinstance(value, type):
        return None
    try:
        name = keras.activations.serialize(value)
        return name if isinstance(name, str) and keras.activations.get(name) is value else None
    except Exception:  # a user's function: no Keras name
        return None
