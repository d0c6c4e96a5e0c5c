"""Whether the rows ``keraslearn evaluate`` scores trained the model, from hashes of its training rows.

fit keeps on the model (``training_row_hashes_``, saved in the artifact) the 64-bit hashes of its training rows
(features and target, after the test split) whose values occur once among them, at most :data:`SAMPLE` of
them: the smallest, so that evaluate takes the same share of hash space from its own rows (every row hashed
at most the largest kept hash) and compares like with like, whatever their numbers of rows.

Only rows whose values occur once on each side count: a row repeated in the data (a table of a few categories)
says nothing about which rows trained the model. Values that a share p of all rows hold occur once among n rows
with chance about n·p·e^(−n·p), at most 1/e: so among rows drawn apart from the training rows (the test split,
new data), whatever p and the two sizes, at most 37% of either side's once-only rows are expected on the other
side, where the training file itself holds them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslearn.console import say

#: Training rows' hashes kept on a model: 16 kB in the artifact, enough to measure a share within ±2 points.
SAMPLE = 2000
#: Fewer once-only rows on either side than this: too few to tell, nothing is said.
MIN_ROWS = 20
#: Above this share of either side's rows found on the other, the metrics are called partly in-sample: above
#: the 37% that rows drawn apart from the training rows can reach (see the module's docstring).
SHARE = 0.5


def row_hashes(X: pd.DataFrame, y: pd.Series) -> np.ndarray:
    """A uint64 hash of each row of ``X`` and ``y``, alike for the same values however the table was read:
    numbers as float64 (an integer column with a missing value reads as floats), anything else as text."""
    columns = [X[c] for c in X.columns] + [y]
    return pd.util.hash_pandas_object(pd.DataFrame(
        {i: _normal(col.reset_index(drop=True)) for i, col in enumerate(columns)}), index=False).to_numpy()


def _normal(col: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col):  # bool too
        return col.astype("float64") + 0.0  # -0.0 as 0.0
    return col.astype(str).mask(col.isna(), "\0")  # every missing value alike, and unlike the text "nan"


def _once(hashes: np.ndarray) -> np.ndarray:
    """The sorted hashes that occur once."""
    values, counts = np.unique(hashes, return_counts=True)
    return values[counts == 1]


def remember_rows(learner, X: pd.DataFrame, y: pd.Series) -> None:
    """Keep on ``learner`` the hashes of its training rows ``X``, ``y`` that evaluate compares (see the module)."""
    learner.training_row_hashes_ = _once(row_hashes(X, y))[:SAMPLE]


def trained_shares(model, X: pd.DataFrame, y: pd.Series):
    """``(of_training, of_these)``: the estimated share of the model's training rows among ``X``, ``y``, and the
    share of those rows that trained it; None for a model without training hashes or too few rows to tell."""
    kept = getattr(model, "training_row_hashes_", None)
    if kept is None or len(kept) < MIN_ROWS:
        return None
    hashes = row_hashes(X, y)
    once = _once(hashes[hashes <= kept[-1]])  # the rows in the share of hash space fit sampled
    if len(once) < MIN_ROWS:
        return None
    found = int(np.count_nonzero(np.isin(kept, once, assume_unique=True)))
    return found / len(kept), found / len(once)


def say_if_trained_on(console, model, X, y) -> None:
    """Warn on ``console`` when the rows evaluate scores are largely the model's training rows."""
    shares = trained_shares(model, X, y)
    if shares is None or max(shares) <= SHARE:
        return
    of_training, of_these = shares
    say(console, f"about {of_training:.0%} of the rows that trained this model are among these {len(X)} rows "
                 f"(about {of_these:.0%} of them), so these metrics are partly in-sample and overstate how it does "
                 "on new data; evaluate rows it did not train on, kept out of the file you fit or tune on (fit "
                 "scored the --test-fraction rows it held out: its _metrics.json)", style="yellow")
