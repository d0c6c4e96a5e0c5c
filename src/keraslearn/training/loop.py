"""A custom training loop whose user code is the same on JAX, PyTorch and TensorFlow.

The R keras guide writes its loop with ``tf$GradientTape``; Keras 3 documents one loop per
backend (``jax.value_and_grad`` over ``stateless_call``, ``loss.backward()``,
``tf.GradientTape``). :class:`CustomLoop` is that loop written once per backend behind one
API, with the two hooks the guide asks for: gradient clipping by global norm and per-batch
logging.

.. code-block:: python

    loop = keraslearn.CustomLoop(model, "adam", "categorical_crossentropy",
                                 metrics=["accuracy"], clip_norm=1.0)
    for epoch in range(epochs):
        for x_batch, y_batch in batches:
            logs = loop.train_step(x_batch, y_batch)   # {"loss", "grad_norm", "accuracy"}
    # or, all of it:
    history = loop.fit((x_train, y_train), epochs=5, batch_size=128,
                       on_batch_end=lambda step, logs: print(step, logs["loss"]))
"""

from __future__ import annotations

import numbers

import keras
import numpy as np

_ACCURACY = {"accuracy", "acc"}


class _FunctionLoss(keras.losses.Loss):
    """A per-sample loss function with Keras' mean-over-batch reduction.

    As the losses ``compile()`` makes: (n,) targets meet (n, 1) outputs (a sigmoid unit).
    """

    def __init__(self, fn, name):
        super().__init__(name=name)
        self.fn = fn

    def call(self, y_true, y_pred):
        true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
        if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
            y_true = keras.ops.expand_dims(y_true, -1)
        elif true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
            y_true = keras.ops.squeeze(y_true, -1)
        return self.fn(y_true, y_pred)


def _loss_object(loss):
    if isinstance(loss, keras.losses.Loss):
        return loss
    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if isinstance(fn, keras.losses.Loss):
        return fn
    if not callable(fn):
        raise ValueError(f"loss must be a Keras loss name, a keras.losses.Loss or a function; got {loss!r}.")
    name = loss if isinstance(loss, str) else getattr(fn, "__name__", "loss")
    # The name becomes a TensorFlow name scope, which refuses "<lambda>" (a valid identifier passes).
    return _FunctionLoss(fn, name if name.isidentifier() else "loss")


def _metric_object(metric, y_true, y_pred):
    """A Keras metric; "accuracy" is resolved from the shapes as ``model.compile`` does."""
    if isinstance(metric, keras.metrics.Metric):
        return metric
    if isinstance(metric, str) and metric in _ACCURACY:
        if y_pred.shape[-1] == 1:
            return keras.metrics.BinaryAccuracy(name=metric)
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1]:
            return keras.metrics.CategoricalAccuracy(name=metric)
        return keras.metrics.SparseCategoricalAccuracy(name=metric)
    obj = keras.metrics.get(metric)
    if isinstance(obj, keras.metrics.Metric):
        if isinstance(metric, str):  # logged as the user named it ("mae", not "mean_absolute_error"), as in fit
            obj.name = metric
        return obj
    return keras.metrics.MeanMetricWrapper(obj, name=metric if isinstance(metric, str) else obj.__name__)


def _as_batch_array(a):
    """Batches from tf.data / torch DataLoaders as arrays the active backend accepts."""
    if isinstance(a, np.ndarray):
        return a
    if keras.backend.backend() == "torch" and type(a).__module__.startswith("torch"):
        return a
    if keras.backend.backend() == "tensorflow" and type(a).__module__.startswith("tensorflow"):
        return a
    return a.numpy() if hasattr(a, "numpy") else np.asarray(a)


def _n_rows(x) -> int:
    return int(keras.tree.flatten(x)[0].shape[0])


def _take(x, idx):
    return keras.tree.map_structure(lambda a: a[idx], x)


_NO_WEIGHTS = ("CustomLoop takes (x, y) batches; it has no sample weights (a third element would be ignored). "
               "Weigh inside your loss function, or train with model.fit(x, y, sample_weight=w).")


def _one_target(y, n=None):
    """Refuse the targets of a model with several outputs (a list or dict of arrays): one loss compares one y."""
    several = isinstance(y, dict) or (
        isinstance(y, (list, tuple)) and y and all(len(getattr(a, "shape", ())) >= 1 for a in y)
        and (n is None or len(y) != n)
    )
    if several:
        raise ValueError(f"y is a {type(y).__name__} of {len(y)} targets, but CustomLoop trains a model with one "
                         "output (one loss compares one y); for several outputs, use model.fit, or concatenate "
                         "them into one output and one y.")


