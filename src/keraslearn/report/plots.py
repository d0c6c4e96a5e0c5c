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
