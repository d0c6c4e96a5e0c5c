"""Warnings that Keras raises about itself: not the user's problem, so not shown to them.

Keras 3.15's variables (and on torch, torch's tensors) implement ``__array__`` without numpy 2's
``copy`` keyword, so numpy warns (a DeprecationWarning from inside Keras) whenever one becomes an
array, e.g. an optimizer's learning rate in ``get_config()``, or every epoch on torch. A user's test
suite would see it on every fit. keraslearn's calls into Keras' ``fit``/``predict`` (the callbacks,
a checkpoint's snapshots and image batches run inside them) and into configs run in this block.
"""

from __future__ import annotations

import contextlib
import warnings

ARRAY_COPY = "__array__ implementation doesn't accept a copy keyword"


@contextlib.contextmanager
def keras_warnings_ignored():
    """Within this block, Keras' own numpy-2 deprecation warning is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ARRAY_COPY, category=DeprecationWarning)
        yield
