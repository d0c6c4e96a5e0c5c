"""``keraslearn.tune``: Optuna studies over a learner's hyperparameters, resumable by default."""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
import time
import warnings
from typing import NamedTuple

import numpy as np

from keraslearn._user_warnings import each_column_warning_once, warn_user
from keraslearn.learners.regression_targets import check_target
from keraslearn.training.fit import DivergedError
from keraslearn.training.memory import release_memory
from keraslearn.tuning.callbacks import OptunaPruning, TrialProgress
from keraslearn.tuning.checks import check_count, check_scoring, check_space, check_weighted_splits, check_weights
from keraslearn.tuning.folds import splits_for
from keraslearn.tuning.spaces import CONDITIONAL, apply_sample, default_batch_sizes, for_rows, idle, import_optuna
from keraslearn.tuning.storage import (
    _EARLIER,
    WORKER_ATTR,
    check_config,
    data_fingerprint,
    default_study_name,
    earlier_studies,
    fail_dead_trials,
    open_storage,
    same_task_studies,
    study_config,
    worker_id,
)

_COUNTED = ("COMPLETE", "PRUNED")
#: Trial attribute: the random_state tune gave the trial's fits (the learner's own was None).
SEED_ATTR = "random_state"


class TuneResult(NamedTuple):
    """What :func:`tune` returns; unpacks as ``best_learner, study = tune(...)``."""

    best_learner: object
    """The best trial's learner refitted on all of X, y (None with ``refit=False``)."""
    study: object
    """The ``optuna.Study``: every trial with its parameters, score and learning curve."""


def _make_pruner(pruner, learner):
    import optuna

    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    if pruner == "hyperband":
        epochs = getattr(learner, "epochs", None)
        max_resource = int(epochs) if isinstance(epochs, numbers.Integral) else "auto"
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource, reduction_factor=3)
    raise ValueError(f"pruner must be 'median', 'hyperband', 'none' or an optuna pruner; got {pruner!r}.")


def _suggest(trial, name, dist):
    from optuna import distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, d.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"space[{name!r}]: unsupported distribution {type(dist).__name__}.")


def _has_categorical(learner, X) -> bool:
    """Whether the learner's encoder would embed a column of ``X`` as categorical."""
    from keraslearn.preprocessing.encoder import _is_categorical
    from keraslearn.preprocessing.validation import to_frame

    try:
        frame, _ = to_frame(X, estimator_name="tune")
    except (TypeError, ValueError):
        return True  # not a table the encoder reads (images, a user's inputs): draw it, as before
    forced = set(learner.get_params(deep=False).get("categorical_features") or ())
    return any(c in forced or _is_categorical(frame[c]) for c in frame.columns)


