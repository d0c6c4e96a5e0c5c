"""Keep Keras from importing TensorFlow when nothing in the process uses it.

Keras' serialization asks ``isinstance(obj, tf.TensorShape)`` (and similar) and, to ask,
imports TensorFlow whenever it is installed: seconds of start-up and hundreds of MB of
memory on the first ``get_config``, ``save`` or ``load_model``. When TensorFlow is neither
the backend nor imported, no TensorFlow object can exist, so answering "not available"
changes nothing.
"""

from __future__ import annotations

import contextlib
import sys

import keras


@contextlib.contextmanager
def no_tensorflow_import():
    """Within this block, Keras treats TensorFlow as absent unless it is in use."""
    try:
        from keras.src.utils.module_utils import tensorflow as lazy_tf
    except ImportError:  # a Keras without this internal: nothing to do
        yield
        return
    skip = (
        keras.backend.backend() != "tensorflow"
        and "tensorflow" not in sys.modules
        and getattr(lazy_tf, "_available", True) is None
    )
    if skip:
        lazy_tf._available = False
    try:
        yield
    finally:
        if skip and lazy_tf._available is False:
            lazy_tf._available = None
