"""Deep & wide network (mlr3keras ``deep_wide``, after AutoGluon-Tabular's NN).

A *wide* linear model on the numeric inputs and one-hot categorical levels, and a *deep* MLP
on the numeric inputs and entity embeddings, each ending in ``spec.n_outputs`` units; their
sum goes through the task's output activation. (mlr3keras fed the wide part the embedded
inputs; one-hot levels make it a true linear model over the raw features.)
"""

from __future__ import annotations

import keras
from keras import layers

from keraslearn.architectures.blocks import BN_MOMENTUM, tabular_inputs

_OUTPUT_ACTIVATION = {"binary": "sigmoid", "multiclass": "softmax"}


def build(
    spec,
    layer_units=(128, 256),
    activation="relu",
    dropout=0.0,
    input_dropout=0.0,
    use_batchnorm=False,
    use_embedding=True,
    embed_dropout=0.0,
):
    """Deep part: [batch norm] → [dropout] → Dense per layer (activation on hidden layers only)."""
    inputs, deep = tabular_inputs(spec, use_embedding=use_embedding, embed_dropout=embed_dropout)
    wide_parts = [inputs["numeric"]] if "numeric" in inputs else []
    wide_parts += [
        layers.CategoryEncoding(num_tokens=c.n_codes, output_mode="one_hot", name=f"wide_onehot_{c.input_name}")(
            inputs[c.input_name]
        )
        for c in spec.categorical
    ]
    wide = wide_parts[0] if len(wide_parts) == 1 else layers.Concatenate(name="wide_features")(wide_parts)
    if input_dropout:
        deep = layers.Dropout(input_dropout, name="input_dropout")(deep)
        wide = layers.Dropout(input_dropout, name="wide_input_dropout")(wide)
    n_out = spec.n_outputs
    wide = layers.Dense(n_out, name="wide")(wide)
    units_list = [int(u) for u in layer_units] + [n_out]
    for i, units in enumerate(units_list):
        if use_batchnorm:
            deep = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i}")(deep)
        if dropout:
            deep = layers.Dropout(dropout, name=f"dropout_{i}")(deep)
        last = i == len(units_list) - 1
        deep = layers.Dense(units, name="deep" if last else f"dense_{i}")(deep)
        if not last:
            deep = layers.Activation(activation, name=f"act_{i}")(deep)
    out = layers.Add(name="deep_plus_wide")([deep, wide])
    out = layers.Activation(_OUTPUT_ACTIVATION.get(spec.task, "linear"), name="output")(out)
    return keras.Model(inputs, out, name="deep_wide")