# ------------------------------------------------------------- objective
class _Objective:
    """Score one sampled configuration: fit on each split's train rows, score its test rows."""

    def __init__(self, learner, X, y, space, splits, scorer, seed, sample_weight=None, rows=0):
        self.learner, self.X, self.y, self.sample_weight = learner, X, y, sample_weight
        self.space, self.splits, self.scorer, self.seed = space, splits, scorer, seed
        self.rows = rows  # training rows of the largest fit: the largest batch batch_size="auto" makes
        self.categorical = "embed_dropout" in space and _has_categorical(learner, X)

    def sample(self, trial) -> dict:
        """The trial's draws; names that could do nothing in it (:func:`spaces.idle`) are left out."""
        sampled = {name: _suggest(trial, name, dist) for name, dist in self.space.items() if name not in CONDITIONAL}
        params = {**self.learner.get_params(deep=False), **sampled}
        for name, dist in self.space.items():
            if name in CONDITIONAL and not idle(name, dist, self.learner, params, self.rows, self.categorical):
                sampled[name] = params[name] = _suggest(trial, name, dist)
        return sampled

    def weights(self, rows) -> dict:
        """The keyword that weights these rows in a fit or a scorer; none without sample_weight."""
        return {} if self.sample_weight is None else {"sample_weight": self.sample_weight[rows]}

    def params(self, sampled: dict) -> dict:
        params = apply_sample(self.learner, sampled)
        if self.seed is not None and getattr(self.learner, "random_state", 0) is None:
            params.setdefault("random_state", self.seed)
        return params

    def __call__(self, trial):
        from sklearn.base import clone
        from sklearn.utils import _safe_indexing

        trial.set_user_attr(WORKER_ATTR, worker_id())
        sampled = self.sample(trial)
        fixed = self.params(sampled)
        seed = fixed.get("random_state")
        if isinstance(seed, numbers.Integral) and "random_state" not in sampled:  # tune's: best_params gives it back
            trial.set_user_attr(SEED_ATTR, int(seed))  # stored as JSON: no numpy ints
        estimator = clone(self.learner).set_params(**fixed)
        params = estimator.get_params(deep=False)
        if params.get("verbose"):
            # One progress display at a time: the trials' bar, not one per fit.
            estimator.set_params(verbose=0)
        pruning = None
        if "callbacks" in params:
            monitor = "val_loss" if params.get("validation_fraction", 0) else "loss"
            pruning = OptunaPruning(trial, monitor=monitor)
            estimator.set_params(callbacks=[*(params["callbacks"] or []), pruning])
        scores, epochs = [], []
        try:
            for fold, (train, test) in enumerate(self.splits):
                if pruning is not None:
                    # Steps are epochs: only the first fold's learning curve is comparable across trials.
                    pruning.active = fold == 0
                try:
                    estimator.fit(_safe_indexing(self.X, train), _safe_indexing(self.y, train), **self.weights(train))
                except DivergedError:  # not pruned (a later fold, or no callbacks): a failed trial, as a NaN score
                    scores.append(float("nan"))
                    break
                scores.append(
                    float(self.scorer(estimator, _safe_indexing(self.X, test), _safe_indexing(self.y, test),
                                      **self.weights(test)))
                )
                epochs.append(int(getattr(estimator, "n_iter_", 0)))
        except Exception as err:  # the study stops here: say which trial and settings raised
            err.add_note(f"(in trial {trial.number} of study {trial.study.study_name!r}, fold {len(scores) + 1} "
                         f"of {len(self.splits)}, with {sampled})")
            raise
        finally:
            # Each fit leaves compiled functions behind; free them so RSS stays flat over trials.
            del estimator, pruning
            release_memory()
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("epochs", epochs)
        # A non-finite score (e.g. NaN predictions) makes Optuna mark the trial FAIL.
        return float(np.mean(scores))


