"""KerasLearner: the scikit-learn contract shared by every keraslearn estimator."""

from __future__ import annotations

import functools
import numbers
import warnings

import keras
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.architectures.numeric_embeddings import NUMERIC_EMBEDDINGS
from keraslearn.io.model_bytes import model_from_bytes, model_to_bytes, user_classes
from keraslearn.preprocessing.encoder import TabularEncoder
from keraslearn.preprocessing.validation import match_columns, to_frame
from keraslearn.training import compile_model, fit_model, global_random_state_kept, seed_everything
from keraslearn.training.host_init import host_initializers
from keraslearn.training import compiled as _compiled  # speed: shared compiled steps (issue 8)
from keraslearn.training.devices import device_scope
from keraslearn.training.fast_predict import predict_array  # speed: fast inference path (issue 8)

# Losses that need one-hot targets; the rest of the classification losses take class codes.
_ONE_HOT_LOSSES = {"categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence"}
_BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
# Keras' regression losses: on a classifier they compare the class probabilities with one-hot targets.
_REGRESSION_LOSSES = {"mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh",
                      "mape", "mean_absolute_percentage_error", "msle", "mean_squared_logarithmic_error",
                      "poisson", "cosine_similarity"}
_CLASSIFICATION_LOSSES = _ONE_HOT_LOSSES | _BINARY_LOSSES | {"sparse_categorical_crossentropy"}
# Regression losses for which standardizing the target changes nothing but the scale.
_SCALE_FREE_LOSSES = {None, "mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh"}
# Losses of a ratio or a logarithm: the target is divided by its scale but not centred (y and the
# predictions stay positive), so a network's O(1) outputs reach it.
_SCALE_ONLY_LOSSES = {"mape", "mean_absolute_percentage_error", "msle", "mean_squared_logarithmic_error"}
_SCALED_LOSSES = _SCALE_FREE_LOSSES | _SCALE_ONLY_LOSSES


def _loss_name(loss):
    if loss is None or isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None)


def store_init_params(estimator, values: dict) -> None:
    """The body of every learner's ``__init__``: keep each argument as given (scikit-learn's contract).

    ``values`` is that ``__init__``'s ``locals()``; its explicit signature stays the list of
    parameters that ``get_params`` reads.
    """
    for name, value in values.items():
        if name != "self":
            setattr(estimator, name, value)


#: Parameters given by name, checked before a model is built: (parameter, Keras getter, examples).
_NAMED = (
    ("optimizer", keras.optimizers.get,
     "'adam', 'adamw', 'sgd', 'rmsprop', 'nadam', or a keras.optimizers.Optimizer instance"),
    ("loss", keras.losses.get,
     "'mse', 'mae', 'huber', 'binary_crossentropy', 'sparse_categorical_crossentropy', a keras.losses.Loss or None"),
)


def _check_number(name, value, *, low=None, high=None, integer=False, low_open=False, high_open=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}.")


