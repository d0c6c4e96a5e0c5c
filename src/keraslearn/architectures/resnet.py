"""ResNet for tabular data (Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data").

``Linear(d_block) → n_blocks × [BN → Linear(d_hidden) → ReLU → Dropout → Linear(d_block) →
Dropout → +skip] → BN → ReLU → output``.
"""

from __future__ import annotations

import keras
from keras import layers

from keraslearn.architectures.blocks import BN_MOMENTUM, output_head, tabular_inputs
from keraslearn.architectures.numeric_embeddings import numeric_embedding as make_numeric_embedding


def build(
    spec,
    n_blocks=2,
    d_block=192,
    d_hidden_multiplier=2.0,
    hidden_dropout=0.15,
    residual_dropout=0.0,
    activation="relu",
    use_embedding=True,
    numeric_embedding=None,
    n_bins=48,
    numeric_embed_dim=None,
    frequency_scale=0.1,
):
    """The ResNet; defaults are the rtdl_revisiting_models example configuration.

    Parameters
    ----------
    spec : DataSpec
    n_blocks : int, default=2
    d_block : int, default=192
        Width of the residual stream.
    d_hidden_multiplier : float, default=2.0
        Hidden width of each block is ``int(d_block * d_hidden_multiplier)``.
    hidden_dropout, residual_dropout : float
        Dropout after the hidden activation and at the end of each residual branch.
    activation : str, default="relu"
    use_embedding : bool, default=True
        Entity embeddings for categorical columns (else one-hot).
    numeric_embedding : {None, "periodic", "piecewise"} or keras.layers.Layer
        Numeric-feature embedding before the first linear layer.
    n_bins, numeric_embed_dim, frequency_scale
        Options of the numeric embedding (see :func:`keraslearn.architectures.numeric_embeddings.numeric_embedding`).
    """
    embedding = make_numeric_embedding(
        spec, numeric_embedding, d_embedding=numeric_embed_dim, n_bins=n_bins, frequency_scale=frequency_scale
    )
    inputs, x = tabular_inputs(spec, use_embedding=use_embedding, numeric_embedding=embedding)
    x = layers.Dense(int(d_block), name="input_projection")(x)
    d_hidden = max(1, int(int(d_block) * float(d_hidden_multiplier)))
    for i in range(int(n_blocks)):
        z = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn")(x)
        z = layers.Dense(d_hidden, activation=activation, name=f"block{i}_linear1")(z)
        if hidden_dropout:
            z = layers.Dropout(hidden_dropout, name=f"block{i}_dropout1")(z)
        z = layers.Dense(int(d_block), name=f"block{i}_linear2")(z)
        if residual_dropout:
            z = layers.Dropout(residual_dropout, name=f"block{i}_dropout2")(z)
        x = layers.Add(name=f"block{i}_add")([x, z])
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="head_bn")(x)
    x = layers.Activation(activation, name="head_act")(x)
    return keras.Model(inputs, output_head(spec, x), name="resnet")
