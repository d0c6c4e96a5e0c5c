"""RealMLP learners (Holzmüller et al. 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted Trees")."""

from __future__ import annotations

import keras
import numpy as np

from keraslearn.architectures import realmlp
from keraslearn.architectures.realmlp import ClampAtInference
from keraslearn.learners._modern import (
    CLASS_WEIGHT_DOC,
    train_doc,
    ModernLearnerMixin,
)
from keraslearn.learners.base import KerasLearner, store_init_params
from keraslearn.learners.params import check_choice, check_fraction, check_number, check_positive_int, check_widths
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training.losses import SparseCategoricalCrossentropyLS
from keraslearn.training.progress_schedules import SCHEDULES

_ARCH = (
    "hidden_sizes",
    "activation",
    "dropout",
    "numeric_embedding",
    "frequency_scale",
    "max_one_hot",
    "categorical_embed_dim",
    "smooth_clip",
)
_ENCODER = ("scaling", "min_frequency")

_DOC = """
    RealMLP-TD's tuned defaults: robust scaling + smooth clipping of numeric columns, PBLD
    numeric embeddings, one-hot (≤ ``max_one_hot`` levels) or width-8 embeddings for
    categorical columns, a trainable input scale, NTK-parametrized layers with parametric
    activations, Adam(β2=0.95) with decoupled weight decay, the "coslog4" learning-rate
    schedule over ``epochs``, and the best epoch on the validation split kept at the end.
    Not carried over from pytabkit: the data-dependent initialization (RealMLP-TD-S's
    data-free one is used) and the dropout and weight-decay schedules (see
    docs/modern_architectures.md).

    Parameters
    ----------
    hidden_sizes : tuple of int or int, default=(256, 256, 256)
        Width of each hidden layer (NTK-parametrized Dense + parametric activation).
    activation : str, default="selu" (classifier) or "mish" (regressor)
        "selu" for the classifier, "mish" for the regressor (RealMLP-TD).
    dropout : float, default=0.15
        Dropout after each hidden layer's activation.
    numeric_embedding : {"pbld", None}, default="pbld"
        PBLD embedding of the numeric columns; None feeds their (smooth-clipped) values directly.
    frequency_scale : float, default=0.1
        Initial frequency scale of the PBLD embedding.
    max_one_hot : int, default=9
        Categorical columns with at most this many levels are one-hot encoded.
    categorical_embed_dim : int, default=8
        Embedding width of the other categorical columns.
    smooth_clip : bool, default=True
        ``x / sqrt(1 + (x/3)^2)`` on the scaled numeric columns.
    lr_schedule : {"coslog4", "flat_anneal", "cosine", "constant"}, default="coslog4"
        Learning-rate shape over the whole run (the peak is ``learning_rate``).
""" + train_doc(
    "robust", "0.04 (classifier), 0.2 (regressor)", "0.02", 256, 256, "biases do not decay"
).replace(
    "    patience : int, default=256\n",
    "    patience : int, default=256\n"
    "        RealMLP trains the whole schedule and keeps its best epoch; lower it to stop early.\n",
)


class _RealMLP(ModernLearnerMixin):
    _architecture = staticmethod(realmlp.build)
    _arch_params = _ARCH
    _numeric_embeddings = ("pbld",)
    _numeric_embedding_layers = False
    _encoder_params = _ENCODER
    _no_decay = ("bias",)
    _beta_2 = 0.95

    def _lr_schedule(self):
        return self.lr_schedule

    def _validate_params(self):
        super()._validate_params()
        check_widths("hidden_sizes", self.hidden_sizes, "(256, 256)")
        check_choice("numeric_embedding", self.numeric_embedding, ("pbld", None))
        check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        check_positive_int("categorical_embed_dim", self.categorical_embed_dim)
        check_number("max_one_hot", self.max_one_hot, low=0, integer=True)
        if not isinstance(self.smooth_clip, (bool, np.bool_)):
            raise ValueError(f"smooth_clip must be True or False, got {self.smooth_clip!r}.")


