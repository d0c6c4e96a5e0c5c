"""Keras layers that replay a fitted TabularEncoder's numeric step inside a model.

Used to export a learner with its preprocessing folded in: the exported model takes the
raw numeric columns (NaN for missing) instead of the encoder's output.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keraslearn")
class ImputeScale(keras.layers.Layer):
    """``NaN → fill``, then ``(x - center) / scale``, then 0/1 missing indicators appended.

    Parameters
    ----------
    fill, center, scale : list of float
        One value per input column (the encoder's medians, centers and scales).
    indicators : list of int
        Input columns whose missingness is appended as 0/1 columns, in this order.
    """

    def __init__(self, fill, center, scale, indicators=(), **kwargs):
        super().__init__(**kwargs)
        self.fill = [float(v) for v in fill]
        self.center = [float(v) for v in center]
        self.scale = [float(v) for v in scale]
        self.indicators = [int(i) for i in indicators]
        if not len(self.fill) == len(self.center) == len(self.scale):
            raise ValueError("fill, center and scale must have one value per column.")

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        missing = ops.not_equal(x, x)  # NaN is the only value not equal to itself
        filled = ops.where(missing, ops.convert_to_tensor(self.fill, x.dtype), x)
        out = (filled - ops.convert_to_tensor(self.center, x.dtype)) / ops.convert_to_tensor(self.scale, x.dtype)
        if not self.indicators:
            return out
        # A 0/1 selection matrix rather than a gather: every exporter (torch's ONNX one
        # included) supports a matmul.
        select = [[1.0 if j == i else 0.0 for i in self.indicators] for j in range(len(self.fill))]
        flags = ops.matmul(ops.cast(missing, x.dtype), ops.convert_to_tensor(select, x.dtype))
        return ops.concatenate([out, flags], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.fill) + len(self.indicators))

    def get_config(self):
        config = super().get_config()
        config.update(fill=self.fill, center=self.center, scale=self.scale, indicators=self.indicators)
        return config
