"""PNG plots, drawn headless with matplotlib."""

from __future__ import annotations

import os

import numpy as np

DPI = 110  # of every PNG written or shown


def plot_learning_curve(history, path=None, title="Learning curve", loss_label="loss"):
    """Plot every metric of a Keras history (training and validation) per epoch; write a PNG to ``path``
    and return it, or, with ``path=None``, return the matplotlib Figure (a notebook shows it).

    ``history`` is a ``keras.callbacks.History``, its ``.history`` dict, or a fitted
    learner (its ``history_``). ``loss_label`` names the loss axis (e.g. what the loss is measured on).
    The epoch of lowest validation loss is marked: as the model's epoch when early stopping restored it,
    else (a learner with ``early_stopping=False``) as the lowest only, since the model is the last epoch's.
    """
    hist = getattr(history, "history", history)
    if hasattr(history, "history_"):
        hist = history.history_
    elif hasattr(history, "fit") and hasattr(history, "get_params"):
        raise ValueError(f"{type(history).__name__} has no history_ (call fit first).")
    if not isinstance(hist, dict):
        raise TypeError("history must be a keras History, its .history dict, a fitted learner or the dict "
                        f"train_loop returns; got {type(history).__name__}.")
    fig = _curve_figure(hist, title, loss_label, restored=getattr(history, "early_stopping", True))
    if path is None:
        # A bare Figure has no picture for IPython unless pyplot's inline backend was started: give it one.
        fig._repr_png_ = lambda: _png_bytes(fig)
        return fig
    return save_figure(fig, path)


