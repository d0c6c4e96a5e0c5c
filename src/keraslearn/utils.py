"""Small helpers of the R keras / kerasR workflows, in Keras' own terms.

``normalize`` and ``to_categorical`` are Keras' functions; ``classes_from_proba`` replaces
the removed ``predict_classes``; ``plot_history`` draws a training history to a PNG and
``summary`` returns a model's (or fitted learner's) summary as text.
"""

from __future__ import annotations

import operator

import numpy as np


def normalize(x, axis=-1, order=2):
    """Scale each slice along ``axis`` to unit Lp norm (kerasR / ``keras.utils.normalize``).

    Zero slices stay zero. Returns a float NumPy array of the same shape.

    Parameters
    ----------
    x : array-like
        The values (integers become float32).
    axis : int, default=-1
        The axis whose slices are normalized.
    order : int, default=2
        The norm's order (``np.linalg.norm``'s ``ord``).
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    # keras.utils.normalize's NumPy path (Keras 3.15) does `axis = axis or -1`, so axis=0
    # normalizes the wrong way and fails to broadcast; this is the same formula, fixed.
    norm = np.linalg.norm(x, order, axis, keepdims=True)  # kept dims: a 1-D x stays 1-D (Keras' gives (1, n))
    norm[norm == 0] = 1
    return x / norm


def to_categorical(y, num_classes=None):
    """One-hot encode integer class labels ``0..num_classes-1`` (``keras.utils.to_categorical``).

    Parameters
    ----------
    y : array-like of int
        Class labels from 0.
    num_classes : int or None, default=None
        Number of columns; None is the largest label + 1.
    """
    import keras

    y = np.asarray(y)
    if num_classes is not None:
        try:  # an int, NumPy's, or a 0-d integer array (jnp.max(y) + 1)
            index = None if isinstance(num_classes, (bool, np.bool_)) else operator.index(num_classes)
        except TypeError:
            index = None
        if index is None or index < 1:
            raise ValueError(f"num_classes must be a whole number >= 1 (or None: the largest label + 1); got "
                             f"{num_classes!r}.")
        num_classes = index
    if y.size == 0 and num_classes is None:
        raise ValueError("to_categorical got no labels; pass num_classes to one-hot encode an empty array.")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise ValueError(
            f"to_categorical needs integer class labels, got dtype {y.dtype}; map labels to "
            "0..n-1 first (e.g. with sklearn.preprocessing.LabelEncoder)."
        )
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical needs labels >= 0, got {y.min()}.")
    if num_classes is not None and y.size and y.max() >= num_classes:
        one_based = y.min() >= 1 and y.max() == num_classes
        raise ValueError(f"label {y.max()} does not fit num_classes={num_classes}: labels run from 0 to "
                         f"num_classes - 1" + ("; R's labels 1..K are y - 1 here." if one_based else "."))
    return keras.utils.to_categorical(y, num_classes=num_classes)


def classes_from_proba(proba, threshold=0.5):
    """Predicted class indices from predicted probabilities (what ``predict_classes`` did).

    ``(n, k)`` softmax output → the arg-max column; ``(n,)`` or ``(n, 1)`` sigmoid output →
    1 where the probability is above ``threshold``, else 0.

    Parameters
    ----------
    proba : array-like of shape (n,), (n, 1) or (n, k)
        Predicted probabilities (sigmoid or softmax output).
    threshold : float, default=0.5
        A sigmoid probability above it is class 1.
    """
    p = np.asarray(proba)
    if p.dtype == object:  # e.g. a DataFrame of mixed float columns, or None cells
        p = p.astype(float)
    if p.dtype.kind == "f" and np.isnan(p).any():  # argmax and "> threshold" would read it as a class
        rows = np.flatnonzero(np.isnan(p.reshape(len(p), -1)).any(axis=1)) if p.ndim else np.array([0])
        raise ValueError(f"proba holds NaN in {len(rows)} row(s), e.g. {rows[:5].tolist()}: no class can be read "
                         "from them (a model that diverged?).")
    if p.ndim == 2 and p.shape[1] > 1:
        return np.argmax(p, axis=1)
    if p.ndim > 2:
        raise ValueError(f"proba must be (n,), (n, 1) or (n, k); got shape {p.shape}.")
    return (p.reshape(-1) > threshold).astype(np.int64)


def plot_history(history, path=None, title="Training history"):
    """Plot each metric of a training history per epoch (training and validation), as R's ``plot(history)``.

    ``history`` is what ``model.fit`` returns, its ``.history`` dict, a fitted learner or
    the dict returned by :func:`keraslearn.train_loop`. With ``path`` (.png, .pdf, .svg), writes
    the plot there and returns the path; without, returns the matplotlib Figure, which a notebook
    shows (``fig.savefig(...)`` writes it later).

    Parameters
    ----------
    history : keras.callbacks.History, dict of lists or fitted keraslearn learner
        The per-epoch metrics to plot.
    path : str, path-like or None, default=None
        The image file to write; None returns the Figure.
    title : str, default="Training history"
        The figure's title.
    """
    from keraslearn.report.plots import plot_learning_curve

    return plot_learning_curve(history, path, title=title)


def summary(model_or_learner, **kwargs) -> str:
    """The Keras summary (layers, output shapes, parameter counts) as text.

    Takes a ``keras.Model`` or a fitted keraslearn learner (its network, after a line
    describing the learner). Extra keyword arguments go to ``keras.Model.summary``
    (``expand_nested``, ``show_trainable``, ``line_length``).

    Parameters
    ----------
    model_or_learner : keras.Model or fitted keraslearn learner
        What to summarize.
    **kwargs
        Passed on to ``keras.Model.summary``.
    """
    import keras

    obj = model_or_learner
    header = ""
    if not isinstance(obj, keras.Model):
        model = getattr(obj, "model_", None)
        if model is None:
            raise ValueError(
                f"summary needs a keras.Model or a fitted learner; {type(obj).__name__} "
                "has no model_ (call fit first)."
            )
        spec = getattr(obj, "spec_", None)
        header = f"{type(obj).__name__}"
        if spec is not None:
            header += f" ({spec.task}; {getattr(obj, 'n_features_in_', '?')} input columns)"
        header += "\n"
        obj = model
    lines = []
    obj.summary(print_fn=lambda text, line_break=True: lines.append(text), **kwargs)
    return header + "\n".join(line.rstrip("\n") for line in lines) + "\n"
