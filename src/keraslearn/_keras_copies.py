"""Copies of Keras loss objects that keep their arguments.

Keras (3.15) copies and pickles a loss through its config, and some configs leave an argument
out: ``Huber(delta=0.01)`` comes back with ``delta=1.0``, ``CosineSimilarity(axis=0)`` and
``SparseCategoricalCrossentropy(axis=0)`` with the default axis. scikit-learn's ``clone``
deep-copies a learner's parameters, so ``cross_validate``, ``GridSearchCV`` and learners pickled
to joblib's workers trained with the default instead of the user's value, on every backend.
Registered with :mod:`copyreg`, which ``copy.deepcopy`` and ``pickle`` consult before Keras'
``__reduce__``, a copy of a Keras loss that wraps a function is its class made from its config,
with the keyword arguments of the wrapped function restored.
"""

from __future__ import annotations

import copyreg


def _rebuild(cls, config, fn_kwargs):
    loss = cls.from_config(config)
    loss._fn_kwargs = fn_kwargs
    return loss


def _reduce(loss):
    return _rebuild, (type(loss), loss.get_config(), dict(loss._fn_kwargs))


def keep_loss_arguments() -> None:
    """Register :func:`_reduce` for Keras' own loss classes that wrap a function."""
    from keras.src.losses.losses import LossFunctionWrapper

    classes = [LossFunctionWrapper]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.__module__.startswith("keras.") and cls not in copyreg.dispatch_table:
            copyreg.pickle(cls, _reduce)