# ------------------------------------------------------------------ tune
@each_column_warning_once()
def tune(
    learner,
    X,
    y,
    *,
    space=None,
    n_trials=20,
    timeout=None,
    cv=None,
    validation_fraction=None,
    groups=None,
    sample_weight=None,
    scoring=None,
    storage=None,
    study_name=None,
    pruner="median",
    sampler=None,
    refit=True,
    callbacks=None,
    random_state=None,
    verbose=0,
) -> TuneResult:
    """Tune ``learner``'s hyperparameters with Optuna; return the best learner refitted, and the study.

    The study is stored (a SQLite file by default), so calling ``tune`` again with the same
    arguments after an interruption (Ctrl-C, a killed process) resumes it: finished trials
    are kept and only the missing ones run. Several processes or machines given the same
    ``storage`` URL and ``study_name`` share one study.

    Parameters
    ----------
    learner : KerasLearner
        The learner to tune; its parameters not in the space stay fixed.
    X, y : array-like
        Training data, as for ``learner.fit``. For ``CNNClassifier``, X may be an array of
        images or a list of image paths, or a folder with one sub-folder per class and y None.
    space : dict or None, default=None
        Name -> ``optuna.distributions`` object. None uses ``learner.search_space()``.
        Derived names (``n_layers`` and ``units`` → ``layer_units``) are allowed, see
        :mod:`keraslearn.tuning.spaces`.
    n_trials : int or None, default=20
        Finished (complete or pruned) trials the study should hold; trials already in a
        resumed study count. None runs until ``timeout``.
    timeout : float or None, default=None
        Stop starting new trials after this many seconds.
    cv : int, cross-validation splitter or None, default=None
        Folds to score each trial on; None means 5 unless ``validation_fraction`` is given. An
        int shuffles with a fixed seed (stratified for classifiers), so every call and every
        worker scores on the same rows; a splitter is used as given.
    validation_fraction : float or None, default=None
        Score each trial on one held-out share of rows instead of cross-validation (faster);
        the rows are drawn with a fixed seed.
    groups : array-like of shape (n_samples,) or None, default=None
        Group labels for a group splitter (``cv=GroupKFold(5)``), as in ``cross_validate``.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Row weights (non-negative): each trial's fits get their training rows' weights and its
        score weights the rows it scores (the scorer's ``sample_weight``), and the refit gets
        them all. Part of the data the default study name is derived from.
    scoring : str, callable or None, default=None
        A scikit-learn scorer (greater is better); None uses ``learner.score``.
    storage : None, str, path or optuna storage, default=None
        None is the file ``keraslearn_tuning.db`` in the current directory; a path is a SQLite
        file; a URL such as ``postgresql://user:pw@host/db`` shares the study between machines.
    study_name : str or None, default=None
        None derives a name from the learner, data and settings, so the same call resumes.
    pruner : {"median", "hyperband", "none"} or optuna pruner, default="median"
        Stops unpromising trials early from each epoch's validation loss (reported as
        ``-val_loss``; in cross-validation the first fold's curve is used).
    sampler : optuna sampler or None, default=None
        None is Optuna's TPE sampler, seeded from ``random_state``.
    refit : bool, default=True
        Refit the best configuration on all of X, y.
    callbacks : list of callables or None, default=None
        Optuna callbacks ``f(study, frozen_trial)`` called after each trial.
    random_state : int or None, default=None
        Seeds the sampler and (when the learner's own ``random_state`` is None) every trial's
        fit; not the folds. Give workers sharing a study different seeds, or None.
    verbose : int, default=0
        1 shows a progress bar over trials.

    Returns
    -------
    TuneResult
        ``(best_learner, study)``.
    """
    import_optuna()
    import optuna

    if not hasattr(learner, "get_params") or not hasattr(learner, "fit"):
        raise TypeError(f"learner must be a keraslearn learner (an sklearn estimator); got {type(learner).__name__}.")
    check_count("n_trials", n_trials)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds or None; got {timeout!r}.")
    if n_trials is None and timeout is None:
        raise ValueError("give n_trials, timeout or both; otherwise the study never ends.")
    if y is None and isinstance(X, (str, os.PathLike)):
        # A folder of images with one sub-folder per class (CNNClassifier): its files and labels.
        from keraslearn.preprocessing.images import image_source

        source, labels = image_source(X, estimator_name="tune", fitting=True)
        if labels is not None:
            X, y = list(source.paths), labels
    if y is None:
        raise ValueError("tune needs a target y (or, for images, a folder with one sub-folder per class).")
    y = y if hasattr(y, "iloc") else np.asarray(y)
    if hasattr(X, "__len__") and len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}: they must match.")
    space = check_space(learner, space)
    check_target(learner, y)
    sample_weight = check_weights(sample_weight, len(y))
    splits, evaluation = splits_for(learner, X, y, cv, validation_fraction, groups)
    named_space = space  # the study's name and settings: as before the cut, so earlier studies resume
    held = learner.get_params().get("validation_fraction")  # the rows each fit holds out itself
    held = held if isinstance(held, numbers.Real) and not isinstance(held, bool) and 0 < held < 1 else 0.0
    rows = [int(len(train) * (1 - held)) for train, _ in splits]  # each fit's training rows
    cut = space.get("batch_size") is not None and space["batch_size"] == default_batch_sizes(learner)
    if cut:  # the default batch sizes (the CLI's space is the default without --param's): those the rows can fill
        space = for_rows(space, min(rows))
    scorer = check_scoring(learner, scoring, y)
    check_weighted_splits(sample_weight, splits, scorer)
    optuna_storage = open_storage(storage)
    data = data_fingerprint(X, y, sample_weight)
    config = study_config(learner, scoring, evaluation, named_space, data)
    if study_name is None:
        study_name = _derived_name(optuna_storage, default_study_name(learner, data, named_space, evaluation, scoring),
                                   config)

    with _quiet_optuna():
        study = optuna.create_study(
            storage=optuna_storage, study_name=study_name, direction="maximize", load_if_exists=True
        )
        if study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise ValueError(f"study {study_name!r} minimizes; keraslearn studies maximize a score.")
        check_config(study, config)
        space = _recorded_batch_sizes(study, space) if cut else space
        fail_dead_trials(study)
        n_existing = len(study.get_trials(deepcopy=False))
        if sampler is None:
            seed = None if random_state is None else int(random_state) + n_existing
            sampler = optuna.samplers.TPESampler(seed=seed)
        study.sampler = sampler
        study.pruner = _make_pruner(pruner, learner)
        objective = _Objective(learner, X, y, space, splits, scorer, random_state, sample_weight, max(rows))

        def kept(then="resume") -> str:  # what an interrupted call keeps
            in_memory = isinstance(optuna_storage, optuna.storages.InMemoryStorage)
            where = "are kept in memory, in this process only" if in_memory else f"are saved; run it again to {then}"
            return f"{_n_finished(study)} finished trial(s) of study {study_name!r} {where}"
        remaining = None
        all_callbacks = list(callbacks or [])
        if n_trials is not None:
            remaining = n_trials - _n_finished(study)
            # Other workers fill the same study: stop once it holds n_trials finished trials.
            all_callbacks.insert(0, optuna.study.MaxTrialsCallback(n_trials, states=_states()))
        if verbose and _n_finished(study):
            left = "" if remaining is None else f", {max(remaining, 0)} to run"
            print(f"resuming study {study_name!r}: {_n_finished(study)} finished trial(s) kept{left}",
                  file=sys.stderr)
        started = time.monotonic()
        if remaining is None or remaining > 0:
            progress = None
            if verbose:  # the bar counts the study's trials, as workers share it
                before = _n_finished(study)
                progress = TrialProgress(remaining, f"tuning {type(learner).__name__}",
                                         lambda: _n_finished(study) - before)
            try:
                with progress or contextlib.nullcontext():
                    _optimize(study, objective, n_trials, timeout, all_callbacks + ([progress] if progress else []))
            except KeyboardInterrupt:
                raise KeyboardInterrupt(f"interrupted: {kept()}.") from None
        fail_dead_trials(study)  # another worker's, killed meanwhile and silent for the grace period
        if verbose and timeout is not None and n_trials is not None and _n_finished(study) < n_trials and \
                time.monotonic() - started >= timeout:
            print(f"timeout of {timeout:g} s reached: study {study_name!r} holds {_n_finished(study)} of "
                  f"{n_trials} finished trials; run the same call again to continue it", file=sys.stderr)
    best = None
    if refit:
        try:
            best_trial = study.best_trial
        except ValueError:
            raise RuntimeError(
                f"no trial of study {study_name!r} completed (all failed or were pruned); nothing to refit."
            ) from None
        if verbose:  # a long fit after the trials' bar: not a hang
            print(f"refitting the best trial ({best_trial.number}) on all {len(y)} rows", file=sys.stderr)
        try:
            best = _refit(learner, objective, best_trial, X, y)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted while refitting the best trial, no model written: "
                                    f"{kept('refit it')}.") from None
    return TuneResult(best, study)


