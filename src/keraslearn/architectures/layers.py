"""Keras layers that Keras 3 lacks (or gets wrong): sparsemax and ghost batch normalization.

Both use ``keras.ops`` only, so they run on JAX, PyTorch and TensorFlow, and both are
registered serializable so models holding them load in Keras' safe mode.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of ``x`` onto the simplex.

    Like softmax, each slice along ``axis`` is non-negative and sums to 1, but small
    entries are exactly 0. ``keras.ops.sparsemax`` in Keras <= 3.15 sums the wrong
    cumulative sums (keras-team/keras#23425) and does not return a distribution, hence
    this function. Its gradient is the sparsemax Jacobian: ``tau`` depends only on the
    logits in the support, and the support itself is a constant for autodiff.

    The support is found by sorting on PyTorch, which runs eagerly, and by bisection on
    ``tau`` elsewhere: XLA's CPU sort took half of a TabNet train step, while 24 halvings
    of a unit interval are a handful of fused element-wise passes and pin the support
    down to float32 resolution. Both give the same ``tau`` (computed from the support).
    """
    x = ops.convert_to_tensor(x)
    if axis not in (-1, len(x.shape) - 1):
        x = ops.moveaxis(x, axis, -1)
        return ops.moveaxis(sparsemax(x, -1), -1, axis)
    # Shifting by the max changes nothing mathematically and keeps the sums small. The shift
    # is a constant for autodiff: sparsemax is shift-invariant, so its gradient through the max
    # is exactly 0, and differentiating the max itself (ties found by float equality) gave NaN
    # when XLA fused the max and its operand differently.
    x = x - ops.stop_gradient(ops.max(x, axis=-1, keepdims=True))
    support = _support_by_sort(x) if keras.backend.backend() == "torch" else _support_by_bisection(x)
    support = ops.stop_gradient(support)
    k_z = ops.maximum(ops.sum(ops.cast(support, x.dtype), axis=-1, keepdims=True), 1.0)
    # tau = (sum of the supported logits - 1) / support size
    tau = (ops.sum(ops.where(support, x, ops.zeros_like(x)), axis=-1, keepdims=True) - 1.0) / k_z
    return ops.relu(x - tau)


def _support_by_sort(x):
    """Entries of ``x`` (max 0 in each row) with a positive sparsemax output, via the sorted cumsum."""
    z = ops.flip(ops.sort(x, axis=-1), axis=-1)  # descending
    k = ops.cast(ops.arange(1, x.shape[-1] + 1), x.dtype)
    k_z = ops.sum(ops.cast(1.0 + k * z > ops.cumsum(z, axis=-1), x.dtype), axis=-1, keepdims=True)
    z_k = ops.take_along_axis(z, ops.cast(k_z, "int32") - 1, axis=-1)  # smallest supported logit
    return x >= z_k


def _support_by_bisection(x, halvings=24):
    """The same support, by bisection: ``tau`` solves sum(relu(x - tau)) = 1 and lies in [-1, 0)."""
    xs = ops.cast(ops.stop_gradient(x), "float32")  # float32 even under mixed precision
    lo = -ops.ones_like(xs[..., :1])

    def halve(_, carry):
        lo, hi, xs = carry  # xs rides in the carry: jax2onnx cannot export a loop body closing over it
        mid = (lo + hi) * 0.5
        above = ops.sum(ops.relu(xs - mid), axis=-1, keepdims=True) > 1.0  # tau > mid
        return ops.where(above, mid, lo), ops.where(above, hi, mid), xs

    lo, hi, _ = ops.fori_loop(0, halvings, halve, (lo, ops.zeros_like(lo), xs))
    return xs > (lo + hi) * 0.5


