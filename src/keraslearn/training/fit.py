"""How every learner trains: one place for the fit policy."""

from __future__ import annotations

import contextlib
import copy
import numbers
import random
import sys
import threading

import keras
import numpy as np

from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn._user_warnings import warn_user
from keraslearn.training.devices import prepare_for_devices
from keraslearn.training.groups import groups_fed
from keraslearn.training.interrupts import interrupts_kept
from keraslearn.training.jax_state import lean_state
from keraslearn.training.memory import KERAS_RANDOM
from keraslearn.training.padding import pad_rows, pads_exactly
from keraslearn.training.progress import RichProgress, bars_closed_on_error
from keraslearn.training.split import (early_stopping_split, split_in_place, split_seed, take_rows,
                                       validation_multiple, weighed_split)
from keraslearn.training.symbolic_build import build_from_outputs


def seed_everything(random_state) -> int | None:
    """Seed Python, NumPy and Keras from ``random_state`` (None leaves them alone)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed < 2**32:  # NumPy's seed range
            raise ValueError(f"random_state must be between 0 and 2**32 - 1; got {random_state!r}.")
    else:
        raise ValueError(f"random_state must be None, an int or a numpy RandomState; got {random_state!r}.")
    _set_random_seed(seed)
    random.seed(seed)
    return seed


def global_rng_state() -> tuple[dict, dict]:
    """NumPy's, Python's and (on torch) torch's global random state: JSON-safe parts and arrays.

    A fit checkpoint stores it; :func:`global_random_state_kept` gives it back after a fit.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
    }
    arrays = {}
    if keras.backend.backend() == "torch":  # Keras shuffles with torch's global generator there
        import torch

        arrays["rng_torch"] = torch.get_rng_state().numpy()
    return state, arrays


def set_global_rng_state(state: dict, arrays: dict):
    """Restore what :func:`global_rng_state` returned."""
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "rng_torch" in arrays and keras.backend.backend() == "torch":
        import torch

        torch.set_rng_state(torch.from_numpy(arrays["rng_torch"].copy()))


#: Seeded fits run one at a time in a process. Keras draws its layers' seeds from Python's
#: process-wide generator and shuffles with NumPy's (torch's on torch), so two seeded fits in two
#: threads (joblib's threading backend, or the threads joblib nests inside a loky worker, as
#: StackingClassifier's cross_val_predict does) would interleave their draws: neither would repeat,
#: and restoring the caller's state from two threads would lose it. Re-entrant: a fit may call one.
_SEEDED_FIT = threading.RLock()


@contextlib.contextmanager
def global_random_state_kept(keep: bool = True):
    """Give back NumPy's, Python's and (on torch) torch's global random state when the block ends.

    A fit with a ``random_state`` seeds them, so that Keras' shuffles and initializers repeat;
    the caller's own draws after the fit must go on as if it had not run, as with any
    scikit-learn estimator. ``keep=False`` (a fit without ``random_state``) leaves them alone:
    such a fit draws from the global generators, so that two of them differ. A kept block holds
    ``_SEEDED_FIT`` (see there): seeded fits in threads run one after the other.
    """
    if not keep:
        yield
        return
    with _SEEDED_FIT:
        torch = sys.modules.get("torch") if keras.backend.backend() == "torch" else None
        cuda = torch is not None and torch.cuda.is_initialized()  # torch.manual_seed seeds the GPUs too
        saved = global_rng_state()
        saved_cuda = torch.cuda.get_rng_state_all() if cuda else None
        from keras.src.backend.common import global_state

        # keras.utils.set_random_seed's seed, and the keras.random stream it started (seeding the fit resets it)
        keras_seed = [global_state.get_global_attribute(name) for name in KERAS_RANDOM]
        try:
            yield
        finally:
            set_global_rng_state(*saved)
            for name, value in zip(KERAS_RANDOM, keras_seed):
                global_state.set_global_attribute(name, value)
            if cuda:
                torch.cuda.set_rng_state_all(saved_cuda)


