"""TabNet learners (mlr3keras ``classif.tabnet`` / ``regr.tabnet``), on Keras 3 for every backend."""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from keraslearn._user_warnings import warn_user
from keraslearn.architectures import tabnet
from keraslearn.learners.base import (WARM_START_DOC, WARMUP_DOC, KerasLearner, atomic_fit, fit_parameters_doc,
                                      store_init_params, weighed_rows)
from keraslearn.learners.params import check_number
from keraslearn.learners.regression_targets import KerasRegressorMixin
from keraslearn.learners.targets import KerasClassifierMixin
from keraslearn.training import compile_model
from keraslearn.training.xla import FUSED_REDUCTIONS

_TABNET_ARCH = (
    "n_d",
    "n_a",
    "n_steps",
    "gamma",
    "n_independent",
    "n_shared",
    "lambda_sparse",
    "virtual_batch_size",
    "momentum",
)
_ENCODER = ("scaling", "min_frequency", "embed_size")
# Training rows kept to compute feature_importances_ (pytorch-tabnet uses all of them; a
# large sample gives the same normalized importances in less time and memory).
_IMPORTANCE_ROWS = 10_000
# batch_size="auto": pytorch-tabnet's 1024 rows once an epoch holds 8 such batches; on fewer
# training rows, the largest power of 2 that gives 8 (at least 32). At 1024 a small table trains
# one or two steps an epoch, and early stopping ends the fit before it has learnt much
# (benchmarks/RESULTS.md). A power of 2, so CV folds and tuning trials of about the same size
# share one batch shape and one compiled step.
_AUTO_BATCH = (32, 1024, 8)

_PARAMS_DOC = """
    Defaults are pytorch-tabnet's (dreamquark-ai/tabnet 4.1), except ``batch_size`` and
    ``patience``, which also suit tables of a few thousand rows.

    Parameters
    ----------
    n_d : int, default=8
        Width of each decision step's output (the paper's N_d).
    n_a : int, default=8
        Width of each step's attention input (N_a); usually equal to n_d.
    n_steps : int, default=3
        Number of decision steps (3 to 10 is usual).
    gamma : float, default=1.3
        Relaxation factor: 1 lets a feature be used by one step only; larger values allow reuse.
    n_independent : int, default=2
        Step-specific GLU layers in each feature transformer.
    n_shared : int, default=2
        GLU layers shared by all steps.
    lambda_sparse : float, default=1e-3
        Weight of the mask-entropy loss that pushes the feature masks to be sparse.
    virtual_batch_size : int, default=128
        Rows per ghost batch-normalization chunk (at least 2); any batch size of 2 or more works.
    momentum : float, default=0.02
        Batch-norm momentum in the PyTorch convention (weight of the new batch statistics;
        Keras' ``BatchNormalization(momentum=0.98)``).
    embed_size : int, dict or None, default=None
        Embedding width of categorical columns; None uses ``min(600, round(1.6 * n_codes**0.56))``
        (n_codes: levels + 2).
    scaling : {"standard", "quantile", "robust", "none"}, default="standard"
        Numeric scaling after median imputation.
    min_frequency : int or float, default=5
        Categorical levels seen in fewer training rows (an int) or a smaller share of them (a float) share the
        "unknown" code, which unseen levels get at predict: an embedding row trained on a few rows memorizes
        them (a near-unique column of names or dates cost R² 0.1-0.7). 1 keeps every level.
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, or an optimizer instance whose configuration is copied for every fit.
    learning_rate : float or None, default=2e-2
        None keeps an optimizer instance's own rate.
    global_clipnorm : float or None, default=1.0
        Clip the global gradient norm (pytorch-tabnet's ``clip_value``); None disables it. Applied to
        an optimizer instance too, unless it clips gradients itself (``clipnorm``, ``clipvalue``).
    loss : str, keras loss or None, default=None
        None picks the task's loss (binary / sparse categorical cross-entropy, MSE).
    epochs : int, default=100
        Most epochs to train; early stopping may end training sooner.
    batch_size : int or "auto", default="auto"
        Rows per training batch. "auto" is pytorch-tabnet's 1024 when the training rows (after
        the validation split) fill 8 such batches, else the largest power of 2 that still gives
        8, at least 32: 256 to 8,191 training rows take 8 to 16 steps an epoch, fewer rows
        batches of 32; the fitted ``batch_size_`` is the batch used.
    validation_fraction : float, default=0.1
        Shuffled (stratified for classifiers) share of rows held out from training and scored
        after every epoch (``val_loss``), which early stopping watches. As Keras'
        ``validation_split``, they are held out with ``early_stopping=False`` too (for
        callbacks and learning curves); 0 trains on every row (early stopping, if on, then
        watches the training loss).
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (the training loss when no rows are held out: validation_fraction=0).
    patience : int, default=20
        Epochs without a better validation loss before training stops (pytorch-tabnet: 10;
        20 gives small tables, whose validation loss is noisy, the time they need).
""" + WARMUP_DOC + """    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks; each fit attaches a shallow copy (what a callback refers to stays yours).
    random_state : int, RandomState or None, default=None
        Seeds Python, NumPy and Keras: same seed, same backend → same predictions.
    verbose : int, default=0
        0 silent, 1 a progress bar, 2 one line per epoch.
""" + WARM_START_DOC
_ATTRIBUTES_DOC = """
    Attributes
    ----------
    feature_importances_ : ndarray of shape (n_features_in_,)
        Attention-based importance of each input column, summing to 1 (computed on the
        training rows, as pytorch-tabnet does). Missing indicators and embedding widths
        are added back to the column they came from.
"""


