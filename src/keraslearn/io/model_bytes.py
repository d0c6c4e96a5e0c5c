"""A Keras model as bytes of its ``.keras`` archive (for pickling and artifacts)."""

from __future__ import annotations

import os
import tempfile
import warnings

import keras

from keraslearn._tensorflow import no_tensorflow_import


def model_to_bytes(model) -> bytes:
    """The ``.keras`` archive of ``model`` without its optimizer's state.

    :func:`model_from_bytes` loads without compiling and every fit starts afresh, so Adam's
    moments (twice the weights) would only triple the file; the compile config stays.
    """
    optimizer = model.__dict__.get("optimizer")
    with tempfile.TemporaryDirectory(prefix="keraslearn-") as tmp:
        path = os.path.join(tmp, "model.keras")
        try:
            if optimizer is not None:  # bypasses Keras' attribute tracking: put back exactly as it was
                object.__setattr__(model, "optimizer", None)
            with warnings.catch_warnings(), no_tensorflow_import():
                warnings.simplefilter("ignore")
                model.save(path)
        except NotImplementedError as err:  # Keras' "Object Sub was created by passing non-serializable ..."
            name = type(model).__name__
            raise TypeError(
                f"The model ({name}) cannot be saved or pickled: Keras rebuilds a subclassed model from its "
                f"get_config(), and {name} has none for its __init__ arguments. Give it a get_config() returning "
                "them, and decorate it with @keras.saving.register_keras_serializable() (see "
                "docs/custom-architectures.md, Saving).") from err
        finally:
            if optimizer is not None:
                object.__setattr__(model, "optimizer", optimizer)
        with open(path, "rb") as f:
            return f.read()


def all_layers(model) -> list:
    """The model and every layer in it, nested ones included."""
    try:
        return list(model._flatten_layers(include_self=True, recursive=True))
    except (AttributeError, TypeError):  # another Keras layout: the top-level layers
        return [model, *model.layers]


def user_classes(model) -> dict:
    """``{name: class}`` of the model's own layer classes that are not Keras' (a user's layers).

    A pickle carries them by reference, so that an unpickled model finds them even when they
    are not registered with ``keras.saving.register_keras_serializable``.
    """
    out = {}
    for layer in all_layers(model):
        cls = type(layer)
        if not cls.__module__.startswith("keras."):
            out[cls.__name__] = cls
            out[keras.saving.get_registered_name(cls)] = cls
    return out


def model_from_bytes(data: bytes, safe_mode: bool = True, custom_objects: dict | None = None):
    """Load without compiling (prediction needs no optimizer), in Keras' safe mode by default.

    ``safe_mode=False`` is for pickles only: unpickling runs code anyway, and a model with a
    ``Lambda`` layer that pickled must unpickle. Artifacts are always read in safe mode.
    """
    with tempfile.TemporaryDirectory(prefix="keraslearn-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        with warnings.catch_warnings(), no_tensorflow_import():
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, custom_objects=custom_objects, compile=False, safe_mode=safe_mode)
