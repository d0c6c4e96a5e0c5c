"""KerasLearner: the scikit-learn contract shared by every keraslearn estimator."""

from __future__ import annotations

import functools
import re

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.architectures.layers import GhostBatchNormalization
from keraslearn.io.model_bytes import model_from_bytes, model_to_bytes, user_classes
from keraslearn.learners.params import WIDTHS, as_widths, check_training_params
from keraslearn.preprocessing.encoder import TabularEncoder
from keraslearn.preprocessing.validation import match_columns, to_frame
from keraslearn.training import compile_model, fit_model, global_random_state_kept, seed_everything
from keraslearn.training.host_init import host_initializers
from keraslearn.training.split import (early_stopping_split, held_out_count, split_seed, take_rows,
                                      warn_classes_not_held_out)
from keraslearn.training import compiled as _compiled  # speed: shared compiled steps (issue 8)
from keraslearn.training.devices import active_device_count, device_batch_size, device_scope
from keraslearn.training.memory import clear_session, release_if_grown
from keraslearn.training.fast_predict import predict_array  # speed: fast inference path (issue 8)

#: ``_predict_chunk`` of architectures whose rows cost far more than an MLP's: a one-row predict padded
#: to 256 rows took 37 ms (FT-Transformer; TabM 16 ms), 32 rows 5-9 ms (4 ms), for 3-15% fewer rows a
#: second on 10k rows.
COSTLY_ROWS_CHUNK = 32


#: What the command line keeps on a model of the file it trained on (commands.remember_table,
#: seen_rows.remember_rows), which a new fit on other rows would make wrong (a warm start keeps them).
_TRAINING_FILE_NOTES = ("table_numbers_", "target_name_", "weight_name_", "training_row_hashes_")

#: The numpydoc lines, under ``patience``, of the learners whose early stopping waits for 60 optimizer steps
#: (``_early_stopping_warmup_steps``).
WARMUP_DOC = (
    "        Early stopping judges from the epoch by which the network has taken 60 optimizer steps: on a table\n"
    "        of a few dozen rows (one batch an epoch) from epoch 60, so that two or three validation rows cannot\n"
    "        pick a barely trained network; from the first epoch on tables of 60 batches or more.\n")
#: The numpydoc entry of ``warm_start``, the last parameter of every tabular learner.
WARM_START_DOC = """    warm_start : bool, default=False
        When True and the learner is fitted, ``fit`` goes on training the fitted network from
        its weights instead of starting anew, as scikit-learn's MLP does: ``epochs`` more
        epochs on the rows given (new ones, or the same for longer), with a fresh optimizer and
        learning-rate schedule. The fitted encoder and target encoding (``classes_``, the
        target's scaling) are kept, so X needs the fitted columns and y holds fitted classes;
        ``history_`` and ``n_iter_`` count the epochs of every fit. ``clone`` (cross-validation,
        tuning) starts anew.
"""


def store_init_params(estimator, values: dict) -> None:
    """The body of every learner's ``__init__``: keep each argument as given (scikit-learn's contract).

    ``values`` is that ``__init__``'s ``locals()``; its explicit signature stays the list of
    parameters that ``get_params`` reads.
    """
    for name, value in values.items():
        if name != "self":
            setattr(estimator, name, value)


def mean_one(sw):
    """``(sw / its mean, the mean)``: a fit's weights (sample_weight × class_weight) count by their ratios, not
    their scale. Keras multiplies the loss by them, which moved a fit as a learning rate does (SGD, TabM's
    gradient clipping): weights summing to 1 barely trained. Validation weights are divided by the same mean,
    so that val_loss stays on loss's scale."""
    if sw is None:
        return None, 1.0
    sw = np.asarray(sw, dtype=np.float64)
    scale = _mean(sw)
    return (sw / scale).astype(np.float32), scale


def rows_at(mask) -> str:
    """``mask``'s rows, counted and named by position: "2 row(s), at positions 3, 7"."""
    where = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in where[:5]) + (", …" if len(where) > 5 else "")
    return f"{len(where)} row(s), at position(s) {shown}"


