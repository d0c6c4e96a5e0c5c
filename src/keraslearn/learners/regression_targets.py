"""Regression targets: standardized for scale-free losses, log1p for msle; and the tuning's early check of y."""

from __future__ import annotations


import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin

from keraslearn._user_warnings import warn_user
from keraslearn.learners.base import KerasLearner
from keraslearn.learners.loss_kinds import (
    _CLASSIFICATION_LOSSES,
    _LOG_LOSSES,
    _ROBUST_LOSSES,
    _SCALE_ONLY_LOSSES,
    _SCALED_LOSSES,
    _loss_name,
    check_log_loss,
)
from keraslearn.learners.targets import KerasClassifierMixin, _refuse_sparse, rows_at


def check_target(learner, y):
    """Refuse a ``y`` that ``learner.fit`` would refuse (missing labels, NaN, text for a regressor), with fit's
    message: a tuning study checks it once, before its folds sort the labels and before any trial runs."""
    if isinstance(learner, KerasClassifierMixin):
        learner._checked_labels(y, len(y))
    elif isinstance(learner, KerasRegressorMixin):
        learner._checked_numbers(y, len(y))


def _usable_weights(sample_weight, n):
    """``sample_weight`` as float64 (n,) for the target's scaling, or None (none, or not valid: the fit's
    own check names it next)."""
    if sample_weight is None:
        return None
    try:
        w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), (n,))
    except (TypeError, ValueError):
        return None
    return w if np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0 else None


def _weighted_quantiles(y2: np.ndarray, qs: tuple, w) -> list[np.ndarray]:
    """Each column's quantiles ``qs``, rows weighted by ``w`` (None: equal); the columns sorted once."""
    if w is None or np.all(w[w > 0] == w[w > 0][0]):  # equal weights: as without them (interpolated)
        return list(np.quantile(y2 if w is None else y2[w > 0], qs, axis=0))
    order = np.argsort(y2, axis=0)
    cum = np.cumsum(w[order], axis=0)
    ordered = np.take_along_axis(y2, order, axis=0)
    columns = np.arange(y2.shape[1])
    return [ordered[(cum >= q * cum[-1]).argmax(axis=0), columns] for q in qs]


