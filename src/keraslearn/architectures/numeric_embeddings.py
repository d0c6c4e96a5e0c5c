"""Numeric feature embeddings: periodic (PLR), piecewise-linear and RealMLP's PBLD.

Each layer maps the scaled numeric input ``(batch, n_features)`` to one embedding per
feature, ``(batch, n_features, d_embedding)``: flatten it for MLP-like models, or use the
rows as tokens for a Transformer. References: Gorishniy et al. 2022, "On Embeddings for
Numerical Features in Tabular Deep Learning" (periodic, piecewise-linear); Gorishniy et al.
2025 (TabM, the piecewise-linear "version B"); Holzmüller et al. 2024 (RealMLP, PBLD).

All layers use ``keras.ops`` only (JAX, PyTorch, TensorFlow), keep everything they need in
``get_config`` (the piecewise-linear bin edges too) and are registered serializable, so
models holding them load in Keras' safe mode.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

_SERIALIZABLE = keras.saving.register_keras_serializable(package="keraslearn")


def _uniform(bound):
    return keras.initializers.RandomUniform(-bound, bound)


def _scaled(initializer, factor):
    """``initializer / factor``: the stored value of a parameter used as ``factor * stored``."""
    if factor == 1.0:
        return initializer
    return lambda shape, dtype=None: initializer(shape, dtype=dtype) / factor


@_SERIALIZABLE
class LinearEmbedding(keras.layers.Layer):
    """One linear map per numeric feature: ``x[:, i] * w[i] + b[i]`` (FT-Transformer's tokenizer).

    Parameters
    ----------
    d_embedding : int
        Embedding width per feature.
    """

    def __init__(self, d_embedding, **kwargs):
        super().__init__(**kwargs)
        self.d_embedding = int(d_embedding)

    def build(self, input_shape):
        d = int(input_shape[-1])
        init = _uniform(self.d_embedding**-0.5)
        self.token_weight = self.add_weight(shape=(d, self.d_embedding), initializer=init, name="token_weight")
        self.token_bias = self.add_weight(shape=(d, self.d_embedding), initializer=init, name="token_bias")

    def call(self, x):
        return ops.expand_dims(x, -1) * self.token_weight + self.token_bias

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_embedding)

    def get_config(self):
        return {**super().get_config(), "d_embedding": self.d_embedding}


@_SERIALIZABLE
class PeriodicEmbedding(keras.layers.Layer):
    """Periodic embeddings: ``[cos(2π f x), sin(2π f x)]`` with trainable frequencies, then linear.

    With ``activation=True`` this is PLR (periodic → linear → ReLU); ``lite=True`` shares the
    linear layer between features (fewer parameters, the "PLR(lite)" of the TabR paper).

    Parameters
    ----------
    n_frequencies : int, default=48
        Frequencies per feature ("k" in the paper).
    d_embedding : int, default=24
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies ("sigma"); the most important
        hyperparameter: larger values fit higher-frequency patterns.
    lite : bool, default=False
    activation : bool, default=True
        ReLU after the linear layer.
    """

    def __init__(self, n_frequencies=48, d_embedding=24, frequency_scale=0.1, lite=False, activation=True, **kwargs):
        super().__init__(**kwargs)
        self.n_frequencies = int(n_frequencies)
        self.d_embedding = int(d_embedding)
        self.frequency_scale = float(frequency_scale)
        self.lite = bool(lite)
        self.activation = bool(activation)

    def build(self, input_shape):
        d, k = int(input_shape[-1]), self.n_frequencies
        sigma = self.frequency_scale
        self.frequencies = self.add_weight(
            shape=(d, k),
            initializer=keras.initializers.TruncatedNormal(stddev=sigma),
            name="frequencies",
        )
        init = _uniform((2 * k) ** -0.5)
        kernel_shape = (2 * k, self.d_embedding) if self.lite else (d, 2 * k, self.d_embedding)
        bias_shape = (self.d_embedding,) if self.lite else (d, self.d_embedding)
        self.kernel = self.add_weight(shape=kernel_shape, initializer=init, name="kernel")
        self.bias = self.add_weight(shape=bias_shape, initializer=init, name="bias")

    def call(self, x):
        z = 2.0 * math.pi * ops.expand_dims(x, -1) * self.frequencies
        z = ops.concatenate([ops.cos(z), ops.sin(z)], axis=-1)
        equation = "bdk,ke->bde" if self.lite else "bdk,dke->bde"
        z = ops.einsum(equation, z, self.kernel) + self.bias
        return ops.relu(z) if self.activation else z

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_embedding)

    def get_config(self):
        return {
            **super().get_config(),
            "n_frequencies": self.n_frequencies,
            "d_embedding": self.d_embedding,
            "frequency_scale": self.frequency_scale,
            "lite": self.lite,
            "activation": self.activation,
        }


@_SERIALIZABLE
class PBLDEmbedding(keras.layers.Layer):
    """RealMLP's PBLD embedding: periodic with bias → per-feature linear → densenet skip.

    Per feature: ``[cos(2π w x + b) @ W + c, x]``, so ``d_embedding - 1`` learned values
    plus the feature itself. ``lr_factor`` scales this layer's learning rate under Adam
    (parameters are stored divided by it and multiplied back in ``call``).
    """

    def __init__(self, n_frequencies=16, d_embedding=4, frequency_scale=0.1, lr_factor=0.1, **kwargs):
        super().__init__(**kwargs)
        if int(d_embedding) < 2:
            raise ValueError(f"PBLDEmbedding needs d_embedding >= 2, got {d_embedding}.")
        self.n_frequencies = int(n_frequencies)
        self.d_embedding = int(d_embedding)
        self.frequency_scale = float(frequency_scale)
        self.lr_factor = float(lr_factor)

    def build(self, input_shape):
        d, k, c = int(input_shape[-1]), self.n_frequencies, self.lr_factor
        self.frequencies = self.add_weight(
            shape=(d, k), initializer=_scaled(keras.initializers.RandomNormal(stddev=self.frequency_scale), c),
            name="frequencies",
        )
        # Phases uniform in [-pi, pi] (not [0, 2pi]) keep them small under weight decay.
        self.phase_bias = self.add_weight(shape=(d, k), initializer=_scaled(_uniform(math.pi), c), name="phase_bias")
        self.kernel = self.add_weight(
            shape=(d, k, self.d_embedding - 1), initializer=_scaled(_uniform(k**-0.5), c), name="kernel"
        )
        self.bias = self.add_weight(
            shape=(d, self.d_embedding - 1), initializer=_scaled(_uniform(k**-0.5), c), name="bias"
        )

    def call(self, x):
        c = self.lr_factor
        z = 2.0 * math.pi * ops.expand_dims(x, -1) * (c * self.frequencies) + c * self.phase_bias
        z = ops.einsum("bdk,dke->bde", ops.cos(z), c * self.kernel) + c * self.bias
        return ops.concatenate([z, ops.expand_dims(x, -1)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_embedding)

    def get_config(self):
        return {
            **super().get_config(),
            "n_frequencies": self.n_frequencies,
            "d_embedding": self.d_embedding,
            "frequency_scale": self.frequency_scale,
            "lr_factor": self.lr_factor,
        }


def _check_edges(bin_edges):
    edges = [[float(v) for v in e] for e in bin_edges]
    if not edges:
        raise ValueError("bin_edges must list the edges of at least one feature.")
    for i, e in enumerate(edges):
        if len(e) < 2 or not all(np.isfinite(e)) or any(b <= a for a, b in zip(e, e[1:])):
            raise ValueError(
                f"bin_edges[{i}] must hold at least 2 finite, strictly increasing values; got {e}. "
                "Compute them with keraslearn.architectures.numeric_embeddings.bin_edges(spec, n_bins)."
            )
    return edges


def _ple_tables(edges):
    """Weight, bias and clip bounds so that ``clip(w * x + b, lo, hi)`` is the encoding.

    Like rtdl_num_embeddings: a feature with ``n`` bins fills its first ``n - 1`` slots
    and the very last slot; slots in between stay 0 (padding), so all features share one
    clip pattern: the first slot is unbounded below, the last unbounded above.
    """
    n_bins = [len(e) - 1 for e in edges]
    d, t = len(edges), max(n_bins)
    w, b = np.zeros((d, t), np.float32), np.zeros((d, t), np.float32)
    lo, hi = np.zeros((d, t), np.float32), np.ones((d, t), np.float32)
    lo[:, 0] = -np.inf
    hi[:, -1] = np.inf
    for i, e in enumerate(edges):
        e = np.asarray(e, np.float64)
        width = np.diff(e)
        slots = list(range(n_bins[i] - 1)) + [t - 1]
        w[i, slots] = 1.0 / width
        b[i, slots] = -e[:-1] / width
        if n_bins[i] == 1:  # one bin: plain min-max scaling, unbounded on both sides
            lo[i, -1] = -np.inf
    return w, b, lo, hi


@_SERIALIZABLE
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Piecewise-linear encoding (no trainable weights): per feature ``[1, …, 1, frac, 0, …, 0]``.

    A value in bin ``j`` of its feature encodes as ones for the bins below, its relative
    position inside bin ``j``, and zeros above. Output: ``(batch, n_features, max_n_bins)``.

    Parameters
    ----------
    bin_edges : list of list of float
        Strictly increasing edges per feature (``n_bins + 1`` values), e.g. training-data
        quantiles from :func:`bin_edges`. Stored in the layer config, so saved models keep them.
    """

    def __init__(self, bin_edges, **kwargs):
        super().__init__(**kwargs)
        self.bin_edges = _check_edges(bin_edges)
        self._w, self._b, self._lo, self._hi = _ple_tables(self.bin_edges)

    @property
    def max_n_bins(self) -> int:
        return self._w.shape[1]

    def build(self, input_shape):
        if int(input_shape[-1]) != len(self.bin_edges):
            raise ValueError(f"Input has {input_shape[-1]} features but bin_edges covers {len(self.bin_edges)}.")

    def call(self, x):
        z = ops.expand_dims(x, -1) * ops.convert_to_tensor(self._w) + ops.convert_to_tensor(self._b)
        return ops.minimum(ops.maximum(z, ops.convert_to_tensor(self._lo)), ops.convert_to_tensor(self._hi))

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.max_n_bins)

    def get_config(self):
        return {**super().get_config(), "bin_edges": self.bin_edges}