def _target_array(y, x):
    """A batch's y as one array (the targets of several outputs refused, whatever the batches come from)."""
    _one_target(y, _n_rows(x))
    return _as_batch_array(y)


def _check_one_output(model):
    """Refuse a model whose output is a list or dict (even of one tensor): its loss would meet a structure."""
    try:
        output = model.output  # a subclassed model has none to read: its call decides
    except (AttributeError, ValueError):
        return
    if isinstance(output, (list, tuple, dict)):
        raise ValueError(f"model's output is a {type(output).__name__} of {len(output)} tensor(s), but CustomLoop "
                         "trains a model with one output tensor (one loss compares it with one y); for several "
                         "outputs, use model.fit, or concatenate them into one output; for one, return the "
                         "tensor itself: keras.Model(inputs, output).")


def _array_batches(data, batch_size, shuffle, rng):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("data must be (x, y) arrays or an iterable of (x, y) batches.")
    x, y = data
    x = keras.tree.map_structure(np.asarray, x)
    rows = [int(np.shape(a)[0]) for a in keras.tree.flatten(x)]
    if len(set(rows)) > 1:  # model.fit: "Data cardinality is ambiguous"; the extra rows were never trained on
        raise ValueError(f"x's inputs have different numbers of rows {rows}: each needs one row per sample.")
    n = rows[0]
    _one_target(y, n)
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(f"x has {n} rows but y has {len(y)}: they must match.")
    order = rng.permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield _take(x, idx), y[idx]


def _is_arrays(data) -> bool:
    if not (isinstance(data, tuple) and len(data) == 2):
        return False
    return all(hasattr(leaf, "shape") for leaf in keras.tree.flatten(data))


def _numpy(x):
    """A tensor or a Keras variable as NumPy. ``np.array`` on a Keras variable, a torch tensor or a TensorFlow
    one (what ``keras.ops.convert_to_numpy`` does) calls an ``__array__`` without NumPy 2's ``copy`` keyword:
    a DeprecationWarning from every evaluate."""
    x = x.value if isinstance(x, keras.Variable) else x
    if hasattr(x, "detach"):  # torch (whose .numpy() refuses bfloat16)
        x = x.detach().cpu()
        x = x.float() if "bfloat16" in str(x.dtype) else x
    # a copy: torch's .numpy() shares the variable's memory, which reset_metrics() then zeroes
    return np.array(x.numpy()) if hasattr(x, "numpy") else keras.ops.convert_to_numpy(x)


