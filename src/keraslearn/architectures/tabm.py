"""TabM (Gorishniy et al. 2025, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling").

``k`` MLPs trained at once in one model that shares most weights:

- ``arch_type="tabm"``: BatchEnsemble linear layers (shared weight ``W``, per-member
  input/output scalings ``r``, ``s`` and bias); only the first ``r`` starts random.
- ``arch_type="tabm-mini"``: one per-member input scaling, then a fully shared MLP.

Every member has its own output layer. In training the model returns ``(batch, k, out)``
and :class:`~keraslearn.training.losses.EnsembleMemberLoss` trains each member on its own;
at inference :class:`EnsembleMean` returns the mean of the members' predictions
(probabilities for classifiers), so the model's output is an ordinary prediction.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keraslearn.architectures.numeric_embeddings import numeric_embedding as make_numeric_embedding

_SERIALIZABLE = keras.saving.register_keras_serializable(package="keraslearn")
ARCH_TYPES = ("tabm", "tabm-mini")


def _scaling_initializer(kind, chunks=None):
    """TabM's random scaling init: "normal" or "random-signs", constant within each feature's chunk."""

    repeats = None if chunks is None else np.asarray(list(chunks), dtype="int64")

    def init(shape, dtype=None):
        k, d = shape
        n = len(repeats) if repeats is not None else d
        if kind == "normal":
            values = keras.random.normal((k, n))
        else:
            values = ops.where(keras.random.uniform((k, n)) < 0.5, -1.0, 1.0)
        if repeats is not None:
            values = np.repeat(ops.convert_to_numpy(values), repeats, axis=1)
        return ops.cast(ops.convert_to_tensor(values), dtype)

    return init


@_SERIALIZABLE
class ElementwiseScaling(keras.layers.Layer):
    """Per-member scaling of the input: ``(batch, d)`` or ``(batch, k, d)`` → ``(batch, k, d)``.

    Parameters
    ----------
    k : int
    init : {"normal", "random-signs", "ones"}
    chunks : list of int or None
        Sizes of consecutive feature blocks that share one random value per member (one
        block per original feature when features are embedded).
    """

    def __init__(self, k, init="normal", chunks=None, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)
        self.init = init
        self.chunks = None if chunks is None else [int(c) for c in chunks]

    def build(self, input_shape):
        d = int(input_shape[-1])
        init = "ones" if self.init == "ones" else _scaling_initializer(self.init, self.chunks)
        self.scaling = self.add_weight(shape=(self.k, d), initializer=init, name="scaling")

    def call(self, x):
        if len(x.shape) == 2:
            x = ops.expand_dims(x, 1)
        return x * self.scaling

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "k": self.k, "init": self.init, "chunks": self.chunks}


@_SERIALIZABLE
class LinearBatchEnsemble(keras.layers.Layer):
    """BatchEnsemble linear layer: ``((x * r) @ W) * s + b`` with ``W`` shared by the ``k`` members.

    Input ``(batch, d)`` (the same row for every member) or ``(batch, k, d)``; output
    ``(batch, k, units)``. ``r`` starts as ``first_init`` (with ``chunks``), ``s`` as ones;
    the ``k`` biases start equal, as in TabM.
    """

    def __init__(self, units, k, first_init="ones", chunks=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.k = int(k)
        self.first_init = first_init
        self.chunks = None if chunks is None else [int(c) for c in chunks]

    def build(self, input_shape):
        d = int(input_shape[-1])
        bound = d**-0.5
        uniform = keras.initializers.RandomUniform(-bound, bound)
        r_init = "ones" if self.first_init == "ones" else _scaling_initializer(self.first_init, self.chunks)
        self.r = self.add_weight(shape=(self.k, d), initializer=r_init, name="r")
        self.kernel = self.add_weight(shape=(d, self.units), initializer=uniform, name="kernel")
        self.s = self.add_weight(shape=(self.k, self.units), initializer="ones", name="s")

        def shared_bias(shape, dtype=None):
            return ops.zeros(shape, dtype=dtype) + uniform((shape[-1],), dtype=dtype)

        self.bias = self.add_weight(shape=(self.k, self.units), initializer=shared_bias, name="bias")

    def call(self, x):
        if len(x.shape) == 2:
            x = ops.expand_dims(x, 1)
        return ops.matmul(x * self.r, self.kernel) * self.s + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "k": self.k,
            "first_init": self.first_init,
            "chunks": self.chunks,
        }


@_SERIALIZABLE
class LinearEnsemble(keras.layers.Layer):
    """``k`` independent linear layers applied to ``(batch, k, d)`` → ``(batch, k, units)``."""

    def __init__(self, units, k, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.k = int(k)

    def build(self, input_shape):
        d = int(input_shape[-1])
        init = keras.initializers.RandomUniform(-(d**-0.5), d**-0.5)
        self.kernel = self.add_weight(shape=(self.k, d, self.units), initializer=init, name="kernel")
        self.bias = self.add_weight(shape=(self.k, self.units), initializer=init, name="bias")

    def call(self, x):
        return ops.einsum("bkd,kdu->bku", x, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.k, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "k": self.k}


@_SERIALIZABLE
class EnsembleMean(keras.layers.Layer):
    """Members' predictions ``(batch, k, out)``: passed through in training, averaged at inference."""

    def call(self, x, training=None):
        return x if training else ops.mean(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def build(
    spec,
    k=32,
    arch_type="tabm",
    n_blocks=None,
    d_block=256,
    dropout=0.1,
    activation="relu",
    numeric_embedding="piecewise",
    n_bins=48,
    numeric_embed_dim=16,
    frequency_scale=0.1,
):
    """TabM with one-hot categorical columns and an optional numeric embedding.

    Parameters
    ----------
    spec : DataSpec
    k : int, default=32
        Ensemble members.
    arch_type : {"tabm", "tabm-mini"}, default="tabm"
    n_blocks : int or None, default=None
        None: 2 with a numeric embedding, 3 without (the tabm package's rule).
    d_block : int, default=256
    dropout : float, default=0.1
    activation : str, default="relu"
    numeric_embedding : {"piecewise", "periodic", None}, default="piecewise"
    n_bins, numeric_embed_dim, frequency_scale
        Options of the numeric embedding.
    """
    if arch_type not in ARCH_TYPES:
        raise ValueError(f"arch_type must be one of {ARCH_TYPES}, got {arch_type!r}.")
    k = int(k)
    if n_blocks is None:
        n_blocks = 2 if (numeric_embedding is not None and spec.n_numeric) else 3
    inputs, parts, chunks = {}, [], []
    if spec.n_numeric:
        inputs["numeric"] = keras.Input(shape=(spec.n_numeric,), name="numeric", dtype="float32")
        embed = make_numeric_embedding(
            spec, numeric_embedding, d_embedding=numeric_embed_dim, n_bins=n_bins, frequency_scale=frequency_scale
        )
        if embed is None:
            parts.append(inputs["numeric"])
            chunks += [1] * spec.n_numeric
        else:
            z = embed(inputs["numeric"])
            parts.append(layers.Flatten(name="numeric_embedding_flat")(z))
            chunks += [int(z.shape[-1])] * spec.n_numeric
    for cat in spec.categorical:
        inp = keras.Input(shape=(1,), name=cat.input_name, dtype="int32")
        inputs[cat.input_name] = inp
        parts.append(layers.CategoryEncoding(num_tokens=cat.n_codes, output_mode="one_hot", name=f"onehot_{cat.input_name}")(inp))
        chunks.append(cat.n_codes)
    if not parts:
        raise ValueError("The data has no columns to learn from.")
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    # Random first scalings make the k members differ before any features are mixed.
    first_init = "normal" if (numeric_embedding is not None and spec.n_numeric) else "random-signs"
    if arch_type == "tabm-mini":
        x = ElementwiseScaling(k, init=first_init, chunks=chunks, name="member_scaling")(x)
    for i in range(int(n_blocks)):
        if arch_type == "tabm":
            x = LinearBatchEnsemble(
                int(d_block), k, first_init=first_init if i == 0 else "ones", chunks=chunks if i == 0 else None,
                name=f"block{i}_linear",
            )(x)
        else:
            x = layers.Dense(int(d_block), name=f"block{i}_linear")(x)
        x = layers.Activation(activation, name=f"block{i}_act")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"block{i}_dropout")(x)
    x = LinearEnsemble(spec.n_outputs, k, name="member_heads")(x)
    if spec.task == "binary":
        x = layers.Activation("sigmoid", name="member_probabilities")(x)
    elif spec.task == "multiclass":
        x = layers.Activation("softmax", name="member_probabilities")(x)
    return keras.Model(inputs, EnsembleMean(name="ensemble_mean")(x), name="tabm")
