"""keraslearn.datasets: Keras' splits and shapes, offline-first lookup, fast offline errors."""

import contextlib
import dataclasses
import gzip
import os
import pickle
import tarfile
import time

import numpy as np
import pandas as pd
import pytest

import keraslearn
from keraslearn.datasets import files, loaders, sequences
from keraslearn.datasets import (
    DatasetUnavailableError,
    list_tabular,
    load_boston_housing,
    load_california_housing,
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_imdb,
    load_mnist,
    load_mnist_sample,
    load_reuters,
    load_tabular,
)


@pytest.fixture
def data_dirs(tmp_path, monkeypatch):
    """An empty $KERASLEARN_DATA and an empty Keras home: nothing is found locally."""
    data, home = tmp_path / "data", tmp_path / "keras_home"
    data.mkdir()
    home.mkdir()
    monkeypatch.setenv("KERASLEARN_DATA", str(data))
    monkeypatch.delenv("KERASLEARN_OFFLINE", raising=False)
    monkeypatch.setattr(files, "_keras_home", lambda: str(home))
    # The tests' files are small fakes in Keras' layout: not Keras' files, so no checksum of Keras'
    # applies (test_a_cached_file_is_checked_against_its_checksum checks them).
    monkeypatch.setattr(loaders, "_SOURCES", {k: dataclasses.replace(s, file_hash=None)
                                              for k, s in loaders._SOURCES.items()})
    return data, home


def _source_with(monkeypatch, key, **fields):
    """The dataset's file with other ``fields`` (its url: unreachable, or a local server; its hash)."""
    monkeypatch.setitem(loaders._SOURCES, key, dataclasses.replace(loaders._SOURCES[key], **fields))


def _keras_reads(monkeypatch, module, path_for):
    """Make Keras' own loader read our file instead of downloading (to compare parsers)."""
    import importlib

    mod = importlib.import_module(f"keras.src.datasets.{module}")
    monkeypatch.setattr(mod, "get_file", lambda fname=None, *a, **k: path_for(fname))


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs):
        for u, v in zip(a, b):
            assert u.shape == v.shape and u.dtype == v.dtype
            if u.dtype == object:
                assert [list(s) for s in u] == [list(s) for s in v]
            else:
                np.testing.assert_array_equal(u, v)


# ------------------------------------------------------------------ Boston
def test_boston_offline_reproduces_keras_split(data_dirs):
    (x_train, y_train), (x_test, y_test) = load_boston_housing()
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    assert x_train.dtype == np.float64 and y_train.shape == (404,)
    # The first training row and targets of keras.datasets.boston_housing.load_data().
    np.testing.assert_allclose(
        x_train[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72]
    )
    np.testing.assert_allclose(y_train[:10], [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6, 15.6, 14.4])
    np.testing.assert_allclose(y_test[:5], [7.2, 18.8, 19.0, 27.0, 22.2])
    (a, _), (b, _) = load_boston_housing(test_split=0.1, seed=1)
    assert len(a) == 455 and len(b) == 51 and not np.array_equal(a[0], x_train[0])
    import pathlib  # the default name as a Path: it sought a download instead of the bundled rows

    np.testing.assert_array_equal(load_boston_housing(path=pathlib.Path("boston_housing.npz"))[0][0], x_train)


def test_boston_reads_keras_file_when_present_and_matches_keras(data_dirs, monkeypatch):
    data, _ = data_dirs
    x, y = loaders._boston_arrays()
    path = data / "boston_housing.npz"
    np.savez(path, x=x[:100], y=y[:100])
    ours = load_boston_housing(test_split=0.3, seed=7)
    assert len(ours[0][0]) == 70 and len(ours[1][0]) == 30
    _keras_reads(monkeypatch, "boston_housing", lambda _: str(path))
    import keras

    _assert_same(ours, keras.datasets.boston_housing.load_data(test_split=0.3, seed=7))
    with pytest.raises(ValueError, match="test_split"):
        load_boston_housing(test_split=1.0)