def _optimize(study, objective, n_trials, timeout, callbacks):
    """``study.optimize`` until the study holds ``n_trials`` finished trials or ``timeout`` passes.

    Optuna counts failed trials (a NaN score) toward its ``n_trials``; keraslearn's does not, so
    failed trials are replaced, round after round, while a round finishes at least one trial.
    """
    from optuna.trial import TrialState

    deadline = None if timeout is None else time.monotonic() + timeout
    failed_before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    while True:
        finished = _n_finished(study)
        left = None if deadline is None else deadline - time.monotonic()
        if (n_trials is not None and finished >= n_trials) or (left is not None and left <= 0):
            break
        study.optimize(objective, n_trials=None if n_trials is None else n_trials - finished, timeout=left,
                       callbacks=callbacks)
        if n_trials is None or _n_finished(study) == finished:
            break
    # This call's trials that returned a score (fold_scores is set just before) and failed: a
    # non-finite one. Not a killed worker's trial (failed by the heartbeat), nor other workers'.
    me = worker_id()
    failed = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
              if t.number not in failed_before and t.user_attrs.get(WORKER_ATTR) == me
              and "fold_scores" in t.user_attrs]
    if failed:
        warn_user(
            f"{len(failed)} trial(s) of study {study.study_name!r} failed: their score was not a finite number (NaN "
            "or inf: a fit that diverged, or a scorer that returned NaN). They do not count toward n_trials.")


