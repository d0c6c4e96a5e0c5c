"""Warnings that point at the user's own line, however deep inside keraslearn they are raised."""

from __future__ import annotations

import os
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


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first caller outside keraslearn.

    A fixed ``stacklevel`` is right for one call path only (``fit`` reaches the encoder one frame
    deeper than ``TabularEncoder.fit`` does); the user's file and line are what they need.
    """
    level, frame = 2, sys._getframe(1)
    while frame is not None and _ours(frame):
        frame = frame.f_back
        while frame is not None and _import_machinery(frame):
            frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
