"""Datasets: Keras-compatible loaders (offline-first) and real data shipped in packages.

``load_mnist``, ``load_fashion_mnist``, ``load_cifar10``, ``load_cifar100``, ``load_imdb``,
``load_reuters``, ``load_boston_housing`` and ``load_california_housing`` return what the
matching ``keras.datasets.<name>.load_data()`` returns; ``load_tabular(name)`` gives
``(DataFrame, target)`` for the datasets in ``list_tabular()``.
"""

from keraslearn.datasets.bundled import boston_housing_frame
from keraslearn.datasets.files import DatasetFileError, DatasetUnavailableError
from keraslearn.datasets.loaders import (
    load_boston_housing,
    load_california_housing,
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
)
from keraslearn.datasets.sequences import imdb_word_index, load_imdb, load_reuters, reuters_word_index
from keraslearn.datasets.tabular import list_tabular, load_tabular

__all__ = [
    "DatasetFileError",
    "DatasetUnavailableError",
    "boston_housing_frame",
    "imdb_word_index",
    "list_tabular",
    "load_boston_housing",
    "load_california_housing",
    "load_cifar10",
    "load_cifar100",
    "load_fashion_mnist",
    "load_imdb",
    "load_mnist",
    "load_mnist_sample",
    "load_reuters",
    "load_tabular",
    "reuters_word_index",
]