def _derived_name(storage, name, config) -> str:
    """The study a call without ``study_name`` resumes: the one of the derived ``name``; else the one study of
    the same task whose recorded settings are all equal (its name was derived by an earlier keraslearn, whose
    learners had other parameters: the same command resumes it after an upgrade); else ``name``, a new study,
    with a warning naming studies of the same task that differ only in fixed parameters."""
    import optuna

    if name in optuna.get_all_study_names(storage):
        return name
    same = same_task_studies(storage, name, config)
    equal = [other for other, differences in same if not differences]
    if len(equal) == 1:
        return equal[0]
    for other, differences in same[:3]:
        warn_user(f"the storage holds study {other!r} on the same learner, data, folds, space and scoring, "
                  f"with other fixed parameters ({'; '.join(differences) or 'as this call'}); this call starts "
                  f"study {name!r}. To resume that one instead, pass study_name={other!r} (the command line: "
                  f"--study {other}) with its parameters.")
    for other, trials in earlier_studies(storage, config)[:3]:
        warn_user(f"the storage holds study {other!r} of {config.get('learner')} ({trials} trials), {_EARLIER}. "
                  f"This call starts study {name!r}.")
    return name


def _recorded_batch_sizes(study, space) -> dict:
    """``space`` with the batch sizes a resumed study's trials drew from: Optuna cannot change a
    categorical's choices within a study, and one started before tune cut them to the rows had all."""
    for trial in study.get_trials(deepcopy=False):
        recorded = trial.distributions.get("batch_size")
        if recorded is not None:
            return {**space, "batch_size": recorded}
    return space


def _states():
    from optuna.trial import TrialState

    return tuple(TrialState[s] for s in _COUNTED)


def _n_finished(study) -> int:
    return len(study.get_trials(deepcopy=False, states=_states()))


def _refit(learner, objective, trial, X, y):
    from sklearn.base import clone

    sampled = {k: v for k, v in trial.params.items()}
    return clone(learner).set_params(**objective.params(sampled)).fit(X, y, **objective.weights(slice(None)))


def best_params(learner, study) -> dict:
    """The learner parameters of the study's best trial (derived names combined), with the
    ``random_state`` that ``tune(random_state=...)`` gave its fits: they reproduce its score."""
    trial = study.best_trial
    params = apply_sample(learner, trial.params)
    if SEED_ATTR in trial.user_attrs:
        params.setdefault("random_state", trial.user_attrs[SEED_ATTR])
    return params


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's per-trial INFO log and experimental-feature warnings are not the user's problem."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
