"""Classification targets (class labels, class weights); regression targets are in
:mod:`keraslearn.learners.regression_targets`."""

from __future__ import annotations

import datetime
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from keraslearn._user_warnings import warn_user
from keraslearn.learners.base import KerasLearner, negligible_as_zero, rows_at
from keraslearn.learners.loss_kinds import (
    _BINARY_LOSSES,
    _ONE_HOT_LOSSES,
    _REGRESSION_LOSSES,
    _from_logits,
    _loss_name,
)
from keraslearn.preprocessing.validation import _package


def _equal(key, label) -> bool:
    try:
        return bool(key == label)
    except (TypeError, ValueError):
        return False


def _refuse_sparse(y, name):
    """``y`` itself (a polars LazyFrame as the frame it computes, as X may be one), or a ValueError if sparse."""
    if sp.issparse(y):
        raise ValueError(f"{name} is a sparse matrix; a target must be dense: pass {name}.toarray().")
    return y.collect() if _package(y) == "polars" and type(y).__name__ == "LazyFrame" else y


def _label_kind(label) -> str:
    """A label's kind, to tell a class missing from y from a key that could never be a label."""
    if isinstance(label, (bool, np.bool_)):
        return "bool"
    return "number" if isinstance(label, (numbers.Number, np.number)) else type(label).__name__


