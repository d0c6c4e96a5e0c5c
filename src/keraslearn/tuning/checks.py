"""What a ``tune`` call is checked against before any trial runs: its space, counts and scoring."""

from __future__ import annotations

import difflib
import numbers
import warnings

import numpy as np

from keraslearn.tuning.spaces import apply_sample


def check_space(learner, space) -> dict:
    from optuna.distributions import BaseDistribution

    if space is None:
        if not hasattr(learner, "search_space"):  # a Pipeline, or another estimator keraslearn has no space for
            step = getattr(learner, "steps", [("model", None)])[-1][0]
            raise TypeError(f"{type(learner).__name__} has no default search space (keraslearn's learners have "
                            f"one); pass space= with the parameter names it takes, e.g. for a Pipeline whose "
                            f"learner step is {step!r}: space={{'{step}__dropout': FloatDistribution(0.0, 0.5)}}.")
        space = learner.search_space()
        _warn_overridden(learner, space)
    if not isinstance(space, dict) or not space:
        raise TypeError("space must be a non-empty dict of name -> optuna.distributions.* objects.")
    for name, dist in space.items():
        if not isinstance(dist, BaseDistribution):
            raise TypeError(
                f"space[{name!r}] is {dist!r}; use an Optuna distribution, e.g. "
                "optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True) or CategoricalDistribution([...])."
            )
        if hasattr(dist, "choices") and any(isinstance(c, (tuple, list, dict, set)) for c in dist.choices):
            raise TypeError(
                f"space[{name!r}] has tuple or list choices; Optuna stores only None, bool, int, float and str. "
                "For layer_units use the derived names n_layers and units, or sample a name and map it in your "
                "own objective."
            )
    # Fail now, not after the first trial, on names the learner does not have and on values it
    # refuses: the lowest point, then each name's other end (the highest) and every other choice.
    lows = {name: _ends(dist)[0] for name, dist in space.items()}
    _validate_point(learner, lows, "the space's lowest values (first choices) are")
    for name, dist in space.items():
        others = dist.choices[1:] if hasattr(dist, "choices") else [dist.high] * (dist.high != dist.low)
        for value in others:
            end = "choice" if hasattr(dist, "choices") else "upper end"
            _validate_point(learner, {**lows, name: value}, f"space[{name!r}]'s {end} {value!r} is")
    return space


def _warn_overridden(learner, space):
    """Parameters set on the learner that its default space samples anyway: say so, and how to keep them."""
    from keraslearn._user_warnings import warn_user
    from keraslearn.tuning.spaces import tuned_params

    try:
        defaults = type(learner)().get_params(deep=False)
    except TypeError:  # a learner whose class has required arguments: nothing to compare with
        return
    mine = learner.get_params(deep=False)
    changed = sorted(name for name in tuned_params(space) & set(mine)
                     if not _same(mine[name], defaults.get(name)))
    if changed:
        warn_user(
            f"{type(learner).__name__}({', '.join(f'{n}={mine[n]!r}' for n in changed)}): the default search space "
            f"samples {', '.join(changed)} in every trial, overriding what is set here. To keep what is set, pass "
            f"space=keraslearn.tuning.spaces.without_fixed(learner.search_space(), {changed})[0].")


def _same(a, b) -> bool:
    try:
        return bool(a == b) or repr(a) == repr(b)
    except Exception:  # arrays and the like: compare their text
        return repr(a) == repr(b)


def _ends(dist):
    return (dist.choices[0], dist.choices[-1]) if hasattr(dist, "choices") else (dist.low, dist.high)


def _validate_point(learner, sampled, what):
    """Set a sampled point on a clone and run the learner's own parameter checks (no fit)."""
    from sklearn.base import clone

    estimator = clone(learner).set_params(**apply_sample(learner, sampled))
    if getattr(estimator, "_validate_params", None) is None:
        return
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as err:
        kind = ValueError if isinstance(err, ValueError) else TypeError
        if _refusal(learner) == str(err):  # the learner's own (fixed) parameters, whatever the space samples
            raise kind(f"{type(learner).__name__} refuses its parameters: {err}") from err
        raise kind(f"{what} refused by {type(learner).__name__} ({err}); narrow the search space.") from err


def _refusal(learner) -> str | None:
    """Why the learner, as given, refuses its parameters; None if it takes them."""
    from sklearn.base import clone

    try:
        clone(learner)._validate_params()
    except (ValueError, TypeError) as err:
        return str(err)
    return None


def check_count(name, value, *, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}; got {value!r}.")


# Names people give a metric, and scikit-learn's scorer for it (greater is better).
_SCORER_ALIASES = {
    "rmse": "neg_root_mean_squared_error", "mse": "neg_mean_squared_error", "mae": "neg_mean_absolute_error",
    "auc": "roc_auc", "log_loss": "neg_log_loss", "logloss": "neg_log_loss", "mape":
    "neg_mean_absolute_percentage_error", "acc": "accuracy", "f1_score": "f1", "r2_score": "r2",
}


_CLASSIFICATION_EXAMPLES = "'accuracy', 'balanced_accuracy', 'f1_macro', 'roc_auc_ovr', 'neg_log_loss'"
_REGRESSION_EXAMPLES = "'r2', 'neg_root_mean_squared_error', 'neg_mean_absolute_error'"


