"""Learners over your own Keras architecture (mlr3keras ``classif.keras`` / ``regr.keras``).

You give a *build function* ``build(spec, **hp) -> keras.Model``; keraslearn encodes the data,
calls it once per fit with the data's :class:`~keraslearn.preprocessing.DataSpec` and the
hyperparameters in ``model_params`` (each also a parameter ``model__<name>``), compiles the
model if you did not, and trains it with the usual keraslearn policy (validation split, early
stopping, seeds).
Unlike ``keras.wrappers.SKLearnClassifier``, every setting survives ``clone()`` (so grid
search trains what you asked for), ``predict`` is quiet, and classifiers have ``predict_proba``.
"""

from __future__ import annotations

import keras
import numpy as np

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.learners._user_model import (
    _model_outputs_width,
    _one_unit_softmax,
    _output_activation,
    _UserModelMixin,
)
from keraslearn.learners.base import WARM_START_DOC, KerasLearner, store_init_params
from keraslearn.learners.loss_kinds import (
    _BINARY_LOSSES,
    _ONE_HOT_LOSSES,
    _ROBUST_LOSSES,
    _SCALE_FREE_LOSSES,
    _from_logits,
    _loss_name,
    check_log_loss,
)
from keraslearn.learners.regression_targets import KerasRegressorMixin, _target_scaling
from keraslearn.learners.targets import KerasClassifierMixin

_PARAMS_DOC = """
    Parameters
    ----------
    model : callable, default=None (required to fit)
        ``build(spec, **hp) -> keras.Model``, defined at module level so the learner pickles
        (``n_jobs>1``). ``spec`` is the :class:`~keraslearn.preprocessing.DataSpec` of the
        encoded data: name the inputs after ``spec.input_names`` (``"numeric"`` and one
        ``"cat_<column>"`` per categorical column) or use
        ``keraslearn.architectures.blocks.tabular_inputs(spec)``; end with one output of
        ``spec.n_outputs`` units (``blocks.output_head(spec, x)``). The model may be compiled.
    model_params : dict or None, default=None
        Hyperparameters of ``model``, passed as ``build(spec, **model_params)``. Each is also a
        parameter ``model__<name>`` of this learner: ``set_params(model__units=64)``,
        ``GridSearchCV(param_grid={"model__units": [32, 64]})``, ``get_params()``.
    x_transform : callable or None, default=None
        ``fn(x) -> inputs``: turns the encoded dict ``{"numeric": float32 (n, d),
        "cat_<col>": int32 (n, 1)}`` into the model's inputs (an array, a dict, or a list in
        the order of ``model.inputs``). Applied at fit and predict. It is not saved in an
        artifact; set it again after ``keraslearn.load``.
    y_transform : callable or None, default=None
        ``fn(y) -> targets`` applied to the encoded training target only (see below).
    scaling, min_frequency, embed_size : default="standard", 5, None
        How :class:`~keraslearn.preprocessing.TabularEncoder` encodes X (see ``FFClassifier``).
    optimizer : str, keras.optimizers.Optimizer or None, default=None
        None keeps the optimizer of a compiled model and uses "adam" otherwise.
    learning_rate : float or None, default=None
        None keeps the optimizer's own learning rate.
    loss : str, keras loss or None, default=None
        None keeps the loss of a compiled model and uses the task's loss otherwise.
        Giving optimizer, learning_rate or loss recompiles a compiled model (its metrics are kept).
    epochs : int, default=100
        Most epochs to train; early stopping may end training sooner.
    batch_size : int or "auto", default="auto"
        Rows per training batch. "auto" is 256 when the training rows (after the validation
        split) fill 8 such batches, else the largest power of 2 that still gives 8, at least 32:
        256 to 2,047 training rows take 8 to 16 steps an epoch, fewer rows batches of 32; the
        fitted ``batch_size_`` is the batch used.
    validation_fraction : float, default=0.1
        Shuffled (stratified for classifiers) share of rows held out from training and scored
        after every epoch (``val_loss``), which early stopping watches. As Keras'
        ``validation_split``, they are held out with ``early_stopping=False`` too (for
        callbacks and learning curves); 0 trains on every row (early stopping, if on, then
        watches the training loss).
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (the training loss when no rows are held out: validation_fraction=0).
    patience : int, default=10
        Epochs without a better validation loss (training loss at validation_fraction=0) before training stops.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Each fit attaches a shallow copy: the model and what a callback assigns to itself stay on the copy,
        what it refers to (a list, a logger) and the files it writes are yours, as in Keras' ``fit``.
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC


class KerasClassifier(_UserModelMixin, KerasClassifierMixin, KerasLearner):
    __doc__ = (
        "Classifier over your own Keras architecture (mlr3keras ``classif.keras``).\n"
        + _PARAMS_DOC
        + """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.

    Notes
    -----
    The model outputs probabilities: one sigmoid unit or two softmax units for two classes,
    ``n_classes`` softmax units otherwise. It trains on class codes ``0..n_classes-1``
    (one-hot for a categorical-cross-entropy loss, whether given here or compiled in);
    ``y_transform`` receives those.

    Examples
    --------
    >>> import keras
    >>> from keraslearn.architectures.blocks import output_head, tabular_inputs
    >>> def build(spec, units=32):
    ...     inputs, x = tabular_inputs(spec)
    ...     x = keras.layers.Dense(units, activation="relu")(x)
    ...     return keras.Model(inputs, output_head(spec, x))
    >>> clf = KerasClassifier(build, model_params={"units": 64}, epochs=20)
    >>> clf = clf.set_params(model__units=128)
