"""Deep & wide learners (mlr3keras ``classif.deep_wide`` / ``regr.deep_wide``).

Parameters and defaults are mlr3keras' (``layer_units=(128, 256)``, batch norm and dropout
off); the learning rate is keraslearn's Adam default 1e-3 rather than mlr3keras' 3e-4,
as for the other keraslearn MLPs.
"""

from __future__ import annotations

from keraslearn.architectures import deep_wide
from keraslearn.learners.base import WARM_START_DOC, WARMUP_DOC, KerasLearner, store_init_params
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training.xla import QUICK_COMPILE

_ARCH = ("layer_units", "activation", "dropout", "input_dropout", "use_batchnorm", "use_embedding", "embed_dropout")
_ENCODER = ("scaling", "min_frequency", "embed_size")

_PARAMS_DOC = """
    Parameters
    ----------
    layer_units : tuple of int or int, default=(128, 256)
        Hidden layers of the deep part; ``()`` leaves one Dense layer beside the wide part.
    activation : str, default="relu"
        Keras activation of the deep part's hidden layers.
    dropout, input_dropout, embed_dropout : float, default=0.0
        Dropout before each Dense layer of the deep part, on the inputs of both parts, on
        each embedding.
    use_batchnorm : bool, default=False
        Batch normalization before each Dense layer of the deep part.
    use_embedding : bool, default=True
        Entity embeddings for categorical columns in the deep part (the wide part always
        sees one-hot levels).
    embed_size : int, dict or None, default=None
        Embedding width; None uses ``min(600, round(1.6 * n_codes**0.56))`` (n_codes: levels + 2),
        a dict sets it per column.
    scaling : {"standard", "quantile", "robust", "none"}, default="standard"
        Numeric scaling after median imputation.
    min_frequency : int or float, default=5
        Levels in fewer training rows share the "unknown" code (1 keeps every level).
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, or an optimizer instance whose configuration is copied for every fit.
    learning_rate : float or None, default=1e-3
        None keeps an optimizer instance's own rate.
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
""" + WARMUP_DOC + """    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks; each fit attaches a shallow copy (what a callback refers to stays yours).
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC


class DeepWideClassifier(KerasClassifierMixin, KerasLearner):
    __doc__ = (
        "Deep & wide classifier: a linear model and an MLP, summed before the output activation.\n"
        + _PARAMS_DOC
        + """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
"""
    )

    _architecture = staticmethod(deep_wide.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        layer_units=(128, 256),
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


class DeepWideRegressor(KerasRegressorMixin, KerasLearner):
    __doc__ = "Deep & wide regressor (one or several targets): a linear model plus an MLP.\n" + _PARAMS_DOC

    _architecture = staticmethod(deep_wide.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        layer_units=(128, 256),
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