def _set_random_seed(seed: int):
    """``keras.utils.set_random_seed`` without importing TensorFlow when nothing uses it.

    Keras imports TensorFlow (seconds, hundreds of MB) just to seed it whenever it is
    installed; we seed it only when it is the backend or already imported.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:  # a Keras without these internals: its own (slower) function
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute("global_random_seed", seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


class FiniteEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping, whose best epoch has a finite monitored value.

    Keras takes the first epoch as the best one whatever its value; a NaN (validation rows the loss
    cannot score) is then never beaten, and every later epoch's training was discarded at the end,
    silently. Until an epoch has a finite value, epochs are neither compared nor counted.
    """

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._warmup_best = self._last = None

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is not None:
            self._last = current
        if current is not None and epoch < self.start_from_epoch and np.isfinite(current) and (
                self._warmup_best is None or current < self._warmup_best[0]):
            # Not judged yet (see warmup_epochs), but kept should the loss turn NaN before judging starts.
            self._warmup_best = (current, epoch, self.model.get_weights())
        if current is not None and self.best is None and not np.isfinite(current):
            return
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        last = getattr(self, "_last", None)
        if last is not None and not np.isfinite(last):
            self.diverged_weights()
        super().on_train_end(logs)

    def diverged_weights(self):
        """The weights to keep once the loss turned NaN: the best judged epoch's, else (diverged before any
        epoch was judged) the warm-up's best finite epoch's, which become the best; None without either."""
        warmup_best = getattr(self, "_warmup_best", None)  # None too in a fit resumed from a checkpoint
        if self.best_weights is None and warmup_best is not None:
            self.best, self.best_epoch, self.best_weights = warmup_best
        return self.best_weights


def policy_callbacks(early_stopping: bool, validated: bool, patience: int, verbose, epochs: int, start_from_epoch=0):
    """The fit policy's own callbacks and its EarlyStopping (or None): early stopping on ``val_loss``
    (``loss`` without validation rows) restoring the best weights, judging from ``start_from_epoch`` (see
    :func:`warmup_epochs`), then the progress bar at verbose=1, which says at the end which epoch early
    stopping kept."""
    cbs, stopper = [], None
    if early_stopping:
        monitor = "val_loss" if validated else "loss"
        stopper = FiniteEarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True,
                                      start_from_epoch=start_from_epoch)
        cbs.append(stopper)
    if int(verbose) == 1:
        cbs.append(RichProgress(epochs, stopper=stopper))
    return cbs, stopper