def _png_bytes(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    return buffer.getvalue()


def save_figure(fig, path) -> str:
    """Write ``fig`` atomically in the format its name says (.png, .pdf, .svg; a PNG for a name without
    one, which matplotlib would have written to another name, NAME.png); return the path."""
    from keraslearn._atomic import atomic_path

    path = os.fspath(path)
    fmt = None if os.path.splitext(path)[1] else "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format=fmt)
    return path


def _plain_log():
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        """Log-axis labels as plain decimals."""

        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"

    return PlainLog


def _curve_figure(hist: dict, title: str, loss_label: str = "loss", restored: bool = True):
    metrics = [k for k in hist if not k.startswith("val_") and k != "learning_rate"]
    if not metrics:
        raise ValueError("history holds no metrics to plot.")
    # A bare Figure (no pyplot) draws without any GUI backend or global state.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    _PlainLog = _plain_log()
    fig = Figure(figsize=(5 * len(metrics), 3.6))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = range(1, len(hist[name]) + 1)
        marker = "o" if len(epochs) <= 30 else None  # a one-epoch fit still shows its point
        ax.plot(epochs, hist[name], marker=marker, label=f"training {name}")
        if f"val_{name}" in hist:
            ax.plot(epochs, hist[f"val_{name}"], marker=marker, label=f"validation {name}")
            if name == "loss":
                val = np.asarray(hist["val_loss"], dtype=float)
                if np.isfinite(val).any():  # a diverged fit (all NaN) has no best epoch
                    best = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan))) + 1
                    label = f"best epoch ({best})" if restored else f"lowest val_loss ({best}; model: last epoch)"
                    ax.axvline(best, color="grey", linestyle=":", label=label)
        ax.set_xlabel("epoch")
        if len(epochs) <= 10:  # a tick per epoch (the locator finds no integer around a single point)
            ax.set_xticks(list(epochs))
            ax.set_xlim(0.5, len(epochs) + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3: not 1.25, 2.5
        ax.set_ylabel(loss_label if name == "loss" else name)
        if name == "loss" and min(hist[name]) > 0:
            ax.set_yscale("log")
            ax.set_ylabel(f"{loss_label[:-1]}, log scale)" if loss_label.endswith(")") else f"{loss_label} (log scale)")
            # 0.68, not 6.8×10⁻¹; matplotlib still decides which minor ticks get a label.
            ax.yaxis.set_major_formatter(_PlainLog(labelOnlyBase=False))
            ax.yaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_predictions(learner, X, y, path=None, title=None, sample_weight=None):
    """Plot a fitted learner's predictions on ``(X, y)`` against ``y``.

    With ``path``, writes the plot there (in the format its extension names, .png, .pdf or .svg; PNG without
    one) and returns the path; with ``path=None``, returns the matplotlib Figure.

    A classifier gets its confusion matrix (counts, coloured by the share of each true class; rows of labels
    that are not among ``classes_`` are left out and counted in the title), with the ROC curve of
    ``classes_[1]`` for two classes. A regressor gets predicted against actual values and the residuals
    against the predictions, a row of panels per target (the first four). ``sample_weight`` weighs the
    counts, the accuracy, the ROC curve, R² and RMSE, as the metrics of ``score_table``.

    Parameters
    ----------
    learner : fitted keraslearn learner
        The learner whose predictions are plotted.
    X : DataFrame or array-like
        Rows with the columns of fit.
    y : array-like
        Their true labels or targets.
    path : str, path-like or None, default=None
        The image file to write; None returns the Figure.
    title : str or None, default=None
        The figure's title; None names the learner and the number of rows.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Weights of the rows.
    """
    if not hasattr(learner, "model_"):
        raise ValueError(f"{type(learner).__name__} is not fitted (call fit first).")
    weight = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
    if hasattr(learner, "classes_"):
        fig = _classes_figure(np.asarray(y).ravel(), learner.predict_proba(X), learner.classes_, weight)
    else:
        fig = _values_figure(np.asarray(y, dtype=float), np.asarray(learner.predict(X), dtype=float), weight)
    fig.suptitle(title or f"{type(learner).__name__}: predictions on {len(np.asarray(y))} rows")
    fig.tight_layout()
    if path is None:
        fig._repr_png_ = lambda: _png_bytes(fig)
        return fig
    return save_figure(fig, path)


def _short(name, width=18) -> str:
    name = str(name)
    return name if len(name) <= width else name[:width - 1] + "…"


def _classes_figure(y, proba, classes, weight):
    import pandas as pd
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_auc_score, roc_curve

    k = len(classes)
    truth = pd.Index(classes).get_indexer(y)  # labels, not sorted: text classes of any kind, as score_table does
    known = truth >= 0
    truth, guess, weight = truth[known], np.argmax(proba[known], axis=1), weight[known]
    counts = np.bincount(truth * k + guess, weights=weight, minlength=k * k).reshape(k, k)
    weighted = not np.all(weight == 1)
    two = k == 2 and len(np.unique(truth)) == 2  # a ROC curve needs rows of both classes
    fig = Figure(figsize=(max(4.8, min(12, 0.45 * k + 2.5)) + 4.4 * two, max(4.2, min(11, 0.4 * k + 2))))
    axes = fig.subplots(1, 1 + two, squeeze=False)[0]
    ax = axes[0]
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if k <= 15:  # a count per cell while they can be read
        for i, j in np.ndindex(k, k):
            ax.text(j, i, f"{counts[i, j]:.3g}" if weighted else str(int(counts[i, j])), ha="center", va="center",
                    fontsize=9 if k <= 8 else 7,
                    color="white" if share[i, j] > 0.5 else "black")
    every = -(-k // 40)  # at most 40 names an axis: every other one (or third...) beyond, never positions
    ticks = list(range(0, k, every))
    names = [_short(classes[i]) for i in ticks]
    crowded = len(ticks) * max(map(len, names)) > 30  # names that would run into each other across the matrix
    ax.set_xticks(ticks, names, rotation=45 if crowded else 0, ha="right" if crowded else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = f"{np.trace(counts) / counts.sum():.3f}" if counts.sum() > 0 else "n/a"
    left_out = int((~known).sum())
    ax.set_title(f"confusion matrix{', weighted' * weighted} (accuracy {accuracy})"
                 + (f"\n{left_out} row(s) of labels the model does not know left out" if left_out else ""),
                 fontsize=10)
    if two:
        positive = truth == 1
        fpr, tpr, _ = roc_curve(positive, proba[known][:, 1], sample_weight=weight)
        auc = roc_auc_score(positive, proba[known][:, 1], sample_weight=weight)
        negative, positive = _short(classes[0]), _short(classes[1])
        axes[1].plot(fpr, tpr, label=f"{positive} (AUC {auc:.3f})")
        axes[1].plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
        axes[1].set_xlabel(f"false positive rate (true {negative})")
        axes[1].set_ylabel(f"true positive rate (true {positive})")
        axes[1].set_title(f"ROC curve of {positive}", fontsize=10)
        axes[1].set_aspect("equal")
        axes[1].grid(alpha=0.3)
        axes[1].legend(loc="lower right")
    return fig


#: Points drawn per scatter plot at most (a random sample of the rows beyond it, said in the panel's title).
MAX_POINTS = 20_000


def _values_figure(y, pred, weight):
    from matplotlib.figure import Figure

    from keraslearn.report.metrics import regression_scores

    y, pred = y.reshape(len(y), -1), pred.reshape(len(pred), -1)
    shown = min(y.shape[1], 4)
    fig = Figure(figsize=(9.5, 4.2 * shown))
    axes = fig.subplots(shown, 2, squeeze=False)
    for t in range(shown):
        truth, guess = y[:, t], pred[:, t]
        ok = np.isfinite(truth) & np.isfinite(guess)
        truth, guess, w = truth[ok], guess[ok], weight[ok]
        residual = truth - guess
        # the metrics' own R² and RMSE, as the table beside the plot gives them
        scores = regression_scores(truth, guess, w) if w.sum() > 0 else {"rmse": np.nan, "r2": np.nan}
        weighted = ", weighted" if not np.all(w == 1) else ""
        rows = np.arange(len(truth))
        if len(rows) > MAX_POINTS:
            rows = np.sort(np.random.default_rng(0).choice(len(truth), MAX_POINTS, replace=False))
        sample = f", {len(rows)} of {len(truth)} rows drawn" if len(rows) < len(truth) else ""
        alpha = float(np.clip(300 / max(len(rows), 1), 0.08, 0.8))
        target = f"target {t + 1}: " if y.shape[1] > 1 else ""
        ax = axes[t, 0]
        ax.scatter(truth[rows], guess[rows], s=8, alpha=alpha, linewidths=0)
        low, high = (float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))) if len(truth) \
            else (0.0, 1.0)
        ax.plot([low, high], [low, high], color="grey", linestyle=":", label="predicted = actual")
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
        ax.set_title(f"{target}predicted vs actual (R² {scores['r2']:.3f}{weighted}{sample})", fontsize=10)
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
        ax = axes[t, 1]
        ax.scatter(guess[rows], residual[rows], s=8, alpha=alpha, linewidths=0)
        ax.axhline(0, color="grey", linestyle=":")
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual − predicted")
        ax.set_title(f"{target}residuals (RMSE {scores['rmse']:.4g}{weighted})", fontsize=10)
        ax.grid(alpha=0.3)
    return fig
