"""A study's results: a trials table and PNG plots, drawn headless on bare matplotlib Figures."""

from __future__ import annotations

import contextlib
import math
import os

from keraslearn._atomic import atomic_path
from keraslearn.console import score
from keraslearn.tuning.callbacks import REPORTED_ATTR


def _score(trial):
    """A completed trial's score; None otherwise. Optuna keeps a pruned trial's last reported
    epoch value (minus the validation loss) as its value, which is not a score."""
    return trial.value if trial.state.name == "COMPLETE" else None


def trials_frame(study):
    """One row per trial: number, state, score (completed trials only), epochs, duration (s), worker
    and parameters."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                "score": _score(t),
                "epochs": sum(t.user_attrs.get("epochs", [])) or (max(t.intermediate_values, default=-1) + 1),
                "seconds": duration,
                "worker": t.user_attrs.get("keraslearn_worker"),
                **t.params,
            }
        )
    return pd.DataFrame(rows)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def score_name(study) -> str:
    """What a study's scores are: its scorer's name, or the learner's default (accuracy, R²)."""
    from keraslearn.tuning.storage import CONFIG_ATTR

    config = study.user_attrs.get(CONFIG_ATTR) or {}
    if config.get("scoring"):
        name = str(config["scoring"])  # a scorer object is its repr: make_scorer(f1_score, average=macro)
        return name if len(name) <= 30 else name.split("(")[0] + "(…)"
    learner = str(config.get("learner", ""))
    return "accuracy" if learner.endswith("Classifier") else "r2" if learner.endswith("Regressor") else "score"


def print_trials(console, study, top: int = 10, weight=None):
    """A rich table of the ``top`` trials by score, then the counts of trials per state; ``weight``: the
    column that weighted the scores (``--weight``), named in the title."""
    from rich.table import Table

    trials = study.get_trials(deepcopy=False)
    counts = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    done = sorted((t for t in trials if _score(t) is not None), key=lambda t: -t.value)[:top]
    table = Table(title=f"study {study.study_name}: the top {len(done)} of {len(trials)} trials "
                  f"({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
                  f"{'' if weight is None else f'; scores weighted by {weight!r}'}")
    if counts.get("running"):
        storage = getattr(study, "_storage", None)  # Optuna wraps an RDBStorage in a cache
        storage = getattr(storage, "_backend", storage)
        beat = getattr(storage, "heartbeat_interval", None)
        grace = (getattr(storage, "grace_period", None) or 2 * beat) if beat else None  # Optuna's rule
        table.caption = "running: trials of other workers, or of a worker that stopped" + (
            f" (a worker that opens the study fails those {grace} s after their last heartbeat)" if grace else "")
    from keraslearn.tuning.storage import CONFIG_ATTR

    config = study.user_attrs.get(CONFIG_ATTR) or {}
    folds = str(config.get("evaluation", "")).startswith("cv=")  # each trial fits once per fold
    rows = []
    for t in done:
        epochs = sum(t.user_attrs.get("epochs", [])) or ""
        seconds = f"{(t.datetime_complete - t.datetime_start).total_seconds():.1f}" if t.datetime_complete else ""
        params = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        rows.append((str(t.number), score(t.value), str(epochs), seconds, params))
    for i, col in enumerate(("trial", score_name(study), "epochs, all folds" if folds else "epochs", "seconds")):
        # Numbers whole on a narrow terminal (a score cut to "0.9…" misleads): the parameters give way instead.
        width = max([len(row[i]) for row in rows] + [len(word) for word in col.split()])
        table.add_column(col, justify="right", no_wrap=True, min_width=width)
    table.add_column("parameters", ratio=1, overflow="fold")  # values whole, over more lines
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _figure(width=6.4, height=4.0):
    # A bare Figure (no pyplot): no GUI backend, no global state, safe in workers and CI.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save(fig, path) -> str:
    from keraslearn.report.plots import save_figure

    fig.tight_layout()
    return save_figure(fig, path)


