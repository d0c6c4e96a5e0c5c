"""Shaped MLPs (mlr3keras ``smlp`` / ``smlp2``; Auto-PyTorch Tabular search spaces 1 and 2).

Hidden widths form a funnel: they start at ``n_max`` and shrink linearly towards the output
width over ``n_layers`` layers. mlr3keras let the last hidden layer reach the output width
itself (a 1-unit bottleneck before a binary output); here the funnel stops one step short of
the output, as in Auto-PyTorch, so the output layer is the funnel's end.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from keraslearn.architectures.blocks import BN_MOMENTUM, output_head, tabular_inputs


def shaped_widths(n_max: int, n_layers: int, n_out: int) -> tuple[int, ...]:
    """Widths ``n_max, …`` shrinking linearly towards ``n_out`` (exclusive) over ``n_layers`` layers.

    >>> shaped_widths(128, 3, 2)
    (128, 86, 44)
    """
    step = (n_max - n_out) / n_layers
    return tuple(max(int(math.ceil(n_max - i * step)), 1) for i in range(n_layers))


def build(
    spec,
    n_max=128,
    n_layers=2,
    activation="relu",
    dropout=0.0,
    input_dropout=0.0,
    use_batchnorm=False,
    use_embedding=True,
    embed_dropout=0.0,
):
    """Shaped MLP: Dense → activation → [batch norm] → [dropout] per funnel width."""
    inputs, x = tabular_inputs(spec, use_embedding=use_embedding, embed_dropout=embed_dropout)
    if input_dropout:
        x = layers.Dropout(input_dropout, name="input_dropout")(x)
    for i, units in enumerate(shaped_widths(n_max, n_layers, spec.n_outputs)):
        x = layers.Dense(units, name=f"dense_{i}")(x)
        x = layers.Activation(activation, name=f"act_{i}")(x)
        if use_batchnorm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, output_head(spec, x), name="smlp")


def build_residual(
    spec,
    n_max=128,
    n_layers=3,
    activation="relu",
    dropout=0.0,
    input_dropout=0.0,
    use_embedding=True,
    embed_dropout=0.0,
):
    """Shaped residual MLP: a Dense stem of ``n_max`` units, then ``n_layers - 1`` residual blocks.

    Each block is BN → act → Dense → BN → act → Dropout → Dense, added to its input (through
    a bias-free Dense projection when the width changes). The tail is BN → act → output.
    """
    inputs, x = tabular_inputs(spec, use_embedding=use_embedding, embed_dropout=embed_dropout)
    if input_dropout:
        x = layers.Dropout(input_dropout, name="input_dropout")(x)
    widths = shaped_widths(n_max, n_layers, spec.n_outputs)
    x = layers.Dense(widths[0], name="stem")(x)
    for i, units in enumerate(widths[1:], start=1):
        h = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn_a")(x)
        h = layers.Activation(activation, name=f"block{i}_act_a")(h)
        h = layers.Dense(units, name=f"block{i}_dense_a")(h)
        h = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn_b")(h)
        h = layers.Activation(activation, name=f"block{i}_act_b")(h)
        if dropout:
            h = layers.Dropout(dropout, name=f"block{i}_dropout")(h)
        h = layers.Dense(units, name=f"block{i}_dense_b")(h)
        skip = x if x.shape[-1] == units else layers.Dense(units, use_bias=False, name=f"block{i}_skip")(x)
        x = layers.Add(name=f"block{i}_add")([skip, h])
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="tail_bn")(x)
    x = layers.Activation(activation, name="tail_act")(x)
    return keras.Model(inputs, output_head(spec, x), name="smlp2")
