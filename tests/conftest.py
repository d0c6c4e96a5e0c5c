"""Shared fixtures: small real datasets and fitted learners reused across tests."""

import contextlib
import http.server
import os
import signal
import socket
import threading

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

# Started in the background by a shell without job control (`pytest ... &` in a script), the tests and
# the commands they start inherit Ctrl-C ignored; the Ctrl-C tests need the handler a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import keraslearn  # noqa: E402  (selects the backend before keras is imported)
from keraslearn.training import memory  # noqa: E402

# A fit clears JAX's caches and the shared compiled steps once the process has grown 256 MB: a test worker
# grows past that, and tests of the shared steps look at a fit's template right after it. The clearing is
# tested on its own (test_speed_paths.py::test_a_fit_clears_jax_caches_once_the_process_has_grown).
memory.FIT_CLEAR_AFTER_GROWTH_MB = float("inf")


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serving(folder):
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server():
    """``with http_server(folder) as base:`` serves ``folder`` at the URL ``base`` on 127.0.0.1: download paths
    tested for real without the network."""
    return _serving


@contextlib.contextmanager
def _never_answering():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def silent_server():
    """``with silent_server() as base:`` a URL whose server accepts connections and never answers: what a
    hanging network looks like."""
    return _never_answering
