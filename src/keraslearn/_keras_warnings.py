"""Warnings that Keras raises about itself: not the user's problem, so not shown to them.

Keras 3.15's variables (and on torch, torch's tensors) implement ``__array__`` without numpy 2's
``copy`` keyword, so numpy warns (a DeprecationWarning from inside Keras) whenever one becomes an
array, e.g. an optimizer's learning rate in ``get_config()``, or every epoch on torch. A user's test
suite would see it on every fit. keraslearn's calls into Keras' ``fit``/``predict`` (the callbacks,
a checkpoint's snapshots and image batches run inside them) and into configs run in this block.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings

ARRAY_COPY = "__array__ implementation doesn't accept a copy keyword"


@contextlib.contextmanager
def keras_warnings_ignored():
    """Within this block, Keras' own numpy-2 deprecation warning is not shown."""
    # On the TensorFlow backend, tf.function logs "triggered tf.function retracing" warnings when
    # fits of new shapes follow each other (every CV or tuning loop): TensorFlow's, not the user's.
    tf_logger = logging.getLogger("tensorflow") if "tensorflow" in sys.modules else None
    level = tf_logger.level if tf_logger is not None else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ARRAY_COPY, category=DeprecationWarning)
        if tf_logger is not None:
            tf_logger.setLevel(max(level, logging.ERROR))
        try:
            yield
        finally:
            if tf_logger is not None:
                tf_logger.setLevel(level)