@_SERIALIZABLE
class PiecewiseLinearEmbedding(keras.layers.Layer):
    """Piecewise-linear embeddings ("version B" of TabM): linear embedding + PLE → per-feature linear.

    The piecewise-linear part starts at zero, so at initialization the layer is a linear
    embedding and learns the non-linear part during training.

    Parameters
    ----------
    bin_edges : list of list of float
        As for :class:`PiecewiseLinearEncoding`.
    d_embedding : int, default=16
    activation : bool, default=False
        ReLU at the end.
    """

    def __init__(self, bin_edges, d_embedding=16, activation=False, **kwargs):
        super().__init__(**kwargs)
        self.d_embedding = int(d_embedding)
        self.activation = bool(activation)
        # This layer's dtype policy, which its config saves, not the global one at build or load.
        self.encoding = PiecewiseLinearEncoding(bin_edges, name="encoding", dtype=self.dtype_policy)
        self.linear = LinearEmbedding(self.d_embedding, name="linear", dtype=self.dtype_policy)

    def build(self, input_shape):
        d, t = int(input_shape[-1]), self.encoding.max_n_bins
        self.encoding.build(input_shape)
        self.linear.build(input_shape)
        self.kernel = self.add_weight(shape=(d, t, self.d_embedding), initializer="zeros", name="kernel")

    def call(self, x):
        z = self.linear(x) + ops.einsum("bdt,dte->bde", self.encoding(x), self.kernel)
        return ops.relu(z) if self.activation else z

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_embedding)

    def get_config(self):
        return {
            **super().get_config(),
            "bin_edges": self.encoding.bin_edges,
            "d_embedding": self.d_embedding,
            "activation": self.activation,
        }