def warmup_epochs(warmup_steps: int, n_train: int, batch_size: int) -> int:
    """The first epoch early stopping judges: the one that ends once the network has taken ``warmup_steps``
    optimizer steps (batches of ``batch_size`` of ``n_train`` rows), 0 for a table of that many batches.

    On a table of a few dozen rows (one batch an epoch) the validation rows are two or three, and their loss
    after the first epochs, when the network has barely moved, can be the lowest by chance: early stopping
    then restored a barely trained network (R's mtcars: one fold restored epoch 1, R² −1.8). Judged from
    60 steps on, FF scored +0.033 R² or accuracy on 16 small R tables (21-578 rows, 3 × 5-fold CV), losing
    none by more than 0.005; tables of 15,360 training rows and more (60 batches of 256 an epoch) are unchanged.
    """
    steps = -(-max(1, n_train) // max(1, min(batch_size, n_train)))
    return max(0, -(-warmup_steps // steps) - 1)


_CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")


def compile_model(model, *, optimizer="adam", learning_rate=1e-3, loss="mse", metrics=None, weight_decay=None,
                  global_clipnorm=None):
    """Compile with a fresh optimizer built from its Keras name (or a Keras optimizer to copy).

    ``global_clipnorm`` clips the gradients, unless an optimizer instance clips them its own way.
    """
    # Keras refuses an int learning rate ("should be float"): learning_rate=1 means 1.0.
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        learning_rate = float(learning_rate)
    if isinstance(weight_decay, numbers.Real) and not isinstance(weight_decay, bool):
        weight_decay = float(weight_decay)
    if isinstance(optimizer, keras.optimizers.Optimizer):
        with keras_warnings_ignored():
            config = optimizer.get_config()
            if learning_rate is not None:  # in the config: a schedule's learning rate cannot be set afterwards
                config["learning_rate"] = learning_rate
            if global_clipnorm is not None and all(config.get(k) is None for k in _CLIPPING):
                config["global_clipnorm"] = float(global_clipnorm)
            opt = optimizer.__class__.from_config(config)
    else:
        config = {} if learning_rate is None else {"learning_rate": learning_rate}
        if weight_decay is not None:
            config["weight_decay"] = weight_decay
        if global_clipnorm is not None:
            config["global_clipnorm"] = float(global_clipnorm)
        try:
            opt = keras.optimizers.get({"class_name": optimizer, "config": config})
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"optimizer={optimizer!r} is not a Keras optimizer name; use e.g. 'adam', 'adamw', "
                "'sgd', 'rmsprop', 'nadam', or a keras.optimizers.Optimizer instance."
            ) from err
    jit = "auto"
    model.compile(optimizer=opt, loss=loss, metrics=metrics or None, jit_compile=jit)
    return model


class _StopOnNaN(keras.callbacks.Callback):
    """Ends training after an epoch whose loss is NaN or infinite: no later epoch recovers from it.

    Per epoch, not per batch as ``keras.callbacks.TerminateOnNaN``: that would read the loss back
    after every compiled call. Early stopping, when on, then restores its best epoch's weights.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.model.stop_training = True


def _advice() -> str:
    """What to try after a divergence; first, weights kept in half precision, if the user's Keras set that."""
    advice = "Lower learning_rate, keep the features scaled (scaling='standard'), or check y for extreme values."
    policy = keras.config.dtype_policy()
    if policy.variable_dtype in ("float16", "bfloat16"):
        advice = (f"Keras' dtype policy is {policy.name!r} (keras.config.floatx or set_dtype_policy), which keeps "
                  "the weights in half precision, too coarse to train them: use 'float32' or a mixed policy such as "
                  f"'mixed_{policy.variable_dtype}'. Or: " + advice[0].lower() + advice[1:])
    return advice


class DivergedError(ValueError):
    """Training left a model that predicts NaN or inf."""


def _warn_if_diverged(model, history, x):
    """Warn when the loss became NaN or inf; raise :class:`DivergedError` when the model's outputs did too
    (scikit-learn's MLP raises on non-finite weights): a classifier would label every row as the first class."""
    first = {k: next((i for i, v in enumerate(history.get(k, [])) if not np.isfinite(v)), None)
             for k in ("loss", "val_loss")}
    if first["loss"] is None and first["val_loss"] is None:
        return
    from sklearn.exceptions import ConvergenceWarning

    key = min((k for k in first if first[k] is not None), key=lambda k: first[k])
    epoch = first[key]
    said = f"Training diverged: {key} became {history[key][epoch]} in epoch {epoch + 1}"
    # Finite weights can still overflow (a learning rate of 1e30 leaves them near 1e30): ask the model.
    with keras_warnings_ignored():
        outputs = [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(model(take_rows(x, slice(0, 64)),
                                                                                   training=False))]
    if not all(np.isfinite(o).all() for o in outputs):
        raise DivergedError(f"{said}, and the model predicts NaN or inf, so the learner is left as it was before "
                            f"fit. {_advice()}")
    if first["loss"] is None:  # training went on: the validation rows are what the model cannot score
        warn_user(f"val_loss became {history['val_loss'][epoch]} in epoch {epoch + 1} while the training loss "
                  "stayed finite: the validation rows hold values the loss cannot score (check y_val and X_val "
                  "for extreme values); early stopping cannot compare such epochs, and never keeps one of them.")
        return
    if "val_loss" in history and not np.isfinite(history["val_loss"]).any():  # no epoch early stopping could keep
        raise DivergedError(f"{said}, and no epoch's val_loss was finite, so no earlier epoch can be kept: the "
                            f"learner is left as it was before fit. {_advice()}")
    epoch = first["loss"]
    if epoch == 0:
        then = "training stopped there, so the model has not learned (check that the loss suits y)"
    else:
        then = "training stopped there, and the model keeps the weights of its best earlier epoch"
    warn_user(f"Training diverged: loss became {history['loss'][epoch]} in epoch {epoch + 1}; {then}. {_advice()}",
              ConvergenceWarning)


def _after_torch_nan(err: RuntimeError, model, stopper):
    """The history of a fit that PyTorch's binary cross-entropy stopped mid-epoch (it refuses NaN
    probabilities with a RuntimeError of its own): as on the other backends, the model keeps the weights
    of its best earlier epoch when early stopping has them, and the history ends with the NaN epoch;
    without them the fit diverged."""
    if "input should be between 0 and 1" not in str(err):
        raise err
    history, best = getattr(model, "history", None), None if stopper is None else stopper.diverged_weights()
    if history is None or best is None:
        raise DivergedError("Training diverged: the model's outputs became NaN (PyTorch's binary cross-entropy "
                            f"refused them), so the learner is left as it was before fit. {_advice()}") from None
    model.set_weights(best)
    for values in history.history.values():
        values.append(float("nan"))
    return history


def copied_callback(callback):
    """A deep copy of a user's callback, as ``clone`` copies every parameter; shallow where it holds what
    cannot be copied (a CSVLogger used once keeps its closed file, which deepcopy refuses)."""
    try:
        return copy.deepcopy(callback)
    except Exception as deep:
        return _shallow_copy(callback, deep)


def fit_callback(callback):
    """The callback one fit attaches: a shallow copy of the user's, so that the model it is given and what it
    sets on itself stay off the learner's parameter, while what it refers to (a list it appends to, a logger, a
    tracker) is the user's own, as in Keras' ``fit``."""
    return _shallow_copy(callback)


def _shallow_copy(callback, why=None):
    try:
        return copy.copy(callback)
    except Exception as err:
        why = why or err
        raise TypeError(f"callbacks are copied for each fit, and {type(callback).__name__} cannot be copied "
                        f"({type(why).__name__}: {why}); pass a fresh instance.") from None


def _check_tensorboard(callbacks):
    """Keras' TensorBoard callback writes through TensorFlow's summaries, which need the tensorboard
    package: without it the fit failed after its first epoch with TensorFlow's TBNotInstalledError."""
    import importlib.util

    if any(isinstance(cb, keras.callbacks.TensorBoard) for cb in callbacks):
        missing = [m for m in ("tensorboard", "tensorflow") if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"keras.callbacks.TensorBoard writes its logs with {' and '.join(missing)}, which "
                             f"is not installed: pip install {' '.join(missing)} (or leave the callback out).")


def _check_monitors(callbacks, model, validated: bool):
    """A callback watching a value the fit never logs fails now, naming the values it does log."""
    # A user's compiled metrics: their names are known only once the model runs, but no val_ value is logged
    # without validation rows.
    metrics = "compile_metrics" in [m.name for m in model.metrics]
    logged = ["loss", "val_loss"] if validated else ["loss"]
    for cb in callbacks:
        monitor = getattr(cb, "monitor", None)
        if isinstance(cb, keras.callbacks.ModelCheckpoint) and not cb.save_best_only:
            continue  # saves every epoch: its monitor is never read
        if not isinstance(monitor, str) or monitor in logged or getattr(cb, "monitor_falls_back", False):
            continue
        if metrics and (validated or not monitor.startswith("val_")):
            continue
        if monitor.startswith("val_") and (metrics or monitor == "val_loss"):  # not validated, here
            base = monitor[len("val_"):]
            fix = (f"There are no validation rows: set validation_fraction > 0 (or pass X_val and y_val), or "
                   f"monitor {base!r}.")
        else:
            fix = ("keraslearn's learners compile no metrics: monitor one of those, or compile the model with "
                   "metrics=[...] in a KerasClassifier/KerasRegressor build function.")
        logs = " and ".join(logged) + (" and the model's compiled metrics" if metrics else "")
        raise ValueError(f"{type(cb).__name__}(monitor={monitor!r}) watches a value this fit does not log; it logs "
                         f"{logs}. {fix}")


def _fed(model, batch_size, verbose, n_rows, callbacks):
    """Keras' batch size and callbacks for this fit: groups of batches for grouped JAX steps (training.groups),
    except under Keras' own per-epoch lines (verbose >= 2), which count and time its steps."""
    if verbose >= 2:
        return contextlib.nullcontext((batch_size, callbacks))
    return groups_fed(model, batch_size, n_rows, callbacks)


def fit_model(
    model,
    x,
    y,
    sample_weight=None,
    *,
    epochs=100,
    batch_size=256,
    validation_fraction=0.1,
    early_stopping=True,
    patience=10,
    callbacks=None,
    verbose=0,
    seed=None,
    stratify=None,
    checkpoint=None,
    owns_x=False,
    held_out=None,
    split=None,
    warmup_steps=0,
):
    """Fit a compiled model with the keraslearn policy; return the history as a dict of lists.

    A shuffled (stratified for classifiers) ``validation_fraction`` of rows is held out;
    early stopping watches ``val_loss`` (``loss`` without a validation set) and restores
    the best weights. Each fit attaches a shallow copy of each user callback (:func:`fit_callback`).
    ``checkpoint`` (a :class:`~keraslearn.training.checkpoint.FitCheckpoint`) saves the
    training state after each epoch and resumes from it; it is removed once the fit ends.
    ``owns_x``: the caller made the arrays of ``x`` for this fit and does not read them
    afterwards, so their rows may be reordered in place to hold out the validation rows.
    ``held_out``: the last rows of ``x``/``y``/``sample_weight`` are the validation rows
    (the user's ``X_val``); ``validation_fraction`` is then not used.
    ``split``: the ``(train_idx, val_idx)`` rows of ``validation_fraction`` the caller already drew (with
    ``seed``, and ``checkpoint``'s seed when resuming); ``val_idx`` is None for no validation rows.
    ``warmup_steps``: optimizer steps before early stopping judges an epoch (:func:`warmup_epochs`).
    """
    watch_val = True  # whether early stopping watches val_loss (else loss)
    if held_out:  # slices: the training and validation rows are views, no copy
        train_idx, val_idx = slice(0, len(y) - held_out), slice(len(y) - held_out, None)
    else:
        if split is None:
            if checkpoint is not None:
                seed = checkpoint.split_seed(seed)  # a resumed fit must hold out the same rows
            elif validation_fraction:
                seed = split_seed(seed)
            split = early_stopping_split(len(y), validation_fraction, stratify, seed, early_stopping)
        train_idx, val_idx = split
        watch_val = weighed_split(sample_weight, train_idx, val_idx, validation_fraction, early_stopping)
    validation_data = None
    if val_idx is not None:
        if owns_x and isinstance(x, dict) and not held_out:
            parts = {k: split_in_place(v, train_idx, val_idx) for k, v in x.items()}
            x, vx = {k: p[0] for k, p in parts.items()}, {k: p[1] for k, p in parts.items()}
        else:
            vx, x = take_rows(x, val_idx), take_rows(x, train_idx)
        validation_data = (vx, take_rows(y, val_idx))
        if sample_weight is not None:
            validation_data += (take_rows(sample_weight, val_idx),)
        y, sample_weight = take_rows(y, train_idx), take_rows(sample_weight, train_idx)
    cbs = [fit_callback(cb) for cb in (callbacks or [])] + [_StopOnNaN()]
    _check_tensorboard(cbs)
    _check_monitors(cbs, model, validation_data is not None)
    batch_size = int(max(1, min(batch_size, len(y))))
    policy, stopper = policy_callbacks(early_stopping, validation_data is not None and watch_val, patience, verbose,
                                       epochs, warmup_epochs(warmup_steps, len(y), batch_size))
    cbs += policy
    initial_epoch = 0
    if checkpoint is not None:
        initial_epoch = checkpoint.attach(cbs, epochs, stopper)  # last in cbs: after early stopping
    if sample_weight is None and keras.backend.backend() == "jax":
        # Weights of 1 change no loss or metric; with them an epoch's last, smaller batch can
        # be topped up to a full one and run in the compiled scan (training.padding.top_up).
        sample_weight = np.ones(len(y), dtype="float32")
    if validation_data is not None and keras.backend.backend() == "jax" and pads_exactly(model):
        vx, vy, *vw = validation_data
        multiple = validation_multiple(len(vy), batch_size)
        validation_data = pad_rows(vx, vy, vw[0] if vw else None, multiple, rescale=True)
    x, y, sample_weight, validation_data, batch_size = prepare_for_devices(
        x, y, sample_weight, validation_data, batch_size
    )
    build_from_outputs(model, y, batch_size)  # a known structure: Keras need not trace it to build its loss
    # lean_state: Keras' per-epoch variable hand-over without re-listing. Keras on torch turns its
    # variables into arrays during fit, with numpy 2's deprecation warning each time.
    try:
        with lean_state(model), keras_warnings_ignored(), bars_closed_on_error(cbs), interrupts_kept(cbs), \
                _fed(model, batch_size, verbose, len(y), cbs) as (keras_batch_size, fit_callbacks):
            history = model.fit(
                x,
                y,
                sample_weight=sample_weight,
                batch_size=keras_batch_size,
                validation_batch_size=batch_size,
                epochs=epochs,
                initial_epoch=initial_epoch,
                validation_data=validation_data,
                callbacks=fit_callbacks,
                shuffle=True,
                verbose=2 if verbose >= 2 else 0,
            )
    except RuntimeError as err:
        history = _after_torch_nan(err, model, stopper)
    if checkpoint is not None:
        history.history = checkpoint.finish(history.history)
    out = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    _warn_if_diverged(model, out, x)
    return out
