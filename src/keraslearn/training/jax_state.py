"""Keras' per-epoch state hand-over on JAX, with the variable lists found once per fit.

A Keras JAX ``fit`` collects every variable's value before each epoch and each validation
(``_get_jax_state``), detaches them (``_purge_model_variables``) and writes them back after
(``jax_state_sync``). Each of these walks the whole layer tree again to list the variables,
and each write-back goes through ``Variable.assign``'s conversions and checks. TabNet has
about 240 variables with its optimizer's: about 4 ms a validated epoch of Python, a tenth of the
epoch. Within :func:`lean_state` the lists are taken once, and values that Keras' own
compiled steps returned (right shape and dtype by construction) are attached directly.

Keras also re-reads every metric eagerly after each epoch and validation
(``_get_metrics_result_or_logs``): a few small XLA kernels compiled in each new process and
a dispatch per metric and epoch. With Keras' own ``train_step`` / ``test_step`` the logs the
step returned are those same results, computed in the compiled step from the same metric
variables, so they are used as they are. A model with its own step keeps Keras' path.

Two more per-epoch costs go the same way: the ``_jax_state`` dict Keras sets after every
compiled call is no longer wrapped by Keras' attribute tracking (:class:`_StateTracker`), and
``get_weights`` (early stopping's snapshot on every improving epoch) copies the held arrays
of a once-listed ``model.weights`` instead of walking the layers again.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

_KINDS = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")
_KIND_SET = frozenset(_KINDS)


def _lists(model):
    optimizer = getattr(model, "optimizer", None)
    return {
        "trainable_variables": list(model.trainable_variables),
        "non_trainable_variables": list(model.non_trainable_variables),
        "optimizer_variables": list(optimizer.variables) if optimizer is not None else [],
        "metrics_variables": list(model.metrics_variables),
        "weights": list(model.weights),  # get_weights' order: layer by layer
    }


def _held(v):
    # ``Variable.value`` without its scope checks: between epochs no stateless or autocast
    # scope is open (Keras enters them inside a layer call), so it is the held array.
    value = v._value
    return v.value if value is None else value


class _StateTracker:
    """The model's Keras tracker, except that the per-step ``_jax_state`` dict passes untracked.

    Keras' JAX fit and evaluate set ``model._jax_state = {kind: [arrays]}`` after every
    compiled call; ``Layer.__setattr__`` then wraps the dict and lists in tracked containers
    and tests every array against each kind of trackable object: 0.38 ms a call, twice an
    epoch, for TabNet's 240 arrays. Arrays are never trackable, so nothing is lost.
    """

    def __init__(self, tracker):
        self._inner = tracker

    def track(self, attr):
        if isinstance(attr, dict) and attr and attr.keys() <= _KIND_SET:
            return attr
        return self._inner.track(attr)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _keras_steps(model) -> bool:
    from keras.src.backend.jax.trainer import JAXTrainer

    cls = type(model)
    return cls.train_step is JAXTrainer.train_step and cls.test_step is JAXTrainer.test_step


def _lean_methods(model):
    lists = {}  # filled on first use: after fit has built the metrics and the optimizer

    def variables(kind):
        if not lists:
            lists.update(_lists(model))
        return lists[kind]

    def chosen(*flags):
        return [kind for kind, on in zip(_KINDS, flags) if on]

    def detach(kinds):
        for kind in kinds:
            for v in variables(kind):
                v._value = None

    def get_jax_state(trainable_variables=False, non_trainable_variables=False, optimizer_variables=False,
                      metrics_variables=False, purge_model_variables=False):
        kinds = chosen(trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables)
        state = tuple([_held(v) for v in variables(kind)] for kind in kinds)
        if purge_model_variables:
            detach(kinds)
        return state

    def purge(trainable_variables=False, non_trainable_variables=False, optimizer_variables=False,
              metrics_variables=False):
        detach(chosen(trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables))

    def state_sync():
        state = getattr(model, "_jax_state", None)
        if not state or model._jax_state_synced:
            return
        for kind in _KINDS:
            values = state.get(kind)
            if values:
                for ref, value in zip(variables(kind), values):
                    ref._direct_assign(value)
        model._jax_state_synced = True

    def get_weights():
        # Keras' get_weights walks the layer tree and converts each variable through its checks;
        # early stopping calls it on every improving epoch. Same arrays, same order.
        return [np.array(_held(v)) for v in variables("weights")]

    methods = {"_get_jax_state": get_jax_state, "_purge_model_variables": purge, "jax_state_sync": state_sync,
               "get_weights": get_weights}
    if _keras_steps(model):
        methods["_get_metrics_result_or_logs"] = lambda logs: logs
    return methods


@contextlib.contextmanager
def lean_state(model):
    """Within the block, ``model``'s Keras JAX fit hands its state over without re-listing (see module doc).

    Nothing changes on other backends, under a ``keras.distribution`` (values are laid out
    on devices by ``assign``), or for variables with NNX hooks.
    """
    if (
        keras.backend.backend() != "jax"
        or keras.distribution.distribution() is not None
        or keras.config.is_nnx_enabled()
    ):
        yield
        return
    methods = _lean_methods(model)
    for name, fn in methods.items():
        object.__setattr__(model, name, fn)  # instance attributes, outside Keras' tracking
    tracker = model.__dict__.get("_tracker")
    if tracker is not None:
        object.__setattr__(model, "_tracker", _StateTracker(tracker))
    try:
        yield
    finally:
        for name in methods:
            try:
                object.__delattr__(model, name)
            except AttributeError:
                pass
        if tracker is not None:
            object.__setattr__(model, "_tracker", tracker)


@contextlib.contextmanager
def variables_kept_on_error(model):
    """Give ``model`` its variables back if Keras' JAX ``predict`` or ``fit`` raises midway.

    Keras detaches every variable's value before its first compiled call and writes the
    values back only when the loop ends. Data that fails while the loop pulls it (an image
    file cut short) would leave the model without weights. JAX arrays are immutable, so
    holding the current values costs no copy.
    """
    if keras.backend.backend() != "jax":
        yield
        return
    held = [(v, v.value) for v in model.variables]
    try:
        yield
    except BaseException:
        for v, value in held:
            if v._value is None:  # detached by Keras and never written back
                v._value = value
        model._jax_state_synced = True
        raise
