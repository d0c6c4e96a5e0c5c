"""Notes on scoring a classifier's predictions against labels: what is left out of the metrics and
why, and labels read as another type than the model's classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslearn.console import say as _say


def say_roc_auc_left_out(console, model, y, scores, where, sample_weight=None) -> None:
    if "log_loss" in scores and "roc_auc" not in scores:  # every label a class, but not all of them there
        weighing = ""
        if sample_weight is not None:  # classes of rows that all weigh 0 are not there for the metric
            y, weighing = y[np.asarray(sample_weight) > 0], " in rows that weigh more than 0"
        _say(console, f"roc_auc left out: {where} {y.nunique()} of the model's "
                      f"{len(model.classes_)} classes{weighing}, and ROC AUC needs every class", style="yellow")


def labels_as_classes(y: pd.Series, classes) -> pd.Series:
    """Labels of another type than the model's classes, as the classes: a CSV reads labels 1, 2 as
    numbers where the training Parquet held the strings '1', '2' (or the reverse)."""
    known = classes.tolist()
    if y.isin(known).all():
        return y
    by_text = {str(c): c for c in known}
    text = y.astype(str)
    if not text.isin(by_text).any():
        return y  # nothing to match: labels the model never saw
    if all(isinstance(c, str) for c in known):
        return text  # labels the model never saw stay as their text, comparable with the classes
    mapped = text.map(by_text)
    return mapped.astype(classes.dtype) if mapped.notna().all() else y


def some(values, n=5) -> str:
    values = list(values)
    return ", ".join(map(str, values[:n])) + (" …" if len(values) > n else "")


def say_unseen_labels(console, model, y, where="the data"):
    unseen = sorted(set(y.unique()) - set(model.classes_.tolist()), key=str) if hasattr(model, "classes_") else []
    if unseen:
        _say(console, f"log_loss and roc_auc left out: {where} hold labels the model never saw: "
                      f"{', '.join(map(str, unseen[:10]))}{' …' if len(unseen) > 10 else ''}", style="yellow")
