"""Keras' loss families, as the learners read them: by name whatever alias or instance names a loss."""

from __future__ import annotations

import keras
import numpy as np

# Losses that need one-hot targets; the rest of the classification losses take class codes.
_ONE_HOT_LOSSES = {"categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence"}
_BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
# Keras' regression losses: on a classifier they compare the class probabilities with one-hot targets.
_REGRESSION_LOSSES = {"mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh",
                      "mape", "mean_absolute_percentage_error", "msle", "mean_squared_logarithmic_error",
                      "poisson", "cosine_similarity"}
_CLASSIFICATION_LOSSES = _ONE_HOT_LOSSES | _BINARY_LOSSES | {"sparse_categorical_crossentropy"}
# Regression losses for which standardizing the target changes nothing but the scale.
_SCALE_FREE_LOSSES = {None, "mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh"}
# Losses of a ratio or a logarithm: the target is divided by its scale but not centred (y and the
# predictions stay positive), so a network's O(1) outputs reach it.
_LOG_LOSSES = {"msle", "mean_squared_logarithmic_error"}
_SCALE_ONLY_LOSSES = {"mape", "mean_absolute_percentage_error"} | _LOG_LOSSES
_SCALED_LOSSES = _SCALE_FREE_LOSSES | _SCALE_ONLY_LOSSES
# Losses robust to outliers: centred on the median and scaled by the interquartile range (/1.349, the
# standard deviation for normal data), which a few huge values do not inflate as they do the std.
_ROBUST_LOSSES = {"mae", "mean_absolute_error", "huber"}


def _loss_name(loss):
    """Keras' function name for a loss given by any alias, class name or instance (``"MSE"``,
    ``"MeanSquaredError"``, ``keras.losses.Huber()`` named "huber_loss"...), else its own name."""
    if loss is None:
        return None
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except (ValueError, TypeError):
            return loss
    fn = getattr(loss, "fn", loss)  # a keras.losses.Loss made from a function (all of Keras' own)
    return getattr(fn, "__name__", None) or getattr(loss, "name", None)


def _from_logits(loss) -> bool:
    """Whether a Keras loss object takes logits (``from_logits=True``); names never do."""
    if loss is None or isinstance(loss, str):
        return False
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    return bool((config or {}).get("from_logits", getattr(loss, "from_logits", False)))


def check_log_loss(loss_name, y, name="y"):
    """A logarithmic loss (log(y + 1)) on a target with negative values trains on nonsense: refuse it."""
    if loss_name in _LOG_LOSSES and np.min(y) < 0:
        raise ValueError(
            f"loss {loss_name!r} compares log(y + 1) with log(prediction + 1), so {name} must be >= 0; {name} has "
            f"negative values (smallest {np.min(y):.4g}). Use 'mse', 'mae' or 'huber' instead.")
