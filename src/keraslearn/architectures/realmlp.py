"""RealMLP (Holzmüller et al. 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted Trees").

The RealMLP-TD recipe from pytabkit, in Keras: numeric columns robust-scaled by the encoder,
then smooth clipping and PBLD embeddings; small categoricals one-hot, larger ones embedded
(width 8); a trainable per-feature scale; NTK-parametrized linear layers with parametric
activations and dropout; the output layer starts at zero. Per-parameter learning-rate
factors (scale ×6, biases/activations/embeddings ×0.1) are realized by storing each
parameter divided by its factor (Adam's steps are scale-free, so the factor multiplies the
effective learning rate).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keraslearn.architectures.numeric_embeddings import PBLDEmbedding

_SERIALIZABLE = keras.saving.register_keras_serializable(package="keraslearn")


@_SERIALIZABLE
class SmoothClip(keras.layers.Layer):
    """``x / sqrt(1 + (x / max_abs)^2)``: identity near 0, smoothly bounded by ``±max_abs``."""

    def __init__(self, max_abs=3.0, **kwargs):
        super().__init__(**kwargs)
        self.max_abs = float(max_abs)

    def call(self, x):
        return x / ops.sqrt(1.0 + ops.square(x / self.max_abs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_abs": self.max_abs}


@_SERIALIZABLE
class FeatureScale(keras.layers.Layer):
    """Trainable per-feature scale, initialized to 1, learning ``lr_factor`` times faster."""

    def __init__(self, lr_factor=6.0, **kwargs):
        super().__init__(**kwargs)
        self.lr_factor = float(lr_factor)

    def build(self, input_shape):
        init = keras.initializers.Constant(1.0 / self.lr_factor)
        self.scale = self.add_weight(shape=(int(input_shape[-1]),), initializer=init, name="scale")

    def call(self, x):
        return x * (self.lr_factor * self.scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lr_factor": self.lr_factor}


@_SERIALIZABLE
class NTKDense(keras.layers.Layer):
    """Dense layer in NTK parametrization: ``x @ W / sqrt(fan_in) + b`` with ``W ~ N(0, 1)``.

    The bias starts at ``N(0, 1)`` (RealMLP-TD-S) and learns ``bias_lr_factor`` times
    as fast; ``zero_init=True`` starts weights and bias at 0 (the output layer).
    """

    def __init__(self, units, bias_lr_factor=0.1, zero_init=False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.bias_lr_factor = float(bias_lr_factor)
        self.zero_init = bool(zero_init)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self._gain = fan_in**-0.5
        if self.zero_init:
            w_init = b_init = "zeros"
        else:
            w_init = keras.initializers.RandomNormal(stddev=1.0)
            b_init = keras.initializers.RandomNormal(stddev=1.0 / self.bias_lr_factor)
        self.kernel = self.add_weight(shape=(fan_in, self.units), initializer=w_init, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer=b_init, name="bias")

    def call(self, x):
        return ops.matmul(x, self.kernel) * self._gain + self.bias_lr_factor * self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "bias_lr_factor": self.bias_lr_factor,
            "zero_init": self.zero_init,
        }


@_SERIALIZABLE
class ParametricActivation(keras.layers.Layer):
    """``x + alpha * (f(x) - x)`` with a trainable ``alpha`` per unit (1 at start: plain ``f``)."""

    def __init__(self, activation="selu", lr_factor=0.1, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.lr_factor = float(lr_factor)
        self._fn = keras.activations.get(activation)

    def build(self, input_shape):
        init = keras.initializers.Constant(1.0 / self.lr_factor)
        self.alpha = self.add_weight(shape=(int(input_shape[-1]),), initializer=init, name="alpha")

    def call(self, x):
        return x + (self.lr_factor * self.alpha) * (self._fn(x) - x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "lr_factor": self.lr_factor}


@_SERIALIZABLE
class ClampAtInference(keras.layers.Layer):
    """Identity in training; at inference, each output clipped to the range the training targets span.

    RealMLP-TD's regression outputs (pytabkit's ``clamp_output``): a network fitted on few rows can
    extrapolate far outside the targets it saw. The bounds are non-trainable weights that the learner
    sets from its (standardized) training targets; until then they clip nothing.
    """

    def build(self, input_shape):
        width = (int(input_shape[-1]),)
        big = float(np.finfo(np.float32).max)
        self.low = self.add_weight(shape=width, initializer=keras.initializers.Constant(-big), trainable=False,
                                   name="low")
        self.high = self.add_weight(shape=width, initializer=keras.initializers.Constant(big), trainable=False,
                                    name="high")

    def call(self, x, training=None):
        if training:
            return x
        return ops.minimum(ops.maximum(x, ops.cast(self.low, x.dtype)), ops.cast(self.high, x.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape


def build(
    spec,
    hidden_sizes=(256, 256, 256),
    activation=None,
    dropout=0.15,
    numeric_embedding="pbld",
    frequency_scale=0.1,
    max_one_hot=9,
    categorical_embed_dim=8,
    smooth_clip=True,
    clamp_output=False,
):
    """RealMLP-TD.

    Parameters
    ----------
    spec : DataSpec
    hidden_sizes : tuple of int, default=(256, 256, 256)
    activation : str or None, default=None
        None picks RealMLP-TD's choice: "selu" for classification, "mish" for regression.
    dropout : float, default=0.15
    numeric_embedding : {"pbld", None}, default="pbld"
    frequency_scale : float, default=0.1
        Initial frequency scale of the PBLD embedding.
    max_one_hot : int, default=9
        Categorical columns with at most this many levels are one-hot encoded, the
        others embedded with width ``categorical_embed_dim``.
    smooth_clip : bool, default=True
        Smoothly clip the (robust-scaled) numeric inputs to about ±3.
    clamp_output : bool, default=False
        A regression network's outputs end in :class:`ClampAtInference` (whose bounds the learner sets).
    """
    if activation is None:
        activation = "selu" if spec.task in ("binary", "multiclass") else "mish"
    if numeric_embedding not in ("pbld", None):
        raise ValueError(f"numeric_embedding must be 'pbld' or None for RealMLP, got {numeric_embedding!r}.")
    inputs, parts = {}, []
    if spec.n_numeric:
        inputs["numeric"] = keras.Input(shape=(spec.n_numeric,), name="numeric", dtype="float32")
        z = SmoothClip(name="smooth_clip")(inputs["numeric"]) if smooth_clip else inputs["numeric"]
        if numeric_embedding == "pbld":
            z = layers.Flatten(name="pbld_flat")(PBLDEmbedding(frequency_scale=frequency_scale, name="pbld")(z))
        parts.append(z)
    for cat in spec.categorical:
        inp = keras.Input(shape=(1,), name=cat.input_name, dtype="int32")
        inputs[cat.input_name] = inp
        # n_codes counts the reserved missing / unknown codes on top of the levels.
        if cat.n_codes - 2 <= int(max_one_hot):
            z = layers.CategoryEncoding(num_tokens=cat.n_codes, output_mode="one_hot", name=f"onehot_{cat.input_name}")(inp)
        else:
            z = layers.Embedding(cat.n_codes, int(categorical_embed_dim), name=f"embed_{cat.input_name}")(inp)
            z = layers.Flatten(name=f"flat_{cat.input_name}")(z)
        parts.append(z)
    if not parts:
        raise ValueError("The data has no columns to learn from.")
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    x = FeatureScale(name="front_scale")(x)
    for i, units in enumerate(hidden_sizes):
        x = NTKDense(units, name=f"dense_{i}")(x)
        x = ParametricActivation(activation, name=f"act_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    x = NTKDense(spec.n_outputs, zero_init=True, name="output_linear")(x)
    if spec.task == "binary":
        x = layers.Activation("sigmoid", name="output")(x)
    elif spec.task == "multiclass":
        x = layers.Activation("softmax", name="output")(x)
    elif clamp_output:
        x = ClampAtInference(name="output_clamp", dtype="float32")(x)  # exact bounds under a mixed policy
    return keras.Model(inputs, x, name="realmlp")
