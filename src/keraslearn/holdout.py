"""The test rows `keraslearn fit` holds out: stratified for classes, a class of one row kept for training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslearn.cli import UsageError
from keraslearn.scoring_notes import some


def held_out(X, y, test_fraction, random_state, classes: bool):
    """``(X_tr, X_te, y_tr, y_te, said)``: the test split (None for ``test_fraction`` 0) and how it was made.

    Stratified where every class has two rows and each side can take one of each; a class of one row
    stays in training and the other classes are still stratified (the model knows every class)."""
    from sklearn.model_selection import train_test_split

    stratify, alone = None, []
    if classes:
        n_test = int(np.ceil(test_fraction * len(y)))
        counts = y.value_counts()
        counts = counts[counts > 0]  # a category column lists its unused categories too, with 0 rows
        # Stratifying needs two rows of every class, and each side at least one row per class.
        if counts.min() >= 2 and min(n_test, len(y) - n_test) >= len(counts):
            stratify = y
        elif (counts >= 2).any() and test_fraction > 0:  # a class of one row: it trains, the rest stratified
            alone = counts.index[counts < 2].tolist()
    if alone:
        from keraslearn.training.split import stratified_counts

        codes = pd.factorize(y)[0]
        take = stratified_counts(np.bincount(codes), n_test)  # train_test_split's ceil, each class keeping a row
        rng = np.random.default_rng(random_state)
        test_idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(codes == k))[:t]
                                           for k, t in enumerate(take)]))
        train_idx = np.setdiff1d(np.arange(len(y)), test_idx, assume_unique=True)
        X_tr, X_te, y_tr, y_te = X.iloc[train_idx], X.iloc[test_idx], y.iloc[train_idx], y.iloc[test_idx]
        stratify = y
    elif test_fraction > 0:
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=test_fraction, random_state=random_state, stratify=stratify
            )
        except ValueError as err:
            raise UsageError(f"cannot hold out a test split of {test_fraction}: {err}") from None
    else:
        X_tr, y_tr, X_te, y_te = X, y, None, None
    lacking = [] if not classes or X_te is None else sorted(set(y.dropna()) - set(y_tr.dropna()), key=str)
    if X_te is not None and (len(y_tr) < 2 or lacking):  # else the learner's error named neither cause nor fix
        raise UsageError(f"--test-fraction {test_fraction:g} leaves {len(y_tr)} of {len(y)} rows for training"
                         f"{f', without the class(es) {some(lacking)}' if lacking else ''}; "
                         "lower --test-fraction (0 holds out no test rows)")
    held = "no test rows" if X_te is None else \
        f"{len(X_te)} test rows held out ({test_fraction:g}{', stratified' if stratify is not None else ''})"
    if alone:
        held += f"; kept for training, the class(es) of one row: {some(alone)}"
    return X_tr, X_te, y_tr, y_te, held
