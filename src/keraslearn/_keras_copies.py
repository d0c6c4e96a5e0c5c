"""Copies of Keras loss objects that keep their arguments.

Keras (3.15) copies and pickles a loss through its config, and some configs leave an argument
out: ``Huber(delta=0.01)`` comes back with ``delta=1.0``, ``CosineSimilarity(axis=0)`` and
``SparseCategoricalCrossentropy(axis=0)`` with the default axis. scikit-learn's ``clone``
deep-copies a learner's parameters, so ``cross_validate``, ``GridSearchCV`` and learners pickled
to joblib's workers trained with the default instead of the user's value, on every backend.
Registered with :mod:`copyreg`, which ``copy.deepcopy`` and ``pickle`` consult before Keras'
``__reduce__``, a copy of such a loss is its class made from its config, with the keyword arguments
of the wrapped function restored. Only the Keras loss classes whose config drops one of them are
registered: pickles of the others stay Keras' own.
"""

from __future__ import annotations

import copyreg


def _rebuild(cls, config, fn_kwargs):
    loss = cls.from_config(config)
    loss._fn_kwargs = fn_kwargs
    return loss


def _reduce(loss):
    return _rebuild, (type(loss), loss.get_config(), dict(loss._fn_kwargs))


def _drops_arguments(cls) -> bool:
    """Whether the config of ``cls`` (made with its defaults) leaves out an argument of its function."""
    try:
        loss = cls()
        return any(name not in loss.get_config() for name in loss._fn_kwargs)
    except Exception:  # needs arguments, or is not what it seems: left to Keras
        return False


def keep_loss_arguments() -> None:
    """Register :func:`_reduce` for Keras' own function-wrapping loss classes whose config drops an argument."""
    from keras.src.losses.losses import LossFunctionWrapper

    classes = [LossFunctionWrapper]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.__module__.startswith("keras.") and cls not in copyreg.dispatch_table and _drops_arguments(cls):
            copyreg.pickle(cls, _reduce)
