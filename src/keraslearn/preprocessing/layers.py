"""Keras layers that replay a fitted TabularEncoder's steps inside a model.

Used to export a learner with its preprocessing folded in: the exported model takes the
raw numeric columns (NaN for missing) instead of the encoder's output.
"""

from __future__ import annotations

import keras
from keras import ops

from keraslearn.preprocessing.coding import MISSING_CODE, UNKNOWN_CODE


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


@keras.saving.register_keras_serializable(package="keraslearn")
class StandInCodes(keras.layers.Layer):
    """Codes 0 (missing) and 1 (unknown) of a categorical input replaced by the codes the encoder reads
    them as (``TabularEncoder.stand_in_codes_``), so that an exported model fed the reserved codes
    predicts as ``predict`` does rather than through embedding rows that never trained."""

    def __init__(self, missing_code, unknown_code, **kwargs):
        super().__init__(**kwargs)
        self.missing_code, self.unknown_code = int(missing_code), int(unknown_code)

    def call(self, codes):
        codes = ops.cast(codes, "int32")
        missing, unknown = ops.equal(codes, MISSING_CODE), ops.equal(codes, UNKNOWN_CODE)
        codes = ops.where(missing, ops.full_like(codes, self.missing_code), codes)
        return ops.where(unknown, ops.full_like(codes, self.unknown_code), codes)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(missing_code=self.missing_code, unknown_code=self.unknown_code)
        return config
