"""Give memory back between fits, so that many fits in one process (tuning trials) stay flat."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading

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


#: JAX's compilation caches are cleared once RSS has grown this much since the last clear.
#: Fits whose networks share a structure reuse one set of compiled steps
#: (:mod:`keraslearn.training.compiled`) and add nothing; each new structure leaves ~10-20 MB
#: of executables behind. Clearing on every call would make every trial compile again.
CLEAR_AFTER_GROWTH_MB = 64
_baseline = {"rss_mb": None}


def _rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):  # not Linux: no cheap RSS reading
        return None


#: Keras' global random state: ``keras.utils.set_random_seed``'s seed and the generator of ``keras.random``.
KERAS_RANDOM = ("global_random_seed", "global_seed_generator")
#: Keras' global state that a user sets (``keras.config.set_dtype_policy``, the mixed-precision policy;
#: ``keras.utils.set_random_seed`` and the ``keras.random`` stream it starts): ``clear_session`` resets it
#: with the state it frees.
_USER_SETTINGS = ("dtype_policy", *KERAS_RANDOM)
# Keras' floatx at this thread's last clear_session (Keras' dtype policy is per thread), else at import.
_floatx_seen = threading.local()
_FLOATX_AT_IMPORT = keras.config.floatx()


def clear_session():
    """``keras.backend.clear_session(free_memory=False)`` for the calling thread, keeping the global settings
    the user made: a fit built in float32 under the user's mixed-precision policy and left it reset, silently.

    Keras' own replaces its thread-local state with a new one, emptying every thread's: a fit running in
    another thread (``joblib.parallel_backend("threading")``, Optuna's ``n_jobs``) lost the scope its step was
    being traced in, and failed with "'NoneType' object is not callable". Only this thread's is emptied
    here; the backends' own caches are reset as Keras resets them (a user model compiled with
    ``jit_compile=True`` on torch goes through torch.compile)."""
    from keras.src.backend.common import global_state

    kept = {name: global_state.get_global_attribute(name) for name in _USER_SETTINGS}
    policy, floatx = kept["dtype_policy"], keras.config.floatx()
    before = getattr(_floatx_seen, "floatx", _FLOATX_AT_IMPORT)
    if policy is not None and floatx != before and policy.name == before:
        # The plain policy of the floatx before keras.config.set_floatx changed it: the one Keras' getter cached
        # (a policy the user set is kept); dropped, so the next build takes the new floatx, as after Keras' own
        # clear_session.
        kept["dtype_policy"] = None
    _floatx_seen.floatx = floatx
    vars(global_state.GLOBAL_STATE_TRACKER).clear()  # a threading.local: this thread's attributes
    for name, value in kept.items():
        if value is not None:
            global_state.set_global_attribute(name, value)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.compat.v1.reset_default_graph()
        if tf.executing_eagerly():
            from tensorflow.python.eager import context

            context.context().clear_kernel_cache()
    elif backend == "torch":
        import torch._dynamo

        torch._dynamo.reset()


def release_memory(force: bool = False):
    """Clear Keras' global state, collect, trim the heap; clear JAX's caches when they have grown.

    ``keras.backend.clear_session`` alone is not enough on JAX: every newly compiled network
    leaves its jitted train / test / predict functions in JAX's caches (about 10-20 MB each
    for a small network). Those caches (and keraslearn's shared compiled steps) are cleared
    once RSS has grown by :data:`CLEAR_AFTER_GROWTH_MB` since the last clear, or always with
    ``force=True`` (or where RSS cannot be read). Clearing costs a recompile of anything
    still in use, so call this between trials, not between batches.
    """
    clear_session()
    gc.collect()
    if keras.backend.backend() == "jax":
        rss = _rss_mb()
        if force or rss is None or _grown(rss, CLEAR_AFTER_GROWTH_MB):
            _clear_jax_caches()
            return
    _malloc_trim()


def _grown(rss: float, limit_mb: float) -> bool:
    """Whether RSS has grown by more than ``limit_mb`` since the last clear; the first reading (the first
    trial's or fit's compiled steps) is the baseline."""
    if _baseline["rss_mb"] is None:
        _baseline["rss_mb"] = rss
        return False
    return rss - _baseline["rss_mb"] > limit_mb


#: After any fit (outside tuning too), JAX's caches are cleared once RSS has grown this much since the
#: last clear (or the first fit): a process that fits networks of ever new shapes (a notebook, a grid over
#: layer sizes, a service) keeps 0.3-3 MB of JAX's traces per shape, with no plateau in 300 fits. Larger
#: than :data:`CLEAR_AFTER_GROWTH_MB`: fits of several families in turn hold their templates for good.
FIT_CLEAR_AFTER_GROWTH_MB = 256


def release_if_grown():
    """At the end of a fit on JAX: :func:`release_memory`'s clearing of JAX's caches (and keraslearn's shared
    compiled steps) once RSS has grown by :data:`FIT_CLEAR_AFTER_GROWTH_MB`; else nothing but reading RSS."""
    if keras.backend.backend() != "jax":
        return
    rss = _rss_mb()
    if rss is not None and _grown(rss, FIT_CLEAR_AFTER_GROWTH_MB):  # no cheap reading: left to release_memory
        _clear_jax_caches()


def _clear_jax_caches():
    import jax

    from keraslearn.training import compiled

    compiled.clear()
    jax.clear_caches()
    gc.collect()
    _malloc_trim()
    _baseline["rss_mb"] = _rss_mb()
