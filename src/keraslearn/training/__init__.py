"""Fit policy: seeds, validation split, early stopping, compilation and progress."""

from keraslearn.training.fit import (
    compile_model,
    fit_model,
    global_random_state_kept,
    seed_everything,
)
from keraslearn.training.split import validation_split

__all__ = ["compile_model", "fit_model", "global_random_state_kept", "seed_everything", "validation_split"]
