"""Fit policy: seeds, validation split, early stopping, compilation and progress."""

from keraslearn.training.fit import compile_model, fit_model, seed_everything, validation_split

__all__ = ["compile_model", "fit_model", "seed_everything", "validation_split"]
