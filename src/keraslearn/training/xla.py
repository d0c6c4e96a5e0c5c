"""XLA compiler options a learner family asks for: ``jax.jit(compiler_options=...)``, checked once.

XLA's CPU compiler (jaxlib 0.10) hands every dot *and every reduction* to the YNNPACK
library by default. Each library reduction is a call of its own that XLA no longer fuses
with the element-wise work around it. Models with many small reductions pay for that: a
TabNet train step has about 190 of them (ghost batch-norm statistics over 128-row chunks,
the sparsemax bisection, gradient sums), and its epoch on churn took 43 ms of CPU instead of
36 ms. :data:`FUSED_REDUCTIONS` keeps YNNPACK for the dots only. It is not the default for
every learner: MLP, ResNet, RealMLP, FT-Transformer and TabM steps ran no faster with it,
and a new MLP structure compiled 3-7% longer.

:data:`QUICK_COMPILE` trades step speed for compile time: XLA's older loop emitters instead of
its MLIR fusion emitters. An MLP's train step (256-128, Adam) then compiles in half the time
(1.28 → 0.65 s on one core) and each step runs 0.075-0.13 ms (8-13%) slower, so it pays off for
fits of up to about 4000-8000 steps when nothing is cached yet. The MLP families use it for
short fits' train and test steps only (see ``training.compiled.SHORT_FIT_STEPS``); results were
bitwise equal. SMLP2, ResNet, RealMLP, FT-Transformer, TabM and TabNet compiled no faster or ran much
slower with it.

A learner class names its options in ``_compiler_options``; they go to its compiled train,
test and predict functions only, so other JAX code in the process is left as it is. An
``XLA_FLAGS`` that sets an option itself wins, and options that this jaxlib rejects are
dropped (plain ``jax.jit``).
"""

from __future__ import annotations

import contextlib
import os
import threading

#: YNNPACK for dots only: reductions stay inside XLA's own fused kernels (on the CPU backend).
FUSED_REDUCTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}

#: XLA's older loop emitters (CPU backend): about half the compile time, slightly slower steps.
QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False}

_LOCK = threading.Lock()
_PATCH_LOCK = threading.Lock()
_checked: dict = {}  # frozenset of wanted (name, value) pairs -> the usable options


def usable(options) -> dict:
    """The part of ``options`` to pass on: ``{}`` off the CPU backend or when XLA rejects them."""
    if not options:
        return {}
    key = frozenset(options.items())
    with _LOCK:
        if key not in _checked:
            _checked[key] = _check(options)
        return _checked[key]


def _check(options: dict) -> dict:
    import jax

    flags = os.environ.get("XLA_FLAGS", "")
    options = {k: v for k, v in options.items() if k not in flags}
    if not options or jax.default_backend() != "cpu":
        return {}
    try:  # one tiny compilation: an older jaxlib rejects the argument or the option
        jax.jit(lambda x: x + 1, compiler_options=options).lower(0.0).compile()
    except Exception:
        return {}
    return options


def jit(fun, options=None, **kwargs):
    """``jax.jit(fun, **kwargs)`` with the :func:`usable` part of ``options``."""
    import jax

    options = usable(options)
    return jax.jit(fun, compiler_options=options, **kwargs) if options else jax.jit(fun, **kwargs)


def keras_jit_functions(model, options=None, test_options=None, steps=None):
    """Make ``model``'s Keras test and predict functions, compiled with ``options``; returns what each
    compiled ``(test, predict)``, or None where Keras' JAX trainer jits its own way (Flax NNX).

    The test function compiles with ``test_options`` when given. Keras builds both with
    ``jit`` from its JAX trainer module; for these calls that name compiles with the options,
    so everything else (sharding, step grouping) stays Keras'. ``steps``: what this returned for
    an equal model, run instead of compiling this model's own. Keras' loop around them is made on
    this model, and reads *its* ``steps_per_execution`` at every call (sharing the loop made on the
    other model made every model's batches per call follow that one's setting).
    """
    test_steps, predict_steps = steps or ((), ())
    made_test, made_predict = [], []
    with _keras_jit_using(usable(options if test_options is None else test_options), made_test, test_steps):
        model.make_test_function()
    with _keras_jit_using(usable(options), made_predict, predict_steps):
        model.make_predict_function()  # its step, then (several steps per call) the join of their outputs
    return (tuple(made_test), tuple(made_predict)) if made_test and made_predict else None


@contextlib.contextmanager
def _keras_jit_using(options, made, reuse=()):
    """Within: Keras' JAX trainer jits with ``options``, or hands out ``reuse``'s functions in the order it
    asks for them (Keras 3.13-3.15: the test step; the predict step, then its outputs' join); each one
    handed out is noted in ``made``. Only for this thread: the patched name is global."""
    import jax
    from keras.src.backend.jax import trainer as jax_trainer

    if getattr(jax_trainer, "jit", None) is not jax.jit:  # e.g. Flax NNX's jit: Keras' own way
        yield
        return

    mine = threading.get_ident()

    def keras_jit(fun, **kwargs):
        if threading.get_ident() != mine:  # another thread's Keras making its own functions meanwhile
            return jax.jit(fun, **kwargs)
        step = reuse[len(made)] if len(made) < len(reuse) else jit(fun, options, **kwargs)
        made.append(step)
        return step

    with _PATCH_LOCK:
        jax_trainer.jit = keras_jit
        try:
            yield
        finally:
            jax_trainer.jit = jax.jit