def atomic_fit(fit):
    """Decorate a learner's ``fit`` to keep scikit-learn's contract around it.

    A fit that fails (bad input found late, an interrupt) leaves the learner as it was, fitted
    or not, never with new labels on an old model. A fit with a ``random_state`` gives the
    caller's global random state back when it ends (see ``global_random_state_kept``).
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            with global_random_state_kept(getattr(self, "random_state", None) is not None):
                return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


class KerasLearner(BaseEstimator):
    """Base of all keraslearn estimators: encode → build → compile → fit → predict.

    Subclasses set ``_architecture`` (a ``build(spec, **hp)`` function) and list the
    ``__init__`` parameters that are architecture hyperparameters in ``_arch_params``.
    Training parameters shared by every learner are listed in ``_train_params``.
    """

    _architecture = None
    _arch_params: tuple = ()
    _encoder_params: tuple = ()
    _default_metrics: tuple = ()
    _auto_batch = False  # whether batch_size="auto" is allowed (see _batch_size)

    # ------------------------------------------------------------- tuning
    def search_space(self) -> dict:
        """Default Optuna search space of this learner (see :mod:`keraslearn.tuning.spaces`)."""
        from keraslearn.tuning.spaces import search_space

        return search_space(self)

    # ----------------------------------------------------------- building
    def _build_model(self, spec):
        hp = {name: getattr(self, name) for name in self._arch_params}
        return type(self)._architecture(spec, **hp)

    def _make_encoder(self) -> TabularEncoder:
        params = {name: getattr(self, name) for name in self._encoder_params}
        return TabularEncoder(**params)

    def _validate_params(self):
        _check_number("epochs", self.epochs, low=1, integer=True)
        if self._auto_batch and isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise ValueError(f'batch_size must be an int >= 1 or "auto", got {self.batch_size!r}.')
        else:
            _check_number("batch_size", self.batch_size, low=1, integer=True)
        _check_number("validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        _check_number("patience", self.patience, low=0, integer=True)
        if self.learning_rate is not None:
            _check_number("learning_rate", self.learning_rate, low=0, low_open=True)
        if self.verbose not in (0, 1, 2, False, True):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}.")
        if self.callbacks is not None and not all(isinstance(c, keras.callbacks.Callback) for c in self.callbacks):
            raise TypeError("callbacks must be a list of keras.callbacks.Callback instances.")
        # Names are checked here, before any model is built, so a typo costs no compile and
        # reads as keraslearn's message rather than a Keras traceback from compile().
        for name, getter, hint in _NAMED:
            value = getattr(self, name, None)
            if isinstance(value, str):
                try:
                    with host_initializers():  # an optimizer made only to check its name compiles nothing
                        getter(value)
                except (ValueError, TypeError) as err:
                    raise ValueError(f"{name}={value!r} is not a Keras {name} name; use e.g. {hint}.") from err
        # None: the generic learner's "the optimizer the user's model was compiled with"
        if not isinstance(self.optimizer, (str, keras.optimizers.Optimizer, type(None))):
            raise TypeError(f"optimizer must be a Keras optimizer name or instance, e.g. {_NAMED[0][2]}; "
                            f"got {self.optimizer!r}.")
        if isinstance(self.optimizer, keras.optimizers.Optimizer) and self.learning_rate is not None:
            with keras_warnings_ignored():
                own = self.optimizer.get_config().get("learning_rate")
            if not isinstance(own, numbers.Real) or np.float32(own) != np.float32(self.learning_rate):
                # One constant text: Python shows it once, not once per CV fold or trial.
                warnings.warn(
                    "The learner's learning_rate replaces the learning rate of the optimizer instance "
                    "given as `optimizer`; pass learning_rate=None to keep the optimizer's own.",
                    UserWarning,
                    stacklevel=4,
                )
        if not (self.loss is None or isinstance(self.loss, str) or callable(self.loss)):
            raise TypeError(f"loss must be None, a Keras loss name or a loss (a keras.losses.Loss or a function "
                            f"of y_true and y_pred); got {self.loss!r}.")
        if "numeric_embedding" in self._arch_params:
            kind = self.numeric_embedding
            known = getattr(self, "_numeric_embeddings", NUMERIC_EMBEDDINGS)
            if not (kind is None or kind in known or isinstance(kind, keras.layers.Layer)):
                raise ValueError(f"numeric_embedding must be None or one of {known}, got {kind!r}.")
        for name in ("early_stopping", "use_batchnorm", "use_embedding"):
            if hasattr(self, name) and not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        for name in ("dropout", "input_dropout", "embed_dropout"):
            if name in self._arch_params:
                _check_number(name, getattr(self, name), low=0, high=1, high_open=True)
        if "activation" in self._arch_params:
            try:
                keras.activations.get(self.activation)
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"activation={self.activation!r} is not a Keras activation; use e.g. 'relu', "
                    "'gelu', 'elu', 'selu', 'tanh', 'silu'."
                ) from err
        if "layer_units" in self._arch_params:
            units = self.layer_units
            if isinstance(units, (numbers.Integral, str)) or not all(
                isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in units
            ):
                raise ValueError(f"layer_units must be a sequence of positive ints, e.g. (64, 64); got {units!r}.")

    # ------------------------------------------------------------- fitting
    @atomic_fit
    def fit(self, X, y, sample_weight=None, *, checkpoint_dir=None):
        """Fit the network on X (DataFrame, polars DataFrame or array) and y.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and categorical (category / string / object) columns; missing
            values are imputed.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
        checkpoint_dir : str or path-like, default=None
            A folder for an atomic checkpoint written after every epoch. If the process dies,
            calling ``fit`` again with the same data, parameters and folder resumes from the
            last completed epoch. Removed when the fit ends; a checkpoint of a different fit
            raises ValueError. See ``docs/reliability.md``.

        Returns
        -------
        self
        """
        self._validate_params()
        name = type(self).__name__
        frame, has_names = to_frame(X, estimator_name=name)
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        y_fit, spec_task = self._encode_target(y, len(frame))
        sw = self._check_sample_weight(sample_weight, len(frame))
        encoder = self._make_encoder()
        encoder._validate_params()
        x = encoder._fit_transform_frame(frame, has_names)
        self.encoder_ = encoder
        self.n_features_in_ = encoder.n_features_in_
        if has_names:
            self.feature_names_in_ = encoder.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.spec_ = encoder.spec_.with_task(*spec_task)
        checkpoint = None
        if checkpoint_dir is not None:
            from keraslearn.training.checkpoint import FitCheckpoint, fingerprint

            checkpoint = FitCheckpoint(checkpoint_dir, fingerprint(self, x, y_fit, sw))
        keras.backend.clear_session(free_memory=False)
        seed = seed_everything(self.random_state)
        _compiled.enable_compilation_cache()  # before the build: weight initializers compile too
        # After clear_session, which also clears the active keras.distribution.
        with device_scope(getattr(self, "devices", None)):
            # NumPy draws: no XLA compilation per weight shape. Quiet: on torch, initializers that
            # turn variables into arrays meet Keras' numpy-2 warning (TabM's scaling initializer).
            with host_initializers(), keras_warnings_ignored():
                model = self._build_model(self._model_spec())
            encoded = dict(x)  # the encoder's own arrays: fit_model may reorder their rows in place
            x, y_fit = self._prepare_fit(model, x, y_fit)
            with host_initializers():  # the optimizer's zero slots, too
                self._compile(model)
                if model.optimizer is not None and not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)
            batch_size = self._batch_size(len(frame))
            batches = -(-len(frame) // batch_size)  # per epoch, validation rows included
            _compiled.before_fit(model, self, planned_steps=int(self.epochs) * batches)
            self.history_ = fit_model(
                model,
                x,
                y_fit,
                sw,
                epochs=self.epochs,
                batch_size=batch_size,
                validation_fraction=self.validation_fraction,
                early_stopping=self.early_stopping,
                patience=self.patience,
                callbacks=self.callbacks,
                verbose=int(self.verbose),
                seed=seed,
                stratify=self._stratify_labels(y_fit),
                checkpoint=checkpoint,
                owns_x=isinstance(x, dict) and x.keys() == encoded.keys() and all(x[k] is encoded[k] for k in x),
            )
            _compiled.after_fit(model)
        self.model_ = model
        self.n_iter_ = len(self.history_.get("loss", []))
        return self

    def _batch_size(self, n_rows):
        """Rows per training batch for a fit on ``n_rows`` rows (validation rows included)."""
        return max(1, int(self.batch_size))

    def _prepare_fit(self, model, x, y_fit):
        """Training inputs and targets for ``model``: called once per fit, after build, before compile."""
        return x, y_fit

    def _compile(self, model):
        compile_model(
            model,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            loss=self._loss(),
            metrics=list(self._default_metrics),
        )

    def _model_spec(self):
        return self.spec_

    def _check_sample_weight(self, sample_weight, n):
        if sample_weight is None:
            return None
        try:
            with np.errstate(over="ignore"):  # 1e300 becomes inf in float32: refused below
                sw = np.asarray(sample_weight, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError(f"sample_weight must hold numbers ({err}).") from None
        if sw.ndim == 0:
            sw = np.full(n, float(sw), dtype=np.float32)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
        if not np.all(np.isfinite(sw)) or (sw < 0).any():
            raise ValueError("sample_weight must be finite (within float32's 3.4e38) and non-negative.")
        if sw.sum() <= 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sw

    def _stratify_labels(self, y_fit):
        return None

    # ----------------------------------------------------------- predicting
    def _encode_X(self, X):
        check_is_fitted(self, "model_")
        name = type(self).__name__
        frame, has_names = to_frame(X, estimator_name=name)
        frame = match_columns(frame, has_names, getattr(self, "feature_names_in_", None), self.n_features_in_, name)
        return self.encoder_._transform_frame(frame)

    # Rows are predicted in zero-padded chunks of one fixed size, so a row's prediction never
    # depends on how many other rows come with it (same kernel, same shape) and the predict
    # function is compiled once.
    _predict_chunk = 256

    def _predict_raw(self, X) -> np.ndarray:
        x = self._encode_X(X)
        options = getattr(type(self), "_compiler_options", None)  # also for a loaded model (no template)
        out = predict_array(self.model_, x, chunk=self._predict_chunk, options=options)
        return np.asarray(out, dtype=np.float64)

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["_model_classes"] = user_classes(state["model_"])  # pickled by reference
            state["model_"] = model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        classes = state.pop("_model_classes", None)
        if isinstance(state.get("model_"), bytes):
            # Unpickling runs code by design, so a Lambda layer that pickled loads too (no safe mode).
            state["model_"] = model_from_bytes(state["model_"], safe_mode=False, custom_objects=classes)
        self.__dict__.update(state)

    def save(self, path):
        """Write the fitted learner to one file (see :func:`keraslearn.load`)."""
        from keraslearn.io.artifact import save

        return save(self, path)

    def _fitted_state(self) -> tuple[dict, dict]:
        """JSON-safe fitted attributes and arrays that the Keras model does not hold."""
        return {"n_iter_": self.n_iter_, "history_": self.history_}, {}

    def _restore_fitted_state(self, state: dict, arrays: dict):
        self.n_iter_ = state["n_iter_"]
        self.history_ = state["history_"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


class KerasClassifierMixin(ClassifierMixin):
    """Classification targets: labels kept in ``classes_``, probabilities from ``predict_proba``."""

    def _loss(self):
        if self.loss is not None:
            return self.loss
        return "binary_crossentropy" if self.spec_.task == "binary" else "sparse_categorical_crossentropy"

    def _binary_as_multiclass(self) -> bool:
        name = _loss_name(self.loss)
        return self.loss is not None and name not in _BINARY_LOSSES

    def _model_spec(self):
        if self.spec_.task == "binary" and self._binary_as_multiclass():
            return self.spec_.with_task("multiclass", n_classes=2)
        return self.spec_

    def _encode_target(self, y, n):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        elif y.ndim != 1:
            raise ValueError(
                f"{type(self).__name__} supports one target column; got y with shape {y.shape}. "
                "Multi-label classification is not supported."
            )
        if len(y) != n:
            raise ValueError(f"X has {n} rows but y has {len(y)}: they must match.")
        if y.dtype == object:
            if pd.isna(y).any():  # None, NaN, pd.NA (pandas' "string" dtype), NaT
                raise ValueError("y contains missing labels; drop those rows or fill them first.")
            y = pd.Series(y).infer_objects().to_numpy()  # True/False (or 1/2) kept as objects: bool (int) labels
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("y contains NaN; drop those rows or fill them first.")
        if y.dtype == object:
            kinds = sorted({type(v).__name__ for v in y})
            if "str" in kinds and len(kinds) > 1:  # 1 and "a" cannot be sorted into classes_
                raise ValueError(f"y mixes label types {kinds}; make them one type, e.g. y.astype(str).")
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {type_of_target(y)!r}.")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: {self.classes_.tolist()[0]!r}."
            )
        self._class_weight_codes = None
        if self.class_weight is not None:
            self._class_weight_codes = self._class_weights(codes)
        task = "binary" if len(self.classes_) == 2 else "multiclass"
        codes = codes.astype(np.int32)
        name = _loss_name(self.loss)
        if task == "multiclass" and name in _BINARY_LOSSES:
            raise ValueError(
                f"loss={self.loss!r} is a loss for two classes, but y has {len(self.classes_)} classes; "
                "use loss=None (sparse categorical cross-entropy) or 'categorical_crossentropy'."
            )
        if name in _ONE_HOT_LOSSES or name in _REGRESSION_LOSSES:  # e.g. 'mse' on probabilities: the Brier score
            return np.eye(len(self.classes_), dtype=np.float32)[codes], (task, len(self.classes_))
        return codes, (task, len(self.classes_))

    def _class_weights(self, codes):
        cw = self.class_weight
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be 'balanced', a dict or None; got {cw!r}.")
            return compute_sample_weight("balanced", codes).astype(np.float32)
        if not isinstance(cw, dict):
            raise ValueError(f"class_weight must be 'balanced', a dict or None; got {cw!r}.")
        unknown = [k for k in cw if k not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(f"class_weight names labels not in y: {unknown}; labels are {self.classes_.tolist()}.")
        try:
            per_class = np.array([float(cw.get(c, 1.0)) for c in self.classes_.tolist()], dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"class_weight must map labels to numbers; got {cw!r}.") from None
        if not np.all(np.isfinite(per_class)) or (per_class < 0).any():
            raise ValueError(f"class_weight must give finite, non-negative weights; got {cw!r}.")
        return per_class[codes]

    def _check_sample_weight(self, sample_weight, n):
        sw = KerasLearner._check_sample_weight(self, sample_weight, n)
        per_row = self.__dict__.pop("_class_weight_codes", None)  # one float a training row: not kept after fit
        if per_row is not None:
            sw = per_row if sw is None else sw * per_row
        return sw

    def _stratify_labels(self, y_fit):
        return y_fit if y_fit.ndim == 1 else y_fit.argmax(axis=1)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        p = self._predict_raw(X)
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        # float32 softmax rows sum to 1 only within ~1e-7; make them exact in float64.
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (the original label values, as in ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _fitted_state(self):
        state, arrays = KerasLearner._fitted_state(self)
        classes = self.classes_
        # Datetime and duration labels are kept as their integer ticks (.tolist() gives datetime objects).
        state["classes_"] = (classes.view(np.int64) if classes.dtype.kind in "mM" else classes).tolist()
        state["classes_dtype"] = classes.dtype.str
        return state, arrays

    def _restore_fitted_state(self, state, arrays):
        KerasLearner._restore_fitted_state(self, state, arrays)
        dtype = np.dtype(state["classes_dtype"])
        if dtype.kind in "mM":
            self.classes_ = np.asarray(state["classes_"], dtype=np.int64).view(dtype)
        else:
            self.classes_ = np.asarray(state["classes_"], dtype=object if dtype.kind == "O" else dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class KerasRegressorMixin(RegressorMixin):
    """Regression targets, one or several; standardized internally for scale-free losses."""

    def _loss(self):
        return "mse" if self.loss is None else self.loss

    def _encode_target(self, y, n):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{type(self).__name__} needs a numeric target; y has dtype {y.dtype}.") from err
        y = y.astype(np.float64)
        loss = _loss_name(self.loss)
        if loss in _CLASSIFICATION_LOSSES:
            raise ValueError(
                f"loss={self.loss!r} is a classification loss; a regressor needs a regression loss such as "
                "None (mse), 'mae' or 'huber'. For class labels use the matching Classifier."
            )
        if y.ndim > 2 or y.ndim == 0:
            raise ValueError(f"y must be 1D or 2D; got shape {y.shape}.")
        if len(y) != n:
            raise ValueError(f"X has {n} rows but y has {len(y)}: they must match.")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity; drop or fill those rows first.")
        if loss == "poisson":
            raise ValueError(
                "loss='poisson' needs positive predictions, which the learners' linear output does not give "
                "(the loss is NaN from the first epoch). Use loss='mse' on log1p(y) "
                "(sklearn.compose.TransformedTargetRegressor), or KerasRegressor with an exponential output."
            )
        self._y_ndim = y.ndim
        y2 = y.reshape(n, -1)
        with np.errstate(over="ignore", invalid="ignore"):  # |y| near 1e155 and beyond: checked below
            self.y_mean_, self.y_scale_ = np.zeros(y2.shape[1]), np.ones(y2.shape[1])  # other losses: as given
            if loss in _SCALED_LOSSES:
                if loss in _SCALE_FREE_LOSSES:
                    self.y_mean_, std = y2.mean(axis=0), y2.std(axis=0)
                else:
                    std = np.abs(y2).mean(axis=0)
                # Relative to the values: y * 1e-14 still varies; a constant y gets a tiny scale, so
                # the network's residual noise vanishes from its (constant) predictions.
                largest = np.abs(y2).max(axis=0)
                self.y_scale_ = np.where(std <= 1e-12 * largest, 1e-6 * np.maximum(largest, 1e-300), std)
            y_fit = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        if not (np.isfinite(self.y_mean_).all() and np.isfinite(self.y_scale_).all() and np.isfinite(y_fit).all()):
            raise ValueError(
                f"y holds values too large to train on (largest |y| {np.abs(y2).max():.3g}"
                f"{'' if loss in _SCALED_LOSSES else f', and loss={self.loss!r} trains on y unscaled'}"
                "); divide y by a power of ten first and multiply the predictions back."
            )
        task = "regression" if y2.shape[1] == 1 else "multioutput"
        return y_fit, (task, None, y2.shape[1])

    def predict(self, X):
        """Predicted targets: shape (n_samples,) for one target, (n_samples, n_targets) otherwise."""
        p = self._predict_raw(X) * self.y_scale_ + self.y_mean_
        return p.ravel() if self._y_ndim == 1 else p

    def _fitted_state(self):
        state, arrays = KerasLearner._fitted_state(self)
        state["y_ndim"] = self._y_ndim
        arrays.update(y_mean=self.y_mean_, y_scale=self.y_scale_)
        return state, arrays

    def _restore_fitted_state(self, state, arrays):
        KerasLearner._restore_fitted_state(self, state, arrays)
        self._y_ndim = state["y_ndim"]
        self.y_mean_, self.y_scale_ = arrays["y_mean"], arrays["y_scale"]
        # Arrays cut short would broadcast over the predictions and scale them wrongly, silently.
        expected = (self.spec_.n_targets,)
        if self.y_mean_.shape != expected or self.y_scale_.shape != expected:
            raise ValueError(f"the target's mean and scale have shapes {self.y_mean_.shape} and "
                             f"{self.y_scale_.shape}, not {expected}.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
