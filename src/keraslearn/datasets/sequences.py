"""Keras' sequence datasets (IMDB, Reuters) and their word indexes, with Keras' signatures and
splits, offline-first: the files are found and read as for the other loaders
(:mod:`keraslearn.datasets.loaders`)."""

from __future__ import annotations

import json

import numpy as np

from keraslearn.datasets.files import load_npz
from keraslearn.datasets.loaders import DatasetArgumentError, _check_split, _read


def _sequences(f, key):
    """``f[key]``, refused unless it holds word-index sequences (another dataset's .npz, say)."""
    xs = f[key]
    ragged = xs.dtype == object and xs.ndim == 1
    padded = np.issubdtype(xs.dtype, np.integer) and xs.ndim == 2  # rows of word indexes, as Keras reads them
    if not (ragged or padded):
        raise ValueError(f"its {key} is a {xs.dtype} array of shape {xs.shape}, not word-index sequences")
    return xs


def _index_words(xs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    return [[w + index_from for w in x] for x in xs]


def _drop_long(maxlen, xs, labels):
    keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
    return [xs[i] for i in keep], [labels[i] for i in keep]


def _cap_vocabulary(xs, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def load_imdb(
    path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3
):
    """IMDB reviews as word-index sequences: ``(x_train, y_train), (x_test, y_test)``, 25000 each.

    Same signature and result as ``keras.datasets.imdb.load_data()``: words are ranked by
    frequency, shifted by ``index_from``; ``num_words`` keeps the most frequent words
    (others become ``oov_char``); ``maxlen`` drops longer reviews.

    Parameters
    ----------
    path : str or path-like, default="imdb.npz"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    num_words : int or None, default=None
        Keep the most frequent words only; the others become ``oov_char``.
    skip_top : int, default=0
        The most frequent words to skip (they become ``oov_char``).
    maxlen : int or None, default=None
        Sequences longer than this are dropped.
    seed : int, default=113
        Seed of the shuffle of each set.
    start_char : int or None, default=1
        Index that marks the start of each sequence; None marks none.
    oov_char : int or None, default=2
        Index of the words left out; None drops them.
    index_from : int, default=3
        The words' indices start here.
    """

    def reader(path):
        f = load_npz(path)
        rng = np.random.RandomState(seed)
        splits = []
        for xk, yk in (("x_train", "y_train"), ("x_test", "y_test")):
            xs = _sequences(f, xk)
            idx = np.arange(len(xs))
            rng.shuffle(idx)
            splits.append((xs[idx], f[yk][idx]))
        (x_train, y_train), (x_test, y_test) = splits
        x_train = _index_words(x_train, start_char, index_from)
        x_test = _index_words(x_test, start_char, index_from)
        if maxlen:
            x_train, y_train = _drop_long(maxlen, x_train, y_train)
            x_test, y_test = _drop_long(maxlen, x_test, y_test)
            if not x_train or not x_test:
                raise DatasetArgumentError(
                    f"After dropping reviews of {maxlen} words or more, none is left; increase maxlen."
                )
        xs = _cap_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
        labels = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
        cut = len(x_train)
        return (np.array(xs[:cut], dtype="object"), labels[:cut]), (np.array(xs[cut:], dtype="object"), labels[cut:])

    return _read("imdb", reader, path)


def load_reuters(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Reuters newswires (46 topics) as word-index sequences, split like Keras.

    Same signature and result as ``keras.datasets.reuters.load_data()``.

    Parameters
    ----------
    path : str or path-like, default="reuters.npz"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    num_words : int or None, default=None
        Keep the most frequent words only; the others become ``oov_char``.
    skip_top : int, default=0
        The most frequent words to skip (they become ``oov_char``).
    maxlen : int or None, default=None
        Sequences longer than this are dropped.
    test_split : float, default=0.2
        Share of the rows in the test set.
    seed : int, default=113
        Seed of the shuffle before the split (Keras' default).
    start_char : int or None, default=1
        Index that marks the start of each sequence; None marks none.
    oov_char : int or None, default=2
        Index of the words left out; None drops them.
    index_from : int, default=3
        The words' indices start here.
    """
    _check_split(test_split)

    def reader(path):
        f = load_npz(path)
        xs = _sequences(f, "x")
        idx = np.arange(len(xs))
        np.random.RandomState(seed).shuffle(idx)
        xs, labels = xs[idx], f["y"][idx]
        xs = _index_words(xs, start_char, index_from)
        if maxlen:
            xs, labels = _drop_long(maxlen, xs, labels)
            if not xs:
                raise DatasetArgumentError(
                    f"After dropping newswires of {maxlen} words or more, none is left; increase maxlen."
                )
        xs = _cap_vocabulary(xs, num_words, skip_top, oov_char)
        cut = int(len(xs) * (1 - test_split))
        return (
            (np.array(xs[:cut], dtype="object"), np.array(labels[:cut])),
            (np.array(xs[cut:], dtype="object"), np.array(labels[cut:])),
        )

    return _read("reuters", reader, path)


def _read_json(path):
    with open(path, encoding="utf8") as f:
        return json.load(f)


def imdb_word_index(path="imdb_word_index.json"):
    """``{word: rank}`` of the IMDB data (``keras.datasets.imdb.get_word_index()``).

    Parameters
    ----------
    path : str or path-like, default="imdb_word_index.json"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    """
    return _read("imdb_word_index", _read_json, path)


def reuters_word_index(path="reuters_word_index.json"):
    """``{word: rank}`` of the Reuters data (``keras.datasets.reuters.get_word_index()``).

    Parameters
    ----------
    path : str or path-like, default="reuters_word_index.json"
        The file's name in Keras' cache (or an absolute path), as in Keras.
    """
    return _read("reuters_word_index", _read_json, path)
