"""Shaped MLP learners (mlr3keras ``classif.smlp`` / ``regr.smlp`` and ``smlp2``).

Defaults follow mlr3keras with its inconsistencies fixed: entity embeddings for both
classification and regression (mlr3keras: off for classif, on for regr), and Adam with a
cosine-decayed learning rate (a Keras ``CosineDecay`` schedule over the fit's steps) in place
of SGD(3e-4, momentum 0.9) whose rate a cosine-restart callback overwrote every epoch.
``lr_schedule="cosine_restarts"`` gives mlr3keras' restarts (first cycle 10 epochs, ×2).
"""

from __future__ import annotations

from keraslearn.architectures import smlp
from keraslearn.learners.base import WARM_START_DOC, WARMUP_DOC, KerasLearner, store_init_params
from keraslearn.learners.params import check_number, peak_rate
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training import compile_model
from keraslearn.training.schedules import check_schedule, learning_rate_schedule, steps_per_epoch
from keraslearn.training.xla import QUICK_COMPILE

_SMLP_ARCH = (
    "n_max", "n_layers", "activation", "dropout", "input_dropout", "use_batchnorm", "use_embedding", "embed_dropout"
)
_SMLP2_ARCH = ("n_max", "n_layers", "activation", "dropout", "input_dropout", "use_embedding", "embed_dropout")
_ENCODER = ("scaling", "min_frequency", "embed_size")

_COMMON_DOC = """
    activation : str, default="relu"
        Keras activation name.
    dropout, input_dropout, embed_dropout : float, default=0.0
        Dropout {dropout_where}, on the concatenated inputs, on each embedding.
    use_embedding : bool, default=True
        Entity embeddings for categorical columns; False one-hot encodes them.
    embed_size : int, dict or None, default=None
        Embedding width; None uses ``min(600, round(1.6 * n_codes**0.56))`` (n_codes: levels + 2).
    scaling : {{"standard", "quantile", "robust", "none"}}, default="standard"
        Numeric scaling after median imputation.
    min_frequency : int or float, default=5
        Levels in fewer training rows share the "unknown" code (1 keeps every level).
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, or an optimizer instance whose configuration is copied for every fit.
    learning_rate : float or None, default=1e-3
        Initial (peak) learning rate of the schedule; None: the optimizer instance's own rate.
    lr_schedule : {{"cosine", "cosine_restarts", "constant"}}, None or LearningRateSchedule, default="cosine"
        "cosine" anneals the rate to 0 over ``epochs`` (Keras ``CosineDecay``, built per fit
        from the number of steps); "cosine_restarts" restarts it after 10, 20, 40… epochs;
        a Keras schedule instance is copied for each fit and used as is; None is "constant".
    loss : str, keras loss or None, default=None
        None picks the task's loss (binary / sparse categorical cross-entropy, MSE).
    epochs : int, default=100
        Most epochs to train; early stopping may end training sooner.
    batch_size : int or "auto", default="auto"
        Rows per training batch. "auto" is 256 when the training rows (after the validation
        split) fill 8 such batches, else the largest power of 2 that still gives 8, at least 32:
        256 to 2,047 training rows take 8 to 16 steps an epoch, fewer rows batches of 32; the
        fitted ``batch_size_`` is the batch used.
    validation_fraction : float, default=0.1
        Shuffled (stratified for classifiers) share of rows held out from training and scored
        after every epoch (``val_loss``), which early stopping watches. As Keras'
        ``validation_split``, they are held out with ``early_stopping=False`` too (for
        callbacks and learning curves); 0 trains on every row (early stopping, if on, then
        watches the training loss).
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (the training loss when no rows are held out: validation_fraction=0).
    patience : int, default=10
        Epochs without a better validation loss (training loss at validation_fraction=0) before training stops.
{warmup}    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks; each fit attaches a shallow copy (what a callback refers to stays yours).
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC
_SMLP_DOC = (
    """
    Parameters
    ----------
    n_max : int, default=128
        Width of the first hidden layer; the next ones shrink linearly towards the output width.
    n_layers : int, default=2
        Number of hidden layers.
    use_batchnorm : bool, default=False
        Batch normalization after each hidden layer's activation."""
    + _COMMON_DOC.format(dropout_where="after each hidden layer", warmup=WARMUP_DOC)
)
_SMLP2_DOC = (
    """
    Parameters
    ----------
    n_max : int, default=128
        Width of the stem layer; the residual blocks shrink linearly towards the output width.
    n_layers : int, default=3
        The stem plus ``n_layers - 1`` residual blocks (BN → act → Dense → BN → act → Dropout → Dense)."""
    + _COMMON_DOC.format(dropout_where="inside each residual block", warmup="")
)
_CLASS_WEIGHT_DOC = """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
"""


class _CosineScheduleMixin:
    """Compile with a learning-rate schedule sized from this fit's number of steps."""

    def _validate_params(self):
        super()._validate_params()
        check_number("n_max", self.n_max, low=1, integer=True)
        check_number("n_layers", self.n_layers, low=1, integer=True)
        check_schedule(self.lr_schedule)

    def _compile(self, model):
        peak = peak_rate(self, self.lr_schedule)  # learning_rate=None: the optimizer's own rate
        compile_model(
            model,
            optimizer=self.optimizer,
            learning_rate=self._fit_learning_rate(learning_rate_schedule(
                self.lr_schedule, peak, epochs=self.epochs,
                steps=steps_per_epoch(self._n_train_rows, self._batch_size(self._n_train_rows)),
            )),
            loss=self._loss(),
            metrics=list(self._default_metrics),
        )


class SMLPClassifier(_CosineScheduleMixin, KerasClassifierMixin, KerasLearner):
    __doc__ = "Shaped-MLP classifier: hidden widths shrink linearly from ``n_max``.\n" + _SMLP_DOC + _CLASS_WEIGHT_DOC

    _architecture = staticmethod(smlp.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _SMLP_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        n_max=128,
        n_layers=2,
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_batchnorm=False,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="cosine",
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class SMLPRegressor(_CosineScheduleMixin, KerasRegressorMixin, KerasLearner):
    __doc__ = "Shaped-MLP regressor (one or several targets): widths shrink linearly from ``n_max``.\n" + _SMLP_DOC

    _architecture = staticmethod(smlp.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _SMLP_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        n_max=128,
        n_layers=2,
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_batchnorm=False,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="cosine",
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class SMLP2Classifier(_CosineScheduleMixin, KerasClassifierMixin, KerasLearner):
    __doc__ = "Shaped residual-MLP classifier (pre-activation residual blocks).\n" + _SMLP2_DOC + _CLASS_WEIGHT_DOC

    _architecture = staticmethod(smlp.build_residual)
    _arch_params = _SMLP2_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        n_max=128,
        n_layers=3,
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="cosine",
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class SMLP2Regressor(_CosineScheduleMixin, KerasRegressorMixin, KerasLearner):
    __doc__ = "Shaped residual-MLP regressor (one or several targets).\n" + _SMLP2_DOC

    _architecture = staticmethod(smlp.build_residual)
    _arch_params = _SMLP2_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        n_max=128,
        n_layers=3,
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="cosine",
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())