@keras.saving.register_keras_serializable(package="keraslearn")
class Sparsemax(keras.layers.Layer):
    """Sparsemax activation as a layer: sparse probabilities along ``axis``."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        return sparsemax(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@keras.saving.register_keras_serializable(package="keraslearn")
class GhostBatchNormalization(keras.layers.Layer):
    """Batch normalization over "virtual" batches (Hoffer et al., 2017), as TabNet uses it.

    In training, the batch is split into ``ceil(batch / virtual_batch_size)`` chunks of
    near-equal size (as ``torch.chunk`` does), and each chunk is normalized with its own
    mean and variance. Any batch size works, including sizes not divisible by
    ``virtual_batch_size``. In inference, the moving statistics are used, so a batch of one
    row gives the same prediction as that row inside a larger batch.

    Parameters
    ----------
    virtual_batch_size : int, default=128
    momentum : float, default=0.98
        Keras convention: ``moving = moving * momentum + chunk_stat * (1 - momentum)``,
        applied once per virtual batch.
    epsilon : float, default=1e-5
    """

    def __init__(self, virtual_batch_size=128, momentum=0.98, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if int(virtual_batch_size) < 1:
            raise ValueError(f"virtual_batch_size must be >= 1, got {virtual_batch_size!r}.")
        self.virtual_batch_size = int(virtual_batch_size)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        d = (input_shape[-1],)
        self.gamma = self.add_weight(shape=d, name="gamma", initializer="ones", autocast=False)
        self.beta = self.add_weight(shape=d, name="beta", initializer="zeros", autocast=False)
        self.moving_mean = self.add_weight(
            shape=d, name="moving_mean", initializer="zeros", trainable=False, autocast=False
        )
        self.moving_variance = self.add_weight(
            shape=d, name="moving_variance", initializer="ones", trainable=False, autocast=False
        )

    def _normalize_chunks(self, x):
        """x normalized within its virtual batches; the mean chunk statistics; the chunk count."""
        batch = ops.shape(x)[0]
        vbs = self.virtual_batch_size
        if isinstance(batch, int):  # JAX and PyTorch: the batch size is known when tracing
            n = max(1, math.ceil(batch / vbs))
            size = math.ceil(batch / n)
            if n * size == batch:  # equal chunks: a reshape is the cheapest way
                xr = ops.reshape(x, (n, size, -1))
                mean = ops.mean(xr, axis=1, keepdims=True)
                centered = xr - mean
                var = ops.mean(ops.square(centered), axis=1, keepdims=True)
                normalized = ops.reshape(centered * ops.rsqrt(var + self.epsilon), ops.shape(x))
                return normalized, ops.mean(mean, axis=(0, 1)), ops.mean(var, axis=(0, 1)), n
        else:  # TensorFlow graphs may leave the batch size unknown
            batch_f = ops.cast(batch, "float32")
            n = ops.maximum(ops.ceil(batch_f / vbs), 1.0)
            size = ops.cast(ops.ceil(batch_f / n), "int32")
            n = ops.cast(n, "int32")
        # Unequal chunks: assign rows to chunks and reduce with a (batch x chunks) one-hot matmul.
        onehot = ops.one_hot(ops.floor_divide(ops.arange(batch), size), n, dtype=x.dtype)
        onehot_t = ops.transpose(onehot)
        counts = ops.sum(onehot, axis=0)[:, None]
        mean = ops.matmul(onehot_t, x) / counts
        centered = x - ops.matmul(onehot, mean)
        var = ops.matmul(onehot_t, ops.square(centered)) / counts
        normalized = centered * ops.rsqrt(ops.matmul(onehot, var) + self.epsilon)
        return normalized, ops.mean(mean, axis=0), ops.mean(var, axis=0), n

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")
        if training and self.trainable:
            normalized, batch_mean, batch_var, n = self._normalize_chunks(x)
            # One update per virtual batch, as torch's BatchNorm1d on each chunk would do.
            if isinstance(n, int):
                decay = self.momentum**n
            else:
                decay = ops.power(ops.cast(self.momentum, "float32"), ops.cast(n, "float32"))
            self.moving_mean.assign(self.moving_mean * decay + batch_mean * (1.0 - decay))
            self.moving_variance.assign(self.moving_variance * decay + batch_var * (1.0 - decay))
        else:
            normalized = (x - self.moving_mean) * ops.rsqrt(self.moving_variance + self.epsilon)
        return ops.cast(normalized * self.gamma + self.beta, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "virtual_batch_size": self.virtual_batch_size,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }
