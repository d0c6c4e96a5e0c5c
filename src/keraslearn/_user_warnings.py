"""Warnings that point at the user's own line, however deep inside keraslearn they are raised."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _import_machinery(frame) -> bool:
    # The frames that warnings.warn itself skips when it counts stacklevel.
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


# Frames between the user's call and keraslearn: tune's trials run inside Optuna's optimize loop, a contextlib
# decorator (each_column_warning_once) wraps tune itself, and scikit-learn's meta-estimators (cross_val_score,
# GridSearchCV, through joblib) fit learners for the user (its set_output wraps TabularEncoder.transform too).
_LIBRARIES = ("optuna", "contextlib", "sklearn", "joblib")


def _ours(frame) -> bool:
    name = frame.f_code.co_filename
    module = frame.f_globals.get("__name__") or ""
    return name.startswith(_PACKAGE) or module.partition(".")[0] in _LIBRARIES


class ColumnWarning(UserWarning):
    """A column that is probably a mistake (dates or numbers read as text, an identifier): it is
    still used, and the message names it and the fix. ``column``: its name."""

    def __init__(self, message: str, column=None):
        super().__init__(message)
        self.column = column


def warn_user(message: str, category: type[Warning] = UserWarning, column=None) -> None:
    """``warnings.warn`` at the first caller outside keraslearn.

    A fixed ``stacklevel`` is right for one call path only (``fit`` reaches the encoder one frame
    deeper than ``TabularEncoder.fit`` does); the user's file and line are what they need.
    ``column``: the warning is a :class:`ColumnWarning` about that column.
    """
    level, frame = 2, sys._getframe(1)
    while frame is not None and _ours(frame):
        frame = frame.f_back
        while frame is not None and _import_machinery(frame):
            frame = frame.f_back
        level += 1
    if column is not None:
        said = _SAID.get()
        if said is not None:  # inside each_column_warning_once
            # The same warning up to a fold's numbers and examples ('2020-01-03', "'?', 'abc'").
            key = (column, re.sub(r"[^a-z]+", " ", re.sub(r"'[^']*'|\"[^\"]*\"", "", message.lower())))
            if key in said:
                return
            said.add(key)
        message, category = ColumnWarning(message, column), ColumnWarning
    warnings.warn(message, category, stacklevel=level)


#: The column warnings said inside each_column_warning_once (None outside): per thread and task.
_SAID: contextvars.ContextVar = contextvars.ContextVar("keraslearn_column_warnings_said", default=None)


@contextlib.contextmanager
def each_column_warning_once():
    """Say a :class:`ColumnWarning` once inside the block, however many fits say it: every fold of
    every trial of a study fits an encoder (2 trials of 3 folds said "an identifier?" 7 times). The
    same warning is the same text up to its numbers and quoted examples (a fold's rows, levels).
    Kept per thread (a context variable), so tune calls in two threads do not meddle."""
    token = _SAID.set(set())
    try:
        yield
    finally:
        _SAID.reset(token)