def checked_weights(sample_weight, n, name="sample_weight"):
    """``sample_weight`` as ``n`` finite, non-negative float64 weights, not all 0 (a number: the same for every row);
    None stays None.

    float64 until a fit scales them to mean 1 (:func:`mean_one`): only their ratios count, so 1e-50 or 1e300 for
    every row is a valid weighting (float32 read the one as 0, refusing the weights, the other as inf).
    """
    if sample_weight is None:
        return None
    kind = getattr(sample_weight, "dtype", np.dtype("O")).kind
    if kind in "mMc":  # NumPy would read dates and durations as nanoseconds, and drop an imaginary part
        raise ValueError(f"{name} must hold real numbers; got dtype {sample_weight.dtype}.")
    try:
        sw = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must hold numbers ({err}).") from None
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"{name}.shape == {sw.shape}, expected {(n,)}!")
    for bad, what in ((np.isnan(sw), "missing values (NaN)"), (np.isinf(sw), "infinite values"),
                      (sw < 0, "negative values")):
        if bad.any():
            raise ValueError(f"{name} has {what} in {rows_at(bad)}: weights must be finite and non-negative "
                             "(0 leaves a row out).")
    if not sw.any():  # scikit-learn's words for sample_weight
        raise ValueError("Sample weights must contain at least one non-zero number." if name == "sample_weight"
                         else f"{name} must contain at least one non-zero number.")
    return negligible_as_zero(sw)


def negligible_as_zero(sw):
    """``sw`` with the weights that vanish beside the others at float32's precision (what Keras trains in) set
    to 0: their rows are left out, and said, as rows of weight 0 are."""
    return np.where((sw / _mean(sw)).astype(np.float32) == 0, 0.0, sw)


def _mean(sw) -> float:
    """The mean of non-negative weights, without overflow for weights near float64's largest."""
    top = float(sw.max())
    return top * float(np.mean(sw / top))


def validation_weights(swv, scale):
    """``sample_weight_val`` divided by the training weights' mean ``scale`` (see :func:`mean_one`), as float32."""
    if swv is None:
        return None
    with np.errstate(over="ignore"):
        out = (swv / scale).astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"sample_weight_val reaches {swv.max():.3g}, {swv.max() / scale:.3g} times the training "
                         "weights' mean, beyond float32's 3.4e38 (val_loss would be inf): weigh the validation "
                         "rows on the training weights' scale.")
    return out


def weighed_rows(sw):
    """``(rows, weights, scale)`` for a fit's checked weights: the rows of weight > 0 (None when every row weighs,
    or there are no weights), their weights scaled to mean 1 and the mean they were divided by (see
    :func:`mean_one`). Rows of weight 0 are as good as removed, as scikit-learn's estimators drop them: they
    teach no encoder level, median or scale, nor batch normalization's statistics, and the validation split
    holds none of them out."""
    rows = None if sw is None or sw.all() else np.flatnonzero(sw)
    sw, scale = mean_one(sw if rows is None else sw[rows])
    return rows, sw, scale


def validation_given(X_val, y_val, sample_weight_val) -> bool:
    """Whether ``fit`` was given validation rows (``X_val``); their labels or weights alone are an error."""
    if X_val is not None:
        return True
    if y_val is not None:
        raise ValueError("y_val is given but X_val is not; pass both, or neither.")
    if sample_weight_val is not None:
        raise ValueError("sample_weight_val is given without X_val and y_val; pass them too, or leave it out.")
    return False


def atomic_fit(fit):
    """Decorate a learner's ``fit`` to keep scikit-learn's contract around it.

    A fit that fails (bad input found late, an interrupt) leaves the learner as it was, fitted
    or not, never with new labels on an old model. A fit with a ``random_state`` gives the
    caller's global random state back when it ends (see ``global_random_state_kept``).
    """

    import inspect

    takes = set(inspect.signature(fit).parameters)

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        for name in kwargs.keys() - takes:
            _refuse_keras_fit_argument(self, name, kwargs[name])
        before = dict(self.__dict__)
        if not (getattr(self, "warm_start", False) and "model_" in before):
            for name in _TRAINING_FILE_NOTES:  # of the rows a former fit read: wrong for a fit anew
                self.__dict__.pop(name, None)
        try:
            with global_random_state_kept(getattr(self, "random_state", None) is not None):
                return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