"""
    )

    def __init__(
        self,
        model=None,
        *,
        model_params=None,
        x_transform=None,
        y_transform=None,
        scaling="standard",
        min_frequency=5,
        embed_size=None,
        optimizer=None,
        learning_rate=None,
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())

    def _default_loss(self, model):
        width = self._output_width(model) or self._model_spec().n_outputs
        return "binary_crossentropy" if width == 1 else "sparse_categorical_crossentropy"

    def _check_output_width(self, model, spec, width=None):
        width, n_classes = width or _model_outputs_width(model), len(self.classes_)
        allowed = (1, 2) if n_classes == 2 else (n_classes,)
        if width is not None and width not in allowed:
            raise ValueError(
                f"The model has {width} output units but y has {n_classes} classes; end it with "
                f"{' or '.join(map(str, allowed))} units, e.g. keraslearn.architectures.blocks.output_head(spec, x)."
            )
        if _one_unit_softmax(model, width):
            raise ValueError(
                "The model ends in a softmax over one unit, which outputs 1 for every row; two classes need one "
                "sigmoid unit (spec.n_outputs is 1) or two softmax units, e.g. output_head(spec, x).")

    _head_outputs_probabilities = False  # the user's model: _adapt_target reads its last activation
    _fitted_flags = ("x_transformed", "from_logits")  # a logits model's outputs become probabilities

    def _adapt_target(self, model, y_fit):
        """Class codes, or one-hot rows when the effective loss or a 2-unit binary output needs them."""
        effective = self._effective_loss(model)
        self._from_logits = _from_logits(effective)
        activation = _output_activation(model)
        if self._from_logits and activation in ("sigmoid", "softmax"):
            raise ValueError(
                f"The loss takes logits (from_logits=True), but the model ends in a {activation}: its outputs are "
                f"probabilities already, and the {activation} would be applied twice (a sigmoid's probabilities "
                "then never fall below 0.5). Drop the model's final activation (keep the outputs as logits), or "
                "pass the loss with from_logits=False.")
        if y_fit.ndim != 1:
            return y_fit  # already one-hot: the learner's own loss asked for it
        loss = _loss_name(effective)
        if (loss in _ONE_HOT_LOSSES or loss == "sparse_categorical_crossentropy") and self._output_width(model) == 1:
            raise ValueError(
                f"The model has one (sigmoid) output unit for the two classes, but its loss, {loss}, needs one unit "
                "per class: compile it with loss='binary_crossentropy' (or pass it as loss=), or end the model "
                "with keras.layers.Dense(2, activation='softmax').")
        if loss in _ONE_HOT_LOSSES or (self._output_width(model) == 2 and loss in _BINARY_LOSSES):
            return np.eye(len(self.classes_), dtype=np.float32)[y_fit]
        return y_fit

    def _check_outputs(self, model, x):
        """The untrained model on the first rows: outputs outside [0, 1] are logits or scores, not
        probabilities (no softmax/sigmoid at the end), unless the loss says it takes logits."""
        if self._from_logits or self.y_transform is not None:
            return
        activation = _output_activation(model)
        if activation in _NOT_PROBABILITIES:  # a linear unit's outputs are checked below
            raise ValueError(
                f"The model's output layer has activation={activation!r}, whose outputs are not probabilities "
                "(a relu's can pass 1 or be 0 for every class). A classifier's model ends in a softmax (a sigmoid "
                "for one unit), e.g. keraslearn.architectures.blocks.output_head(spec, x); or end it in a linear "
                "unit and pass loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) "
                "(BinaryCrossentropy for one unit).")
        with keras_warnings_ignored():  # torch's tensors meet NumPy 2's copy= deprecation in convert_to_numpy
            out = model(keras.tree.map_structure(lambda a: a[:64], x), training=False)
            if not hasattr(out, "shape"):
                return  # a subclassed model's dict or list (a functional one is refused earlier): not checked here
            out = keras.ops.convert_to_numpy(out)
        low, high = float(np.min(out)), float(np.max(out))
        if low < -1e-4 or high > 1 + 1e-4 or not np.isfinite(out).all():
            raise ValueError(
                f"The model's outputs are not probabilities: on the first rows they range from {low:.3g} to "
                f"{high:.3g}. A classifier's model ends in a softmax (a sigmoid for one unit), e.g. "
                "keraslearn.architectures.blocks.output_head(spec, x); or keep the outputs as logits and pass "
                "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) (BinaryCrossentropy for one unit)."
            )

    def _predict_raw(self, X) -> np.ndarray:
        out = super()._predict_raw(X)
        if not getattr(self, "_from_logits", False):
            return out
        # A loss with from_logits=True trains a model whose outputs are logits: make them probabilities.
        if out.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-out))
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (the original label values, as in ``classes_``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit.
        """
        proba = self.predict_proba(X)  # first: raises NotFittedError on an unfitted learner
        return self.classes_[np.argmax(proba, axis=1)]

    def _stratify_labels(self, y_fit):
        if self.y_transform is not None:
            return None  # the transformed target need not be labels
        return super()._stratify_labels(y_fit)