def _target_scaling(y2: np.ndarray, loss, w) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` that standardize the target for ``loss``, rows weighted by ``w``: a row of
    weight 0 (a placeholder target) is as if absent, as scikit-learn means it.

    Centred by the mean and scaled by the std; for mae and huber by the median and the interquartile
    range / 1.349 (the std for normal data), which outliers do not inflate (with a std of 2e5 from 2%
    of outliers, the other rows differed by 1e-5 and mae could not fit them); for mape/msle scaled by
    the mean |y| and not centred. A constant target gets a tiny scale, so the network's residual
    noise vanishes from its (constant) predictions.
    """
    kept = y2 if w is None else y2[w > 0]
    largest = np.abs(kept).max(axis=0)
    mean = np.zeros(y2.shape[1])
    if loss in _SCALE_ONLY_LOSSES:
        scale = np.average(np.abs(y2), axis=0, weights=w)
    else:
        mean = np.average(y2, axis=0, weights=w)
        scale = np.sqrt(np.average((y2 - mean) ** 2, axis=0, weights=w))
        if loss in _ROBUST_LOSSES:
            quartiles = _weighted_quantiles(y2, (0.25, 0.5, 0.75), w)
            spread = (quartiles[2] - quartiles[0]) / 1.349
            mean = np.where(spread > 0, quartiles[1], mean)  # half the rows one value: the std's scaling
            scale = np.where(spread > 0, spread, scale)
    constant = kept.max(axis=0) == kept.min(axis=0)  # exactly: 1.7e18 + 1e6·noise still varies
    return mean, np.where(constant | (scale == 0), 1e-6 * np.maximum(largest, 1e-300), scale)


class KerasRegressorMixin(RegressorMixin):
    """Regression targets, one or several; standardized internally for scale-free losses."""

    #: Whether the model's output is checked for a Poisson loss once built (a user's model may end in an
    #: exponential): else the loss is refused at once, the learners' outputs being linear.
    _poisson_checked_on_model = False

    #: Whether msle trains as mse on log1p(y), predictions mapped back by expm1: the same objective,
    #: without msle's flat floor (Keras' msle clips predictions at 0, so a network whose linear head
    #: starts negative on every row had no gradient and never trained). A user's model keeps its loss.
    _msle_as_log_target = True

    def _loss(self):
        if self.loss is None or self._log_target():
            return "mse"
        return self.loss

    def _log_target(self) -> bool:
        return self._msle_as_log_target and _loss_name(self.loss) in _LOG_LOSSES

    def _checked_numbers(self, y, n, name="y", x_name="X"):
        """``y`` as a float64 array of ``n`` rows (1-D or 2-D), or a ValueError naming ``name``."""
        y = _refuse_sparse(y, name)
        dtypes = list(y.dtypes) if isinstance(y, pd.DataFrame) else [getattr(y, "dtype", None)]
        columns = y.columns if isinstance(y, pd.DataFrame) else None
        if any(getattr(d, "kind", None) in ("M", "m") for d in dtypes):
            raise ValueError(f"{name} holds dates or durations; a regressor needs numbers: convert them first, e.g. "
                             f"(y - y.min()).dt.total_seconds() or y.dt.year.")
        if any(getattr(d, "kind", None) == "c" for d in dtypes):  # before to_numpy(float64) drops the imaginary part
            raise ValueError(f"Complex data not supported; {name} must hold real numbers.")
        if hasattr(y, "to_numpy"):  # pandas nullable columns (Float64, Int64): pd.NA becomes NaN, checked below
            try:
                y = y.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError, OverflowError):
                pass  # text and the like: named below
        y = np.asarray(y)
        if y.dtype.kind == "c":  # astype(float64) would drop the imaginary part, silently
            raise ValueError(f"Complex data not supported; {name} must hold real numbers.")
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except OverflowError:  # Python ints beyond float64, e.g. 10**400
                raise ValueError(f"{name} holds numbers too large for a float (beyond ±1.8e308); rescale it first, "
                                 "e.g. divide by a constant or take a log.") from None
            except (TypeError, ValueError) as err:
                text = [str(c) for c, d in zip(columns, dtypes) if d.kind not in "biuf"] if columns is not None else []
                which = f" (column(s) {text} are not numbers)" if text else ""
                raise ValueError(f"{type(self).__name__} needs a numeric target; {name} has dtype {y.dtype}"
                                 f"{which}.") from err
        y = y.astype(np.float64)
        if y.ndim > 2 or y.ndim == 0:
            raise ValueError(f"{name} must be 1D or 2D; got shape {y.shape}.")
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(f"{name} has no columns (shape {y.shape}); pass the target column(s).")
        if len(y) != n:
            raise ValueError(f"{x_name} has {n} rows but {name} has {len(y)}: they must match.")
        if not np.all(np.isfinite(y)):
            bad = ~np.isfinite(y.reshape(len(y), -1))
            where = ""
            if bad.shape[1] > 1:  # a multi-output target: which of its columns
                names = list(columns) if columns is not None else list(range(bad.shape[1]))
                where = f" in column(s) {[names[j] for j in np.flatnonzero(bad.any(axis=0))]}"
            raise ValueError(f"{name} contains NaN or infinity{where} ({rows_at(bad.any(axis=1))}); "
                             "drop or fill those rows first.")
        return y

    def _encode_target(self, y, n, sample_weight=None):
        loss = _loss_name(self.loss)
        y = self._checked_for_loss(y, n)
        self._y_ndim = y.ndim
        self.y_log1p_ = self._log_target()
        y2 = np.log1p(y.reshape(n, -1)) if self.y_log1p_ else y.reshape(n, -1)
        loss = "mse" if self.y_log1p_ else loss
        with np.errstate(over="ignore", invalid="ignore"):  # |y| near 1e155 and beyond: checked below
            self.y_mean_, self.y_scale_ = np.zeros(y2.shape[1]), np.ones(y2.shape[1])  # other losses: as given
            if loss in _SCALED_LOSSES:
                weights = _usable_weights(sample_weight, n)
                self.y_mean_, self.y_scale_ = self._target_standardization(y2, loss, weights)
            y_fit = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        if not (np.isfinite(self.y_mean_).all() and np.isfinite(self.y_scale_).all() and np.isfinite(y_fit).all()):
            raise ValueError(
                f"y holds values too large to train on (largest |y| {np.abs(y2).max():.3g}"
                f"{'' if loss in _SCALED_LOSSES else f', and loss={self.loss!r} trains on y unscaled'}"
                "); divide y by a power of ten first and multiply the predictions back."
            )
        task = "regression" if y2.shape[1] == 1 else "multioutput"
        return y_fit, (task, None, y2.shape[1])

    def _checked_for_loss(self, y, n):
        """``y`` as checked numbers (see :meth:`_checked_numbers`), after refusing a loss this regressor cannot
        train on it with."""
        loss = _loss_name(self.loss)
        if loss in _CLASSIFICATION_LOSSES:
            raise ValueError(
                f"loss={self.loss!r} is a classification loss; a regressor needs a regression loss such as "
                "None (mse), 'mae' or 'huber'. For class labels use the matching Classifier."
            )
        y = self._checked_numbers(y, n)
        if loss == "poisson" and not self._poisson_checked_on_model:
            raise ValueError(
                "loss='poisson' needs positive predictions, which the learners' linear output does not give "
                "(the loss is NaN from the first epoch). For counts use loss='msle' (mse on log1p(y), predictions "
                "mapped back by expm1), or KerasRegressor over a model with an exponential "
                "output compiled with loss='poisson' in your build function (keraslearn then leaves y unscaled)."
            )
        check_log_loss(loss, y)
        if loss == "cosine_similarity" and y.reshape(n, -1).shape[1] == 1:
            raise ValueError(
                "loss='cosine_similarity' compares the directions of the predicted and true target vectors; with one "
                "target column a direction is only a sign, so it trains predictions of any size (R² far below 0). "
                "Use it on a multi-output y, or 'mse', 'mae' or 'huber' here.")
        return y

    def _target_standardization(self, y2: np.ndarray, loss, w) -> tuple[np.ndarray, np.ndarray]:
        """``(y_mean_, y_scale_)`` for the training target ``y2`` (see :func:`_target_scaling`)."""
        return _target_scaling(y2, loss, w)

    def _encode_validation_target(self, y, n):
        """``y_val`` standardized as ``y`` was."""
        return self._standardized(self._checked_numbers(y, n, "y_val", "X_val"), n, "y_val", "y")

    def _standardized(self, y, n, name, against):
        """Checked numbers ``y`` (named ``name``) standardized as the fitted target (``against``) was."""
        y2 = y.reshape(n, -1)
        if y2.shape[1] != len(self.y_mean_):
            raise ValueError(f"{name} has {y2.shape[1]} target column(s) but {against} has {len(self.y_mean_)}.")
        if self.y_log1p_:  # set by _encode_target, which fit runs first
            check_log_loss(_loss_name(self.loss), y2, name)
            y2 = np.log1p(y2)
        with np.errstate(over="ignore"):
            y_fit = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        if not np.isfinite(y_fit).all():
            raise ValueError(f"{name} holds values too large to train on (largest |{name}| {np.abs(y2).max():.3g}).")
        return y_fit

    def _encode_more_target(self, y, n, sample_weight=None):
        """``y`` of a warm-started fit, standardized as the fitted model's was."""
        y = self._checked_for_loss(y, n)
        logged = bool(getattr(self, "y_log1p_", False))
        if self._log_target() != logged:
            raise ValueError(f"warm_start continues a network fitted on {'log1p(y)' if logged else 'y'} (its loss "
                             f"then), but loss={self.loss!r} trains on {'y' if logged else 'log1p(y)'}. Set "
                             "warm_start=False to fit anew, or set the loss back.")
        return self._standardized(y, n, "y", "the fitted model's y")

    def predict(self, X):
        """Predicted targets, shaped as y was: (n_samples,) for a 1-D y, (n_samples, n_targets) for a 2-D y (one
        column too, as scikit-learn's LinearRegression).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit.
        """
        p = self._predict_raw(X) * self.y_scale_ + self.y_mean_
        if getattr(self, "y_log1p_", False):  # msle's domain: a prediction below 0 is 0 to it
            with np.errstate(over="ignore"):  # said below, in the user's words, not NumPy's
                p = np.maximum(np.expm1(p), 0.0)
            if np.isinf(p).any():
                warn_user(f"{int(np.isinf(p).sum())} prediction(s) are inf: the model predicts log1p(y) beyond "
                          "709 there (loss='msle'), past float64's range. Are those rows' inputs far outside "
                          "the training data's?")
        return p.ravel() if self._y_ndim == 1 else p

    def _fitted_state(self):
        state, arrays = KerasLearner._fitted_state(self)
        state["y_ndim"] = self._y_ndim
        state["y_log1p"] = bool(getattr(self, "y_log1p_", False))  # a learner unpickled from before it: False
        arrays.update(y_mean=self.y_mean_, y_scale=self.y_scale_)
        return state, arrays

    def _restore_fitted_state(self, state, arrays):
        KerasLearner._restore_fitted_state(self, state, arrays)
        self._y_ndim = state["y_ndim"]
        self.y_log1p_ = bool(state.get("y_log1p", False))  # artifacts before it: False
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
