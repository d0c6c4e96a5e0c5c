"""Select the Keras backend before Keras is imported.

keraslearn defaults to JAX. Keras itself defaults to TensorFlow and, on first import,
writes ``~/.keras/keras.json`` with ``"backend": "tensorflow"``; we avoid leaving that
file behind so the user's other programs keep Keras' own behaviour.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

DEFAULT_BACKEND = "jax"
BACKENDS = ("jax", "torch", "tensorflow")


def _default_keras_dir() -> str:
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return os.path.join(base, ".keras")


def select_backend() -> str:
    """Set ``KERAS_BACKEND`` (JAX when unset) and import Keras without side effects.

    Returns the backend Keras runs on. Warns, with the fix, when Keras was imported
    earlier with a backend other than the requested one.
    """
    requested = os.environ.get("KERAS_BACKEND")
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        wanted = requested or DEFAULT_BACKEND
        if active != wanted:
            warnings.warn(
                f"keras was imported before keraslearn and runs on the {active!r} backend, "
                f"not {wanted!r}. keraslearn will use {active!r}. To use {wanted!r}, "
                f"set KERAS_BACKEND={wanted} before starting Python, or import keraslearn "
                "before keras.",
                UserWarning,
                stacklevel=3,
            )
        return active

    if not requested:
        os.environ["KERAS_BACKEND"] = DEFAULT_BACKEND
    if requested == "tensorflow":
        # TensorFlow's C++ start-up banner is not the user's problem.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    keras_dir = _default_keras_dir()
    config_path = os.path.join(keras_dir, "keras.json")
    if os.path.exists(config_path) or "KERAS_HOME" in os.environ:
        import keras
    else:
        # Keras would write a keras.json naming TensorFlow; let it write into a scratch
        # folder instead, then point its home back at the usual place for caches.
        with tempfile.TemporaryDirectory(prefix="keraslearn-") as scratch:
            os.environ["KERAS_HOME"] = scratch
            try:
                import keras
            finally:
                del os.environ["KERAS_HOME"]
        from keras.src.backend import config as _config

        _config._KERAS_DIR = keras_dir
    backend = keras.backend.backend()
    if backend != "tensorflow":
        _defer_tensorflow()
    return backend


# Keras modules that use TensorFlow, when installed, only to ask "is this a TensorFlow
# object?" or to seed TensorFlow's random generator.
_TF_CHECKING_MODULES = (
    "keras.src.saving.serialization_lib",
    "keras.src.utils.rng_utils",
    "keras.src.legacy.saving.json_utils",
)


class _ImportedTensorFlow:
    """Keras' lazy TensorFlow module, "available" only once TensorFlow has been imported."""

    def __init__(self, lazy):
        self._lazy = lazy

    @property
    def available(self):
        return "tensorflow" in sys.modules and self._lazy.available

    def __getattr__(self, name):
        return getattr(self._lazy, name)


def _defer_tensorflow() -> None:
    """Stop Keras importing TensorFlow on JAX/torch when TensorFlow merely is installed.

    Keras asks ``tf.available`` while serializing a model and in ``set_random_seed``;
    that imports TensorFlow (3-7 s, +450 MB) into every JAX or torch process that saves,
    pickles or seeds a model. Nothing can be a TensorFlow object, or need TensorFlow's
    seed, before TensorFlow is imported, so those modules get a view of the lazy module
    that answers "unavailable" until it is. Layers that need TensorFlow (StringLookup,
    TextVectorization, ...) keep Keras' own lazy module and still import it on use.
    """
    import importlib

    for name in _TF_CHECKING_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # Keras internals moved: keep Keras' behaviour
            continue
        lazy = getattr(module, "tf", None)
        if lazy is not None and type(lazy).__name__ == "LazyModule":
            module.tf = _ImportedTensorFlow(lazy)
