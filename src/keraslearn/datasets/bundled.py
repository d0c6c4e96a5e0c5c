"""Datasets that ship inside the package (no network needed)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

BOSTON_TARGET = "medv"


def bundled_path(filename: str):
    """Path of a data file shipped in ``keraslearn/datasets/data``."""
    return resources.files("keraslearn.datasets").joinpath("data", filename)


def boston_housing_frame() -> pd.DataFrame:
    """The Boston housing data (506 rows, 13 features, target ``medv``) as a DataFrame.

    Harrison & Rubinfeld (1978), as shipped in R's MASS package. ``chas`` (bounds the
    Charles river) and ``rad`` (highway access index) are categorical.
    """
    with bundled_path("boston_housing.csv").open("r") as f:
        df = pd.read_csv(f)
    df["chas"] = df["chas"].map({0: "no", 1: "yes"}).astype("category")
    df["rad"] = df["rad"].astype("category")
    return df
