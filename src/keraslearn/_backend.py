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


def _defer_tensorflow() -> None:
    """Stop Keras importing TensorFlow on JAX/torch when TensorFlow merely is installed.

    Keras asks ``tf.available`` while serializing a model and in ``set_random_seed``;
    that imports TensorFlow (3-7 s, +450 MB) into every JAX or torch process that saves,
    pickles or seeds a model. Nothing can be a TensorFlow object, or need TensorFlow's
    seed, before TensorFlow is imported, so we answer "unavailable" until it is. Code
    that uses TensorFlow itself (e.g. exporting a SavedModel) still imports it on use.
    """
    try:
        from keras.src.utils import module_utils

        lazy = module_utils.tensorflow
        base = type(lazy)
    except (ImportError, AttributeError):  # Keras internals moved: keep Keras' behaviour
        return
    if getattr(base, "_keraslearn_deferred", False):
        return

    class _DeferredTensorFlow(base):
        _keraslearn_deferred = True

        @property
        def available(self):
            if self._available is None and "tensorflow" not in sys.modules:
                return False
            return base.available.fget(self)

    lazy.__class__ = _DeferredTensorFlow
