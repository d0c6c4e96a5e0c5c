"""Shared fixtures: small real datasets and fitted learners reused across tests."""

import os
import signal

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

# Started in the background by a shell without job control (`pytest ... &` in a script), the tests and
# the commands they start inherit Ctrl-C ignored; the Ctrl-C tests need the handler a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import keraslearn  # noqa: E402  (selects the backend before keras is imported)


@pytest.fixture(scope="session")
def backend():
    return keraslearn.BACKEND


def _mixed(X: pd.DataFrame, seed=0) -> pd.DataFrame:
    """Add a categorical column and missing values to a numeric frame."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    first = X.columns[0]
    X["grade"] = pd.Series(np.where(X[first] > X[first].median(), "high", "low"), index=X.index).astype(object)
    X["colour"] = rng.choice(["red", "green", "blue"], size=len(X))
    X.loc[X.index[::11], first] = np.nan
    X.loc[X.index[::13], "grade"] = None
    return X


@pytest.fixture(scope="session")
def iris_mixed():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    return _mixed(X), pd.Series(names[y], name="species")


@pytest.fixture(scope="session")
def cancer_mixed():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return _mixed(X.iloc[:, :8]), y


@pytest.fixture(scope="session")
def diabetes_mixed():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return _mixed(X), y
