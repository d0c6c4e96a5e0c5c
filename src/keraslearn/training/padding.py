"""Whole batches: padding rows that weigh nothing, so that batches keep one compiled shape.

An epoch's last, smaller training batch is topped up with rows of the previous batch
(:func:`top_up`, used by :mod:`keraslearn.training.compiled`), and validation rows are padded
to whole batches (``training.fit``, with :func:`pad_rows` and ``rescale=True``). Both give the
padding rows weight 0 and rescale the real rows' weights, which is exact only for a loss
averaged over the batch's rows and weighted metrics (:func:`pads_exactly`). Data split over
several devices is padded to a multiple of their number the same way (``training.devices``).
"""

from __future__ import annotations

import keras
import numpy as np


def top_up(part, donor, size):
    """``part`` (an epoch's last, smaller batch) filled to ``size`` rows from ``donor`` (a full batch).

    The borrowed rows get sample weight 0 and the batch's own rows ``size / rows`` times
    their weight, so a per-row loss averaged over the ``size`` rows (Keras'
    ``sum_over_batch_size``) equals the smaller batch's own average, and so do the gradient
    and weighted metrics (fits with other loss reductions or unweighted Keras metrics are not
    topped up: see :func:`pads_exactly`). In models with batch normalization the borrowed rows
    (real rows of the same epoch) also enter the batch statistics: that batch is normalized over
    ``size`` rows instead of its own few, which is no worse (on TabNet and churn, 5 seeds:
    ROC AUC 0.822 topped up against 0.817 without) and saves compiling a second train step
    (2.7 s for TabNet). Keras' running ``loss`` and weighted metrics count it as
    its own rows (``compiled._count_real_rows``). Returns None for batches without sample weights
    (then the batch runs in its own compiled step).
    """
    import jax

    if not (isinstance(part, tuple) and len(part) == 3 and part[2] is not None and donor[2] is not None):
        return None
    rows = batch_rows(part)
    extra = size - rows

    def fill(a, d):
        return np.concatenate([np.asarray(a), np.asarray(d)[:extra]])

    x, y = jax.tree.map(fill, part[0], donor[0]), jax.tree.map(fill, part[1], donor[1])
    dtype = np.asarray(donor[2]).dtype
    weights = np.asarray(part[2], dtype=np.float64) * (size / rows)
    return x, y, np.concatenate([weights, np.zeros(extra)]).astype(dtype)


def pads_exactly(model) -> bool:
    """Whether zero-weight padding rows (with the real rows' weights rescaled) change no score.

    True for a loss averaged over the batch's rows (Keras' default reduction) and no
    unweighted metrics (Keras' ``metrics`` count every row; ``weighted_metrics`` do not).
    """
    loss = model.loss
    if isinstance(loss, (dict, list, tuple)):
        return False
    if getattr(loss, "reduction", "sum_over_batch_size") != "sum_over_batch_size":
        return False
    metrics = getattr(model, "_compile_metrics", None)
    if metrics is None:
        return True
    unweighted = getattr(metrics, "_user_metrics", ["unknown"])  # an unknown Keras: do not pad
    return not keras.tree.flatten(unweighted or [])


def batch_rows(batch) -> int:
    """Rows of a batch (a tuple or dict of arrays)."""
    import jax

    return jax.tree.leaves(batch)[0].shape[0]


def _pad(v, idx):
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: _pad(a, idx) for k, a in v.items()}
    return np.concatenate([v, v[idx]])


def pad_rows(x, y, sample_weight, multiple: int, rescale: bool = False):
    """Pad to a multiple of ``multiple`` rows with zero-weight copies of the first rows.

    Devices: JAX shards each batch evenly over the devices, so every batch (the last one
    included) must have a multiple of ``n_devices`` rows. With the batch size itself a multiple
    of ``n_devices`` (see ``devices.device_batch_size``), padding the data to a multiple of
    ``n_devices`` rows makes every batch divisible; their zero weight keeps them out of the
    gradient. Validation rows: ``training.fit`` pads them to whole batches with ``rescale=True``,
    which multiplies the real rows' weights by ``padded / rows``, so a loss averaged over all
    padded rows (Keras' ``sum_over_batch_size``) is the mean over the real rows; weighted
    metrics do not change with it.
    """
    n = len(y)
    extra = (-n) % multiple
    if extra == 0:
        return x, y, sample_weight
    weights = np.ones(n, dtype=np.float32) if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
    if rescale:
        weights = weights * np.float32((n + extra) / n)
    idx = np.arange(extra) % n
    sample_weight = np.concatenate([weights, np.zeros(extra, np.float32)])
    return _pad(x, idx), _pad(y, idx), sample_weight
