"""Checks of learner parameters: numbers, layer widths, choices, and the training parameters
every learner shares. They run in ``fit`` (scikit-learn's contract), before any model is built."""

from __future__ import annotations

import inspect
import math
import numbers

import keras
import numpy as np

from keraslearn._backend import check_trainable
from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn._user_warnings import warn_user
from keraslearn.architectures.numeric_embeddings import NUMERIC_EMBEDDINGS
from keraslearn.training.host_init import host_initializers

#: Parameters given by name, checked before a model is built: (parameter, Keras getter, examples).
_NAMED = (
    ("optimizer", keras.optimizers.get,
     "'adam', 'adamw', 'sgd', 'rmsprop', 'nadam', or a keras.optimizers.Optimizer instance"),
    ("loss", keras.losses.get,
     "'mse', 'mae', 'huber', 'binary_crossentropy', 'sparse_categorical_crossentropy', a keras.losses.Loss or None"),
)


# scikit-learn's MLP names for what Keras calls otherwise.
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid", "identity": "linear"}
_SKLEARN_SCHEDULES = {
    "constant": "the rate stays constant by default",
    "adaptive": "for scikit-learn's 'adaptive' (divide the rate when the loss stops falling) add "
                "callbacks=[keras.callbacks.ReduceLROnPlateau(factor=0.2, patience=2)]",
    "invscaling": "for a decaying rate give the optimizer a schedule: optimizer=keras.optimizers.Adam("
                  "keras.optimizers.schedules.InverseTimeDecay(1e-3, decay_steps=100, decay_rate=0.5)), "
                  "learning_rate=None",
}


def check_number(name, value, *, low=None, high=None, integer=False, low_open=False, high_open=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}.")
    if not isinstance(value, numbers.Integral) and not math.isfinite(value):  # NaN passes every comparison below
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}.")


#: Parameters that give layer widths (see :func:`as_widths`).
WIDTHS = ("layer_units", "hidden_sizes")


def as_widths(value):
    """Layer widths as given, an int being one layer (as scikit-learn's ``hidden_layer_sizes=8``)."""
    return (value,) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def check_widths(name, value, example):
    """Layer widths: a sequence (possibly empty) of positive ints, or one positive int."""
    widths = as_widths(value)
    # A set or dict has no order of layers (a set of {8, 64, 3} trained 8-3-64).
    if widths is None or isinstance(widths, (numbers.Number, str, set, frozenset, dict)) or not all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in widths
    ):
        raise ValueError(f"{name} must be a sequence of positive ints, e.g. {example}, or one positive int "
                         f"(one layer); got {value!r}.")


def optimizer_rate(optimizer):
    """The learning rate an optimizer brings: an instance's own, Keras' default for a name; None for a schedule."""
    with host_initializers(), keras_warnings_ignored():  # an optimizer made only to read its rate
        opt = keras.optimizers.get(optimizer) if isinstance(optimizer, str) else optimizer
        rate = opt.get_config().get("learning_rate")
    return float(rate) if isinstance(rate, numbers.Real) else None


def peak_rate(learner, lr_schedule):
    """The rate a learner's ``lr_schedule`` shapes: ``learning_rate``, else the optimizer's own
    (``learning_rate=None``); None where it keeps the optimizer's own schedule (``"constant"``)."""
    rate = learner.learning_rate if learner.learning_rate is not None else optimizer_rate(learner.optimizer)
    if rate is None and isinstance(lr_schedule, str) and lr_schedule != "constant":
        raise ValueError(
            f"learning_rate=None keeps the optimizer's own rate, a schedule, but {type(learner).__name__}'s "
            f"lr_schedule={lr_schedule!r} shapes the rate itself; pass learning_rate (its peak) or "
            "lr_schedule='constant'."
        )
    return rate


def check_fraction(name, value):
    check_number(name, value, low=0, high=1, high_open=True)


def check_positive_int(name, value):
    check_number(name, value, low=1, integer=True)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


