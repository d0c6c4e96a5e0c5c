"""DataSpec: everything an architecture may know about the data."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

TASKS = ("binary", "multiclass", "regression", "multioutput")
# Quantile levels kept per numeric column: 0, 1/128, ..., 1 (enough for up to 128 bins).
N_QUANTILES = 129


def numeric_quantiles(arr) -> tuple:
    """Per-column quantiles of a 2-D array at ``N_QUANTILES`` levels, rounded to float32 precision."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.size == 0:
        return ()
    levels = np.linspace(0.0, 1.0, N_QUANTILES)
    # Column by column: a float64 copy of one column at a time, not of the whole table.
    cols = [np.quantile(arr[:, j].astype(np.float64), levels) for j in range(arr.shape[1])]
    return tuple(tuple(float(f"{v:.7g}") for v in col) for col in cols)


def embedding_size(n_levels: int) -> int:
    """The fast.ai / mlr3keras embedding-size rule: ``min(600, round(1.6 * n_levels**0.56))``.

    ``n_levels`` counts the embedding's rows: TabularEncoder passes a column's ``n_codes``, its
    levels plus 2 (missing and unknown), as README and docs write the rule.

    Parameters
    ----------
    n_levels : int
        Rows of the embedding.
    """
    if n_levels < 1:
        raise ValueError(f"n_levels must be >= 1, got {n_levels}")
    return int(min(600, round(1.6 * n_levels**0.56)))


def input_name(column, taken: set[str]) -> str:
    """A Keras-safe, unique input name ``cat_<column>`` for a categorical column."""
    base = "cat_" + (re.sub(r"[^0-9A-Za-z_]+", "_", str(column)).strip("_") or "col")
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


@dataclass(frozen=True)
class CategoricalSpec:
    """One categorical input: its column, Keras input name, code count and embedding width.

    Codes are ``0`` for missing, ``1`` for unseen or rare levels and ``2..n_codes-1`` for
    the levels kept at fit time. Missing and unseen values of a column whose training rows had
    none (and so never trained codes 0 or 1) come as its most frequent level's code instead
    (see :class:`keraslearn.preprocessing.encoder.TabularEncoder`).
    """

    name: str
    input_name: str
    n_codes: int
    embed_dim: int


@dataclass(frozen=True)
class DataSpec:
    """What an architecture's ``build(spec, **hp)`` receives about the data.

    Parameters
    ----------
    n_numeric : int
        Width of the ``"numeric"`` input (scaled numbers plus missing indicators); 0 when
        there is no numeric input.
    categorical : tuple of CategoricalSpec
        One integer input per categorical column.
    image_shape : tuple or None
        ``(height, width, channels)`` for image learners.
    task : {"binary", "multiclass", "regression", "multioutput"} or None
        The learning task; None for an encoder's spec, before the target is known.
    n_classes : int or None
        Number of classes for classification.
    n_targets : int
        Number of regression targets.
    numeric_names : tuple of str
        Name of each column of the ``"numeric"`` input: the numeric columns, then ``<column>__missing``
        for each missing indicator.
    numeric_quantiles : tuple of tuple of float
        For each column of the ``"numeric"`` input, its training-data quantiles at
        ``N_QUANTILES`` evenly spaced levels from 0 to 1 (after scaling, as the model sees
        it). Piecewise-linear numeric embeddings take their bin edges from here.
    """

    n_numeric: int = 0
    categorical: tuple = ()
    image_shape: tuple | None = None
    task: str | None = None
    n_classes: int | None = None
    n_targets: int = 1
    numeric_names: tuple = field(default=(), compare=False)
    numeric_quantiles: tuple = field(default=(), compare=False, repr=False)  # 128 numbers a column

    @property
    def n_outputs(self) -> int:
        """Width of the output layer for this task."""
        if self.task == "binary":
            return 1
        if self.task == "multiclass":
            return int(self.n_classes)
        return int(self.n_targets)

    @property
    def input_names(self) -> list[str]:
        names = ["numeric"] if self.n_numeric else []
        return names + [c.input_name for c in self.categorical]

    def with_task(self, task: str, n_classes: int | None = None, n_targets: int = 1) -> "DataSpec":
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        return dataclasses.replace(self, task=task, n_classes=n_classes, n_targets=n_targets)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["categorical"] = [dataclasses.asdict(c) for c in self.categorical]
        d["image_shape"] = list(self.image_shape) if self.image_shape else None
        d["numeric_names"] = list(self.numeric_names)
        d["numeric_quantiles"] = [list(q) for q in self.numeric_quantiles]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        d = dict(d)
        d["categorical"] = tuple(CategoricalSpec(**c) for c in d.get("categorical", ()))
        d["image_shape"] = tuple(d["image_shape"]) if d.get("image_shape") else None
        d["numeric_names"] = tuple(d.get("numeric_names", ()))
        d["numeric_quantiles"] = tuple(tuple(q) for q in d.get("numeric_quantiles", ()))
        return cls(**d)
