"""Learning-rate schedules over the whole run (RealMLP's coslog / flat-anneal) and AdamW set-up.

A schedule sees the training progress ``t`` in [0, 1] at the middle of each optimizer step,
``t = (step + 0.5) / total_steps``, so no step falls on a shape's zero at ``t = 0`` (with a
run of one step, coslog4 evaluated at ``step / total_steps`` would never train); the learner
computes ``total_steps`` from the number of training rows, the batch size and the epochs.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keraslearn.training.schedules import steps_per_epoch

SCHEDULES = ("constant", "coslog4", "flat_anneal", "cosine")


@keras.saving.register_keras_serializable(package="keraslearn")
class ProgressSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate * f((step + 0.5) / total_steps)`` for a named shape ``f``.

    Shapes (from pytabkit, Holzmüller et al. 2024):

    - ``"coslog4"``: ``0.5 * (1 - cos(2π log2(1 + 15 t)))``: four cosine cycles of
      doubling length, each starting and ending at 0 (RealMLP-TD's default).
    - ``"flat_anneal"``: 1 for the first 60%, then a cosine down to 1e-5.
    - ``"cosine"``: one cosine from 1 to 0.
    - ``"constant"``: 1.

    Parameters
    ----------
    learning_rate : float
        The peak learning rate.
    total_steps : int
        Optimizer steps in the whole run.
    shape : str, default="coslog4"
    """

    def __init__(self, learning_rate, total_steps, shape="coslog4"):
        if shape not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {shape!r}.")
        self.learning_rate = float(learning_rate)
        self.total_steps = max(int(total_steps), 1)
        self.shape = shape

    def __call__(self, step):
        t = ops.minimum((ops.cast(step, "float32") + 0.5) / float(self.total_steps), 1.0)
        if self.shape == "coslog4":
            f = 0.5 * (1.0 - ops.cos(2.0 * math.pi * ops.log2(1.0 + 15.0 * t)))
        elif self.shape == "flat_anneal":
            u = ops.clip((t - 0.6) / 0.4, 0.0, 1.0)
            f = 1e-5 + (1.0 - 1e-5) * 0.5 * (1.0 + ops.cos(math.pi * u))
        elif self.shape == "cosine":
            f = 0.5 * (1.0 + ops.cos(math.pi * t))
        else:
            f = ops.ones_like(t)
        return self.learning_rate * f

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps, "shape": self.shape}


def total_steps(n_train: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps in a fit: ``epochs`` times :func:`~keraslearn.training.schedules.steps_per_epoch`."""
    return int(epochs) * steps_per_epoch(n_train, int(batch_size))


def adamw(learning_rate, weight_decay, *, beta_2=0.999, exclude=("bias",), exclude_variables=(), global_clipnorm=None):
    """Keras AdamW whose decay skips variables whose name contains any of ``exclude``, and those in
    ``exclude_variables`` (a layer's: Keras matches names as "kernel", not paths)."""
    opt = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, beta_2=beta_2, global_clipnorm=global_clipnorm
    )
    if exclude or exclude_variables:
        opt.exclude_from_weight_decay(var_list=list(exclude_variables), var_names=list(exclude))
    return opt