class _TabNetMixin:
    """What both TabNet learners add: parameter checks, Adam + clipping, explanations."""

    _architecture = staticmethod(tabnet.build)
    _early_stopping_warmup_steps = 60  # see training.fit.warmup_epochs
    _arch_params = _TABNET_ARCH
    _encoder_params = _ENCODER
    # Ghost batch norm and sparsemax make ~190 small reductions a train step: fused by XLA
    # itself they cost an epoch about 16% less than as YNNPACK library calls (training.xla).
    _compiler_options = FUSED_REDUCTIONS
    _auto_batch = _AUTO_BATCH

    def _validate_params(self):
        super()._validate_params()
        for name in ("n_d", "n_a", "n_steps"):
            check_number(name, getattr(self, name), low=1, integer=True)
        check_number("virtual_batch_size", self.virtual_batch_size, integer=True, low=1)
        if self.virtual_batch_size < 2:  # ghost batch normalization over one row: see _check_batch_norm_batches
            raise ValueError("virtual_batch_size=1 normalizes each row on its own: the running statistics collapse "
                             "and predictions blow up; use virtual_batch_size >= 2 (default 128).")
        for name in ("n_independent", "n_shared"):
            check_number(name, getattr(self, name), low=0, integer=True)
        if self.n_independent + self.n_shared == 0:
            raise ValueError("n_independent and n_shared cannot both be 0; set one of them to 1 or more.")
        check_number("gamma", self.gamma, low=1.0)
        check_number("lambda_sparse", self.lambda_sparse, low=0.0)
        check_number("momentum", self.momentum, low=0.0, high=1.0, low_open=True, high_open=True)
        if self.momentum > 0.5:  # Keras' convention (0.98, 0.99): running statistics that follow each batch
            warn_user(f"momentum={self.momentum} is in PyTorch's convention the weight of each new batch's "
                      f"statistics (pytorch-tabnet's default 0.02), so the running statistics barely average; "
                      f"Keras' momentum={self.momentum} is momentum={1 - self.momentum:.2g} here.")
        if self.global_clipnorm is not None:
            check_number("global_clipnorm", self.global_clipnorm, low=0.0, low_open=True)

    def _compile(self, model):
        compile_model(
            model,
            optimizer=self.optimizer,
            global_clipnorm=self.global_clipnorm,
            learning_rate=self._fit_learning_rate(self.learning_rate),
            loss=self._loss(),
            metrics=list(self._default_metrics),
        )

    @atomic_fit
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, checkpoint_dir=None):
        """Train on ``X``, ``y`` as every keraslearn learner does (see :meth:`KerasLearner.fit`)."""
        super().fit(X, y, sample_weight=sample_weight, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val,
                    checkpoint_dir=checkpoint_dir)
        # feature_importances_ is computed on first use, from a sample of the training rows
        # kept here: most fits (CV folds, tuning trials) never read it. Rows of weight 0 took no part.
        frame = self._matched_frame(X)  # named as the fitted columns (a warm start's X may be an array)
        sw = KerasLearner._check_sample_weight(self, sample_weight, len(frame))  # a scalar too, as fit took it
        rows = weighed_rows(sw)[0]  # None: every row weighs
        n = len(frame) if rows is None else len(rows)
        if n > _IMPORTANCE_ROWS:
            rows = np.sort(np.random.default_rng(0).choice(n if rows is None else rows, _IMPORTANCE_ROWS,
                                                           replace=False))
        if rows is not None:
            frame = frame.iloc[rows]
        self._importance_rows = self.encoder_._transform_frame(frame)
        self._feature_importances = None
        return self

    if fit.__doc__:  # None under python -OO
        fit.__doc__ += "\n\n" + fit_parameters_doc()

    @property
    def feature_importances_(self):
        cached = self.__dict__.get("_feature_importances")
        if cached is None:
            if self.__dict__.get("_importance_rows") is None:
                # scikit-learn's error (a ValueError and an AttributeError), as a forest's feature_importances_ raises
                raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call fit first.")
            if self.__dict__.get("_listing_attributes"):
                raise AttributeError("feature_importances_ is computed when first read, not to be listed")
            total = self._explain_encoded(self._importance_rows)[1].sum(axis=0)
            n = len(total)
            cached = total / total.sum() if total.sum() > 0 else np.full(n, 1.0 / n)
            self._feature_importances, self._importance_rows = cached, None
        return cached

    def _get_fitted_attr_html(self, doc_link=""):
        """scikit-learn's HTML repr (what a notebook shows after ``fit``) reads every fitted attribute:
        ``feature_importances_`` is listed once computed, not computed for it (it runs the network)."""
        self._listing_attributes = True
        try:
            return super()._get_fitted_attr_html(doc_link)
        finally:
            del self._listing_attributes

    # --------------------------------------------------------- explanations
    def _reducing_matrix(self) -> np.ndarray:
        """(encoder features × original columns) 0/1 matrix: which column each feature came from."""
        enc = self.encoder_
        names = self._fitted_column_names()
        columns = list(names) if names is not None else [f"x{i}" for i in range(self.n_features_in_)]
        index = {c: j for j, c in enumerate(columns)}
        origin = [index[c] for c in enc.numeric_columns_] + [index[c] for c in enc.indicator_columns_]
        for col, cat in zip(enc.categorical_columns_, self.spec_.categorical):
            origin += [index[col]] * cat.embed_dim
        reducing = np.zeros((len(origin), len(columns)))
        reducing[np.arange(len(origin)), origin] = 1.0
        return reducing

    def _explain_encoded(self, x):
        masks, explanation = tabnet.explain(self.model_, x)
        reducing = self._reducing_matrix()
        return masks.astype(np.float64) @ reducing, explanation.astype(np.float64) @ reducing

    def explain(self, X, normalize=False, per_step=False):
        """Per-row feature importances from TabNet's attention masks.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        normalize : bool, default=False
            Scale each row of the explanation to sum to 1. A row for which no decision step
            contributed (every step's ReLU output 0) has no importances: it stays all 0 (where
            pytorch-tabnet gives NaN).
        per_step : bool, default=False
            Also return each decision step's mask.

        Returns
        -------
        explanation : ndarray of shape (n_samples, n_features_in_)
            Each step's mask weighted by that step's contribution to the decision
            (pytorch-tabnet's ``M_explain``), one column per original column of X.
        masks : ndarray of shape (n_samples, n_steps, n_features_in_)
            Only with ``per_step=True``: the sparsemax masks of each step (each row of
            each step sums to 1).
        """
        check_is_fitted(self, "model_")
        masks, explanation = self._explain_encoded(self._encode_X(X))
        if normalize:
            sums = explanation.sum(axis=1, keepdims=True)
            explanation = np.divide(explanation, sums, out=np.zeros_like(explanation), where=sums > 0)
        return (explanation, masks) if per_step else explanation

    # ---------------------------------------------------------- persistence
    def _fitted_state(self):
        state, arrays = super()._fitted_state()
        arrays["feature_importances"] = self.feature_importances_
        return state, arrays

    def _restore_fitted_state(self, state, arrays):
        super()._restore_fitted_state(state, arrays)
        self._feature_importances = arrays["feature_importances"]


