"""Losses Keras lacks: sparse cross-entropy with label smoothing, and the per-member loss of an ensemble."""

from __future__ import annotations

import keras
from keras import ops

_SERIALIZABLE = keras.saving.register_keras_serializable(package="keraslearn")


@_SERIALIZABLE
class SparseCategoricalCrossentropyLS(keras.losses.Loss):
    """Cross-entropy on class codes with label smoothing (Keras' sparse loss has no smoothing).

    The target puts ``1 - label_smoothing`` on the true class plus ``label_smoothing``
    spread evenly over all classes; ``y_pred`` holds probabilities.
    """

    def __init__(self, label_smoothing=0.1, name="sparse_categorical_crossentropy_ls", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        n_classes = y_pred.shape[-1]
        one_hot = ops.one_hot(ops.cast(y_true, "int32"), n_classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@_SERIALIZABLE
class EnsembleMemberLoss(keras.losses.Loss):
    """Mean over ``k`` ensemble members of a task loss, each member trained on the same targets.

    For ``y_pred`` of shape ``(batch, k, out)`` (a TabM model in training) the targets are
    repeated for every member and the per-member losses averaged, so each member learns on
    its own, as the TabM paper requires (the mean *loss*, not the loss of the mean). For
    ``y_pred`` of shape ``(batch, out)`` (the model's inference output, the members'
    mean) it is the task loss itself, so validation scores the ensemble.

    Parameters
    ----------
    loss : str or dict
        A Keras loss name or serialized Keras loss, e.g. ``"binary_crossentropy"``.
    sparse : bool, default=False
        True when targets are class codes and ``y_pred`` holds one column per class.
    """

    def __init__(self, loss="mse", sparse=False, name="ensemble_member_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss = loss
        self.sparse = bool(sparse)
        base = keras.losses.get(loss)
        self._fn = base.call if isinstance(base, keras.losses.Loss) else base

    def call(self, y_true, y_pred):
        member_axis = len(y_pred.shape) == 3
        if self.sparse:
            if len(y_true.shape) >= 2 and y_true.shape[-1] == 1:
                y_true = ops.squeeze(y_true, axis=-1)
            if member_axis:
                y_true = ops.expand_dims(y_true, 1) * ops.ones((1, y_pred.shape[1]), dtype=y_true.dtype)
        else:
            y_true = ops.cast(y_true, y_pred.dtype)
            if len(y_true.shape) == 1:
                y_true = ops.expand_dims(y_true, -1)
            if member_axis:
                y_true = ops.expand_dims(y_true, 1) * ops.ones((1, y_pred.shape[1], 1), dtype=y_pred.dtype)
        losses = self._fn(y_true, y_pred)
        return ops.mean(losses, axis=1) if member_axis else losses

    def get_config(self):
        loss = self.loss if isinstance(self.loss, (str, dict)) else keras.losses.serialize(self.loss)
        return {**super().get_config(), "loss": loss, "sparse": self.sparse}
