"""TabNet (Arik & Pfister, 2019) in Keras 3: attentive, sparse feature selection per decision step.

The encoder follows pytorch-tabnet's reference network (dreamquark-ai/tabnet 4.1): an input
batch normalization, a feature transformer per step made of GLU layers shared by all steps
followed by step-specific ones, an attentive transformer per step whose sparsemax mask is
scaled by prior use (relaxation factor ``gamma``), ghost batch normalization inside every
block, and the mask entropy added as a sparsity loss. Categorical columns are embedded by
:func:`keraslearn.architectures.blocks.tabular_inputs` before the encoder.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.architectures.blocks import output_head, tabular_inputs
from keraslearn.architectures.layers import GhostBatchNormalization, sparsemax

ENCODER_NAME = "tabnet_encoder"


def _glu_init(fan_in):
    # pytorch-tabnet's xavier_normal with gain sqrt((in + out) / sqrt(in)): std = sqrt(2 / sqrt(in)).
    return keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / math.sqrt(fan_in)))


def _attention_init(fan_in):
    # ... and with gain sqrt((in + out) / sqrt(4 in)) for the attentive transformer: std = in**-0.25.
    return keras.initializers.RandomNormal(stddev=fan_in**-0.25)


@keras.saving.register_keras_serializable(package="keraslearn")
class TabNetEncoder(keras.layers.Layer):
    """The TabNet encoder: features (batch, F) → aggregated decision output (batch, n_d).

    Called with ``return_masks=True`` it returns ``(decision, masks, explanation)``:
    the per-step masks (batch, n_steps, F) and pytorch-tabnet's per-row importance
    (batch, F): each step's mask weighted by the sum of that step's ReLU decision output.

    In training it adds ``lambda_sparse`` times the mean mask entropy with ``add_loss``.

    Parameters
    ----------
    n_d, n_a : int, default=8
        Width of the decision output and of the attention input of each step.
    n_steps : int, default=3
        Number of decision steps.
    gamma : float, default=1.3
        Relaxation factor: how much a feature can be reused across steps (1 = used once).
    n_independent, n_shared : int, default=2
        Step-specific and shared GLU layers in each feature transformer.
    lambda_sparse : float, default=1e-3
        Weight of the mask-entropy (sparsity) loss.
    virtual_batch_size : int, default=128
        Ghost batch normalization chunk size.
    momentum : float, default=0.02
        pytorch-tabnet convention: weight of the new statistics in each batch-norm update
        (Keras' ``BatchNormalization(momentum=1 - momentum)``).
    epsilon : float, default=1e-15
        Added inside the log of the entropy loss.
    """

    def __init__(
        self,
        n_d=8,
        n_a=8,
        n_steps=3,
        gamma=1.3,
        n_independent=2,
        n_shared=2,
        lambda_sparse=1e-3,
        virtual_batch_size=128,
        momentum=0.02,
        epsilon=1e-15,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_d, self.n_a, self.n_steps = int(n_d), int(n_a), int(n_steps)
        self.gamma = float(gamma)
        self.n_independent, self.n_shared = int(n_independent), int(n_shared)
        self.lambda_sparse = float(lambda_sparse)
        self.virtual_batch_size = int(virtual_batch_size)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if self.n_independent + self.n_shared < 1:
            raise ValueError("n_independent and n_shared cannot both be 0.")
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps!r}.")

    def _gbn(self):
        return GhostBatchNormalization(self.virtual_batch_size, momentum=1.0 - self.momentum, dtype=self.dtype_policy)

    def build(self, input_shape):
        n_features = int(input_shape[-1])
        width = self.n_d + self.n_a
        # Sub-layers take this layer's dtype policy, which its config saves: the global policy at build (or at
        # load) would make a model read back under another policy compute in another precision.
        policy = self.dtype_policy
        self.input_bn = layers.BatchNormalization(momentum=0.99, epsilon=1e-5, name="input_bn", dtype=policy)
        self.input_bn.build(input_shape)
        # Shared GLU weights: one Dense per shared layer, used by every step.
        self.shared_fc = []
        for i in range(self.n_shared):
            fan_in = n_features if i == 0 else width
            fc = layers.Dense(2 * width, use_bias=False, kernel_initializer=_glu_init(fan_in), name=f"shared_fc_{i}",
                              dtype=policy)
            fc.build((None, fan_in))
            self.shared_fc.append(fc)
        # Feature transformer t = 0 is the initial splitter, t = 1..n_steps the steps. Each has
        # its own ghost batch norms for the shared layers and its own independent layers.
        self.shared_bn, self.indep_fc, self.indep_bn = [], [], []
        for t in range(self.n_steps + 1):
            for i in range(self.n_shared):
                bn = self._gbn()
                bn.build((None, 2 * width))
                self.shared_bn.append(bn)
            for i in range(self.n_independent):
                fan_in = n_features if (i == 0 and self.n_shared == 0) else width
                fc = layers.Dense(2 * width, use_bias=False, kernel_initializer=_glu_init(fan_in), dtype=policy)
                fc.build((None, fan_in))
                bn = self._gbn()
                bn.build((None, 2 * width))
                self.indep_fc.append(fc)
                self.indep_bn.append(bn)
        self.att_fc, self.att_bn = [], []
        for s in range(self.n_steps):
            fc = layers.Dense(n_features, use_bias=False, kernel_initializer=_attention_init(self.n_a), dtype=policy)
            fc.build((None, self.n_a))
            bn = self._gbn()
            bn.build((None, n_features))
            self.att_fc.append(fc)
            self.att_bn.append(bn)

    def _glu(self, fc, bn, x, training):
        h = bn(fc(x), training=training)
        return h[:, : h.shape[-1] // 2] * ops.sigmoid(h[:, h.shape[-1] // 2 :])

    def _feature_transformer(self, t, x, training):
        scale = math.sqrt(0.5)
        first = True  # the first GLU layer of the transformer has no residual connection
        for i in range(self.n_shared):
            h = self._glu(self.shared_fc[i], self.shared_bn[t * self.n_shared + i], x, training)
            x = h if first else (x + h) * scale
            first = False
        for i in range(self.n_independent):
            k = t * self.n_independent + i
            h = self._glu(self.indep_fc[k], self.indep_bn[k], x, training)
            x = h if first else (x + h) * scale
            first = False
        return x

    def call(self, inputs, training=None, return_masks=False):
        x = self.input_bn(inputs, training=training)
        prior = ops.ones_like(x)
        att = self._feature_transformer(0, x, training)[:, self.n_d :]
        decision = 0.0
        entropy = 0.0
        masks, explain = [], 0.0
        for s in range(self.n_steps):
            logits = self.att_bn[s](self.att_fc[s](att), training=training) * prior
            mask = sparsemax(logits)
            if training:  # half precision in float32: there epsilon (1e-15) is 0, and a sparsemax zero 0 * log(0)
                m = ops.cast(mask, "float32") if ops.dtype(mask) in ("float16", "bfloat16") else mask
                entropy = entropy + ops.mean(ops.sum(-m * ops.log(m + self.epsilon), axis=-1))
            prior = (self.gamma - mask) * prior
            out = self._feature_transformer(s + 1, mask * x, training)
            d = ops.relu(out[:, : self.n_d])
            decision = decision + d
            att = out[:, self.n_d :]
            if return_masks:
                masks.append(mask)
                explain = explain + mask * ops.sum(d, axis=-1, keepdims=True)
        if training and self.lambda_sparse:
            self.add_loss(self.lambda_sparse * entropy / self.n_steps)
        if return_masks:
            return decision, ops.stack(masks, axis=1), explain
        return decision

    def get_config(self):
        return {
            **super().get_config(),
            "n_d": self.n_d,
            "n_a": self.n_a,
            "n_steps": self.n_steps,
            "gamma": self.gamma,
            "n_independent": self.n_independent,
            "n_shared": self.n_shared,
            "lambda_sparse": self.lambda_sparse,
            "virtual_batch_size": self.virtual_batch_size,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


def build(
    spec,
    n_d=8,
    n_a=8,
    n_steps=3,
    gamma=1.3,
    n_independent=2,
    n_shared=2,
    lambda_sparse=1e-3,
    virtual_batch_size=128,
    momentum=0.02,
):
    """Inputs (numeric + embedded categorical) → :class:`TabNetEncoder` → the task's output head."""
    inputs, x = tabular_inputs(spec, use_embedding=True)
    decision = TabNetEncoder(
        n_d=n_d,
        n_a=n_a,
        n_steps=n_steps,
        gamma=gamma,
        n_independent=n_independent,
        n_shared=n_shared,
        lambda_sparse=lambda_sparse,
        virtual_batch_size=virtual_batch_size,
        momentum=momentum,
        name=ENCODER_NAME,
    )(x)
    return keras.Model(inputs, output_head(spec, decision), name="tabnet")


def explain(model, x: dict, batch_size: int = 4096):
    """Per-row masks and importances of a built TabNet model on encoded inputs ``x``.

    Returns numpy arrays ``masks`` (n, n_steps, F) and ``explanation`` (n, F) over the
    encoder's input features (numeric columns, missing indicators, embedding dimensions).
    The encoder runs eagerly on batches: no extra model to compile, and Keras' functional
    graph check cannot follow a layer called with a different number of outputs.
    """
    import numpy as np

    encoder = model.get_layer(ENCODER_NAME)
    features = keras.Model(model.inputs, encoder.input, name="tabnet_features")
    n = len(next(iter(x.values())))
    masks, explanation = [], []
    with keras_warnings_ignored():  # on torch, tensors becoming arrays meet numpy 2's copy= warning
        for start in range(0, n, batch_size):
            batch = {k: v[start : start + batch_size] for k, v in x.items()}
            _, m, e = encoder(features(batch, training=False), training=False, return_masks=True)
            masks.append(ops.convert_to_numpy(m))
            explanation.append(ops.convert_to_numpy(e))
    return np.concatenate(masks), np.concatenate(explanation)
