"""Hyperparameter tuning on Optuna: search spaces, resumable studies, many workers."""

from keraslearn.tuning.spaces import apply_sample, search_space
from keraslearn.tuning.study import TuneResult, best_params, tune

__all__ = ["search_space", "apply_sample", "tune", "TuneResult", "best_params"]
