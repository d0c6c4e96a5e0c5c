"""TabM learners (Gorishniy et al. 2025, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling")."""

from __future__ import annotations

from keraslearn.architectures import tabm
from keraslearn.architectures.numeric_embeddings import NUMERIC_EMBEDDINGS
from keraslearn.learners._modern import (
    CLASS_WEIGHT_DOC,
    train_doc,
    ModernLearnerMixin,
)
from keraslearn.learners.base import COSTLY_ROWS_CHUNK, KerasLearner, store_init_params
from keraslearn.learners.params import check_choice, check_fraction, check_positive_int
from keraslearn.learners.loss_kinds import _ONE_HOT_LOSSES, _REGRESSION_LOSSES, _loss_name
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training.losses import EnsembleMemberLoss

_ARCH = (
    "k",
    "arch_type",
    "n_blocks",
    "d_block",
    "dropout",
    "activation",
    "numeric_embedding",
    "n_bins",
    "numeric_embed_dim",
    "frequency_scale",
)
_ENCODER = ("scaling", "min_frequency")

_DOC = (
    """
    ``k`` MLPs share one model (BatchEnsemble: shared weights, per-member scalings and
    biases) and train at once, each on its own loss; predictions are the mean of the
    members' predictions (probabilities for classifiers). Categorical columns are one-hot
    encoded; numeric columns get piecewise-linear embeddings by default.

    Parameters
    ----------
    k : int, default=32
        Ensemble members.
    arch_type : {"tabm", "tabm-mini"}, default="tabm"
        "tabm": BatchEnsemble layers throughout; "tabm-mini": one per-member input
        scaling before a fully shared MLP.
    n_blocks : int or None, default=None
        None: 2 with a numeric embedding, 3 without.
    d_block : int, default=256
        Width of each layer (the tabm package uses 512; 256 keeps CPU training quick).
    dropout : float, default=0.1
        Dropout after each block's activation.
    activation : str, default="relu"
        Keras activation of each block.
    numeric_embedding : {"piecewise", "periodic", None}, default="piecewise"
        Embed each numeric column first: piecewise-linear (training quantiles), periodic (PLR), or not.
    n_bins : int, default=48
        Bins of the piecewise-linear embedding, at the training-data quantiles.
    numeric_embed_dim : int, default=16
        Embedding width per numeric column.
    frequency_scale : float, default=0.1
        Initial frequency scale of the periodic embedding.
"""
    + train_doc("quantile", "2e-3", "3e-4", 200, 16, "all weights decay; gradients clipped to norm 1")
)


class _TabM(ModernLearnerMixin):
    _architecture = staticmethod(tabm.build)
    _arch_params = _ARCH
    _encoder_params = _ENCODER
    _no_decay = ()
    _global_clipnorm = 1.0  # as in the TabM paper's runs and example
    _numeric_embedding_layers = False
    _predict_chunk = COSTLY_ROWS_CHUNK

    def _validate_params(self):
        super()._validate_params()
        check_positive_int("k", self.k)
        check_choice("arch_type", self.arch_type, tabm.ARCH_TYPES)
        if self.n_blocks is not None:
            check_positive_int("n_blocks", self.n_blocks)
        check_positive_int("d_block", self.d_block)
        check_positive_int("numeric_embed_dim", self.numeric_embed_dim)
        check_fraction("dropout", self.dropout)
        check_choice("numeric_embedding", self.numeric_embedding, (None, *NUMERIC_EMBEDDINGS))

    def _loss(self):
        # The model returns (batch, k, out) in training: train every member on the task loss.
        # Class codes, unless the loss takes one-hot rows: a one-hot loss, or a regression loss on classes.
        one_hot = _loss_name(self.loss) in _ONE_HOT_LOSSES | _REGRESSION_LOSSES
        sparse = self._model_spec().task == "multiclass" and not one_hot
        return EnsembleMemberLoss(super()._loss(), sparse=sparse)


class TabMClassifier(_TabM, KerasClassifierMixin, KerasLearner):
    __doc__ = "TabM classifier: a parameter-efficient ensemble of MLPs (Gorishniy et al. 2025).\n" + _DOC + CLASS_WEIGHT_DOC

    def __init__(
        self,
        *,
        k=32,
        arch_type="tabm",
        n_blocks=None,
        d_block=256,
        dropout=0.1,
        activation="relu",
        numeric_embedding="piecewise",
        n_bins=48,
        numeric_embed_dim=16,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=3e-4,
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


class TabMRegressor(_TabM, KerasRegressorMixin, KerasLearner):
    __doc__ = "TabM regressor, one or several targets (Gorishniy et al. 2025).\n" + _DOC

    def __init__(
        self,
        *,
        k=32,
        arch_type="tabm",
        n_blocks=None,
        d_block=256,
        dropout=0.1,
        activation="relu",
        numeric_embedding="piecewise",
        n_bins=48,
        numeric_embed_dim=16,
        frequency_scale=0.1,
        scaling="quantile",
        min_frequency=5,
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=3e-4,
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
