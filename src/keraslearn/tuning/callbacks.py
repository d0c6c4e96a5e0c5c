"""Callbacks that connect a Keras fit and an Optuna study: epoch-level pruning and a progress bar."""

from __future__ import annotations

import math

import keras

from keraslearn.console import score

#: The trial attribute naming the log its epoch values are minus: "val_loss", or "loss" without validation rows.
REPORTED_ATTR = "reported"


class OptunaPruning(keras.callbacks.Callback):
    """Report each epoch's validation score to an Optuna trial and stop the fit when it is pruned.

    The score reported at step ``epoch`` is ``-logs[monitor]`` (by default minus the
    validation loss), so that greater is better like the scikit-learn scores the study
    maximizes. A non-finite loss (a diverged fit) prunes at once.

    ``clone`` deep-copies a learner's ``callbacks`` and each fit attaches a shallow copy; this callback
    returns itself from both, so every fold's fit reports to the same trial, and says which value it
    reports once a trial.

    Parameters
    ----------
    trial : optuna.Trial
    monitor : str, default="val_loss"
        The Keras log to watch; falls back to ``"loss"`` when the fit has no validation data.
    """

    #: Read by the fit's monitor check: a fit without validation rows is watched on its "loss" instead.
    monitor_falls_back = True

    def __init__(self, trial, monitor: str = "val_loss"):
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.active = True
        self.pruned_epoch = None
        self.reported = None

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def on_epoch_end(self, epoch, logs=None):
        if not self.active:
            return
        import optuna

        logs = logs or {}
        key = self.monitor if self.monitor in logs else "loss"
        if key not in logs:
            return
        value = float(logs[key])
        if self.reported != key:  # once per trial, for the report's curves: no storage read per epoch
            self.trial.set_user_attr(REPORTED_ATTR, key)
            self.reported = key
        if not math.isfinite(value):
            self.pruned_epoch = epoch
            raise optuna.TrialPruned(f"{key} is {value} at epoch {epoch + 1}: the fit diverged.")
        self.trial.report(-value, step=epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1} ({key} {value:.4g}).")


class TrialProgress:
    """An Optuna callback drawing a rich progress bar over trials with the best score so far."""

    def __init__(self, total: int | None, description: str = "tuning", finished=None):
        """``finished()``: the trials the study has finished since the bar started, every worker's (the bar
        counts those: a worker alone never reached its total); default: this worker's."""
        from keraslearn.training.progress import rich_bar

        self._progress = rich_bar("status")
        self._task = self._progress.add_task(description, total=total, status="")
        self._counts: dict[str, int] = {}
        self._finished = finished

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()

    def __call__(self, study, trial):
        state = trial.state.name.lower()
        self._counts[state] = self._counts.get(state, 0) + 1
        try:
            best = f"best {score(study.best_value)} (trial {study.best_trial.number})"  # as the table shows it
        except ValueError:  # no completed trial yet
            best = "no completed trial yet"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self._counts.items()))
        # Failed trials (a non-finite score) do not count toward n_trials: tune runs others instead.
        own = sum(n for s, n in self._counts.items() if s != "fail")
        done = own if self._finished is None else self._finished()
        if done != own:
            counts = f"this worker: {counts}; {done} finished by all"
        total = self._progress.tasks[0].total  # workers together may finish a few more than n_trials
        self._progress.update(self._task, completed=done if total is None else min(done, total),
                              status=f"{best}  [{counts}]")
