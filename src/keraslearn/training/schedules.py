"""Learning-rate schedules built per fit from the number of optimizer steps.

A Keras ``LearningRateSchedule`` is a function of the optimizer's step count, saved with the
optimizer and the same on every backend; nothing global is read during training (mlr3keras'
cosine-annealing callback read a global model).
"""

from __future__ import annotations

import math

import keras

SCHEDULES = ("cosine", "cosine_restarts", "constant")


def check_schedule(lr_schedule):
    """Raise ValueError unless ``lr_schedule`` is a known name, a Keras schedule or None."""
    if lr_schedule is None or isinstance(lr_schedule, keras.optimizers.schedules.LearningRateSchedule):
        return
    if lr_schedule not in SCHEDULES:
        raise ValueError(
            f"lr_schedule must be one of {SCHEDULES}, None or a keras.optimizers.schedules.LearningRateSchedule; "
            f"got {lr_schedule!r}."
        )


def held_out_rows(n_rows: int, validation_fraction: float) -> int:
    """Rows ``training.fit_model`` holds out for validation: 0 when the share rounds to none, or to all."""
    n_val = int(round(n_rows * validation_fraction))
    return n_val if validation_fraction > 0 and 1 <= n_val < n_rows else 0


def training_rows(n_rows: int, validation_fraction: float) -> int:
    """Rows left to train on once ``training.fit_model`` holds out the validation rows."""
    return n_rows - held_out_rows(n_rows, validation_fraction)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch on ``n_train`` training rows (as ``training.fit_model`` batches them)."""
    return max(1, math.ceil(n_train / max(1, min(batch_size, n_train))))


def learning_rate_schedule(lr_schedule, learning_rate: float, *, epochs: int, steps: int, restart_epochs: int = 10):
    """The learning rate to compile with: a float, or a fresh schedule over ``epochs * steps`` steps.

    Parameters
    ----------
    lr_schedule : {"cosine", "cosine_restarts", "constant"}, LearningRateSchedule or None
        ``"cosine"`` decays from ``learning_rate`` to 0 over the whole fit (``CosineDecay``);
        ``"cosine_restarts"`` is mlr3keras' default (``CosineDecayRestarts``: a first cycle of
        ``restart_epochs`` epochs, each next cycle twice as long); ``"constant"``/None keep
        ``learning_rate``; a schedule instance is copied and used as is.
    learning_rate : float
        Peak (initial) learning rate.
    epochs, steps : int
        Epochs of the fit and optimizer steps per epoch.
    """
    check_schedule(lr_schedule)
    schedules = keras.optimizers.schedules
    if isinstance(lr_schedule, schedules.LearningRateSchedule):
        return type(lr_schedule).from_config(lr_schedule.get_config())
    if lr_schedule == "cosine":
        return schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * steps), alpha=0.0)
    if lr_schedule == "cosine_restarts":
        return schedules.CosineDecayRestarts(
            learning_rate, first_decay_steps=max(1, restart_epochs * steps), t_mul=2.0, m_mul=1.0, alpha=0.0
        )
    return learning_rate
