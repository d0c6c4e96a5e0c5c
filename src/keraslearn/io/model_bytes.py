"""A Keras model as bytes of its ``.keras`` archive (for pickling and artifacts)."""

from __future__ import annotations

import os
import tempfile
import warnings

import keras

from keraslearn._tensorflow import no_tensorflow_import


def model_to_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="keraslearn-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with warnings.catch_warnings(), no_tensorflow_import():
            warnings.simplefilter("ignore")
            model.save(path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(data: bytes):
    """Load without compiling (prediction needs no optimizer) and in Keras' safe mode."""
    with tempfile.TemporaryDirectory(prefix="keraslearn-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        with warnings.catch_warnings(), no_tensorflow_import():
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, compile=False, safe_mode=True)