# ------------------------------------------------- parsers agree with Keras'
def test_mnist_and_california_match_keras(data_dirs, monkeypatch):
    import keras

    data, _ = data_dirs
    rng = np.random.default_rng(0)
    np.savez(
        data / "mnist.npz",
        x_train=rng.integers(0, 255, (12, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 9, 12, dtype=np.uint8),
        x_test=rng.integers(0, 255, (4, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 9, 4, dtype=np.uint8),
    )
    _keras_reads(monkeypatch, "mnist", lambda _: str(data / "mnist.npz"))
    _assert_same(load_mnist(), keras.datasets.mnist.load_data())

    np.savez(data / "california_housing.npz", x=rng.normal(size=(700, 8)).astype(np.float32), y=rng.normal(size=700))
    _keras_reads(monkeypatch, "california_housing", lambda _: str(data / "california_housing.npz"))
    for kwargs in ({}, {"version": "small", "test_split": 0.25, "seed": 3}):
        ours = load_california_housing(**kwargs)
        _assert_same(ours, keras.datasets.california_housing.load_data(**kwargs))
    assert len(load_california_housing(version="small")[0][0]) == 480


@pytest.mark.parametrize(
    "ours, module, keras_name",
    [
        (load_mnist, "mnist", "load_data"),
        (load_fashion_mnist, "fashion_mnist", "load_data"),
        (load_cifar10, "cifar10", "load_data"),
        (load_cifar100, "cifar100", "load_data"),
        (load_imdb, "imdb", "load_data"),
        (load_reuters, "reuters", "load_data"),
        (load_boston_housing, "boston_housing", "load_data"),
        (load_california_housing, "california_housing", "load_data"),
        (sequences.imdb_word_index, "imdb", "get_word_index"),
        (sequences.reuters_word_index, "reuters", "get_word_index"),
    ],
)
def test_loaders_take_keras_arguments_in_keras_order(ours, module, keras_name):
    """Code written for keras.datasets (keyword or positional, `path` first) runs unchanged."""
    import inspect

    import keras

    theirs = inspect.signature(getattr(getattr(keras.datasets, module), keras_name)).parameters.values()
    keras_params = [(p.name, p.default) for p in theirs if p.kind is not p.VAR_KEYWORD]
    assert [(p.name, p.default) for p in inspect.signature(ours).parameters.values()] == keras_params


def test_path_names_another_file_in_the_cache_or_anywhere(data_dirs, tmp_path):
    data, _ = data_dirs
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    arrays = dict(x_train=x, y_train=np.array([1, 2], np.uint8), x_test=x[:1], y_test=np.array([3], np.uint8))
    np.savez(data / "my_mnist.npz", **arrays)
    np.savez(tmp_path / "elsewhere.npz", **arrays)
    for path in ("my_mnist.npz", str(tmp_path / "elsewhere.npz"), tmp_path / "elsewhere.npz"):
        (x_train, y_train), _ = load_mnist(path=path)
        np.testing.assert_array_equal(x_train, x)
        np.testing.assert_array_equal(y_train, [1, 2])
    with pytest.raises(TypeError, match="path must be a file name"):
        load_mnist(path=5)
    for folder in ("", ".", str(tmp_path) + "/"):  # joined to the cache, "" was the cache: "delete it"
        with pytest.raises(ValueError, match="names a folder, not a file: give a file name, like 'mnist.npz'"):
            load_mnist(path=folder)
    np.savez(data / "my_boston.npz", x=np.ones((10, 13)), y=np.arange(10.0))
    (xb, _), (xt, _) = load_boston_housing("my_boston.npz", 0.2)
    assert len(xb) == 8 and len(xt) == 2  # positional, in Keras' order


def test_a_sequence_loader_names_another_datasets_file(tmp_path):
    x = np.zeros((3, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.arange(3), x_test=x[:1], y_test=[0])
    with pytest.raises(ValueError, match=r"not a valid imdb file \(its x_train is a uint8 array of shape "
                                         r"\(3, 28, 28\), not word-index sequences\)"):
        load_imdb(path=str(tmp_path / "mnist.npz"))


def test_fashion_mnist_matches_keras(data_dirs, monkeypatch):
    import keras

    data, _ = data_dirs
    folder = data / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for prefix, n in (("train", 6), ("t10k", 3)):
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + rng.integers(0, 9, n, dtype=np.uint8).tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + rng.integers(0, 255, n * 784, dtype=np.uint8).tobytes())
    _keras_reads(monkeypatch, "fashion_mnist", lambda fname: str(folder / fname))
    ours = load_fashion_mnist()
    assert ours[0][0].shape == (6, 28, 28) and ours[1][1].shape == (3,)
    _assert_same(ours, keras.datasets.fashion_mnist.load_data())


def _cifar_folder(root, names, label_keys, rng):
    root.mkdir(parents=True)
    batches = []
    for name in names:
        batch = {b"data": rng.integers(0, 255, (3, 3072), dtype=np.uint8)}
        for key in label_keys:
            batch[key.encode()] = rng.integers(0, 20, 3).tolist()
        with open(root / name, "wb") as f:
            pickle.dump(batch, f)
        batches.append(batch)
    return batches


def test_cifar_from_folder_and_archive_match_keras(data_dirs, monkeypatch, tmp_path):
    import keras

    data, _ = data_dirs
    rng = np.random.default_rng(2)
    c10 = tmp_path / "cifar-10-batches-py"
    batches = _cifar_folder(c10, [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], ["labels"], rng)
    # Keras' cifar10 parser assumes 10000 rows per batch, so build its result by hand.
    images = [b[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) for b in batches]
    labels = [np.asarray(b[b"labels"], np.uint8).reshape(-1, 1) for b in batches]
    expected = ((np.concatenate(images[:5]), np.concatenate(labels[:5])), (images[5], labels[5]))
    # As a tar.gz in $KERASLEARN_DATA, the way it is downloaded from the origin.
    with tarfile.open(data / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(c10, arcname="cifar-10-batches-py")
    ours = load_cifar10()
    assert ours[0][0].shape == (15, 32, 32, 3) and ours[0][1].shape == (15, 1)
    _assert_same(ours, expected)

    c100 = data / "cifar-100-python"  # extracted in $KERASLEARN_DATA
    _cifar_folder(c100, ["train", "test"], ["fine_labels", "coarse_labels"], rng)
    _keras_reads(monkeypatch, "cifar100", lambda _: str(data))
    for mode in ("fine", "coarse"):
        _assert_same(load_cifar100(mode), keras.datasets.cifar100.load_data(mode))
    with pytest.raises(ValueError, match="label_mode"):
        load_cifar100("medium")


def _ragged(rng, n, vocab=30):
    return np.array([rng.integers(1, vocab, rng.integers(1, 9)).tolist() for _ in range(n)], dtype=object)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_words": 12, "skip_top": 2, "maxlen": 6},
        {"start_char": None, "index_from": 0, "oov_char": None, "num_words": 10},
    ],
)
def test_imdb_and_reuters_match_keras(data_dirs, monkeypatch, kwargs):
    import keras

    data, _ = data_dirs
    rng = np.random.default_rng(3)
    np.savez(
        data / "imdb.npz",
        x_train=_ragged(rng, 20),
        y_train=rng.integers(0, 2, 20),
        x_test=_ragged(rng, 10),
        y_test=rng.integers(0, 2, 10),
    )
    np.savez(data / "reuters.npz", x=_ragged(rng, 30), y=rng.integers(0, 46, 30))
    _keras_reads(monkeypatch, "imdb", lambda _: str(data / "imdb.npz"))
    _keras_reads(monkeypatch, "reuters", lambda _: str(data / "reuters.npz"))
    _assert_same(load_imdb(**kwargs), keras.datasets.imdb.load_data(**kwargs))
    _assert_same(load_reuters(test_split=0.3, **kwargs), keras.datasets.reuters.load_data(test_split=0.3, **kwargs))


def test_arguments_that_leave_nothing_blame_the_argument_not_the_file(data_dirs):
    data, _ = data_dirs
    rng = np.random.default_rng(3)
    np.savez(data / "reuters.npz", x=_ragged(rng, 30), y=rng.integers(0, 46, 30))
    with pytest.raises(loaders.DatasetArgumentError, match="newswires of 1 words or more, none is left; increase maxlen"):
        load_reuters(maxlen=1)
    # A file the user names is theirs: missing, it is an error, not keraslearn's bundled rows.
    with pytest.raises(DatasetUnavailableError, match="my_boston.npz"):
        load_boston_housing(path=str(data / "my_boston.npz"))


def test_offline_mode_reads_false_as_off(data_dirs, monkeypatch):
    monkeypatch.setenv("KERASLEARN_OFFLINE", "false")
    _source_with(monkeypatch, "reuters", url="http://keraslearn-offline.invalid/reuters.npz")
    with pytest.raises(DatasetUnavailableError, match="keraslearn-offline.invalid cannot be reached"):
        load_reuters()  # tried the network: not "KERASLEARN_OFFLINE is set"


def test_corrupt_file_names_the_file(data_dirs):
    data, _ = data_dirs
    (data / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="mnist.npz is not a valid mnist file"):
        load_mnist()


def test_a_download_cut_short_names_the_file(data_dirs):
    """Half an .npz is a zip without its directory (zipfile.BadZipFile): the same clear message."""
    import io

    data, _ = data_dirs
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=np.zeros((50, 28, 28), np.uint8), y_train=np.zeros(50, np.uint8),
                        x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8))
    (data / "mnist.npz").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ValueError, match="mnist.npz is not a valid mnist file.*delete it and load again"):
        load_mnist()


