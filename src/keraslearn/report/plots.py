"""PNG plots, drawn headless with matplotlib."""

from __future__ import annotations

import os

import numpy as np


def plot_learning_curve(history, path, title="Learning curve") -> str:
    """Plot every metric of a Keras history (training and validation) per epoch; write a PNG.

    ``history`` is a ``keras.callbacks.History``, its ``.history`` dict, or a fitted
    learner's ``history_``.
    """
    hist = getattr(history, "history", history)
    if hasattr(history, "history_"):
        hist = history.history_
    fig = _curve_figure(hist, title)
    return save_figure(fig, path)


def save_figure(fig, path) -> str:
    """Write ``fig`` as a PNG (its format from the name), atomically; return the path."""
    from keraslearn._atomic import atomic_path

    path = os.fspath(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


def _curve_figure(hist: dict, title: str):
    metrics = [k for k in hist if not k.startswith("val_") and k != "learning_rate"]
    if not metrics:
        raise ValueError("history holds no metrics to plot.")
    # A bare Figure (no pyplot) draws without any GUI backend or global state.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

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
                    ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        ax.set_xlabel("epoch")
        if len(epochs) <= 10:  # a tick per epoch (the locator finds no integer around a single point)
            ax.set_xticks(list(epochs))
            ax.set_xlim(0.5, len(epochs) + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3: not 1.25, 2.5
        ax.set_ylabel(name)
        ax.set_yscale("log" if name == "loss" and min(hist[name]) > 0 else "linear")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