class RealMLPClassifier(_RealMLP, KerasClassifierMixin, KerasLearner):
    __doc__ = (
        "RealMLP classifier (Holzmüller et al. 2024).\n"
        + _DOC
        + """    label_smoothing : float, default=0.1
        Label smoothing of the cross-entropy (when ``loss`` is None), RealMLP-TD's default. It
        helps accuracy and ROC AUC but pulls ``predict_proba`` towards uniform (a 3% class is
        predicted near 8%): set 0 when the probabilities themselves matter (log loss, calibration).
"""
        + CLASS_WEIGHT_DOC
    )

    def __init__(
        self,
        *,
        hidden_sizes=(256, 256, 256),
        activation="selu",
        dropout=0.15,
        numeric_embedding="pbld",
        frequency_scale=0.1,
        max_one_hot=9,
        categorical_embed_dim=8,
        smooth_clip=True,
        scaling="robust",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=0.04,
        weight_decay=0.02,
        lr_schedule="coslog4",
        label_smoothing=0.1,
        loss=None,
        epochs=256,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=256,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())

    def _validate_params(self):
        super()._validate_params()
        check_fraction("label_smoothing", self.label_smoothing)

    def _loss(self):
        if self.loss is not None or not self.label_smoothing:
            return super()._loss()
        if self.spec_.task == "binary":
            return keras.losses.BinaryCrossentropy(label_smoothing=self.label_smoothing)
        return SparseCategoricalCrossentropyLS(label_smoothing=self.label_smoothing)


class RealMLPRegressor(_RealMLP, KerasRegressorMixin, KerasLearner):
    __doc__ = (
        "RealMLP regressor, one or several targets (Holzmüller et al. 2024).\n"
        + _DOC
        + """    clamp_output : bool, default=True
        Predictions are clipped to the range of the training targets (``X_val``'s included), as
        RealMLP-TD's are (pytabkit's ``clamp_output``), also in the validation loss and in exports;
        training is not clipped. On tables of a few dozen rows the network can extrapolate far past
        every target it saw; False lets it predict beyond them.
"""
    )
    _arch_params = _ARCH + ("clamp_output",)
    _legacy_defaults = {"clamp_output": False}  # RealMLP regressors saved before it do not clip

    def __init__(
        self,
        *,
        hidden_sizes=(256, 256, 256),
        activation="mish",
        dropout=0.15,
        numeric_embedding="pbld",
        frequency_scale=0.1,
        max_one_hot=9,
        categorical_embed_dim=8,
        smooth_clip=True,
        scaling="robust",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=0.2,
        weight_decay=0.02,
        lr_schedule="coslog4",
        loss=None,
        epochs=256,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=256,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        clamp_output=True,
    ):
        store_init_params(self, locals())

    def _validate_params(self):
        super()._validate_params()
        if not isinstance(self.clamp_output, (bool, np.bool_)):
            raise ValueError(f"clamp_output must be True or False, got {self.clamp_output!r}.")

    def _prepare_fit(self, model, x, y_fit):
        """The output clamp's bounds: the (standardized) targets' range, per target, over every row of the fit."""
        clamp = _output_clamp(model)
        if clamp is not None:
            y = np.asarray(y_fit, dtype=np.float32).reshape(len(y_fit), -1)
            clamp.set_weights([y.min(axis=0), y.max(axis=0)])
        return super()._prepare_fit(model, x, y_fit)

    def _start_from(self, model, weights):
        """A warm start's clamp spans the fitted network's targets and this fit's."""
        clamp = _output_clamp(model)
        if (clamp is None) != (_output_clamp(self.model_) is None):
            raise ValueError(f"warm_start continues the fitted network, which was fitted with clamp_output="
                             f"{clamp is None}; set clamp_output back, or warm_start=False to fit anew.")
        now = clamp.get_weights() if clamp is not None else None
        super()._start_from(model, weights)
        if clamp is not None:
            was = clamp.get_weights()
            clamp.set_weights([np.minimum(was[0], now[0]), np.maximum(was[1], now[1])])


def _output_clamp(model):
    """The network's :class:`ClampAtInference` layer (``clamp_output``), or None."""
    return next((layer for layer in model.layers if isinstance(layer, ClampAtInference)), None)
