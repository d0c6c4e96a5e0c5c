"""ResNet learners (Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data")."""

from __future__ import annotations

from keraslearn.architectures import resnet
from keraslearn.learners._modern import (
    CLASS_WEIGHT_DOC,
    train_doc,
    ModernLearnerMixin,
)
from keraslearn.learners.base import KerasLearner, store_init_params
from keraslearn.learners.params import check_fraction, check_number, check_positive_int
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin

_ARCH = (
    "n_blocks",
    "d_block",
    "d_hidden_multiplier",
    "hidden_dropout",
    "residual_dropout",
    "activation",
    "use_embedding",
    "numeric_embedding",
    "n_bins",
    "numeric_embed_dim",
    "frequency_scale",
)
_ENCODER = ("scaling", "min_frequency", "embed_size")

_DOC = (
    """
    Parameters
    ----------
    n_blocks : int, default=2
        Residual blocks.
    d_block : int, default=192
        Width of the residual stream.
    d_hidden_multiplier : float, default=2.0
        Each block's hidden width is ``d_block * d_hidden_multiplier``.
    hidden_dropout : float, default=0.15
        Dropout after each block's hidden activation.
    residual_dropout : float, default=0.0
        Dropout at the end of each residual branch, before it is added to the stream.
    activation : str, default="relu"
        Keras activation of each block's hidden layer and of the head.
    use_embedding : bool, default=True
        Entity embeddings for categorical columns; False one-hot encodes them.
    embed_size : int, dict or None, default=None
        Embedding width of categorical columns; None uses the fast.ai rule.
    numeric_embedding : {None, "periodic", "piecewise"} or keras.layers.Layer, default=None
        Embed each numeric column first: periodic (PLR) or piecewise-linear (bins from
        the training quantiles).
    n_bins : int, default=48
        Bins of the piecewise-linear embedding.
    numeric_embed_dim : int or None, default=None
        Width per numeric column (None: 24 periodic, 16 piecewise).
    frequency_scale : float, default=0.1
        Initial frequency scale of the periodic embedding.
"""
    + train_doc("quantile", "1e-3", "1e-5", 200, 16, "biases, batch norms, embeddings do not decay")
)


class _ResNet(ModernLearnerMixin):
    _architecture = staticmethod(resnet.build)
    _arch_params = _ARCH
    _encoder_params = _ENCODER
    _no_decay = ("bias", "gamma", "beta", "embeddings")
    _no_decay_layers = ("numeric_embedding",)  # as rtdl_num_embeddings advises

    def _validate_params(self):
        super()._validate_params()
        check_positive_int("n_blocks", self.n_blocks)
        check_positive_int("d_block", self.d_block)
        check_number("d_hidden_multiplier", self.d_hidden_multiplier, low=0, low_open=True)
        check_fraction("hidden_dropout", self.hidden_dropout)
        check_fraction("residual_dropout", self.residual_dropout)
        if self.numeric_embed_dim is not None:
            check_positive_int("numeric_embed_dim", self.numeric_embed_dim)


class ResNetClassifier(_ResNet, KerasClassifierMixin, KerasLearner):
    __doc__ = "ResNet classifier for tabular data (Gorishniy et al. 2021).\n" + _DOC + CLASS_WEIGHT_DOC

    def __init__(
        self,
        *,
        n_blocks=2,
        d_block=192,
        d_hidden_multiplier=2.0,
        hidden_dropout=0.15,
        residual_dropout=0.0,
        activation="relu",
        use_embedding=True,
        embed_size=None,
        numeric_embedding=None,
        n_bins=48,
        numeric_embed_dim=None,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=1e-5,
        loss=None,
        epochs=200,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=16,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class ResNetRegressor(_ResNet, KerasRegressorMixin, KerasLearner):
    __doc__ = "ResNet regressor (one or several targets) for tabular data (Gorishniy et al. 2021).\n" + _DOC

    def __init__(
        self,
        *,
        n_blocks=2,
        d_block=192,
        d_hidden_multiplier=2.0,
        hidden_dropout=0.15,
        residual_dropout=0.0,
        activation="relu",
        use_embedding=True,
        embed_size=None,
        numeric_embedding=None,
        n_bins=48,
        numeric_embed_dim=None,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=1e-5,
        loss=None,
        epochs=200,
        batch_size="auto",
        validation_fraction=0.2,
        early_stopping=True,
        patience=16,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())