class CustomLoop:
    """Train a Keras model with your own loop, on whichever backend Keras runs.

    Parameters
    ----------
    model : keras.Model
        A built model (``keras.Input`` given, or called once).
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name or instance (``keras.optimizers.get``), which the loop updates.
    loss : str, keras.losses.Loss or callable ``loss(y_true, y_pred)``, default="mse"
        The loss each training step minimizes.
    metrics : list of str or keras.metrics.Metric, optional
        Updated on every training batch and reported as running epoch means.
    clip_norm : float, optional
        Rescale the gradients so that their global L2 norm is at most ``clip_norm``.
    jit_compile : bool, default=True
        Compile the step (``jax.jit`` / ``tf.function``); eager on PyTorch.

    Attributes
    ----------
    stop_training : bool
        Set it to True (e.g. from a hook) to end :meth:`fit` after the current batch.
    """

    def __init__(self, model, optimizer="adam", loss="mse", *, metrics=None, clip_norm=None, jit_compile=True):
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
        if not model.built or not model.trainable_variables:
            raise ValueError("model has no weights yet: give it a keras.Input or call it on a batch first.")
        _check_one_output(model)
        if clip_norm is not None and not (isinstance(clip_norm, numbers.Real) and clip_norm > 0):
            raise ValueError(f"clip_norm must be a positive number or None, got {clip_norm!r}.")
        self.model = model
        self.optimizer = keras.optimizers.get(optimizer)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            raise ValueError(
                "optimizer is a LossScaleOptimizer, which divides the gradients by its loss scale; CustomLoop does "
                "not scale the loss, so the model would barely move. Pass its inner optimizer (mixed_bfloat16 "
                "needs no loss scaling), or train with model.fit, which scales the loss."
            )
        self.loss = _loss_object(loss)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.jit_compile = jit_compile
        self._metric_specs = [metrics] if isinstance(metrics, (str, keras.metrics.Metric)) else list(metrics or [])
        self.metrics = None  # resolved on the first batch (accuracy depends on the shapes)
        self.stop_training = False
        self._train_fn = self._eval_fn = None
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)

    # --------------------------------------------------------------- steps
    def _ensure_metrics(self, x, y):
        if self.metrics is not None:
            return
        if not self._metric_specs:
            self.metrics = []
            return
        y_pred = self.model(x, training=False)
        self.metrics = [_metric_object(m, y, y_pred) for m in self._metric_specs]
        for m in self.metrics:
            if not m.variables:
                # Some metrics create their state on the first update; the compiled JAX
                # step needs it to exist, so make it with one update and reset it.
                m.update_state(y, y_pred)
                m.reset_state()

    def train_step(self, x, y) -> dict:
        """One gradient step on a batch; returns ``{"loss", "grad_norm", <metrics>}`` as floats.

        ``grad_norm`` is the global norm before clipping.
        """
        x = keras.tree.map_structure(_as_batch_array, x)
        y = _target_array(y, x)
        self._ensure_metrics(x, y)
        loss, gnorm = self._step(x, y)
        logs = {"loss": float(loss), "grad_norm": float(gnorm)}
        logs.update(self._metric_results())
        return logs

    def _functions(self):
        if self._train_fn is None:
            from keraslearn.training.loop_backends import step_functions

            self._train_fn, self._eval_fn = step_functions(self)

    def _step(self, x, y):
        self._functions()
        return self._train_fn(x, y)

    def test_step(self, x, y) -> float:
        """The loss on a batch, updating the metrics, without training (see :meth:`evaluate`)."""
        x = keras.tree.map_structure(_as_batch_array, x)
        y = _target_array(y, x)
        self._ensure_metrics(x, y)
        self._functions()
        return float(self._eval_fn(x, y))

    def _metric_results(self) -> dict:
        return {m.name: float(_numpy(m.result())) for m in self.metrics or []}

    def reset_metrics(self):
        for m in self.metrics or []:
            m.reset_state()

    # ---------------------------------------------------------------- loops
    def _batches(self, data, batch_size, shuffle, rng):
        if isinstance(data, tuple) and len(data) == 3 and _is_arrays(data[:2]):
            raise ValueError(_NO_WEIGHTS)  # (x, y, sample_weight) arrays
        if _is_arrays(data):
            yield from _array_batches(data, batch_size, shuffle, rng)
            return
        for batch in data:
            if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
                raise ValueError("each batch of data must be an (x, y) pair; pass arrays as a tuple (x, y).")
            if len(batch) > 2:
                raise ValueError(_NO_WEIGHTS)
            yield batch[0], batch[1]

    def fit(
        self,
        data,
        epochs=1,
        batch_size=32,
        *,
        validation_data=None,
        shuffle=True,
        seed=None,
        on_batch_end=None,
        on_epoch_end=None,
        verbose=0,
    ) -> dict:
        """Run ``epochs`` passes over ``data``; return the history as a dict of per-epoch lists.

        Parameters
        ----------
        data : (x, y) arrays, or an iterable of (x, y) batches
            Arrays (``x`` may be a dict or list for multi-input models) are shuffled and cut
            into ``batch_size`` batches; an iterable (``tf.data.Dataset``, a PyTorch
            ``DataLoader``, a list of batches) is used as it comes, once per epoch.
        epochs : int, default=1
            Passes over ``data``.
        batch_size : int, default=32
            Rows per batch of array data (training and validation); an iterable's own batches are kept.
        validation_data : (x, y) arrays or iterable of batches, optional
            Evaluated after each epoch; reported as ``val_loss``, ``val_<metric>``.
        shuffle : bool, default=True
            Shuffle array rows every epoch (an iterable is used in its own order).
        seed : int or None, default=None
            Seed of that shuffling (NumPy's ``default_rng``).
        on_batch_end : callable ``(step, logs) -> bool | None``, optional
            Called after every batch with the global step and the batch logs; return True
            to stop training.
        on_epoch_end : callable ``(epoch, logs) -> bool | None``, optional
            Called after every epoch with the epoch logs; return True to stop training.
        verbose : int, default=0
            1 prints one line per epoch.
        """
        if not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        rng = np.random.default_rng(seed)
        history: dict[str, list] = {}
        step = 0
        self.stop_training = False
        for epoch in range(epochs):
            self.reset_metrics()
            total = norm_total = 0.0
            seen = n_batches = 0
            for x, y in self._batches(data, batch_size, shuffle, rng):
                x = keras.tree.map_structure(_as_batch_array, x)
                y = _target_array(y, x)
                self._ensure_metrics(x, y)
                loss, gnorm = self._step(x, y)
                n = _n_rows(x)
                loss, gnorm = float(loss), float(gnorm)
                total, norm_total, seen, n_batches = total + loss * n, norm_total + gnorm, seen + n, n_batches + 1
                step += 1
                if on_batch_end is not None:
                    logs = {"loss": loss, "grad_norm": gnorm, **self._metric_results()}
                    if on_batch_end(step, logs):
                        self.stop_training = True
                if self.stop_training:
                    break
            if n_batches == 0:
                raise ValueError(
                    f"data yielded no batches in epoch {epoch + 1}; pass arrays or a re-iterable "
                    "(a list, tf.data.Dataset or DataLoader), not a one-shot generator."
                )
            logs = {"loss": total / seen, "grad_norm": norm_total / n_batches, **self._metric_results()}
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(validation_data, batch_size).items()})
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
            if on_epoch_end is not None and on_epoch_end(epoch, logs):
                self.stop_training = True
            if self.stop_training:
                break
        return history

    def evaluate(self, data, batch_size=32) -> dict:
        """Mean loss and metrics over ``data`` (arrays or batches), without training.

        The training metrics' running state is kept: the next :meth:`train_step` goes on counting
        the training rows only (the validation rows used to be counted in with them).
        """
        made = self.metrics is not None  # else evaluate makes them: they start empty for training
        training_state = [[_numpy(v) for v in m.variables] for m in self.metrics or []]
        self.reset_metrics()
        total, seen = 0.0, 0
        try:
            for x, y in self._batches(data, batch_size, False, None):
                n = _n_rows(x)
                total += self.test_step(x, y) * n
                seen += n
            if seen == 0:
                raise ValueError("validation data yielded no batches.")
            return {"loss": total / seen, **self._metric_results()}
        finally:
            if not made:
                self.reset_metrics()
            for m, values in zip(self.metrics or [], training_state):
                for v, value in zip(m.variables, values):
                    v.assign(value)


