"""Feed-forward learners with entity embeddings (mlr3keras ``classif.kerasff`` / ``regr.kerasff``)."""

from __future__ import annotations

from keraslearn.architectures import ff
from keraslearn.learners.base import WARM_START_DOC, WARMUP_DOC, KerasLearner, store_init_params
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training.xla import QUICK_COMPILE

_FF_ARCH = (
    "layer_units",
    "activation",
    "dropout",
    "input_dropout",
    "use_batchnorm",
    "use_embedding",
    "embed_dropout",
    "numeric_embedding",
)
_ENCODER = ("scaling", "min_frequency", "embed_size")

_PARAMS_DOC = """
    Parameters
    ----------
    layer_units : tuple of int or int, default=(32, 32, 32)
        Units of each hidden layer; ``()`` gives a linear model, an int one hidden layer.
    activation : str, default="relu"
        Keras activation name.
    dropout, input_dropout, embed_dropout : float, default=0.0
        Dropout after each hidden layer, on the concatenated inputs, on each embedding.
    use_batchnorm : bool, default=False
        Batch normalization after each hidden layer's activation (momentum 0.9, PyTorch's: Keras'
        0.99 leaves the statistics used at prediction behind on short fits).
    use_embedding : bool, default=True
        Entity embeddings for categorical columns; False one-hot encodes them.
    numeric_embedding : {None, "periodic", "piecewise"} or keras.layers.Layer, default=None
        Embed each numeric column first: periodic (PLR) or piecewise-linear with bins
        from the training quantiles (see :mod:`keraslearn.architectures.numeric_embeddings`).
    embed_size : int, dict or None, default=None
        Embedding width; None uses ``min(600, round(1.6 * n_codes**0.56))`` (n_codes: levels + 2),
        a dict sets it per column.
    scaling : {"standard", "quantile", "robust", "none"}, default="standard"
        Numeric scaling after median imputation.
    min_frequency : int or float, default=5
        Categorical levels seen in fewer training rows (an int) or a smaller share of them (a float) share the
        "unknown" code, which unseen levels get at predict: an embedding row trained on a few rows memorizes
        them (a near-unique column of names or dates cost R² 0.1-0.7). 1 keeps every level.
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, or an optimizer instance whose configuration is copied for every fit.
    learning_rate : float or None, default=1e-3
        Replaces an optimizer instance's own rate too (with a warning when they differ); None keeps it.
    loss : str, keras loss or None, default=None
        None picks the task's loss (binary / sparse categorical cross-entropy, MSE). A classifier's
        loss function gets the class codes ``y_true`` (n,) and the softmax probabilities ``y_pred``
        (n, n_classes), two classes included; Keras' binary losses by name get one sigmoid unit.
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
    devices : int, "all" or None, default=None
        None trains on Keras' default device; an int n or "all" trains data-parallel over
        the first n (or all) accelerators with ``keras.distribution.DataParallel`` (JAX
        backend only). See :mod:`keraslearn.training.devices`.
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC


class FFClassifier(KerasClassifierMixin, KerasLearner):
    __doc__ = (
        "Feed-forward neural network classifier with entity embeddings for categorical columns.\n"
        + _PARAMS_DOC
        + """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
"""
    )

    _architecture = staticmethod(ff.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _FF_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        layer_units=(32, 32, 32),
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_batchnorm=False,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        numeric_embedding=None,
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
        devices=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class FFRegressor(KerasRegressorMixin, KerasLearner):
    __doc__ = "Feed-forward neural network regressor (one or several targets) with entity embeddings.\n" + _PARAMS_DOC

    _architecture = staticmethod(ff.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _short_fit_compiler_options = QUICK_COMPILE  # see training.compiled.SHORT_FIT_STEPS
    _arch_params = _FF_ARCH
    _encoder_params = _ENCODER

    def __init__(
        self,
        *,
        layer_units=(32, 32, 32),
        activation="relu",
        dropout=0.0,
        input_dropout=0.0,
        use_batchnorm=False,
        use_embedding=True,
        embed_size=None,
        embed_dropout=0.0,
        numeric_embedding=None,
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
        devices=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())
