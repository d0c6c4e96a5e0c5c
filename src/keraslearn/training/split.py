"""Holding out validation rows: how many, which ones (stratified when the labels allow), and moving them."""

from __future__ import annotations

import numpy as np

from keraslearn._user_warnings import warn_user
from keraslearn.training.schedules import held_out_rows


def split_seed(seed: int | None) -> int:
    """``seed``, else one drawn from NumPy's global generator (as scikit-learn's ``random_state=None``
    draws, so that ``keras.utils.set_random_seed`` repeats an unseeded fit): the
    same validation rows wherever the split is made with it."""
    return int(np.random.randint(0, 2**31 - 1)) if seed is None else seed


def validation_split(n: int, fraction: float, stratify=None, seed=None):
    """Shuffled train / validation row indices; stratified when ``stratify`` labels allow it.

    Returns ``(train_idx, None)`` when ``fraction`` is 0 or too few rows remain to hold out.
    """
    n_val = held_out_rows(n, fraction)
    if n_val == 0:
        return np.arange(n), None
    rng = np.random.default_rng(seed)
    if stratify is not None:
        _, codes, counts = np.unique(stratify, return_inverse=True, return_counts=True)
        val = [rng.permutation(np.flatnonzero(codes == k))[:take]
               for k, take in enumerate(stratified_counts(counts, n_val))]
        val = np.sort(np.concatenate(val))
        if not len(val):  # every class has a single row, kept for training
            return np.arange(n), None
        return np.setdiff1d(np.arange(n), val, assume_unique=True), val
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def warn_classes_not_held_out(classes, codes: np.ndarray, val_idx: np.ndarray, fraction: float,
                              class_weighted: bool = False) -> None:
    """Warn when the validation rows hold no row of some class (``codes``: each row's index into ``classes``):
    early stopping then watches a loss blind to it, and can end the fit before the model learns it (5
    positives in 500 rows: training AUC 0.65 with early stopping, 1.0 without). ``class_weighted``: the fit
    has a ``class_weight`` already, so weighing the classes up is not suggested."""
    codes = np.asarray(codes).astype(np.intp, copy=False)
    counts = np.bincount(codes, minlength=len(classes))
    # A class of one row stays in training (stratified_counts): holding out more rows would not change that.
    unseen = np.flatnonzero((counts > 1) & (np.bincount(codes[val_idx], minlength=len(classes)) == 0))
    if not len(unseen):
        return
    labels = np.asarray(classes)[unseen[:5]].tolist()  # Python values: 1, not np.int64(1)
    named = ", ".join(f"{label!r} ({int(counts[k])} row{'s' * bool(counts[k] != 1)})"
                      for label, k in zip(labels, unseen[:5]))
    more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
    advice = "out more rows, pass validation rows yourself (X_val, y_val), or set early_stopping=False."
    advice = "Hold " + advice if class_weighted else "Weigh them up (class_weight='balanced'), hold " + advice
    warn_user(f"validation_fraction={fraction} holds out no row of class(es) {named}{more}: early stopping watches "
              f"a val_loss that does not see them and can end the fit before the model learns them. {advice}")


def stratified_counts(counts: np.ndarray, n_val: int) -> np.ndarray:
    """Validation rows per class: ``n_val`` in all (what the learners plan their schedules for), shared in
    proportion by largest remainders, each class keeping at least one row to train on (a class of one
    row stays in training; the others are still stratified)."""
    quota = counts * n_val / counts.sum()
    take = np.minimum(np.floor(quota).astype(int), counts - 1)
    while take.sum() < n_val:
        spare = np.flatnonzero(take < counts - 1)
        if not len(spare):
            break  # fewer rows than that to spare (nearly one row per class): hold out what can be
        left = (quota - take)[spare]
        tied = spare[left >= left.max() - 1e-9]
        take[tied[np.argmin(counts[tied])]] += 1  # a tie goes to the smaller class, whatever its label's order
    return take


