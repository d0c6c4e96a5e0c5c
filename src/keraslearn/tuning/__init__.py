"""Hyperparameter tuning on Optuna: search spaces per learner."""

from keraslearn.tuning.spaces import apply_sample, search_space

__all__ = ["search_space", "apply_sample"]