def test_a_cached_file_is_checked_against_its_checksum(data_dirs, monkeypatch):
    """A file under Keras' name that is not Keras' (an error page, a cut download) is refused, not used."""
    import hashlib

    data, _ = data_dirs
    x = np.zeros((2, 28, 28), np.uint8)
    np.savez(data / "mnist.npz", x_train=x, y_train=np.array([1, 2], np.uint8), x_test=x[:1], y_test=np.array([3]))
    digest = hashlib.sha256((data / "mnist.npz").read_bytes()).hexdigest()
    _source_with(monkeypatch, "mnist", file_hash=digest)
    assert load_mnist()[0][1].tolist() == [1, 2]  # the file Keras' checksum names
    np.savez(data / "mnist.npz", x_train=x, y_train=np.array([7, 7], np.uint8), x_test=x[:1], y_test=np.array([3]))
    with pytest.raises(ValueError, match=r"mnist.npz is not Keras' mnist file \(its checksum differs.*delete it"):
        load_mnist()
    # The docs' offline fallback catches it: the right file is unavailable until this one is deleted.
    with pytest.raises(keraslearn.DatasetUnavailableError):
        load_mnist()


def test_files_the_user_names_get_no_cache_advice(data_dirs, tmp_path):
    data, _ = data_dirs
    page = tmp_path / "mine.npz"
    page.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ValueError, match=r"mine.npz is not a valid mnist file \(not a NumPy .npz archive; it starts "
                                         r"with b'<html>404 Not Fo'\)\.$"):
        load_mnist(path=str(page))  # the user's own file: no "delete it", no allow_pickle advice
    with pytest.raises(DatasetUnavailableError, match=r"Cannot load mnist: no file at .*nowhere/mnist.npz"):
        load_mnist(path=str(tmp_path / "nowhere" / "mnist.npz"))
    (data / "fashion-mnist").mkdir()
    for name in loaders._FASHION_FILES:
        with gzip.open(data / "fashion-mnist" / name, "wb") as f:
            f.write(bytes(16 + 28 * 28))
    full = (data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    (data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(full[:20])
    # A cached copy cut short is unavailable, as a checksum failure is: docs/datasets.md's offline fallback
    # (except DatasetUnavailableError) catches it; it got a plain ValueError for files Keras has no checksum of.
    with pytest.raises(DatasetUnavailableError, match=r"t10k-images-idx3-ubyte.gz is not a valid fashion_mnist "
                                                      r"file.*delete it"):
        load_fashion_mnist()
    assert keraslearn.DatasetFileError is keraslearn.datasets.DatasetFileError  # the name the docs give


def test_keras_home_with_a_tilde_and_a_bad_timeout(tmp_path):
    import subprocess
    import sys

    script = "from keraslearn.datasets import files; print(files.keras_cache_dir())"
    env = {**os.environ, "KERAS_HOME": "~/kh", "HOME": str(tmp_path)}
    # cwd: Keras' own config makes the folder KERAS_HOME names without expanding "~", under the working folder
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         cwd=tmp_path)
    assert out.stdout.strip() == str(tmp_path / "kh" / "datasets"), out.stderr  # as Keras' get_file reads it
    env = {**os.environ, "KERASLEARN_NET_TIMEOUT": "abc"}
    script = "from keraslearn.datasets import files; files.net_timeout()"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert "KERASLEARN_NET_TIMEOUT='abc' is not a number of seconds > 0" in out.stderr


# --------------------------------------------------------------- offline
@pytest.mark.parametrize("network", ["no_dns", "never_answers", "not_found"])
def test_offline_error_is_fast_and_says_where_to_put_the_file(data_dirs, monkeypatch, tmp_path, network,
                                                              http_server, silent_server):
    _, home = data_dirs
    if network == "no_dns":
        server = contextlib.nullcontext("http://keraslearn-offline.invalid")
    elif network == "never_answers":
        server = silent_server()
    else:
        server = http_server(tmp_path)  # serves an empty folder: 404
    with server as base:
        url = f"{base}/mnist.npz"
        _source_with(monkeypatch, "mnist", url=url)
        start = time.perf_counter()
        with pytest.raises(DatasetUnavailableError) as info:
            load_mnist()
        assert time.perf_counter() - start < 5.0
    message = str(info.value)
    assert os.path.join(str(home), "datasets", "mnist.npz") in message
    assert "KERASLEARN_DATA" in message and url in message
    # (the paths left out: pytest's temporary folder may be .../pytest-404/...)
    assert ("404" in message.replace(str(home), "")) == (network == "not_found")
    assert not (home / "datasets").exists()  # nothing half-written


def test_offline_mode_never_touches_the_network(data_dirs, monkeypatch):
    monkeypatch.setenv("KERASLEARN_OFFLINE", "1")
    monkeypatch.setattr(files, "check_reachable", lambda *a, **k: pytest.fail("probed the network"))
    with pytest.raises(DatasetUnavailableError, match="KERASLEARN_OFFLINE is set.*KERASLEARN_DATA") as info:
        load_reuters()
    assert "check its spelling" not in str(info.value)
    assert len(load_boston_housing()[0][0]) == 404  # bundled data still loads
    # A KERASLEARN_DATA with a typo was taken silently: the message named it as the folder to put the file in.
    monkeypatch.setenv("KERASLEARN_DATA", str(data_dirs[0]) + "-typo")
    with pytest.raises(DatasetUnavailableError, match=r"KERASLEARN_DATA='.*-typo' is not a folder that exists here"):
        load_reuters()


def test_offline_error_for_archives_names_the_archive(data_dirs, monkeypatch):
    _source_with(monkeypatch, "cifar10", url="http://keraslearn-offline.invalid/cifar-10-python.tar.gz")
    with pytest.raises(DatasetUnavailableError, match="cifar-10-python.tar.gz"):
        load_cifar10()


def test_download_goes_through_keras_into_its_cache(data_dirs, monkeypatch, tmp_path, http_server):
    """Keras' own get_file downloads (here from a local server) into Keras' cache."""
    _, home = data_dirs
    served = tmp_path / "served"
    served.mkdir()
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 4], np.uint8)
    np.savez(served / "mnist.npz", x_train=x, y_train=labels, x_test=x[:1], y_test=labels[:1])
    with http_server(served) as base:
        _source_with(monkeypatch, "mnist", url=f"{base}/mnist.npz")
        # A download that fails Keras' checksum is refused, and not left for the next call to find.
        _source_with(monkeypatch, "mnist", file_hash="0" * 64)
        with pytest.raises(DatasetUnavailableError, match="downloading .* failed"):
            load_mnist()
        assert not (home / "datasets" / "mnist.npz").exists()
        _source_with(monkeypatch, "mnist", file_hash=None)
        (x_train, y_train), _ = load_mnist()
    assert (home / "datasets" / "mnist.npz").exists()
    np.testing.assert_array_equal(x_train, x)
    (x_again, _), _ = load_mnist()  # the server is gone: read from the cache
    np.testing.assert_array_equal(x_again, x)


