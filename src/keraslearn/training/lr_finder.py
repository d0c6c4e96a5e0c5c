"""The learning-rate range test (Smith 2017; mlr3keras' ``find_lr``, fastai's ``lr_find``).

One short fit of a copy of the learner whose learning rate grows exponentially every batch, from
``lr_min`` to ``lr_max``: each batch's training loss against its learning rate shows where training is
fast and where it diverges. The rate grows inside the compiled step (a Keras ``ExponentialDecay``
schedule with a rate above 1, in place of the learner's own rate or schedule, with its own optimizer,
clipping and weight-decay exclusions), so no batch waits on Python to change it.
"""

from __future__ import annotations

import numbers
import warnings

import keras
import numpy as np
import pandas as pd
from sklearn.base import clone

from keraslearn.training.fit import DivergedError

#: The test ends once a batch's loss exceeds this many times the lowest so far (it diverged), as fastai's.
DIVERGED = 4.0
#: Weight of the past in the smoothed loss (an exponential moving average, debiased as Adam's moments).
SMOOTHING = 0.9


def find_learning_rate(learner, X, y, *, lr_min=1e-6, lr_max=1.0, steps=100, sample_weight=None, plot=None):
    """Run the learning-rate range test on a copy of ``learner`` (the learner itself is not changed).

    The copy trains for ``steps`` batches (fewer if the loss diverges first) on every row of X, without
    early stopping, a validation split or the learner's callbacks (they could write files), its learning
    rate growing exponentially from ``lr_min`` to ``lr_max`` in place of the learner's own rate or schedule.

    Parameters
    ----------
    learner : keraslearn tabular learner
        Its optimizer (a name or an instance), batch size and architecture are the test's.
    X : DataFrame or array-like of shape (n_samples, n_features)
        The training rows, as ``fit`` takes them.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Their targets.
    lr_min, lr_max : float, default=1e-6 and 1.0
        The first and last batch's learning rate.
    steps : int, default=100
        Batches to train; the data are passed over as often as that takes.
    sample_weight : array-like of shape (n_samples,), default=None
        As ``fit``'s.
    plot : str or path-like, default=None
        Also draw the loss against the learning rate (log scale) to this PNG file.

    Returns
    -------
    pandas.DataFrame
        One row per batch: ``learning_rate``, ``loss`` (that batch's training loss) and ``smoothed_loss``
        (its exponential moving average). ``attrs["suggestion"]`` is a tenth of the learning rate of the
        lowest smoothed loss (at least ``lr_min``), a usual starting value for ``learning_rate``; None when
        the first batch's loss was the lowest (no rate in the range helped). Under a loss-scaling optimizer
        (``mixed_float16``) a batch whose step was skipped leaves the rate where it was, so the rates after it
        are one batch behind the column.
    """
    if not getattr(learner, "_tabular", False) or not hasattr(learner, "fit"):
        raise TypeError(f"find_learning_rate takes a keraslearn tabular learner, not {type(learner).__name__}.")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (lr_min, lr_max)) or \
            not 0 < lr_min < lr_max:
        raise ValueError(f"lr_min and lr_max must be numbers with 0 < lr_min < lr_max; got {lr_min!r} and {lr_max!r}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"steps must be an int of at least 2; got {steps!r}.")
    lr_min, lr_max, steps = float(lr_min), float(lr_max), int(steps)
    probe = clone(learner)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n = (X.shape[0] if hasattr(X, "shape") else len(X)) if weights is None else int(np.count_nonzero(weights))
    batch = max(1, min(probe._batch_size(n), n))
    per_epoch = -(-n // batch)
    test = _RangeTest(steps, [batch] * (per_epoch - 1) + [n - (per_epoch - 1) * batch])
    overrides = dict(epochs=-(-steps // per_epoch), early_stopping=False, validation_fraction=0.0, verbose=0,
                     callbacks=[test])
    if "warm_start" in probe.get_params(deep=False):
        overrides["warm_start"] = False
    probe.set_params(**overrides)
    probe._lr_override = keras.optimizers.schedules.ExponentialDecay(lr_min, decay_steps=steps - 1,
                                                                     decay_rate=lr_max / lr_min)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a range test is meant to diverge: its warnings are not the user's
        try:
            probe.fit(X, y, **({} if weights is None else {"sample_weight": weights}))
        except DivergedError:
            pass  # the losses before it are the result
    losses = np.asarray(test.losses, dtype=float)
    if not len(losses):
        raise ValueError("The range test recorded no batch: the data gave no training rows.")
    rates = lr_min * (lr_max / lr_min) ** (np.arange(len(losses)) / (steps - 1))
    smoothed = _smoothed(losses)
    result = pd.DataFrame({"learning_rate": rates, "loss": losses, "smoothed_loss": smoothed})
    finite = np.flatnonzero(np.isfinite(smoothed))
    best = finite[np.argmin(smoothed[finite])] if len(finite) else 0
    result.attrs["suggestion"] = max(lr_min, float(rates[best]) / 10) if best > 0 else None
    if plot is not None:
        _plot(result, plot, type(learner).__name__)
    return result


def _smoothed(losses):
    """Exponential moving average of ``losses``, debiased (its first values are not pulled towards 0)."""
    out, avg = np.empty(len(losses)), 0.0
    for i, loss in enumerate(losses):
        avg = SMOOTHING * avg + (1 - SMOOTHING) * loss
        out[i] = avg / (1 - SMOOTHING ** (i + 1))
    return out


class _RangeTest(keras.callbacks.Callback):
    """Records each batch's loss and ends the fit after ``steps`` batches, or once the loss diverged.

    Keras logs the epoch's running mean, each batch weighing its rows (``rows``: an epoch's batches): a
    batch's own loss is what it added to that mean. Fit attaches a shallow copy: ``losses`` is shared.
    """

    def __init__(self, steps, rows):
        super().__init__()
        self.steps, self.rows, self.losses = steps, rows, []

    def on_epoch_begin(self, epoch, logs=None):
        self._batches, self._seen, self._mean = 0, 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float((logs or {}).get("loss", np.nan))
        rows = self.rows[min(self._batches, len(self.rows) - 1)]
        loss = ((self._seen + rows) * mean - self._seen * self._mean) / rows
        self._batches, self._seen, self._mean = self._batches + 1, self._seen + rows, mean
        self.losses.append(loss)
        lowest = np.nanmin(self.losses)
        if len(self.losses) >= self.steps or not np.isfinite(loss) or (lowest > 0 and loss > DIVERGED * lowest):
            self.model.stop_training = True


def _plot(result, path, name):
    from matplotlib.figure import Figure

    from keraslearn.report.plots import _plain_log, save_figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(result["learning_rate"], result["loss"], color="0.75", lw=1, label="loss per batch")
    ax.plot(result["learning_rate"], result["smoothed_loss"], lw=2, label="smoothed")
    suggestion = result.attrs.get("suggestion")
    if suggestion is not None:
        ax.axvline(suggestion, color="C3", ls="--", label=f"suggested learning_rate {suggestion:.2g}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_plain_log()())
    smooth = result["smoothed_loss"][np.isfinite(result["smoothed_loss"])]
    if len(smooth):  # the diverging tail would flatten the rest
        low, start = min(smooth.min(), np.nanmin(result["loss"].where(np.isfinite(result["loss"])))), smooth.iloc[0]
        span = abs(start - low) or 1.0
        ax.set_ylim(low - 0.05 * span, start + 0.5 * span)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"{name}: learning-rate range test")
    ax.legend()
    return save_figure(fig, path)