def bin_edges(spec, n_bins: int = 48) -> list[list[float]]:
    """Bin edges per numeric input column from the training-data quantiles in ``spec``.

    Edges are the quantiles at levels ``0, 1/n_bins, …, 1`` (linearly interpolated between
    the stored levels), duplicates removed; a column with a single value gets one bin of
    width 1 around it, so every column has at least one bin.
    """
    from keraslearn.preprocessing.spec import N_QUANTILES

    n_bins = int(n_bins)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
    if spec.n_numeric and len(spec.numeric_quantiles) != spec.n_numeric:
        raise ValueError(
            "Piecewise-linear embeddings take their bin edges from the training data, but this "
            "DataSpec carries no numeric_quantiles; build it with TabularEncoder.fit."
        )
    grid = np.linspace(0.0, 1.0, N_QUANTILES)
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    edges = []
    for q in spec.numeric_quantiles:
        e = np.unique(np.interp(levels, grid, np.asarray(q, np.float64)).astype(np.float32)).astype(np.float64)
        if len(e) < 2:
            e = np.array([e[0] - 0.5, e[0] + 0.5])
        edges.append([float(v) for v in e])
    return edges


NUMERIC_EMBEDDINGS = ("periodic", "piecewise")


def numeric_embedding(spec, kind, *, d_embedding=None, n_bins=48, frequency_scale=0.1, name="numeric_embedding"):
    """The numeric embedding layer ``kind`` for ``spec``'s numeric input (None → None).

    ``kind`` is "periodic" (PLR: 48 frequencies, ``d_embedding`` 24 by default),
    "piecewise" (piecewise-linear with ``n_bins`` bins from the training quantiles,
    ``d_embedding`` 16 by default) or a Keras layer, of which a fresh copy (from its config) is
    returned: a layer given as a learner's parameter must not carry one fit's weights into the next.
    A table without numeric columns has nothing to embed: None.
    """
    if kind is not None and not isinstance(kind, keras.layers.Layer) and kind not in NUMERIC_EMBEDDINGS:
        raise ValueError(f"numeric_embedding must be None, one of {NUMERIC_EMBEDDINGS} or a keras.layers.Layer, "
                         f"got {kind!r}.")
    if kind is None or not spec.n_numeric:
        return None
    if isinstance(kind, keras.layers.Layer):  # named as ours are: the learners' weight decay skips it by name
        return type(kind).from_config({**kind.get_config(), "name": name})
    if kind == "periodic":
        return PeriodicEmbedding(d_embedding=d_embedding or 24, frequency_scale=frequency_scale, name=name)
    return PiecewiseLinearEmbedding(bin_edges(spec, n_bins), d_embedding=d_embedding or 16, name=name)