def test_a_failed_archive_download_leaves_nothing_behind(data_dirs, monkeypatch, tmp_path, http_server):
    """Keras keeps a downloaded archive as "<name>_archive": one failing its checksum goes too."""
    _, home = data_dirs
    served = tmp_path / "served"
    served.mkdir()
    (served / "cifar-10-python.tar.gz").write_bytes(b"<html>not the archive</html>")
    with http_server(served) as base:
        _source_with(monkeypatch, "cifar10", url=f"{base}/cifar-10-python.tar.gz", file_hash="0" * 64)
        with pytest.raises(DatasetUnavailableError, match="downloading .* failed"):
            load_cifar10()
    assert not [p for p in home.rglob("*") if p.is_file()]


# ----------------------------------------------------- bundled real data
def test_mnist_sample_is_real_mnist_shaped_like_keras():
    (x_train, y_train), (x_test, y_test) = load_mnist_sample()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and x_train.max() == 255
    assert sorted(np.unique(y_train)) == list(range(10))
    assert 300 < np.bincount(y_train).min() and np.bincount(y_test).max() < 130  # shuffled before the split


def test_tabular_catalogue_is_what_it_says():
    catalogue = list_tabular()
    assert {"boston", "iris", "penguins", "titanic"} <= set(catalogue["name"])
    for row in catalogue.itertuples():
        X, y = load_tabular(row.name)
        assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
        assert X.shape == (row.n_rows, row.n_features), row.name
        assert y.name == row.target and len(y) == len(X) and row.target not in X.columns
        if row.task == "regression":
            assert y.dtype == np.float64
        else:
            assert y.nunique() == (2 if row.task == "binary" else y.nunique()) and y.nunique() >= 2
    X, y = load_tabular("penguins")
    assert X["island"].dtype == "category" and X.isna().any().any()  # categorical + missing kept
    X, _ = load_tabular("diamonds")  # "ordered categories", as the catalogue says: ggplot2's order, no NaN made
    assert X["cut"].cat.ordered and list(X["cut"].cat.categories) == ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    assert X["clarity"].cat.categories[0] == "I1" and not X[["cut", "color", "clarity"]].isna().any().any()
    X, _ = load_tabular("ames")  # modeldata::ames has no missing values: "None" is a level, not NaN
    assert not X.isna().any().any() and "None" in X["Mas_Vnr_Type"].cat.categories
    with pytest.raises(ValueError, match="Unknown tabular dataset 'nope'.*penguins"):
        load_tabular("nope")


def test_fashion_mnist_names_every_missing_file_at_once(data_dirs, monkeypatch):
    monkeypatch.setenv("KERASLEARN_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError, match=r"All 4 missing files: train-labels-idx1-ubyte.gz, "
                                                      r"train-images-idx3-ubyte.gz, t10k-labels"):
        load_fashion_mnist()
