"""How keraslearn asks XLA to compile on CPU: ``jax.jit`` with options that suit tabular models.

XLA's CPU compiler (jaxlib 0.10) hands every dot *and every reduction* to the YNNPACK
library by default. Each library reduction is a call of its own that XLA no longer fuses
with the element-wise work around it. Small models with many small reductions pay for
that: a TabNet train step has about 190 of them (ghost batch-norm statistics over 128-row
chunks, gradient sums over rows), and on one core its epoch took 45 ms instead of 33 ms.
keraslearn's compiled steps keep YNNPACK for the dots only; MLP, ResNet, RealMLP,
FT-Transformer and TabM epochs and predictions were unchanged by it (within noise).

The option is per compiled function (``jax.jit(compiler_options=...)``), so JAX code of the
user's own outside keraslearn is left as it is. An ``XLA_FLAGS`` that sets the option
itself wins, and a jaxlib that does not know the option gets no options at all.
"""

from __future__ import annotations

import os
import threading

#: XLA debug options for keraslearn's jitted functions on the CPU backend.
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}

_LOCK = threading.Lock()
_PATCH_LOCK = threading.Lock()
_state: dict = {}


def compiler_options() -> dict:
    """The options for this process: :data:`CPU_OPTIONS` on a CPU backend that accepts them, else ``{}``."""
    with _LOCK:
        if "options" not in _state:
            _state["options"] = _supported_options()
        return _state["options"]


def _supported_options() -> dict:
    import jax

    flags = os.environ.get("XLA_FLAGS", "")
    options = {k: v for k, v in CPU_OPTIONS.items() if k not in flags}
    if not options or jax.default_backend() != "cpu":
        return {}
    try:  # one tiny compilation: an older jaxlib rejects the argument or the option
        jax.jit(lambda x: x + 1, compiler_options=options).lower(0.0).compile()
    except Exception:
        return {}
    return options


def jit(fun, **kwargs):
    """``jax.jit(fun, **kwargs)`` with :func:`compiler_options`."""
    import jax

    options = compiler_options()
    return jax.jit(fun, compiler_options=options, **kwargs) if options else jax.jit(fun, **kwargs)


def keras_jit_functions(model) -> None:
    """Make ``model``'s Keras test and predict functions, compiled with :func:`compiler_options`.

    Keras builds them with ``jit`` from its JAX trainer module; for these two calls that
    name is this module's :func:`jit`, so everything else (sharding, step grouping) stays Keras'.
    """
    import jax
    from keras.src.backend.jax import trainer as jax_trainer

    if getattr(jax_trainer, "jit", None) is not jax.jit or not compiler_options():  # e.g. Flax NNX's jit
        model.make_test_function()
        model.make_predict_function()
        return
    with _PATCH_LOCK:
        jax_trainer.jit = jit
        try:
            model.make_test_function()
            model.make_predict_function()
        finally:
            jax_trainer.jit = jax.jit
