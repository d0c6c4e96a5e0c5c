"""Shared building blocks for tabular architectures: named inputs, embeddings, output head."""

from __future__ import annotations

import keras
from keras import layers

from keraslearn.preprocessing.spec import DataSpec

#: Batch-norm momentum of the tabular MLPs: PyTorch's (its 0.1 is Keras' 0.9). With Keras' 0.99
#: the moving statistics used at prediction time lag far behind the data on short tabular fits
#: (a few hundred steps), so predictions on the training rows score worse than training did.
BN_MOMENTUM = 0.9


def tabular_inputs(spec: DataSpec, use_embedding: bool = True, embed_dropout: float = 0.0, numeric_embedding=None):
    """Keras inputs for ``spec`` and the concatenated feature tensor.

    Categorical codes go through an ``Embedding`` (width from the spec) or, with
    ``use_embedding=False``, a one-hot encoding. ``numeric_embedding`` ("periodic",
    "piecewise" or a Keras layer returning ``(batch, n_numeric, d)``) embeds the numeric
    input (see :mod:`keraslearn.architectures.numeric_embeddings`); None passes it through.

    Returns
    -------
    inputs : dict of str → KerasTensor
    features : KerasTensor of shape (batch, width)
    """
    inputs, parts = {}, []
    if spec.n_numeric:
        inputs["numeric"] = keras.Input(shape=(spec.n_numeric,), name="numeric", dtype="float32")
        z = inputs["numeric"]
        if numeric_embedding is not None:
            from keraslearn.architectures.numeric_embeddings import numeric_embedding as make_embedding

            z = layers.Flatten(name="numeric_embedding_flat")(make_embedding(spec, numeric_embedding)(z))
        parts.append(z)
    for cat in spec.categorical:
        inp = keras.Input(shape=(1,), name=cat.input_name, dtype="int32")
        inputs[cat.input_name] = inp
        if use_embedding:
            z = layers.Embedding(
                cat.n_codes, cat.embed_dim, embeddings_initializer="he_uniform", name=f"embed_{cat.input_name}"
            )(inp)
            # Explicit names: auto-names ("dropout_1") collide with the hidden layers' names.
            z = layers.Flatten(name=f"flatten_{cat.input_name}")(z)
            if embed_dropout:
                z = layers.Dropout(embed_dropout, name=f"embed_dropout_{cat.input_name}")(z)
        else:
            z = layers.CategoryEncoding(num_tokens=cat.n_codes, output_mode="one_hot")(inp)
        parts.append(z)
    if not parts:
        raise ValueError("The data has no columns to learn from.")
    features = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    return inputs, features


def output_head(spec: DataSpec, x, name: str = "output"):
    """The task's output layer: sigmoid (binary), softmax (multiclass) or linear (regression)."""
    if spec.task == "binary":
        return layers.Dense(1, activation="sigmoid", name=name)(x)
    if spec.task == "multiclass":
        return layers.Dense(spec.n_classes, activation="softmax", name=name)(x)
    return layers.Dense(spec.n_targets, name=name)(x)
