"""Feed-forward network with entity embeddings (mlr3keras ``kerasff``)."""

from __future__ import annotations

import keras
from keras import layers

from keraslearn.architectures.blocks import BN_MOMENTUM, output_head, tabular_inputs


def build(
    spec,
    layer_units=(32, 32, 32),
    activation="relu",
    dropout=0.0,
    input_dropout=0.0,
    use_batchnorm=False,
    use_embedding=True,
    embed_dropout=0.0,
    numeric_embedding=None,
):
    """Dense → activation → [batch norm] → [dropout] per entry of ``layer_units``.

    An empty ``layer_units`` gives a (multinomial) logistic / linear regression.
    ``numeric_embedding`` ("periodic" or "piecewise") embeds the numeric columns first.
    """
    inputs, x = tabular_inputs(
        spec, use_embedding=use_embedding, embed_dropout=embed_dropout, numeric_embedding=numeric_embedding
    )
    if input_dropout:
        x = layers.Dropout(input_dropout, name="input_dropout")(x)
    for i, units in enumerate(layer_units):
        x = layers.Dense(int(units), name=f"dense_{i}")(x)
        x = layers.Activation(activation, name=f"act_{i}")(x)
        if use_batchnorm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, output_head(spec, x), name="ff")