def _refuse_keras_fit_argument(learner, name, value):
    """A TypeError for a Keras ``fit`` argument given to a learner's ``fit``, saying where it goes; other
    unknown names are left to Python's own error."""
    cls, shown = type(learner).__name__, repr(value)
    shown = shown if len(shown) <= 40 else "..."
    if name == "validation_data":
        where = "pass the rows as fit(X, y, X_val=..., y_val=...) (and sample_weight_val=... for their weights)"
    elif name == "validation_split":
        where = f"keraslearn calls it validation_fraction, a parameter of the learner: {cls}(validation_fraction=...)"
    elif name in learner._get_param_names():
        where = (f"it is a parameter of the learner, as in scikit-learn: {cls}({name}={shown}) or "
                 f"learner.set_params({name}={shown})")
    else:
        return
    raise TypeError(f"{cls}.fit() got an unexpected keyword argument {name!r}: {where}.")


@functools.cache
def _init_parameters(cls) -> tuple:
    """The parameters of ``cls.__init__`` (``inspect.Parameter``)."""
    import inspect

    return tuple(inspect.signature(cls.__init__).parameters.values())


def _init_defaults(cls) -> dict:
    """``cls.__init__``'s parameters and their defaults."""
    return {p.name: p.default for p in _init_parameters(cls) if p.default is not p.empty}


def _takes_any_keyword(cls) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in _init_parameters(cls))


class _KeptElsewhere:
    """An attribute of scikit-learn's MLP estimators that keraslearn keeps elsewhere: reading it raises an
    AttributeError that says where (``hasattr`` stays False; an instance may still set it)."""

    def __init__(self, where: str):
        self.where = where

    def __set_name__(self, owner, name):
        self.name = name

    def __repr__(self):  # as help() lists it: not an attribute of keraslearn's
        return f"(scikit-learn's MLP attribute, not kept: {self.where})"

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        raise AttributeError(f"{type(obj).__name__} has no {self.name} (scikit-learn's MLP attribute): {self.where}.")


