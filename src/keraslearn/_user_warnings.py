"""Warnings that point at the user's own line, however deep inside keraslearn they are raised."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn's set_output wraps TabularEncoder.transform: its frame is keraslearn's call, not the user's.
_WRAPPERS = (os.path.join("sklearn", "utils", "_set_output.py"),)


def _import_machinery(frame) -> bool:
    # The frames that warnings.warn itself skips when it counts stacklevel.
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


def _ours(frame) -> bool:
    name = frame.f_code.co_filename
    return name.startswith(_PACKAGE) or name.endswith(_WRAPPERS)


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
        message, category = ColumnWarning(message, column), ColumnWarning
    warnings.warn(message, category, stacklevel=level)


@contextlib.contextmanager
def each_column_warning_once():
    """Show a :class:`ColumnWarning` once inside the block, however many fits say it: every fold of
    every trial of a study fits an encoder (2 trials of 3 folds said "an identifier?" 7 times). The
    same warning is the same text up to its numbers (a fold's rows, levels, examples)."""
    shown, said = warnings.showwarning, set()

    def show(message, category, *args, **kwargs):
        if isinstance(message, ColumnWarning):
            key = (message.column, re.sub(r"\d+", "", str(message)))
            if key in said:
                return
            said.add(key)
        shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