class TabNetClassifier(_TabNetMixin, KerasClassifierMixin, KerasLearner):
    __doc__ = (
        "TabNet classifier (Arik & Pfister, 2019): sequential attention picks sparse features per step.\n"
        + _PARAMS_DOC
        + """    class_weight : dict, "balanced" or None, default=None
        Weights per class label, multiplied into ``sample_weight``.
"""
        + _ATTRIBUTES_DOC
    )

    def __init__(
        self,
        *,
        n_d=8,
        n_a=8,
        n_steps=3,
        gamma=1.3,
        n_independent=2,
        n_shared=2,
        lambda_sparse=1e-3,
        virtual_batch_size=128,
        momentum=0.02,
        embed_size=None,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=2e-2,
        global_clipnorm=1.0,
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())


class TabNetRegressor(_TabNetMixin, KerasRegressorMixin, KerasLearner):
    __doc__ = (
        "TabNet regressor (one or several targets), after Arik & Pfister (2019).\n" + _PARAMS_DOC + _ATTRIBUTES_DOC
    )

    def __init__(
        self,
        *,
        n_d=8,
        n_a=8,
        n_steps=3,
        gamma=1.3,
        n_independent=2,
        n_shared=2,
        lambda_sparse=1e-3,
        virtual_batch_size=128,
        momentum=0.02,
        embed_size=None,
        scaling="standard",
        min_frequency=5,
        optimizer="adam",
        learning_rate=2e-2,
        global_clipnorm=1.0,
        loss=None,
        epochs=100,
        batch_size="auto",
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        store_init_params(self, locals())