class KerasLearner(BaseEstimator):
    """Base of all keraslearn estimators: encode → build → compile → fit → predict.

    Subclasses set ``_architecture`` (a ``build(spec, **hp)`` function) and list the
    ``__init__`` parameters that are architecture hyperparameters in ``_arch_params``.
    Training parameters shared by every learner are listed in ``_train_params``.
    """

    _architecture = None
    _arch_params: tuple = ()
    _encoder_params: tuple = ()
    _default_metrics: tuple = ()
    # batch_size="auto": (low, high, batches): ``high`` rows once the training rows fill ``batches`` such
    # batches, else the largest power of 2 that still gives that many (at least ``low``). At 256 rows a
    # table of a few hundred rows trained one or two steps an epoch and underfit within 100 epochs (iris:
    # SMLP 0.88 against 0.94 at 32, ResNet on Carseats R² 0.70 against 0.74). A power of 2, so CV folds
    # and tuning trials of about the same size share one batch shape and one compiled step. None: an
    # int only (images).
    _auto_batch = (32, 256, 8)
    _optimizer_optional = False  # whether optimizer=None is allowed (a user's model: its own compile)
    # Optimizer steps before early stopping judges an epoch (training.fit.warmup_epochs), 60 where measured
    # on 16-19 small R tables (3-8 × 5-fold CV): FF +0.033, SMLP +0.018, deep & wide +0.051, TabNet (R² up to
    # +7 on its wild tiny fits), none losing more than 0.03. For ResNet a 30-step warm-up was a coin flip
    # (+0.005 ± 0.018) and SMLP2 mixed (+0.047 ± 0.026, but birthwt −0.12 R², cats −0.03), so 0 elsewhere.
    _early_stopping_warmup_steps = 0
    # Parameters whose value in a learner pickled or saved before they existed is not their default: what
    # such a learner's network does (RealMLPRegressor's clamp_output: those networks do not clip).
    _legacy_defaults: dict = {}
    _tabular = True  # fitted on a table (encoder_, n_features_in_); False: images

    def __new__(cls, *args, **kwargs):
        # Python's own TypeError for an unknown keyword names no keraslearn spelling: say what set_params says
        # (scikit-learn's MLP `hidden_layer_sizes`, mlr3keras' `lr` → layer_units, learning_rate).
        # A subclass whose __init__ passes **kwargs on (a preset) is left to its own __init__.
        if kwargs and not _takes_any_keyword(cls) and (
                unknown := [name for name in kwargs if name not in cls._get_param_names()]):
            from keraslearn.learners.registry import unknown_parameter

            raise TypeError(unknown_parameter(cls, unknown[0]))
        return super().__new__(cls)

    # scikit-learn's MLP attributes: reading one says where keraslearn keeps it.
    loss_curve_ = _KeptElsewhere("the per-epoch training loss is history_['loss']")
    best_loss_ = _KeptElsewhere("the lowest training loss is min(history_['loss']); early stopping keeps the "
                                "epoch of the lowest history_['val_loss']")
    validation_scores_ = _KeptElsewhere("the per-epoch validation loss is history_['val_loss'] (lower is "
                                        "better); score held-out rows with score(X, y)")
    best_validation_score_ = _KeptElsewhere(validation_scores_.where)
    coefs_ = _KeptElsewhere("the network's weights are model_.get_weights() (model_.summary() lists its layers)")
    intercepts_ = _KeptElsewhere(coefs_.where)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("keraslearn.") and not cls.__name__.startswith("_") and cls.__doc__:
            cls.__doc__ = _with_fitted_attributes(cls)

    def __sklearn_clone__(self):
        """``sklearn.base.clone``, with callbacks copied as each fit copies them.

        A callback that deepcopy refuses (a CSVLogger used before holds its closed file) is
        copied shallowly, as in ``fit``: cross-validation and tuning clone the learner first.
        """
        import copy

        from sklearn.base import clone

        from keraslearn.training.fit import copied_callback

        def copied(name, value):
            if name == "callbacks" and isinstance(value, (list, tuple)):
                return type(value)(copied_callback(cb) for cb in value)
            with keras_warnings_ignored():  # a Keras optimizer or loss object: deep-copied through its config
                return clone(value, safe=False)

        new = type(self)(**{name: copied(name, value) for name, value in self.get_params(deep=False).items()})
        for attr in ("_metadata_request", "_sklearn_output_config"):  # what sklearn's clone carries over
            if hasattr(self, attr):
                setattr(new, attr, copy.deepcopy(getattr(self, attr)))
        return new

    # ------------------------------------------------------------- tuning
    def set_params(self, **params):
        """scikit-learn's ``set_params``; a name it does not take (mlr3keras' ``lr``, Keras'
        ``validation_split``) gets its keraslearn spelling or a near miss, as ``learner()`` says it."""
        known = self._get_param_names()
        unknown = [name for name in params if "__" not in name and name not in known]
        if unknown:
            from keraslearn.learners.registry import unknown_parameter

            raise ValueError(f"Invalid parameter: {unknown_parameter(type(self), unknown[0])}")
        return super().set_params(**params)

    def search_space(self) -> dict:
        """Default Optuna search space of this learner (see :mod:`keraslearn.tuning.spaces`)."""
        from keraslearn.tuning.spaces import search_space

        return search_space(self)

    # ----------------------------------------------------------- building
    def _build_model(self, spec):
        hp = {name: as_widths(getattr(self, name)) if name in WIDTHS else getattr(self, name)
              for name in self._arch_params}
        return type(self)._architecture(spec, **hp)

    def _make_encoder(self) -> TabularEncoder:
        params = {name: getattr(self, name) for name in self._encoder_params}
        return TabularEncoder(**params)

    def _validate_params(self):
        check_training_params(self)

    # ------------------------------------------------------------- fitting
    @atomic_fit
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, checkpoint_dir=None):
        """Fit the network on X (DataFrame, polars DataFrame or array) and y.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and categorical (category / string / object) columns; missing
            values are imputed.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels (one column) for a classifier; regressors also take several target columns.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, multiplied by ``class_weight``'s; only their ratios count (they
            are scaled to mean 1, so weights summing to 1, or all multiplied by 10, train as the
            same weights).
        X_val, y_val : DataFrame or array-like, default=None
            Validation rows, as Keras' ``validation_data`` (and scikit-learn's
            HistGradientBoosting): scored after every epoch (``val_loss`` in ``history_``) and
            watched by early stopping. Every row of X is then trained on and
            ``validation_fraction`` is not used. X_val is encoded as X is at predict.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows in ``val_loss``, reduced as Keras does: the sum of
            weight × loss over the number of rows (not over the weights' sum, so weights of 2
            double it), divided by the training weights' mean, as they are. ``class_weight`` does
            not weigh X_val's rows, as Keras' ``class_weight`` leaves ``validation_data`` alone;
            rows held out by ``validation_fraction`` are weighed before the split and keep their
            class weights, so their ``val_loss`` is class-weighted.
        checkpoint_dir : str or path-like, default=None
            A folder for an atomic checkpoint written at epoch ends, at most once a second. If
            the process dies, calling ``fit`` again with the same data, parameters and folder
            resumes from the epoch written last and ends as an uninterrupted fit would. Removed
            when the fit ends; a checkpoint of a different fit raises ValueError. See
            ``docs/reliability.md``.

        Returns
        -------
        self
        """
        self._validate_params()
        name = type(self).__name__
        frame, has_names = to_frame(X, estimator_name=name)
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        warm = self._warm_start_weights()  # the fitted network's weights where this fit goes on from them
        if warm is None:
            y_fit, spec_task = self._encode_target(y, len(frame), sample_weight)
        else:
            y_fit = self._encode_more_target(y, len(frame), sample_weight)
        weighed, sw, scale = weighed_rows(self._check_sample_weight(sample_weight, len(frame)))
        self._warn_classes_without_weight(y_fit, sample_weight)
        if warm is None:
            encoder = self._make_encoder()
            encoder._validate_params()
            x = encoder._fit_transform_frame(frame, has_names, weighed)
            self.encoder_ = encoder
            self.n_features_in_ = encoder.n_features_in_
            if has_names:
                self.feature_names_in_ = encoder.feature_names_in_
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.spec_ = encoder.spec_.with_task(*spec_task)
        else:  # the fitted encoder, as at predict: X must have the fitted columns
            encoder = self.encoder_
            self._check_encoder_unchanged()
            x = self._encode_rows(X)
        if weighed is not None:
            x, y_fit = take_rows(x, weighed), y_fit[weighed]
        n_all = len(y_fit)  # rows given to fit_model: validation rows included
        held_out = None
        if validation_given(X_val, y_val, sample_weight_val):
            x, y_fit, sw, held_out = self._with_validation_rows(x, y_fit, sw, X_val, y_val, sample_weight_val, scale)
            n_all += held_out
        stratify = self._stratify_labels(y_fit)  # class codes: a class only rows of weight 0 held is not among them
        n_classes = 0 if stratify is None else int(np.count_nonzero(np.bincount(stratify)))
        self._n_validation_rows = held_out or held_out_count(n_all, self.validation_fraction, n_classes)
        self._n_train_rows = n_all - self._n_validation_rows
        checkpoint = None
        if checkpoint_dir is not None:
            from keraslearn.training.checkpoint import FitCheckpoint, fingerprint

            checkpoint = FitCheckpoint(checkpoint_dir, fingerprint(self, x, y_fit, sw, held_out, start=warm))
        clear_session()  # keeps the user's dtype policy and global seed
        seed = seed_everything(self.random_state)
        tabular = isinstance(encoder, TabularEncoder) and (self.spec_.categorical or encoder.indicator_columns_)
        split = None  # the rows validation_fraction holds out, made once here for the encoder and fit_model
        if held_out is None and self.validation_fraction:
            seed = checkpoint.split_seed(seed) if checkpoint is not None else split_seed(seed)
            split = early_stopping_split(len(y_fit), self.validation_fraction, stratify, seed, self.early_stopping)
            train_idx, val_idx = split
            # Levels (or missing values) that only the held-out rows hold would get embedding rows or weights
            # that are never trained, so the encoder drops them.
            if tabular and warm is None and val_idx is not None and encoder._keep_trained_inputs(
                    x, train_idx if sw is None else train_idx[sw[train_idx] > 0]):
                self.spec_ = encoder.spec_.with_task(*spec_task)
            if self.early_stopping and val_idx is not None and stratify is not None:
                warn_classes_not_held_out(self.classes_, stratify, val_idx, self.validation_fraction,
                                          getattr(self, "class_weight", None) is not None)
        _compiled.enable_compilation_cache()  # before the build: weight initializers compile too
        # After clear_session, which also clears the active keras.distribution.
        with device_scope(getattr(self, "devices", None)):
            # NumPy draws: no XLA compilation per weight shape. Quiet: on torch, initializers that
            # turn variables into arrays meet Keras' numpy-2 warning (TabM's scaling initializer).
            with host_initializers(), keras_warnings_ignored():
                model = self._build_model(self._model_spec())
            batch_size = self._batch_size(self._n_train_rows)
            _check_batch_norm_batches(model, batch_size)
            encoded = dict(x)  # the encoder's own arrays: fit_model may reorder their rows in place
            x, y_fit = self._prepare_fit(model, x, y_fit)
            if warm is not None:
                self._start_from(model, warm)
            with host_initializers():  # the optimizer's zero slots, too
                self._compile(model)
                if model.optimizer is not None and not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)
            batches = -(-n_all // batch_size)  # per epoch, validation rows included
            _compiled.before_fit(model, self, planned_steps=int(self.epochs) * batches)
            history = fit_model(
                model,
                x,
                y_fit,
                sw,
                epochs=self.epochs,
                batch_size=batch_size,
                validation_fraction=self.validation_fraction,
                held_out=held_out,
                split=split,
                early_stopping=self.early_stopping,
                patience=self.patience,
                callbacks=self.callbacks,
                verbose=int(self.verbose),
                seed=seed,
                stratify=stratify,
                checkpoint=checkpoint,
                owns_x=isinstance(x, dict) and x.keys() == encoded.keys() and all(x[k] is encoded[k] for k in x),
                warmup_steps=self._early_stopping_warmup_steps if warm is None else 0,  # a trained network
            )
            _compiled.after_fit(model)
            release_if_grown()  # a process fitting ever new shapes (a notebook, a grid) stays bounded
            batch_size = device_batch_size(batch_size, active_device_count())  # as fit_model rounded it
        # A warm start's n_iter_ and history_ count every fit's epochs, as scikit-learn's MLP does.
        self.history_ = history if warm is None else _histories_joined(self.history_, history)
        self.model_ = model
        self.n_iter_ = len(self.history_.get("loss", []))
        self.batch_size_ = int(min(batch_size, max(1, self._n_train_rows)))  # more than the fit's rows: all of them
        return self

    def _with_validation_rows(self, x, y_fit, sw, X_val, y_val, sample_weight_val, scale=1.0):
        """The encoded training rows followed by the encoded validation rows, and how many those are;
        ``scale``: what the training weights were divided by (see :func:`mean_one`)."""
        if y_val is None:
            raise ValueError("X_val is given but y_val is not; pass both, or neither.")
        try:
            xv = self._encode_rows(X_val)
        except ValueError as err:
            raise ValueError(f"X_val: {err}") from None
        n_val = len(next(iter(xv.values())))
        yv = self._encode_validation_target(y_val, n_val)
        swv = validation_weights(KerasLearner._check_sample_weight(self, sample_weight_val, n_val,
                                                                   "sample_weight_val"), scale)
        if swv is not None and sw is None:
            sw = np.ones(len(y_fit), dtype=np.float32)
        elif sw is not None and swv is None:
            swv = np.ones(n_val, dtype=np.float32)
        x = {k: np.concatenate([x[k], xv[k]]) for k in x}
        sw = None if sw is None else np.concatenate([sw, swv])
        return x, np.concatenate([y_fit, yv]), sw, n_val

    def _warm_start_weights(self):
        """The fitted network's weights where ``warm_start`` continues it, else None (a fresh fit)."""
        if not getattr(self, "warm_start", False) or self.__dict__.get("model_") is None:
            return None
        return [np.array(w) for w in self.model_.get_weights()]

    def _check_encoder_unchanged(self):
        """A warm start keeps the fitted encoder: refuse encoder parameters changed since (set_params)."""
        fitted = self.encoder_.get_params(deep=False)
        changed = [name for name in self._encoder_params if name in fitted and fitted[name] != getattr(self, name)]
        if changed:
            now = ", ".join(f"{name}={getattr(self, name)!r}" for name in changed)
            was = ", ".join(f"{name}={fitted[name]!r}" for name in changed)
            raise ValueError(f"warm_start continues the fitted network, whose inputs were encoded with {was}; "
                             f"with {now} they would change under it. Set warm_start=False to fit anew, or set "
                             "the parameters back.")

    def _start_from(self, model, weights):
        """Give the newly built ``model`` the fitted network's ``weights`` (a warm start)."""
        shapes = [tuple(w.shape) for w in model.get_weights()]
        if shapes != [tuple(w.shape) for w in weights]:
            raise ValueError(
                f"warm_start continues the fitted network, but {type(self).__name__}'s parameters now build a "
                f"network of another shape ({len(shapes)} weight arrays against the fitted {len(weights)}, or "
                "other sizes: layer widths, embedding sizes or the loss's outputs changed). Set warm_start=False "
                "to fit anew, or set the parameters back.")
        model.set_weights(weights)

    def _batch_size(self, n_train):
        """Rows per training batch for a fit that trains on ``n_train`` rows."""
        return batch_rows(self.batch_size, n_train, self._auto_batch)

    def _prepare_fit(self, model, x, y_fit):
        """Training inputs and targets for ``model``: called once per fit, after build, before compile."""
        return x, y_fit

    def _compile(self, model):
        compile_model(
            model,
            optimizer=self.optimizer,
            learning_rate=self._fit_learning_rate(self.learning_rate),
            loss=self._loss(),
            metrics=list(self._default_metrics),
        )

    def _fit_learning_rate(self, rate):
        """The learning rate (or schedule) this fit compiles with: ``rate``, the learner's own, unless this is
        the copy a learning-rate range test trains (:mod:`keraslearn.training.lr_finder`): its growing rate."""
        return self.__dict__.get("_lr_override", rate)

    def _model_spec(self):
        return self.spec_

    def _check_sample_weight(self, sample_weight, n, name="sample_weight"):
        return checked_weights(sample_weight, n, name)

    def _stratify_labels(self, y_fit):
        return None

    def _warn_classes_without_weight(self, y_fit, sample_weight):
        """A classifier warns about classes whose rows all have sample_weight 0 (see the classifiers' mixin)."""

    # ----------------------------------------------------------- predicting
    def _encode_X(self, X):
        check_is_fitted(self, "model_")
        return self._encode_rows(X)

    def _encode_rows(self, X):
        """X encoded for the model: its columns matched to those of fit, then the fitted encoder's arrays."""
        return self.encoder_._transform_frame(self._matched_frame(X))

    def _matched_frame(self, X):
        """X as a DataFrame whose columns are matched to those of fit (by name, else by position)."""
        name = type(self).__name__
        frame, has_names = to_frame(X, estimator_name=name)
        # Where a tool cleared the learner's own names (see _fitted_column_names), an array goes by position
        # quietly; a DataFrame still goes by its names (refused where they differ: matched by position instead,
        # columns of equal types could swap).
        cleared = getattr(self, "feature_names_in_", None) is None
        return match_columns(frame, has_names, self._fitted_column_names(), self.n_features_in_, name,
                             warn_unnamed=not cleared)

    def _fitted_column_names(self):
        """The names of fit's columns, or None for an array. From the encoder when ``feature_names_in_`` was
        set to None: tools that want arrays predicted quietly do that (shap.KernelExplainer on its copy)."""
        names = getattr(self, "feature_names_in_", None)
        return names if names is not None else getattr(getattr(self, "encoder_", None), "feature_names_in_", None)

    # Rows are predicted in zero-padded chunks of one fixed size, so a row's prediction never
    # depends on how many other rows come with it (same kernel, same shape) and the predict
    # function is compiled once.
    _predict_chunk = 256

    def _predict_raw(self, X) -> np.ndarray:
        x = self._encode_X(X)
        options = getattr(type(self), "_compiler_options", None)  # also for a loaded model (no template)
        out = predict_array(self.model_, x, chunk=self._predict_chunk, options=options)
        return np.asarray(out, dtype=np.float64)

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["_model_classes"] = user_classes(state["model_"])  # pickled by reference
            state["model_"] = model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        classes = state.pop("_model_classes", None)
        if isinstance(state.get("model_"), bytes):
            # Unpickling runs code by design, so a Lambda layer that pickled loads too (no safe mode).
            state["model_"] = model_from_bytes(state["model_"], safe_mode=False, custom_objects=classes)
        self.__dict__.update(state)
        for name, default in {**_init_defaults(type(self)), **self._legacy_defaults}.items():  # pickled before it
            self.__dict__.setdefault(name, default)
        if "model_" in state and "batch_size_" not in state:
            self.batch_size_ = _saved_batch(self.batch_size)

    def save(self, path):
        """Write the fitted learner to one file (see :func:`keraslearn.load`).

        Parameters
        ----------
        path : str or path-like
            The file to write (a ``.keraslearn`` name), replaced atomically.

        Returns
        -------
        str
            The path written.
        """
        from keraslearn.io.artifact import save

        return save(self, path)

    def _fitted_state(self) -> tuple[dict, dict]:
        """JSON-safe fitted attributes and arrays that the Keras model does not hold."""
        return {"n_iter_": self.n_iter_, "history_": self.history_, "batch_size_": self.batch_size_}, {}

    def _restore_fitted_state(self, state: dict, arrays: dict):
        self.n_iter_ = state["n_iter_"]
        self.history_ = state["history_"]
        self.batch_size_ = state.get("batch_size_", _saved_batch(self.batch_size))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def fit_parameters_doc() -> str:
    """The Parameters and Returns sections of :meth:`KerasLearner.fit`'s docstring, for a learner's own ``fit``."""
    doc = KerasLearner.fit.__doc__ or ""  # None under python -OO
    start = doc.find("        Parameters\n")
    return doc[start:] if start >= 0 else ""


def _with_fitted_attributes(cls) -> str:
    """``cls.__doc__`` with the fitted attributes every such learner has in its Attributes section."""
    from sklearn.base import ClassifierMixin

    classifier = issubclass(cls, ClassifierMixin)
    rows = ["model_ : keras.Model\n        The trained Keras model (``model_.summary()``)."]
    if classifier:
        rows.append("classes_ : ndarray of shape (n_classes,)\n        The labels, in the order of "
                    "``predict_proba``'s columns.")
    rows += ["history_ : dict of lists\n        Per-epoch ``loss`` and ``val_loss``, as Keras' ``History.history``.",
             "n_iter_ : int\n        Epochs run; early stopping restores the best epoch's weights.",
             "batch_size_ : int\n        Rows per training batch in the fit (what ``batch_size`` chose;\n        "
             "None in a learner saved with \"auto\" before it was kept)."]
    if cls._tabular:
        rows += ["n_features_in_ : int\n        Number of columns of X at fit.",
                 "feature_names_in_ : ndarray of shape (n_features_in_,)\n        "
                 "X's column names, when it has them.",
                 "encoder_ : TabularEncoder\n        The fitted encoding of X's columns.",
                 "spec_ : DataSpec\n        The encoded inputs the network was built for, and the task."]
    else:
        rows.append("spec_ : DataSpec\n        The image shape the network was built for, ``(*image_size, 3)``, "
                    "and the task.")
    if not classifier:
        rows += ["y_mean_, y_scale_ : ndarray of shape (n_targets,)\n        The target's standardization: "
                 "the model outputs ``(y - y_mean_) / y_scale_``.",
                 "y_log1p_ : bool\n        Whether the model learns ``log1p(y)`` (loss ``msle``)."]
    text = "".join(f"    {row}\n" for row in rows)
    doc, header = cls.__doc__.rstrip() + "\n", "    Attributes\n    ----------\n"
    if header in doc:
        return doc.replace(header, header + text, 1)
    # numpydoc's place: right after Parameters, before Notes, Examples, See Also...
    later = [m.start() + 1 for m in re.finditer(r"\n    (\w[\w ]*)\n    -{3,}\n", doc) if m.group(1) != "Parameters"]
    if later:
        return doc[:later[0]] + header + text + "\n" + doc[later[0]:]
    return doc + "\n" + header + text


def _histories_joined(before: dict, after: dict) -> dict:
    """``history_`` of a warm-started fit: the fitted one's epochs, then this fit's; a value that only one
    of them logged (``val_loss`` when only one held out rows) is NaN in the other's epochs."""
    n_before, n_after = (len(next(iter(h.values()), [])) for h in (before, after))
    return {key: list(before.get(key, [float("nan")] * n_before)) + list(after.get(key, [float("nan")] * n_after))
            for key in {**before, **after}}


def batch_rows(batch_size, n_train, auto_rule) -> int:
    """Rows per training batch: ``batch_size``, or where it is "auto" what ``auto_rule`` (a learner's
    ``_auto_batch``) gives a fit on ``n_train`` rows."""
    if not isinstance(batch_size, str):
        return max(1, int(batch_size))
    low, high, batches = auto_rule
    rows = int(n_train) // batches
    return int(min(high, max(low, 2 ** max(0, rows.bit_length() - 1))))


def _saved_batch(batch_size):
    """``batch_size_`` of a learner saved before it was kept: a number given, None where "auto" chose."""
    return None if isinstance(batch_size, str) else int(batch_size)


def _check_batch_norm_batches(model, batch_size):
    """Batch normalization over one row normalizes it to zero and drives the moving variance to 0,
    so predictions blow up (R² of -1e11) with no error; PyTorch refuses such batches, so do we."""
    if batch_size < 2 and any(
        isinstance(layer, (keras.layers.BatchNormalization, GhostBatchNormalization))
        for layer in model._flatten_layers()
    ):
        raise ValueError(
            f"batch_size={batch_size} with a model that has batch normalization: a batch of one row has no "
            "variance, so its running statistics collapse and predictions blow up; use batch_size >= 2."
        )
