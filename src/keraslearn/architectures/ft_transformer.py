"""FT-Transformer (Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data").

Every feature becomes a token (numeric: a linear map per feature, or a numeric embedding;
categorical: an embedding), a [CLS] token is prepended, and a pre-norm Transformer with
ReGLU feed-forward blocks reads the prediction off the [CLS] token. The last block only
updates [CLS] (its attention queries the [CLS] token alone), as in rtdl_revisiting_models.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keraslearn.architectures.blocks import output_head
from keraslearn.architectures.numeric_embeddings import LinearEmbedding
from keraslearn.architectures.numeric_embeddings import numeric_embedding as make_numeric_embedding

_SERIALIZABLE = keras.saving.register_keras_serializable(package="keraslearn")


@_SERIALIZABLE
class CLSToken(keras.layers.Layer):
    """Prepend one trainable token to a sequence: ``(batch, n, d) → (batch, n + 1, d)``."""

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.cls_token = self.add_weight(
            shape=(1, 1, d), initializer=keras.initializers.RandomUniform(-(d**-0.5), d**-0.5), name="cls_token"
        )

    def call(self, x):
        cls = ops.zeros_like(x[:, :1, :]) + self.cls_token
        return ops.concatenate([cls, x], axis=1)

    def compute_output_shape(self, input_shape):
        n = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], n, input_shape[2])


@_SERIALIZABLE
class FirstToken(keras.layers.Layer):
    """The first token of a sequence: ``(batch, n, d) → (batch, 1, d)``, or ``(batch, d)`` with ``keepdims=False``."""

    def __init__(self, keepdims=True, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def call(self, x):
        return x[:, :1, :] if self.keepdims else x[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@_SERIALIZABLE
class ReGLU(keras.layers.Layer):
    """ReGLU: split the last axis in halves ``a, b`` and return ``a * relu(b)``."""

    def call(self, x):
        a, b = ops.split(x, 2, axis=-1)
        return a * ops.relu(b)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)


def _tokens(spec, d_block, numeric_embedding, n_bins, frequency_scale):
    inputs, tokens = {}, []
    if spec.n_numeric:
        inputs["numeric"] = keras.Input(shape=(spec.n_numeric,), name="numeric", dtype="float32")
        embed = make_numeric_embedding(
            spec, numeric_embedding, d_embedding=d_block, n_bins=n_bins, frequency_scale=frequency_scale
        ) or LinearEmbedding(d_block, name="numeric_tokens")
        numeric_tokens = embed(inputs["numeric"])
        if tuple(numeric_tokens.shape[1:]) != (spec.n_numeric, d_block):
            raise ValueError(
                f"numeric_embedding={type(embed).__name__} gives numeric tokens of shape "
                f"{tuple(numeric_tokens.shape[1:])}; "
                f"the FT-Transformer needs one token of d_block={d_block} per numeric column, "
                f"({spec.n_numeric}, {d_block}): give the layer d_embedding={d_block}."
            )
        tokens.append(numeric_tokens)
    for cat in spec.categorical:
        inp = keras.Input(shape=(1,), name=cat.input_name, dtype="int32")
        inputs[cat.input_name] = inp
        init = keras.initializers.RandomUniform(-(d_block**-0.5), d_block**-0.5)
        tokens.append(layers.Embedding(cat.n_codes, d_block, embeddings_initializer=init, name=f"embed_{cat.input_name}")(inp))
    if not tokens:
        raise ValueError("The data has no columns to learn from.")
    x = tokens[0] if len(tokens) == 1 else layers.Concatenate(axis=1, name="tokens")(tokens)
    return inputs, CLSToken(name="cls")(x)


def build(
    spec,
    n_blocks=3,
    d_block=192,
    n_heads=8,
    attention_dropout=0.2,
    ffn_d_hidden_multiplier=4 / 3,
    ffn_dropout=0.1,
    residual_dropout=0.0,
    numeric_embedding=None,
    n_bins=48,
    frequency_scale=0.1,
):
    """The FT-Transformer; defaults are rtdl_revisiting_models' default configuration (3 blocks).

    Parameters
    ----------
    spec : DataSpec
    n_blocks : int, default=3
    d_block : int, default=192
        Token width; must be divisible by ``n_heads``.
    n_heads : int, default=8
    attention_dropout : float, default=0.2
        Dropout on the attention probabilities.
    ffn_d_hidden_multiplier : float, default=4/3
        Hidden width of the ReGLU feed-forward block (4/3 with ReGLU ≈ 2 with ReLU in parameters).
    ffn_dropout, residual_dropout : float
    numeric_embedding : {None, "periodic", "piecewise"} or keras.layers.Layer
        None tokenizes numeric features linearly (the paper's FT-Transformer). A layer must
        give a token of width ``d_block`` per numeric column.
    """
    d_block, n_heads = int(d_block), int(n_heads)
    if d_block % n_heads:
        raise ValueError(f"d_block ({d_block}) must be divisible by n_heads ({n_heads}).")
    inputs, x = _tokens(spec, d_block, numeric_embedding, n_bins, frequency_scale)
    d_ffn = max(1, int(d_block * float(ffn_d_hidden_multiplier)))
    for i in range(int(n_blocks)):
        last = i == int(n_blocks) - 1
        # Pre-normalization, except before the first attention (the tokens are fresh embeddings).
        z = layers.LayerNormalization(name=f"block{i}_attention_norm")(x) if i else x
        query = FirstToken(name=f"block{i}_cls_query")(z) if last else z
        z = layers.MultiHeadAttention(
            n_heads, d_block // n_heads, dropout=attention_dropout, name=f"block{i}_attention"
        )(query, z)
        if residual_dropout:
            z = layers.Dropout(residual_dropout, name=f"block{i}_attention_dropout")(z)
        x = layers.Add(name=f"block{i}_attention_add")([FirstToken(name=f"block{i}_cls_skip")(x) if last else x, z])
        z = layers.LayerNormalization(name=f"block{i}_ffn_norm")(x)
        z = layers.Dense(2 * d_ffn, name=f"block{i}_ffn_linear1")(z)
        z = ReGLU(name=f"block{i}_reglu")(z)
        if ffn_dropout:
            z = layers.Dropout(ffn_dropout, name=f"block{i}_ffn_dropout")(z)
        z = layers.Dense(d_block, name=f"block{i}_ffn_linear2")(z)
        if residual_dropout:
            z = layers.Dropout(residual_dropout, name=f"block{i}_ffn_residual_dropout")(z)
        x = layers.Add(name=f"block{i}_ffn_add")([x, z])
    x = FirstToken(keepdims=False, name="cls_out")(x)
    x = layers.LayerNormalization(name="head_norm")(x)
    x = layers.Activation("relu", name="head_act")(x)
    return keras.Model(inputs, output_head(spec, x), name="ft_transformer")