def _check_scorer_name(name: str, classifier: bool) -> None:
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    if name in names:
        return
    key = name.strip().lower()
    close_alias = next(iter(difflib.get_close_matches(key, _SCORER_ALIASES, n=1)), None)  # 'rsme'
    meant = (_SCORER_ALIASES.get(key) or next(iter(difflib.get_close_matches(name, names, n=1)), None)
             or _SCORER_ALIASES.get(close_alias))
    if meant and _scores_regression(meant) is classifier:
        meant = None  # 'rmse' on classes: an error, not a scorer for this task
    kind, examples = _task(classifier)
    hint = f"did you mean {meant!r}?" if meant else f"for this {kind} target use e.g. {examples}."
    negated = " Scores are greater-is-better, so errors are negated." if meant and meant.startswith("neg_") else ""
    raise ValueError(f"scoring={name!r} is not a scikit-learn scorer name; {hint}{negated} "
                     "sklearn.metrics.get_scorer_names() lists them.")


def _task(classifier: bool) -> tuple[str, str]:
    """The task's name and example scorer names, for a scoring error's hint."""
    return ("classification", _CLASSIFICATION_EXAMPLES) if classifier else ("regression", _REGRESSION_EXAMPLES)


def _scores_regression(scorer_name: str) -> bool | None:
    """Whether a scorer is a regression metric's (sklearn.metrics._regression); None when unknown."""
    from sklearn.metrics import get_scorer

    func = getattr(get_scorer(scorer_name), "_score_func", None)
    return None if func is None else func.__module__.endswith("_regression")


def check_weights(sample_weight, n):
    """``sample_weight`` as a float array of ``n`` non-negative finite weights, not all 0; None stays None."""
    from keraslearn.learners.base import checked_weights

    if sample_weight is not None and np.shape(sample_weight) != (n,):
        raise ValueError(f"sample_weight has shape {np.shape(sample_weight)}; tune needs one weight per row of X: "
                         f"({n},).")
    return checked_weights(sample_weight, n)


def check_weighted_splits(sample_weight, splits, scorer) -> None:
    """Before any trial: every split's training rows and scored rows weigh something, and the scorer
    takes ``sample_weight``; else the study would stop in its first trial, after a fit."""
    import inspect

    if sample_weight is None:
        return
    for i, (train, test) in enumerate(splits):
        for rows, part in ((train, "training"), (test, "scored")):
            if not sample_weight[rows].any():
                raise ValueError(f"sample_weight is 0 for every {part} row of split {i + 1} of {len(splits)}; "
                                 "give those rows weight, or use other folds (cv=...).")
    if inspect.isfunction(scorer) or inspect.ismethod(scorer):
        params = inspect.signature(scorer).parameters.values()
        if not any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in params):
            raise TypeError(f"scoring={scorer.__name__!r} takes no sample_weight, so it cannot weight the scored "
                            "rows; add a sample_weight=None keyword to it, or leave sample_weight out.")


def check_scoring(learner, scoring, y):
    """The scorer for ``scoring``; a name that cannot score this task fails now, not after a trial."""
    from sklearn.base import is_classifier
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.metrics import check_scoring

    if isinstance(scoring, (list, tuple, set, dict)):
        raise TypeError(f"scoring must be one scorer, a name or a callable (a study maximizes one score); "
                        f"got {scoring!r}.")
    classifier = is_classifier(learner)
    if isinstance(scoring, str):
        _check_scorer_name(scoring, classifier)
    scorer = check_scoring(learner, scoring=scoring)
    if isinstance(scoring, str):
        # Score a constant model on the target: the scorer's own checks of the target's type.
        dummy = DummyClassifier() if classifier else DummyRegressor()
        X0 = np.zeros((len(y), 1))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scorer(dummy.fit(X0, y), X0, y)
        except (ValueError, TypeError, AttributeError) as err:
            kind, examples = _task(classifier)
            why = ("it needs class probabilities or decision scores, which a regressor has not"
                   if isinstance(err, AttributeError) else str(err).strip())  # 'DummyRegressor has none of ...'
            raise ValueError(f"scoring={scoring!r} cannot score this {kind} target ({why}); "
                             f"use a scorer for it, e.g. {examples}.") from None
    if scoring == "neg_log_loss" and classifier:
        return _neg_log_loss
    return scorer


def _neg_log_loss(estimator, X, y, sample_weight=None):
    """scikit-learn's ``neg_log_loss`` over the model's classes: rows scored need not hold all of them
    (a rare class missing from a fold or the validation rows; scikit-learn's scorer then fails)."""
    from sklearn.metrics import log_loss

    unseen = sorted(set(np.unique(y).tolist()) - set(estimator.classes_.tolist()), key=str)
    if unseen:
        raise ValueError(f"scoring='neg_log_loss': the rows scored hold class(es) {unseen[:5]} that the trial's "
                         "model never trained on, which log loss cannot score; pool rare classes or use another "
                         "scoring, e.g. 'accuracy'.")
    return -log_loss(y, estimator.predict_proba(X), labels=estimator.classes_, sample_weight=sample_weight)
