"""Prediction in batches of one fixed shape.

Float32 matrix products give last-bit differences when the batch shape changes, so a row's
prediction would depend on which other rows came with it (scikit-learn's
``check_methods_subset_invariance`` catches this). Padding every call to whole batches of
one size makes each row's result independent of the others and lets JAX compile the
predict step once instead of once per distinct row count.
"""

from __future__ import annotations

import numpy as np

from keraslearn._keras_warnings import keras_warnings_ignored

PREDICT_BATCH = 1024


def n_rows(x) -> int:
    """Rows of an array, a dict of arrays or a list of arrays."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return len(x[0])
    return len(x)


def _pad(a, total: int):
    a = np.asarray(a)
    if len(a) == total:
        return a
    return np.concatenate([a, np.zeros((total - len(a),) + a.shape[1:], dtype=a.dtype)])


def predict_fixed_batches(model, x, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """``model.predict`` on ``x`` (array, dict or list of arrays) padded to whole batches; quiet.

    Padding rows are zeros (for categorical inputs, the "missing" code) and are dropped.
    """
    n, batch = n_rows(x), int(batch_size)
    total = max(1, -(-n // batch)) * batch
    if isinstance(x, dict):
        padded = {k: _pad(v, total) for k, v in x.items()}
    elif isinstance(x, (list, tuple)):
        padded = [_pad(v, total) for v in x]
    else:
        padded = _pad(x, total)
    with keras_warnings_ignored():
        out = model.predict(padded, batch_size=batch, verbose=0)
    return np.asarray(out)[:n]