def plot_optimization_history(study, path) -> str:
    """Each completed trial's score by trial number, with the best score so far; write a PNG."""
    trials = [t for t in study.get_trials(deepcopy=False) if _score(t) is not None and math.isfinite(t.value)]
    if not trials:
        raise ValueError(f"study {study.study_name!r} has no completed trial to plot.")
    trials.sort(key=lambda t: t.number)
    numbers = [t.number for t in trials]
    values = [t.value for t in trials]
    best, running = [], -math.inf
    for v in values:
        running = max(running, v)
        best.append(running)
    last = max(t.number for t in study.get_trials(deepcopy=False))
    if last > numbers[-1]:  # trials after the last completed one (pruned, failed, running) keep the best
        numbers_best, best = [*numbers, last], [*best, best[-1]]
    else:
        numbers_best = numbers
    fig = _figure()
    ax = fig.subplots()
    ax.scatter(numbers, values, s=18, label="trial score", alpha=0.7)
    ax.step(numbers_best, best, where="post", color="C3", label="best so far")
    pruned = [t.number for t in study.get_trials(deepcopy=False) if t.state.name == "PRUNED"]
    if pruned:  # no score: marked on the axis, not at a value they never had
        ax.scatter(pruned, [0.02] * len(pruned), transform=ax.get_xaxis_transform(), marker="|", color="grey",
                   s=60, label="pruned (no score)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{score_name(study)} (greater is better)")
    ax.set_title(f"Optimization history: {study.study_name}")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_param_importances(study, path) -> str:
    """Optuna's parameter importances (share of the score's variance) as bars; write a PNG.

    Raises ValueError when the study has too few completed trials to estimate them.
    """
    import optuna

    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(completed) < 2:
        raise ValueError(f"cannot estimate parameter importances from {len(completed)} completed trial(s).")
    if len({t.value for t in completed}) == 1:  # Optuna would draw equal bars, and warn
        raise ValueError(f"every completed trial scored {score(completed[0].value)}: no parameter made a difference.")
    try:
        importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"cannot estimate parameter importances yet: {err}") from None
    if not importances:
        raise ValueError("cannot estimate parameter importances yet: no parameter varied.")
    names = list(importances)[::-1]
    fig = _figure(6.4, 0.45 * len(names) + 1.4)
    ax = fig.subplots()
    ax.barh(names, [importances[n] for n in names], color="C0")
    ax.set_xlabel("importance")
    ax.set_title("Hyperparameter importances")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_intermediate_values(study, path) -> str:
    """Each trial's loss per epoch (the validation loss, or the training loss when a trial held out no
    validation rows; a regressor's on its standardized target; under cross-validation the first fold's,
    which pruning compares); the best trial stands out, pruned trials in grey."""
    from keraslearn.tuning.storage import CONFIG_ATTR

    fig = _figure()
    ax = fig.subplots()
    best = None
    with contextlib.suppress(ValueError):  # no completed trial yet
        best = study.best_trial.number
    drawn, reported, labelled = False, set(), set()
    for t in study.get_trials(deepcopy=False):
        if not t.intermediate_values:
            continue
        reported.add(t.user_attrs.get(REPORTED_ATTR, "val_loss"))
        steps = sorted(t.intermediate_values)
        kind = "best" if t.number == best else "pruned" if t.state.name == "PRUNED" else "other"
        style = {"best": dict(color="C3", alpha=1.0, lw=2, zorder=3),
                 "pruned": dict(color="grey", alpha=0.5, lw=1), "other": dict(color="C0", alpha=0.6, lw=1)}[kind]
        label = {"best": f"best trial ({t.number})", "pruned": "pruned trials", "other": "other trials"}[kind]
        # Trials report minus the loss (Optuna's direction is to maximize): drawn as the loss it is.
        ax.plot([s + 1 for s in steps], [-t.intermediate_values[s] for s in steps],
                label=None if label in labelled else label, **style)
        labelled.add(label)
        drawn = True
    if not drawn:
        raise ValueError("no trial reported epoch scores.")
    from matplotlib.ticker import MaxNLocator

    config = study.user_attrs.get(CONFIG_ATTR) or {}
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    loss = {"val_loss": "validation loss", "loss": "training loss"}.get(reported.pop()) if len(reported) == 1 else None
    standardized = " (target standardized)" if str(config.get("learner", "")).endswith("Regressor") else ""
    ax.set_ylabel(f"{loss or 'loss (validation, or training without validation rows)'}{standardized}")
    folds = " (first fold of each)" if str(config.get("evaluation", "")).startswith("cv=") else ""
    ax.set_title(f"Loss per epoch, one line per trial{folds}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def write_report(study, directory, best_learner=None) -> dict:
    """Write the PNGs, a trials CSV and the best model's artifact into ``directory``.

    Returns ``{name: path}`` of what was written, and ``{name: reason}`` under ``"skipped"``
    for plots the study cannot support yet (e.g. importances with too few trials).
    """
    os.makedirs(directory, exist_ok=True)
    written, skipped = {}, {}
    plots = {
        "optimization_history": plot_optimization_history,
        "param_importances": plot_param_importances,
        "learning_curves": plot_intermediate_values,
    }
    for name, plot in plots.items():
        path = os.path.join(directory, f"{name}.png")
        try:
            written[name] = plot(study, path)
        except ValueError as err:
            skipped[name] = str(err)
            with contextlib.suppress(FileNotFoundError):  # an earlier report's plot: not this study's
                os.remove(path)
    trials_path = os.path.join(directory, "trials.csv")
    with atomic_path(trials_path) as tmp:
        trials_frame(study).to_csv(tmp, index=False)
    written["trials"] = trials_path
    if best_learner is not None:
        written["best_model"] = best_learner.save(os.path.join(directory, "best.keraslearn"))
    written["skipped"] = skipped
    return written
