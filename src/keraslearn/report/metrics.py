"""The metrics the CLI reports, per task."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics


def _all_text(values) -> bool:
    """Whether every value is a string (no missing one): labels scikit-learn sorts slowly, and whose
    codes score the same."""
    import pandas as pd

    return pd.api.types.infer_dtype(np.asarray(values, dtype=object), skipna=False) == "string"


def _as_codes(y_true, y_pred, classes):
    """Text labels as integer codes: ``classes``' positions, then labels that are no class in order of
    appearance. The same scores as the labels themselves (the mapping is one to one and keeps the
    classes' order), without scikit-learn sorting text labels for each metric (1M rows: 3.6 s)."""
    import pandas as pd

    known = pd.Index(classes)
    codes = known.get_indexer(y_true)
    unseen = codes < 0
    if unseen.any():
        codes[unseen] = len(classes) + pd.factorize(np.asarray(y_true)[unseen])[0]
    return codes, known.get_indexer(y_pred), np.arange(len(classes))


def classification_scores(y_true, y_pred, proba=None, classes=None, sample_weight=None) -> dict:
    w = {"sample_weight": sample_weight}
    if classes is not None and _all_text(classes) and _all_text(y_true):  # else as scikit-learn takes them
        y_true, y_pred, classes = _as_codes(y_true, y_pred, classes)
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": true of a small test split, and no error.
        warnings.simplefilter("ignore", UserWarning)
        out = {
            "accuracy": metrics.accuracy_score(y_true, y_pred, **w),
            "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred, **w),
        }
    if proba is not None and classes is not None:
        names = _proba_metrics(y_true, classes, sample_weight)
        if "log_loss" in names:
            out["log_loss"] = metrics.log_loss(y_true, proba, labels=classes, **w)
        if "roc_auc" in names and len(classes) == 2:
            out["roc_auc"] = metrics.roc_auc_score(y_true == classes[1], proba[:, 1], **w)
        elif "roc_auc" in names:
            out["roc_auc"] = metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes, **w)
    return {k: float(v) for k, v in out.items()}


def _proba_metrics(y_true, classes, sample_weight=None) -> list[str]:
    """The probability metrics defined on these labels: none when a label is not a class (scikit-learn
    refuses it, whatever its weight), no AUC for one label (or, with more than two classes, when a class is
    absent); for AUC, labels only of rows that weigh 0 do not count."""
    if not np.isin(y_true, classes).all():
        return []
    if sample_weight is not None:
        y_true = np.asarray(y_true)[np.asarray(sample_weight) > 0]
    n_labels = len(np.unique(y_true))
    return ["log_loss"] + (["roc_auc"] if n_labels > 1 and (len(classes) == 2 or n_labels == len(classes)) else [])


def regression_scores(y_true, y_pred, sample_weight=None) -> dict:
    try:
        y_true = np.asarray(y_true, float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the target is not numeric, but the model is a regressor ({err}).") from None
    y_pred = np.asarray(y_pred, float)
    w = {"sample_weight": sample_weight}
    rows = len(y_true) if sample_weight is None else np.count_nonzero(sample_weight)
    return {
        "rmse": float(metrics.root_mean_squared_error(y_true, y_pred, **w)),  # per target, then averaged
        "mae": float(metrics.mean_absolute_error(y_true, y_pred, **w)),
        "r2": float(metrics.r2_score(y_true, y_pred, **w)) if rows > 1 else float("nan"),
    }


def score_table(learner, X, y, sample_weight=None) -> dict:
    """Metrics of a fitted learner on (X, y), each row weighted by ``sample_weight`` if given:
    classification or regression by the learner's kind.

    A model that predicts NaN (``fit`` refuses to end with one; its weights edited since), or rows that
    all weigh 0, score NaN.
    """
    weighless = sample_weight is not None and not np.any(sample_weight)
    if hasattr(learner, "classes_"):
        proba = learner.predict_proba(X)
        if weighless or not np.isfinite(proba).all():  # the keys of a finite model's scores, each NaN
            names = ("accuracy", "balanced_accuracy", *_proba_metrics(np.asarray(y), learner.classes_))
            return dict.fromkeys(names, float("nan"))
        labels = learner.classes_[np.argmax(proba, axis=1)]  # what predict returns, without predicting again
        return classification_scores(np.asarray(y), labels, proba, learner.classes_, sample_weight)
    pred = learner.predict(X)
    if weighless or not np.isfinite(np.asarray(pred, dtype=float)).all():
        return dict.fromkeys(("rmse", "mae", "r2"), float("nan"))
    return regression_scores(y, pred, sample_weight)