class KerasClassifierMixin(ClassifierMixin):
    """Classification targets: labels kept in ``classes_``, probabilities from ``predict_proba``."""

    _head_outputs_probabilities = True  # the learners' own models end in a sigmoid or softmax

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

    def _checked_labels(self, y, n, name="y", x_name="X"):
        """``y`` as a 1-D array of class labels of ``n`` rows, or a ValueError naming ``name``."""
        y = np.asarray(_refuse_sparse(y, name))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        elif y.ndim != 1:
            binary = y.ndim == 2 and y.dtype.kind in "biuf" and np.isin(y, (0, 1)).all()
            if binary and (y.sum(axis=1) == 1).all():
                what = (f"Its rows are one-hot: pass the class labels instead, e.g. {name}.argmax(axis=1) "
                        "(keraslearn makes one-hot rows itself where the loss needs them).")
            elif y.ndim != 2:
                what = "Pass one label per row."
            else:
                kind = "multi-label" if binary else "multi-output"
                what = (f"For {kind} classification, wrap it: sklearn.multioutput.MultiOutputClassifier"
                        f"({type(self).__name__}(...)) fits one per column (or ClassifierChain).")
            raise ValueError(
                f"{type(self).__name__} supports one target column; got {name} with shape {y.shape}. {what}"
            )
        if len(y) != n:
            raise ValueError(f"{x_name} has {n} rows but {name} has {len(y)}: they must match.")
        if (y.dtype == object or y.dtype.kind in "mM") and pd.isna(y).any():  # None, NaN, pd.NA, NaT
            raise ValueError(f"{name} contains missing labels; drop those rows or fill them first "
                             f"({rows_at(pd.isna(y))}).")
        if y.dtype == object:
            y = pd.Series(y).infer_objects().to_numpy()  # True/False (or 1/2) kept as objects: bool (int) labels
            if y.dtype != object and name == "y":
                warn_user(
                    f"y holds {y.dtype} labels stored as Python objects (dtype object): keraslearn trains on them, "
                    f"but scikit-learn's scorers refuse such a y (score, cross_val_score and GridSearchCV give "
                    f"errors or NaN); convert it first, e.g. y.astype({y.dtype.name!r}).")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(f"{name} contains NaN; drop those rows or fill them first ({rows_at(np.isnan(y))}).")
        if y.dtype == object and len(y) and all(type(v) is datetime.date for v in y):  # pandas' date32[pyarrow]
            y = y.astype("datetime64[D]")  # the labels a polars Date column gives
            if name == "y":
                warn_user("y holds dates stored as Python objects (datetime.date): keraslearn trains on them as "
                          "datetime64[D] labels, but scikit-learn's scorers refuse such a y (score, cross_val_score "
                          "and GridSearchCV give errors); convert it first, e.g. y.astype('datetime64[s]').")
        if y.dtype == object:
            kinds = sorted({type(v).__name__ for v in y})
            if "str" in kinds and len(kinds) > 1:  # 1 and "a" cannot be sorted into classes_
                raise ValueError(f"{name} mixes label types {kinds}; make them one type, e.g. {name}.astype(str).")
        if y.dtype == object and type_of_target(y) == "unknown":  # e.g. time-zone-aware times, periods, intervals
            kinds = sorted({type(v).__name__ for v in y})
            tz = " (time-zone-aware times: y.dt.tz_convert(None) keeps them as times)" if "Timestamp" in kinds else ""
            raise ValueError(f"{name} holds labels of type {', '.join(kinds)}, which scikit-learn cannot use as "
                             f"classes; convert them, e.g. {name}.astype(str){tz}.")
        return y

    def _encode_target(self, y, n, sample_weight=None):
        y = self._checked_labels(y, n)
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {type_of_target(y)!r}.")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: {self.classes_.tolist()[0]!r}."
            )
        task = "binary" if len(self.classes_) == 2 else "multiclass"
        return self._weighed_target(codes, sample_weight), (task, len(self.classes_))

    def _encode_more_target(self, y, n, sample_weight=None):
        """``y`` of a warm-started fit, coded with the fitted ``classes_``."""
        y = self._checked_labels(y, n)
        codes = self._known_codes(y, "y", "the fitted model", " (warm_start keeps them; warm_start=False fits anew)")
        return self._weighed_target(codes, sample_weight)

    def _weighed_target(self, codes, sample_weight):
        """The loss's target for class ``codes``, after checking the loss against ``classes_``; keeps their
        ``class_weight`` for ``_check_sample_weight``."""
        if _from_logits(self.loss) and self._head_outputs_probabilities:
            raise ValueError(
                f"loss={type(self.loss).__name__}(from_logits=True) takes logits, but {type(self).__name__}'s model "
                "ends in a softmax (a sigmoid for two classes) and outputs probabilities: the activation would be "
                "applied twice, giving badly calibrated probabilities. Pass the loss with from_logits=False (its "
                "default), e.g. keras.losses.BinaryCrossentropy(label_smoothing=0.1), or leave loss=None.")
        if len(self.classes_) > 2 and _loss_name(self.loss) in _BINARY_LOSSES:
            raise ValueError(
                f"loss={self.loss!r} is a loss for two classes, but y has {len(self.classes_)} classes; "
                "use loss=None (sparse categorical cross-entropy) or 'categorical_crossentropy'."
            )
        self._class_weight_codes = None
        if self.class_weight is not None:
            self._class_weight_codes = self._class_weights(codes, sample_weight)
        return self._fit_target(codes)

    def _fit_target(self, codes):
        """What the loss compares the model's output with: class codes, or one-hot rows."""
        codes = codes.astype(np.int32)
        name = _loss_name(self.loss)
        if name in _ONE_HOT_LOSSES or name in _REGRESSION_LOSSES:  # e.g. 'mse' on probabilities: the Brier score
            return np.eye(len(self.classes_), dtype=np.float32)[codes]
        return codes

    def _encode_validation_target(self, y, n):
        """``y_val`` as the loss's target, coded with the ``classes_`` that ``y`` gave."""
        y = self._checked_labels(y, n, "y_val", "X_val")
        return self._fit_target(self._known_codes(y, "y_val", "y"))

    def _known_codes(self, y, name, against, hint="") -> np.ndarray:
        """The codes of ``y``'s labels among ``classes_``; a label outside them is a ValueError naming ``name``
        and what gave the classes (``against``)."""
        codes = pd.Index(self.classes_).get_indexer(y)
        if (codes < 0).any():
            unseen = pd.unique(y[codes < 0]).tolist()
            raise ValueError(f"{name} holds labels that {against} does not: {unseen[:10]}; the classifier's classes "
                             f"are {self.classes_.tolist()}{hint}.")
        return codes

    def _class_weights(self, codes, sample_weight=None):
        cw = self.class_weight
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be 'balanced', a dict or None; got {cw!r}.")
            # Classes counted by their rows' weights, as scikit-learn's compute_class_weight does with
            # sample_weight: rows of weight 0 count for nothing, a row of weight 2 twice.
            sw = KerasLearner._check_sample_weight(self, sample_weight, len(codes))
            sw = None if sw is None else sw / sw.max()  # their ratios: no sum overflows for weights near 1e308
            counts = np.bincount(codes, weights=sw, minlength=len(self.classes_)).astype(np.float64)
            per_class = np.divide(counts.sum() / len(self.classes_), counts, out=np.zeros_like(counts),
                                  where=counts > 0)  # a class all of weight 0: its rows weigh 0 anyway
            return per_class[codes].astype(np.float32)
        if not isinstance(cw, dict):
            raise ValueError(f"class_weight must be 'balanced', a dict or None; got {cw!r}.")
        labels = pd.Index(self.classes_).tolist()  # Timestamps for dates: tolist() of datetime64[ns] gives ints
        # By Python equality, as scikit-learn's compute_class_weight finds them ({True: 5} for labels 0/1; an
        # np.datetime64 key for a Timestamp label, which hash apart)
        where = {k: next((j for j, c in enumerate(labels) if _equal(k, c)), -1) for k in cw}
        unknown = [k for k, i in where.items() if i < 0]
        unweighted = [c for j, c in enumerate(labels) if j not in set(where.values())]
        if any(_label_kind(k) != _label_kind(labels[0]) for k in unknown):  # {"1": 3} for labels 1, 2: a slip
            raise ValueError(f"class_weight names labels not in y: {unknown}; labels are {labels}.")
        if unknown and unweighted:  # {"Yes": 10} for "yes", "no": a slip too (scikit-learn raises as well)
            raise ValueError(f"class_weight names labels not in y: {unknown}, and no weight for {unweighted}; "
                             f"labels are {labels}.")
        if unknown:  # every class weighed, one absent from these rows (a CV fold): scikit-learn ignores its weight too
            warn_user(f"class_weight names labels not in y: {unknown}; their weights are unused. Labels are {labels}.")
        try:
            per_class = np.ones(len(labels), dtype=np.float32)
            for key, i in where.items():
                if i >= 0:
                    per_class[i] = float(cw[key])
        except (TypeError, ValueError):
            raise ValueError(f"class_weight must map labels to numbers; got {cw!r}.") from None
        if not np.all(np.isfinite(per_class)) or (per_class < 0).any():
            raise ValueError(f"class_weight must give finite, non-negative weights; got {cw!r}.")
        return per_class[codes]

    def _check_sample_weight(self, sample_weight, n):
        sw = KerasLearner._check_sample_weight(self, sample_weight, n)
        per_row = self.__dict__.pop("_class_weight_codes", None)  # one float a training row: not kept after fit
        if per_row is not None:
            with np.errstate(over="ignore"):
                both = per_row if sw is None else sw * per_row
            if not np.isfinite(both).all():  # weights near 1e308: only their ratios count
                both = sw / sw.max() * per_row
            if not both.any():  # else the weights' mean of 0 makes every weight NaN and the fit "diverges"
                raise ValueError(f"class_weight={self.class_weight!r} gives every training row weight 0"
                                 f"{'' if sample_weight is None else ' (with sample_weight)'}: "
                                 "at least one row must weigh something.")
            sw = negligible_as_zero(both)
        return sw

    def _stratify_labels(self, y_fit):
        return y_fit if y_fit.ndim == 1 else y_fit.argmax(axis=1)

    def _warn_classes_without_weight(self, y_fit, sample_weight):
        """Classes whose rows all have sample_weight 0 stay in ``classes_``, as in scikit-learn, but the model
        never sees them: said, as it is most often a slip (a class_weight of 0 is meant, and not said)."""
        if sample_weight is None:
            return
        sw = KerasLearner._check_sample_weight(self, sample_weight, len(y_fit))  # those that removed the rows
        weighs = np.bincount(self._stratify_labels(y_fit), weights=sw, minlength=len(self.classes_))
        if not weighs.all():
            unseen = pd.Index(self.classes_)[weighs == 0].tolist()  # Timestamps, not datetime64's integers
            warn_user(f"every row of class(es) {unseen} has sample_weight 0: they stay in classes_ (as in "
                      "scikit-learn), but the model never sees them, so it seldom predicts them.")

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit (CNNClassifier: images, given as its fit takes them).
        """
        p = self._predict_raw(X)
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        # float32 softmax rows sum to 1 only within ~1e-7; make them exact in float64.
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba`` (-inf where a probability is 0).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit (CNNClassifier: images, given as its fit takes them).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels (the original label values, as in ``classes_``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit (CNNClassifier: images, given as its fit takes them).
        """
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