def train_loop(
    model,
    optimizer,
    loss_fn,
    data,
    epochs=1,
    batch_size=32,
    *,
    on_batch_end=None,
    on_epoch_end=None,
    clip_norm=None,
    metrics=None,
    validation_data=None,
    shuffle=True,
    seed=None,
    verbose=0,
) -> dict:
    """Train ``model`` with a custom loop (see :class:`CustomLoop`); return the history dict.

    The same call runs on JAX, PyTorch and TensorFlow. ``on_batch_end(step, logs)`` sees
    ``loss``, ``grad_norm`` (before clipping) and the running metrics of each batch.

    Parameters
    ----------
    model : keras.Model
        A built model (``keras.Input`` given, or called once).
    optimizer : str or keras.optimizers.Optimizer
        A Keras optimizer name or instance.
    loss_fn : str, keras.losses.Loss or callable ``loss(y_true, y_pred)``
        The loss each training step minimizes.
    data : (x, y) arrays, or an iterable of (x, y) batches
        The training data (see :meth:`CustomLoop.fit`).
    epochs : int, default=1
        Passes over ``data``.
    batch_size : int, default=32
        Rows per batch of array data; an iterable's own batches are kept.
    on_batch_end : callable ``(step, logs) -> bool | None``, optional
        Called after every batch; return True to stop training.
    on_epoch_end : callable ``(epoch, logs) -> bool | None``, optional
        Called after every epoch; return True to stop training.
    clip_norm : float, optional
        Rescale the gradients so that their global L2 norm is at most ``clip_norm``.
    metrics : list of str or keras.metrics.Metric, optional
        Updated on every training batch and reported as running epoch means.
    validation_data : (x, y) arrays or iterable of batches, optional
        Evaluated after each epoch; reported as ``val_loss``, ``val_<metric>``.
    shuffle : bool, default=True
        Shuffle array rows every epoch (an iterable is used in its own order).
    seed : int or None, default=None
        Seed of that shuffling.
    verbose : int, default=0
        1 prints one line per epoch.

    Returns
    -------
    dict
        Per-epoch lists: ``loss``, ``grad_norm``, the metrics and their ``val_`` counterparts.
    """
    loop = CustomLoop(model, optimizer, loss_fn, metrics=metrics, clip_norm=clip_norm)
    return loop.fit(
        data,
        epochs,
        batch_size,
        validation_data=validation_data,
        shuffle=shuffle,
        seed=seed,
        on_batch_end=on_batch_end,
        on_epoch_end=on_epoch_end,
        verbose=verbose,
    )
