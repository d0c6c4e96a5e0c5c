"""Draw a new model's initial weights with NumPy instead of compiled JAX kernels.

On JAX every weight shape's initializer (``jax.random.uniform`` / ``normal`` /
``truncated_normal``) is a separate XLA compilation: 0.2-0.35 s of CPU each, about 1.5 s for
a small tabular network before its first step, a third of a cold small fit. NumPy draws the
same distributions in microseconds. :func:`host_initializers` swaps Keras' JAX random
functions for NumPy ones while a model is built:

- the seed is still Keras' (the layer's ``seed`` or the global seed generator after
  ``keras.utils.set_random_seed``), so weights are reproducible with ``random_state``;
- inside a trace (a layer that draws noise in ``call``) the JAX function is used as before,
  so nothing random is frozen into a compiled step;
- other backends are left as they are (their initializers do not compile).

Constant ``zeros`` / ``ones`` initializers (biases, optimizer slots, metric totals) compile a
broadcast per shape too (about 0.02 s each, 0.17 s for a small MLP and its Adam state); within
the block they are NumPy arrays as well. They are constants, so nothing changes inside a trace.
So are variables made from a value (an optimizer's iteration counter and learning rate) and the
seed pair drawn from an integer seed: each was a compiled type conversion (0.01-0.04 s on a
fresh machine).

The weights differ from the ones stock Keras would draw for the same seed, from the same
distributions.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

_LOCK = threading.RLock()


def _host_rng(seed):
    """A NumPy generator from a drawn Keras seed (a concrete uint32[2] JAX array)."""
    return np.random.default_rng(np.asarray(seed).astype(np.uint32).tolist())


def _patched(jr):
    import jax

    from keras.src.backend import standardize_dtype
    from keras.src.backend.config import floatx

    originals = {"uniform": jr.uniform, "normal": jr.normal, "truncated_normal": jr.truncated_normal}

    def draw(seed):
        """Keras' seed as a uint32[2] array, and whether it is traced (then JAX must draw)."""
        if isinstance(seed, int) and not isinstance(seed, bool):  # Keras' [seed, 0], without a compiled conversion
            return np.array([seed & 0xFFFFFFFF, 0], dtype=np.uint32), False
        seed = jr.jax_draw_seed(seed)
        return seed, isinstance(seed, jax.core.Tracer)

    def as_key(drawn):
        """The drawn seed as JAX's random functions take it."""
        return _to_device(drawn) if isinstance(drawn, np.ndarray) else drawn

    def as_array(values, dtype):
        return _to_device(values.astype(standardize_dtype(dtype or floatx())))

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        drawn, traced = draw(seed)
        if traced or not _plain(minval, maxval):
            return originals["uniform"](shape, minval=minval, maxval=maxval, dtype=dtype, seed=as_key(drawn))
        return as_array(_host_rng(drawn).uniform(minval, maxval, size=tuple(shape)), dtype)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        drawn, traced = draw(seed)
        if traced or not _plain(mean, stddev):
            return originals["normal"](shape, mean=mean, stddev=stddev, dtype=dtype, seed=as_key(drawn))
        return as_array(_host_rng(drawn).normal(mean, stddev, size=tuple(shape)), dtype)

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        drawn, traced = draw(seed)
        if traced or not _plain(mean, stddev):
            return originals["truncated_normal"](shape, mean=mean, stddev=stddev, dtype=dtype, seed=as_key(drawn))
        # Keras truncates at two standard deviations: redraw the values outside.
        rng = _host_rng(drawn)
        values = rng.standard_normal(tuple(shape))
        outside = np.abs(values) > 2.0
        while outside.any():
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > 2.0
        return as_array(values * stddev + mean, dtype)

    return {"uniform": uniform, "normal": normal, "truncated_normal": truncated_normal}


def _plain(*values) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)


def _constant(fill):
    from keras.src.backend import standardize_dtype

    def __call__(self, shape, dtype=None):
        return _to_device(np.full(tuple(shape), fill, dtype=standardize_dtype(dtype)))

    return __call__


def _value_conversion(original):
    """``Variable._convert_to_tensor`` that puts a plain number or NumPy array on the device as it is."""
    import jax

    from keras.src.backend import standardize_dtype

    def _convert_to_tensor(self, value, dtype=None):
        if dtype is not None and isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
            wanted = jax.dtypes.canonicalize_dtype(standardize_dtype(dtype))
            return _to_device(np.asarray(value, dtype=wanted))
        return original(self, value, dtype)

    return _convert_to_tensor


def _to_device(values):
    """A JAX array of ``values``; ``device_put`` compiles nothing (``jnp.asarray`` compiles a copy per shape)."""
    import jax

    return jax.device_put(values)


@contextlib.contextmanager
def host_initializers():
    """Within the block, Keras' JAX random draws outside a trace, its zeros / ones initializers and
    variables made from a value run in NumPy (see module doc)."""
    import keras

    if keras.backend.backend() != "jax":
        yield
        return
    from keras.src.backend.jax import random as jr
    from keras.src.backend.jax.core import JaxVariable
    from keras.src.initializers.constant_initializers import Ones, Zeros

    with _LOCK:
        patches = [(jr, name, fn) for name, fn in _patched(jr).items()]
        patches += [(Zeros, "__call__", _constant(0)), (Ones, "__call__", _constant(1))]
        patches += [(JaxVariable, "_convert_to_tensor", _value_conversion(JaxVariable._convert_to_tensor))]
        saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]
        for owner, attr, fn in patches:
            setattr(owner, attr, fn)
        try:
            yield
        finally:
            for owner, attr, original in saved:
                setattr(owner, attr, original)
