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
def loggers_quieted(names):
    """Raise these loggers to ERROR (or keep a higher level) for a block, then restore their levels."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, levels):
        logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def keras_warnings_ignored():
    """Within this block, Keras' own numpy-2 deprecation warning is not shown."""
    # On the TensorFlow backend, tf.function logs "triggered tf.function retracing" warnings when
    # fits of new shapes follow each other (every CV or tuning loop): TensorFlow's, not the user's.
    # Only when TensorFlow is loaded: setting a level clears logging's caches, on every call.
    quiet = ("tensorflow",) if "tensorflow" in sys.modules else ()
    with warnings.catch_warnings(), loggers_quieted(quiet):
        warnings.filterwarnings("ignore", message=ARRAY_COPY, category=DeprecationWarning)
        yield
