"""Give memory back between fits, so that many fits in one process (tuning trials) stay flat."""

from __future__ import annotations

import ctypes
import gc
import sys

import keras

_libc = None


def _malloc_trim():
    """Return freed heap pages to the OS (glibc only); XLA's freed buffers otherwise stay mapped."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        _libc = False


def release_memory():
    """Clear Keras' global state and the backend's compilation caches, collect, trim the heap.

    ``keras.backend.clear_session`` alone is not enough on JAX: every fitted model leaves
    its jitted train / test / predict functions in JAX's caches (about 10-20 MB each for a
    small network), so RSS grows by that much per fit. Clearing JAX's caches costs a
    recompile of anything still in use, so call this between trials, not between batches.
    """
    keras.backend.clear_session(free_memory=False)
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()
    gc.collect()
    _malloc_trim()
