"""The rows a tuning study scores its trials on: the same folds for every trial, worker and resumed call."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from keraslearn._user_warnings import warn_user

# The folds' shuffle: fixed, not random_state, so every worker of a study (each with its own
# sampler seed) and every resumed call score their trials on the same rows.
_FOLD_SEED = 0


def splits_for(learner, X, y, cv, validation_fraction, groups=None):
    """The (train, test) row indices every trial is scored on, and their label for the study.

    The label names the evaluation and a digest of the rows, so a study is never resumed on
    other folds: the default study name changes, and a named study refuses the call.
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import KFold, StratifiedKFold, check_cv, train_test_split

    n = len(y)
    classifier = is_classifier(learner)
    labels = np.asarray(y) if classifier else None
    inverse = sizes = None  # each row's class and the classes' sizes: what stratifying (or not) is decided on
    if classifier:
        _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    min_count = sizes.min() if classifier else 0
    if validation_fraction is not None:
        if cv is not None:
            raise ValueError("pass either cv or validation_fraction, not both.")
        if isinstance(validation_fraction, bool) or not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1); got {validation_fraction!r}.")
        if groups is not None:
            raise ValueError("groups split rows by group only with a group splitter; with validation_fraction they "
                             "would be ignored. Pass cv=GroupShuffleSplit(n_splits=1, test_size=..., random_state=0).")
        rows, alone = np.arange(n), np.array([], dtype=int)
        if classifier and min_count < 2:  # a class of one row trains (it cannot be scored); the rest stratified
            lone = sizes[inverse] == 1
            if (~lone).sum() >= 2:
                rows, alone = np.flatnonzero(~lone), np.flatnonzero(lone)
        n_kinds = len(np.unique(labels[rows])) if classifier else 0
        n_test = int(np.ceil(validation_fraction * len(rows)))  # as train_test_split counts them
        # Stratified where scikit-learn can: more than one class, and a row of each on either side.
        stratify = labels[rows] if 1 < n_kinds <= min(n_test, len(rows) - n_test) else None
        train, test = train_test_split(rows, test_size=validation_fraction, random_state=_FOLD_SEED, stratify=stratify)
        splits = [(np.sort(np.concatenate([train, alone])), np.sort(test))]
        return splits, f"validation_fraction={validation_fraction}; rows {digest(splits)}"
    default = " the default" if cv is None else ""
    cv = 5 if cv is None else cv
    if isinstance(cv, bool):
        raise ValueError(f"cv must be a number of folds (>= 2) or a scikit-learn splitter; got {cv!r}.")
    if isinstance(cv, numbers.Integral):
        if cv < 2:
            raise ValueError(f"cv must be >= 2 folds (or use validation_fraction); got {cv}.")
        if groups is not None:
            raise ValueError(f"groups split rows by group only with a group splitter; with{default} cv={cv} they "
                             f"would be ignored. Pass cv=GroupKFold(n_splits={cv}) (sklearn.model_selection).")
        if cv > n:
            raise ValueError(f"cv={cv} folds but y has only {n} rows.")
        # Stratified whenever a class has a row for every fold, as scikit-learn's StratifiedKFold (which refuses
        # only when none has): a class too small for the folds misses some test folds, the others stay balanced.
        kind = StratifiedKFold if classifier and sizes.max() >= cv else KFold
        if classifier and min_count < cv:
            target = repr(y.name) if isinstance(getattr(y, "name", None), str) else "y"  # the CLI's --target
            how = ("the other classes are stratified" if kind is StratifiedKFold
                   else "no class has a row for every fold, so the folds are not stratified")
            warn_user(f"the rarest class of {target} has {min_count} row(s), fewer than cv={cv} folds ({how}): some "
                      "test folds lack it, and scorers such as roc_auc_ovr may fail there (neg_log_loss where a "
                      "fold's training rows lack a class its test rows hold). Use fewer folds, or "
                      "validation_fraction.")
        splitter = kind(n_splits=cv, shuffle=True, random_state=_FOLD_SEED)
        label = f"cv={cv}"
    else:
        splitter = check_cv(cv, labels, classifier=classifier)
        label = f"cv={type(splitter).__name__}"
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} values but y has {n} rows.")
    try:
        with warnings.catch_warnings():  # with cv=int, a class too small for the folds was said above
            if isinstance(cv, numbers.Integral):
                warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(splitter.split(np.zeros((n, 1)), labels, groups))
    except ValueError as err:
        if groups is None and "groups" in str(err):
            raise ValueError(f"{label} splits by groups: pass tune(..., groups=...), one group label per "
                             "row.") from None
        raise
    rows = digest(splits)
    with warnings.catch_warnings():  # the splitter's own warnings were shown by the first split
        warnings.simplefilter("ignore")
        again = digest(list(splitter.split(np.zeros((n, 1)), labels, groups)))
    if rows != again:
        warn_user(
            f"{label} gives other folds each time it splits (a shuffle without random_state?): "
            "running this call again starts a new study instead of resuming this one. Give the splitter "
            "a random_state to make the study resumable.")
    return splits, f"{label}; folds {rows}"


def digest(splits) -> str:
    import hashlib

    sha = hashlib.sha1()
    for train, test in splits:
        for rows in (train, test):
            sha.update(np.asarray(rows, dtype=np.int64).tobytes() + b"|")
    return sha.hexdigest()[:10]