def check_training_params(learner) -> None:
    """The parameters every learner has (epochs, batch_size, optimizer, loss...) and the shared
    architecture ones it declares in ``_arch_params`` (dropout, activation, layer_units...)."""
    check_trainable()
    check_positive_int("epochs", learner.epochs)
    if learner._auto_batch is not None:
        if learner.batch_size != "auto":  # bool is Integral: True is no batch size
            if isinstance(learner.batch_size, bool) or not isinstance(learner.batch_size, numbers.Integral):
                raise ValueError(f'batch_size must be an int >= 1 or "auto", got {learner.batch_size!r}.')
            check_positive_int("batch_size", learner.batch_size)
    elif isinstance(learner.batch_size, str):
        raise ValueError(f"batch_size must be an int for {type(learner).__name__} (\"auto\" sizes the batches of "
                         f"tabular learners), got {learner.batch_size!r}.")
    else:
        check_positive_int("batch_size", learner.batch_size)
    check_fraction("validation_fraction", learner.validation_fraction)
    check_number("patience", learner.patience, low=0, integer=True)
    if isinstance(learner.learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(
            "learning_rate must be a number; for a schedule, give it to the optimizer and keep it: "
            "optimizer=keras.optimizers.Adam(learning_rate=schedule), learning_rate=None"
            + (", or lr_schedule=schedule" if "lr_schedule" in learner.get_params(deep=False) else "") + ".")
    # scikit-learn's MLP: learning_rate is the name of its schedule
    if isinstance(learner.learning_rate, str) and learner.learning_rate.lower() in _SKLEARN_SCHEDULES:
        raise ValueError(f"learning_rate is the rate itself (scikit-learn's learning_rate_init), got "
                         f"{learner.learning_rate!r}: {_SKLEARN_SCHEDULES[learner.learning_rate.lower()]}.")
    if learner.learning_rate is not None:
        check_number("learning_rate", learner.learning_rate, low=0, low_open=True)
    if learner.verbose not in (0, 1, 2, False, True):
        raise ValueError(f"verbose must be 0, 1 or 2, got {learner.verbose!r}.")
    callbacks = learner.callbacks
    if isinstance(callbacks, keras.callbacks.Callback):
        raise TypeError(f"callbacks must be a list of keras.callbacks.Callback instances; got one callback, "
                        f"{type(callbacks).__name__}: pass callbacks=[{type(callbacks).__name__}(...)].")
    if callbacks is not None and not (isinstance(callbacks, (list, tuple))
                                      and all(isinstance(c, keras.callbacks.Callback) for c in callbacks)):
        raise TypeError(f"callbacks must be a list of keras.callbacks.Callback instances, got {callbacks!r}.")
    # Names are checked here, before any model is built, so a typo costs no compile and
    # reads as keraslearn's message rather than a Keras traceback from compile().
    for name, getter, hint in _NAMED:
        value = getattr(learner, name, None)
        if isinstance(value, str):
            try:
                with host_initializers():  # an optimizer made only to check its name compiles nothing
                    getter(value)
            except (ValueError, TypeError):  # Keras' own traceback would come first: the message says it all
                raise ValueError(f"{name}={value!r} is not a Keras {name} name; use e.g. {hint}.") from None
    if learner.optimizer is None and not learner._optimizer_optional:
        raise ValueError(f"optimizer=None: {type(learner).__name__} compiles the model it builds, so it needs an "
                         f"optimizer, e.g. {_NAMED[0][2]}.")
    # None: the generic learner's "the optimizer the user's model was compiled with"
    if not isinstance(learner.optimizer, (str, keras.optimizers.Optimizer, type(None))):
        raise TypeError(f"optimizer must be a Keras optimizer name or instance, e.g. {_NAMED[0][2]}; "
                        f"got {learner.optimizer!r}.")
    if isinstance(learner.optimizer, keras.optimizers.Optimizer) and learner.learning_rate is not None:
        own = optimizer_rate(learner.optimizer)
        if own is None or np.float32(own) != np.float32(learner.learning_rate):
            # One constant text: Python shows it once, not once per CV fold or trial.
            warn_user(
                "The learner's learning_rate replaces the learning rate (or schedule) of the optimizer "
                "instance given as `optimizer`; pass learning_rate=None to keep the optimizer's own.")
    if isinstance(learner.loss, type):  # callable, but called on (y_true, y_pred) it makes a Loss
        raise TypeError(f"loss must be a loss, not the class {learner.loss.__name__}; pass an instance, "
                        f"e.g. loss=keras.losses.{learner.loss.__name__}().")
    if not (learner.loss is None or isinstance(learner.loss, str) or callable(learner.loss)):
        raise TypeError(f"loss must be None, a Keras loss name or a loss (a keras.losses.Loss or a function "
                        f"of y_true and y_pred); got {learner.loss!r}.")
    if "numeric_embedding" in learner._arch_params:
        kind = learner.numeric_embedding
        known = getattr(learner, "_numeric_embeddings", NUMERIC_EMBEDDINGS)
        layers = getattr(learner, "_numeric_embedding_layers", True)  # TabM and RealMLP build their own
        if not (kind is None or kind in known or (layers and isinstance(kind, keras.layers.Layer))):
            raise ValueError(f"numeric_embedding must be None{',' if layers else ' or'} one of {known}"
                             f"{' or a keras.layers.Layer' if layers else ''}, got {kind!r}.")
    for name in ("early_stopping", "use_batchnorm", "use_embedding", "warm_start"):
        if hasattr(learner, name) and not isinstance(getattr(learner, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {getattr(learner, name)!r}.")
    for name in ("dropout", "input_dropout", "embed_dropout"):
        if name in learner._arch_params:
            check_fraction(name, getattr(learner, name))
    if "activation" in learner._arch_params:
        value = learner.activation
        # Keras' get() passes any callable: a class (mlr3keras' PReLU layer) too, and a layer with weights
        # (PReLU's instance, Dense), which one layer would share between all: each failed inside the build with
        # Keras' traceback. A weightless layer instance (LeakyReLU(negative_slope=0.1)) works as a function.
        what = None
        if inspect.isclass(value):
            what = ("a Keras layer class" if issubclass(value, keras.layers.Layer) else "a class") + \
                ", not an activation function"
        elif isinstance(value, keras.layers.Layer) and _has_weights(value):
            what = "a layer with weights of its own, not an activation function"
        try:
            keras.activations.get(value)
        except (ValueError, TypeError):
            what = "not a Keras activation"
        if what:
            name = value if isinstance(value, str) else getattr(value, "__name__", type(value).__name__)
            meant = _activation_meant(name)
            hint = f"did you mean {meant!r}? " if meant else ""
            instance = (f" or an instance, keras.layers.{value.__name__}()" if inspect.isclass(value)
                        and getattr(keras.layers, value.__name__, None) is value and _weightless_instance(value)
                        else "")
            prelu = "prelu" in str(name).lower() or not isinstance(value, str)
            raise ValueError(
                f"activation={value!r} is {what}; {hint}use e.g. 'relu', 'gelu', 'elu', 'selu', 'tanh', 'silu'"
                + instance + " (PReLU is a layer with weights: give a custom architecture)" * prelu + "."
            ) from None  # Keras' own traceback would come first
    if "layer_units" in learner._arch_params:
        check_widths("layer_units", learner.layer_units, "(64, 64)")


def _has_weights(layer) -> bool:
    """Whether ``layer`` makes weights when built (on a copy: the user's instance stays unbuilt); False where
    a copy cannot be built on 4 features (it is then left to Keras, as before)."""
    try:
        with keras_warnings_ignored():
            probe = type(layer).from_config(layer.get_config())
            probe.build((None, 4))
        return bool(probe.weights)
    except Exception:
        return False


def _weightless_instance(cls) -> bool:
    """Whether ``cls()`` is a layer without weights (ReLU, LeakyReLU, ELU, Softmax: not Dense or PReLU)."""
    try:
        with keras_warnings_ignored():
            return not _has_weights(cls())
    except Exception:  # needs arguments (Activation, Dense)
        return False


def _activation_meant(value) -> str | None:
    """Keras' name for an activation written otherwise: 'LeakyReLu' (mlr3keras' spelling) → 'leaky_relu',
    scikit-learn's 'logistic' → 'sigmoid'."""
    if not isinstance(value, str):
        return None
    if value.lower() in _SKLEARN_ACTIVATIONS:
        return _SKLEARN_ACTIVATIONS[value.lower()]
    names = [n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize",
                                                                                     "deserialize")]
    key = value.lower().replace("_", "").replace("-", "")
    return next((n for n in names if n.replace("_", "") == key), None)