def held_out_count(n: int, fraction: float, n_classes: int = 0) -> int:
    """How many rows :func:`validation_split` holds out, stratified over ``n_classes`` classes (0: not
    stratified): each class keeps a row for training (:func:`stratified_counts`), so at most
    ``n - n_classes``, none at all when every class has one row."""
    n_val = held_out_rows(n, fraction)
    return min(n_val, n - n_classes) if n_classes else n_val


def early_stopping_split(n: int, fraction: float, stratify, seed, early_stopping: bool):
    """:func:`validation_split`, warning when early stopping is on and the share rounds to no split."""
    train_idx, val_idx = validation_split(n, fraction, stratify=stratify, seed=seed)
    if val_idx is None and fraction > 0 and early_stopping:
        why = (f"would hold out {int(round(n * fraction))} of them" if held_out_rows(n, fraction) == 0
               else "have one row per class, each kept for training")
        warn_user(
            f"validation_fraction={fraction} of {n} rows {why}, so no "
            "validation split is made: the fit trains on every row and early stopping watches the training loss."
        )
    return train_idx, val_idx


def weighed_split(sample_weight, train_idx, val_idx, fraction: float, early_stopping: bool) -> bool:
    """Whether early stopping may watch the validation rows' loss: not when they all have sample_weight 0.

    Their val_loss is then 0 every epoch, and early stopping would end the fit at its patience with the first
    epoch's weights: it watches the training loss instead (said). The split stays as planned (schedules and
    batch sizes were planned for it). Training rows that all weigh 0 (nothing to learn from) are an error.
    """
    if val_idx is None or sample_weight is None:
        return True
    if not np.any(sample_weight[train_idx]):
        raise ValueError(
            f"Every training row has sample_weight 0 after holding out validation_fraction={fraction} of the rows: "
            "the rows that weigh something were all held out. Weigh more rows, pass validation rows yourself "
            "(X_val, y_val), or set validation_fraction=0.")
    if np.any(sample_weight[val_idx]):
        return True
    rows = f"the {len(val_idx)} rows" if len(val_idx) > 1 else "the one row"
    then = ": early stopping watches the training loss instead" if early_stopping else ""
    warn_user(f"{rows} that validation_fraction={fraction} held out all have sample_weight 0, so val_loss is 0 "
              f"every epoch{then}. Pass validation rows yourself (X_val, y_val) to validate on rows that weigh.")
    return False


def take_rows(x, idx):
    """Rows ``idx`` of an array, of each array in a dict of inputs, or None."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    return None if x is None else x[idx]


_SPLIT_ROWS = 16_384  # rows moved at a time by split_in_place


def split_in_place(v: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray):
    """``(v[train_idx], v[val_idx])``, the first a view of ``v``'s leading rows, filled in place.

    Both index arrays are sorted, so each training row moves forward (or stays) and rows are
    copied in order, in chunks, after the validation rows were taken out: holding out
    validation rows then needs no second copy of the training inputs.
    """
    sorted_ = np.all(np.diff(train_idx) > 0) and np.all(np.diff(val_idx) > 0)
    if not (sorted_ and isinstance(v, np.ndarray) and v.flags.c_contiguous and v.flags.writeable):
        return v[train_idx], v[val_idx]
    val = v[val_idx]
    for start in range(0, len(train_idx), _SPLIT_ROWS):
        # Rows before ``start`` are written already; the ones read here lie at ``start`` or after.
        chunk = train_idx[start : start + _SPLIT_ROWS]
        v[start : start + len(chunk)] = v[chunk]
    return v[: len(train_idx)], val


def validation_multiple(n: int, batch_size: int) -> int:
    """Validation rows are padded to a multiple of this: equal shapes, one compiled test step.

    Keras evaluates in batches of ``batch_size``: a smaller last batch is a second shape to
    compile (0.2 s for an MLP, seconds for TabNet). A single batch is padded to a multiple of
    32 rows instead, so CV folds whose validation sets differ by a row share one shape. The
    padding rows weigh 0 and the real rows' weights are rescaled (``pad_rows(rescale=True)``),
    so ``val_loss`` and the weighted metrics are those of the real rows.
    """
    if n > batch_size or -(-n // 32) * 32 > batch_size:
        return batch_size
    return 32