# Output activations that cannot reach a standardized (centred) target.
_NON_NEGATIVE = {"sigmoid", "hard_sigmoid", "relu", "relu6", "softplus", "exponential"}
_BOUNDED = {"tanh", "softsign", "hard_tanh"}  # outputs in [-1, 1]
# A regressor's output activation that cannot reach its standardized target: (its outputs, so, what else fits).
_BOUNDED_OUTPUTS = {
    **dict.fromkeys(_NON_NEGATIVE, ("are never negative", "about half of it is negative and cannot be fit",
                                    "; it fits a target in [0, 1] or a positive one too")),
    **dict.fromkeys(_BOUNDED, ("lie in [-1, 1]", "its predictions could not leave the mean ± 1 sd", "")),
}
# Keras' activations whose outputs are no probabilities (a user's own, e.g. a sparsemax, may be).
_NOT_PROBABILITIES = {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "glu", "silu", "swish", "mish",
                      "hard_silu", "hard_swish", "softplus", "sparse_plus", "squareplus", "exponential", "tanh",
                      "hard_tanh", "softsign", "log_softmax", "log_sigmoid"}


class KerasRegressor(_UserModelMixin, KerasRegressorMixin, KerasLearner):
    __doc__ = (
        "Regressor over your own Keras architecture (mlr3keras ``regr.keras``).\n"
        + _PARAMS_DOC
        + """
    Notes
    -----
    The model outputs ``n_targets`` linear units. As in every keraslearn regressor, the
    target is standardized for training when the loss is scale-free (MSE, MAE, Huber,
    log-cosh; also when the loss is compiled in) and predictions are mapped back;
    ``y_transform`` receives the float32 ``(n, n_targets)`` training target and is not inverted
    at predict (for a transform of y, use ``TransformedTargetRegressor``). Metrics compiled
    into the model are then computed on the standardized target too (an MAE in standard
    deviations of y, ``y_scale_``): so are ``history_`` and what callbacks monitor.
"""
    )

    def __init__(
        self,
        model=None,
        *,
        model_params=None,
        x_transform=None,
        y_transform=None,
        scaling="standard",
        min_frequency=5,
        embed_size=None,
        optimizer=None,
        learning_rate=None,
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())

    def _default_loss(self, model):
        return "mse"

    def _check_output_width(self, model, spec, width=None):
        width = width or _model_outputs_width(model)
        if width is not None and width != spec.n_targets:
            raise ValueError(
                f"The model has {width} output units but y has {spec.n_targets} target(s); end it with "
                "spec.n_outputs units, e.g. keraslearn.architectures.blocks.output_head(spec, x)."
            )
        if _one_unit_softmax(model, width):
            raise ValueError(
                "The model ends in a softmax over one unit, which outputs 1 for every row; a regressor's "
                "output layer needs activation=None (linear), as output_head(spec, x) gives."
            )

    _poisson_checked_on_model = True
    _msle_as_log_target = False  # the user's model trains with the loss given

    def _target_standardization(self, y2, loss, w):
        # Kept until the model is built: a loss compiled in it (not loss=) may ask for another standardization.
        self._target_given = (y2, w)
        return super()._target_standardization(y2, loss, w)

    def _adapt_target(self, model, y_fit):
        """Standardize the target for the compiled-in loss as for the same loss given as ``loss=`` (mae and huber
        by the median and the interquartile range); undo the standardization when that loss is not scale-free
        (e.g. Poisson)."""
        given = self.__dict__.pop("_target_given", None)  # None: a loss= that is not scale-free, or a warm start
        compiled_loss = _loss_name(self._effective_loss(model))
        if self.loss is None and compiled_loss in _ROBUST_LOSSES and given is not None:
            y2, w = given
            mean, scale = _target_scaling(y2, compiled_loss, w)
            y_fit = ((y_fit * self.y_scale_ + self.y_mean_ - mean) / scale).astype(np.float32)  # X_val's rows too
            self.y_mean_, self.y_scale_ = mean, scale
        activation = _output_activation(model)
        if compiled_loss == "poisson" and activation and activation not in _NON_NEGATIVE:  # "": unreadable
            raise ValueError(
                f"The Poisson loss needs positive predictions, but the model's output layer has activation="
                f"{activation!r}, which gives negative ones too (the loss is NaN from the first epoch): end it "
                "with activation='exponential' (or 'softplus').")
        if self.loss is None and compiled_loss not in _SCALE_FREE_LOSSES:
            y_fit = (y_fit * self.y_scale_ + self.y_mean_).astype(np.float32)
            check_log_loss(compiled_loss, y_fit)
            self.y_mean_ = np.zeros_like(self.y_mean_)
            self.y_scale_ = np.ones_like(self.y_scale_)
        if activation in _BOUNDED_OUTPUTS and self.y_transform is None and compiled_loss in _SCALE_FREE_LOSSES:
            outputs, so, also = _BOUNDED_OUTPUTS[activation]
            raise ValueError(
                f"The model's output layer has activation={activation!r}, whose outputs {outputs}, but keraslearn "
                "trains a regressor on the standardized target (mean 0, sd 1; predictions are mapped back), so "
                f"{so}. End the model with a linear unit (activation=None, as output_head(spec, x) gives){also}.")
        return y_fit
