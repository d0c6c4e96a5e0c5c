"""Resumable fits: an atomic epoch-level checkpoint of everything training needs to go on.

``learner.fit(X, y, checkpoint_dir=d)`` writes ``d/keraslearn-checkpoint.zip`` at the end of
an epoch once ``WRITE_EVERY_S`` seconds have passed since the last write (and at the first, the
last and the stopping epoch) and, when a fit with the same data and parameters finds it there (the
process died), continues from the epoch written last. The file holds

- every model variable (weights, non-trainable state, dropout seed-generator state) and
  every optimizer variable (moments, iteration count, hence learning-rate schedules);
- the epoch count, the history so far, the early-stopping state (best value, patience
  counter, best weights) and whether early stopping had already stopped;
- NumPy's, Python's and (on torch) torch's global random state (Keras shuffles each epoch
  with NumPy on JAX and TensorFlow, with torch on torch), so a resumed fit trains exactly as
  an uninterrupted one would have;
- the validation-split seed (drawn once when ``random_state`` is None);
- a fingerprint of the learner class, its parameters, the backend and the encoded data.

Why not ``keras.callbacks.BackupAndRestore``: it writes ``latest.weights.h5`` in place and
then ``training_metadata.json`` separately, so a kill mid-write leaves a truncated file or
weights of one epoch with the epoch number of another; and it keeps neither the
early-stopping state, the history nor the random state. Here each epoch's checkpoint is
one zip written to a temporary file in the same folder, flushed to disk and moved over the
old one with :func:`os.replace`: the path always holds a complete checkpoint or nothing.

Nothing in the file is pickled: JSON and ``.npz`` read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import time
import zipfile

import keras
import numpy as np

from keraslearn._atomic import atomic_file, temp_files
from keraslearn._keras_warnings import keras_warnings_ignored
from keraslearn.training.fit import global_rng_state, set_global_rng_state
from keraslearn.training.split import split_seed

FILENAME = "keraslearn-checkpoint.zip"
_TEMP_PREFIX = ".keraslearn-checkpoint-"  # its writes' temp files, which a finished fit removes
FORMAT_VERSION = 1
#: Seconds between checkpoint writes: a write (fsync included) takes ~25 ms, 5× a small tabular
#: epoch; a kill then loses at most about this much training, which the resumed fit redoes exactly.
WRITE_EVERY_S = 1.0
# Learner parameters that change how a fit reports, not what it computes.
# warm_start: a warm start is told apart by the weights it starts from (fingerprint's start).
_NOT_FINGERPRINTED = ("verbose", "callbacks", "warm_start")


# ------------------------------------------------------------------- fingerprint
def _param_text(value):
    """A stable text of a parameter value (objects by class and config, never by address)."""
    if isinstance(value, (keras.optimizers.Optimizer, keras.losses.Loss)):
        with keras_warnings_ignored():
            config = value.get_config()
        # Not its automatic name: a second Adam() of a process is "adam_1", the same optimizer.
        return {"class": type(value).__qualname__, "config": {k: v for k, v in config.items() if k != "name"}}
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


class Fingerprint(str):
    """The fingerprint's hex digest, with ``parts``: what went into it, in JSON, so that a refused
    checkpoint can say what differs (a parameter's two values, which data)."""

    parts: dict


def fingerprint(learner, x, y, sample_weight, held_out=None, params=None, start=None) -> Fingerprint:
    """SHA-256 of what makes a checkpoint valid for a fit: class, parameters, backend, data.

    ``x``, ``y`` and ``sample_weight`` are the encoded training arrays; call it after the
    learner encoded its target (``classes_`` / ``y_mean_`` are part of the data).
    ``held_out``: how many of their last rows are the user's validation rows. ``params``: instead of the
    learner's. ``start``: the weights a warm-started fit starts from (a list of arrays).
    """
    h = hashlib.sha256()
    given = params is not None
    if not given:
        params = {k: v for k, v in learner.get_params(deep=False).items() if k not in _NOT_FINGERPRINTED}
    head = {
        "format": FORMAT_VERSION,
        "class": f"{type(learner).__module__}.{type(learner).__qualname__}",
        "params": params,
        "backend": keras.backend.backend(),
        # The encoded target hides a shift or rescaling of y (it is standardized) and a renaming
        # of classes: the fitted target attributes tell those apart.
        "target": {
            name: np.asarray(getattr(learner, name)).tolist()
            for name in ("classes_", "y_mean_", "y_scale_")
            if hasattr(learner, name)
        },
    }
    if held_out is not None:  # absent otherwise: checkpoints written before X_val existed stay valid
        head["held_out"] = held_out
    text = json.dumps(head, sort_keys=True, default=_param_text)
    h.update(text.encode())
    described = json.loads(text)
    parts = sorted(x.items()) if isinstance(x, dict) else [("x", x)]
    parts += [("y", y), ("sample_weight", sample_weight)]
    parts += [(f"start{i}", w) for i, w in enumerate(start or ())]  # none for a fresh fit: its digests stay
    data = described["data"] = {}
    for name, arr in parts:
        h.update(name.encode())
        if arr is None:
            h.update(b"<none>")
            data[name] = None
            continue
        arr = np.ascontiguousarray(arr)
        kind = f"{arr.dtype.str}{arr.shape}".encode()
        part = hashlib.sha256(kind)
        h.update(kind)
        h.update(arr)  # the array's buffer, not a copy
        part.update(arr)
        data[name] = part.hexdigest()
    described["params"] = {k: json.dumps(v, sort_keys=True) for k, v in described["params"].items()}
    described["target"] = hashlib.sha256(json.dumps(described["target"], sort_keys=True).encode()).hexdigest()
    out = Fingerprint(h.hexdigest())
    out.parts = described
    if not given and params.get("batch_size") == "auto":  # the default since 2026-11-24; 256 before
        out.before_auto = functools.partial(fingerprint, learner, x, y, sample_weight, held_out,
                                            {**params, "batch_size": 256})
    return out


def _changed(name: str, old: str, new: str) -> str:
    """A parameter's two values (JSON texts) in words; of an optimizer or loss object, the settings
    that differ."""
    a, b = json.loads(old), json.loads(new)
    if isinstance(a, dict) and isinstance(b, dict) and a.get("class") == b.get("class") and "config" in a:
        a, b = a["config"], b.get("config") or {}
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        return "; ".join(f"{name} {k} {_shown(a.get(k))} in the checkpoint, {_shown(b.get(k))} now" for k in keys)
    return f"{name} {old} in the checkpoint, {new} now"


def _shown(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else json.dumps(value)  # float32 settings: 0.001


def _differences(then: dict, now: dict) -> str:
    """What differs between the fit that wrote a checkpoint and this one, in words ("" if unknown)."""
    said = []
    if then.get("class") != now.get("class"):
        said.append(f"it is a checkpoint of {str(then.get('class')).rsplit('.', 1)[-1]}, not of "
                    f"{str(now.get('class')).rsplit('.', 1)[-1]}")
    if then.get("backend") != now.get("backend"):
        said.append(f"it was written on the {then.get('backend')} backend, this fit runs on {now.get('backend')}")
    old, new = then.get("params", {}), now.get("params", {})
    changed = [_changed(k, old[k], new[k]) for k in sorted(new) if k in old and old[k] != new[k]]
    if changed and then.get("class") == now.get("class"):
        said.append("parameters differ: " + "; ".join(changed))
    if then.get("held_out") != now.get("held_out"):
        said.append("its X_val held other rows" if then.get("held_out") and now.get("held_out")
                    else "one fit had X_val, the other not")
    data_then, data_now = then.get("data", {}), now.get("data", {})
    data = [k for k in sorted(data_now) if data_then.get(k, "?") != data_now[k]]
    if data or then.get("target") != now.get("target"):
        which = sorted({k if k in ("y", "sample_weight") else "X_val, y_val" if k.startswith("validation")
                        else "X" for k in data})
        which = which or ["y"]  # the same encoded codes, other classes or target scaling
        if now.get("held_out"):  # the user's validation rows are part of the fingerprinted arrays
            which = [{"X": "X or X_val", "y": "y or y_val"}.get(w, w) for w in which]
        said.append("the training data differ (" + ", ".join(which) + ")")
    return "; ".join(said)


# --------------------------------------------------------------------- the file
class FitCheckpoint:
    """The checkpoint of one fit in ``directory``: read once at the start, written at epoch ends.

    Raises ValueError when the folder holds a checkpoint of another fit (other data,
    parameters, learner or backend) or a file that is not a keraslearn checkpoint: a
    checkpoint is never silently reused for, nor silently overwritten by, a different fit.
    """

    def __init__(self, directory, fingerprint: str):
        self.directory = os.fspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise ValueError(f"checkpoint_dir {self.directory!r} is a file; pass a folder (it is created if missing).")
        self.path = os.path.join(self.directory, FILENAME)
        self.fingerprint = fingerprint
        self.state = None
        self.arrays = {}
        if os.path.exists(self.path):
            self._read()
        else:  # a place it cannot write fails now, not after the first epoch has trained
            from keraslearn._atomic import check_writable

            check_writable(self.path)

    def _read(self):
        try:
            with zipfile.ZipFile(self.path) as z:
                state = json.loads(z.read("state.json"))
                with np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
            raise ValueError(
                f"{self.path} is not a readable keraslearn checkpoint ({err}); delete it or pass another "
                "checkpoint_dir."
            ) from err
        if state.get("format_version") != FORMAT_VERSION or state.get("fingerprint") != self.fingerprint:
            what = _differences(state.get("fingerprint_parts") or {}, getattr(self.fingerprint, "parts", {}))
            what = f" ({what})" if what and "fingerprint_parts" in state else (
                " (other data, parameters, learner class or Keras backend)")
            before_auto = getattr(self.fingerprint, "before_auto", None)
            if "fingerprint_parts" not in state and before_auto and state.get("fingerprint") == before_auto():
                what = (" (written before batch_size's default became \"auto\", when it was 256: pass "
                        "batch_size=256 to resume it)")
            raise ValueError(
                f"checkpoint_dir {self.directory!r} holds a checkpoint of a different fit{what}, so it "
                "cannot be resumed here. A checkpoint_dir "
                "serves one fit: give each fit (each CV fold, each trial) its own folder, or delete "
                f"{self.path} to start afresh."
            )
        self.state, self.arrays = state, arrays

    @property
    def resuming(self) -> bool:
        return self.state is not None

    @property
    def epoch(self) -> int:
        """Epochs completed before this fit (0 when starting afresh)."""
        return int(self.state["epoch"]) if self.state else 0

    @property
    def stopped(self) -> bool:
        """Whether early stopping had already ended the interrupted fit."""
        return bool(self.state and self.state.get("stopped"))

    @property
    def history(self) -> dict:
        return {k: list(v) for k, v in self.state["history"].items()} if self.state else {}

    def split_seed(self, seed):
        """The validation-split seed: ``seed``, else the one the interrupted fit drew, else a new one."""
        if seed is None and self.state and self.state.get("split_seed") is not None:
            seed = int(self.state["split_seed"])
        self._split_seed = seed = split_seed(seed)
        return seed

    def attach(self, callbacks: list, epochs: int, early_stopping=None) -> int:
        """Append the checkpoint callback to ``callbacks``; return the ``initial_epoch`` for fit.

        It goes last: it restores ``early_stopping``'s state after that callback resets it
        and saves it after that callback updates it.
        """
        callbacks.append(_CheckpointCallback(self, early_stopping))
        return epochs if self.stopped else min(self.epoch, epochs)

    def finish(self, history: dict) -> dict:
        """The whole history (before and after the interruption); the checkpoint is removed."""
        past = self.history
        merged = {k: past.get(k, []) + list(v) for k, v in history.items()} or past
        self.remove()
        return merged

    def write(self, state: dict, arrays: dict):
        """Replace the checkpoint atomically: temp file in the same folder, fsync, rename."""
        state = dict(state, format_version=FORMAT_VERSION, fingerprint=self.fingerprint,
                     fingerprint_parts=getattr(self.fingerprint, "parts", None))
        state["split_seed"] = getattr(self, "_split_seed", None)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        with atomic_file(self.path, prefix=_TEMP_PREFIX) as f, \
                zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("state.json", json.dumps(state))
            z.writestr("arrays.npz", buf.getvalue())

    def remove(self):
        """Delete the checkpoint, and the temp files of writes a kill cut short, and the folder, when nothing
        else is in it."""
        if os.path.exists(self.path):
            os.remove(self.path)
        for path in temp_files(self.directory, _TEMP_PREFIX):  # its own, not another save's
            with contextlib.suppress(OSError):
                os.remove(path)
        try:
            os.rmdir(self.directory)
        except OSError:
            pass  # the folder holds other files: they are the user's


class _CheckpointCallback(keras.callbacks.Callback):
    """Restores the checkpoint at train begin and writes one at epoch ends (at most every ``WRITE_EVERY_S``).

    It must come after the EarlyStopping callback in the list: EarlyStopping resets its
    state in ``on_train_begin`` (restored here afterwards) and updates it in
    ``on_epoch_end`` (saved here afterwards).
    """

    _ES_FIELDS = ("wait", "stopped_epoch", "best", "best_epoch")

    def __init__(self, checkpoint: FitCheckpoint, early_stopping=None):
        super().__init__()
        self.checkpoint = checkpoint
        self.early_stopping = early_stopping
        self.logs = checkpoint.history
        self._written_at = None  # time.monotonic() of the last write

    def on_train_begin(self, logs=None):
        ck = self.checkpoint
        if not ck.resuming:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self._assign(model.variables, ck.arrays, "model")
        if model.optimizer is not None:
            self._assign(model.optimizer.variables, ck.arrays, "optimizer")
        es = self.early_stopping
        if es is not None and ck.state.get("early_stopping"):
            for field, value in ck.state["early_stopping"].items():
                setattr(es, field, value)
            n_best = ck.state.get("n_best_weights")
            if n_best is not None:
                es.best_weights = [ck.arrays[f"best_{i}"] for i in range(n_best)]
        set_global_rng_state(ck.state["rng"], ck.arrays)

    def _assign(self, variables, arrays, prefix):
        saved = [k for k in arrays if k.startswith(prefix + "_")]
        if len(saved) != len(variables):
            raise ValueError(
                f"{self.checkpoint.path} holds {len(saved)} {prefix} variables but the model has "
                f"{len(variables)}; delete it or pass another checkpoint_dir."
            )
        values = [arrays[f"{prefix}_{i}"] for i in range(len(variables))]
        for v, value in zip(variables, values):
            if tuple(v.shape) != value.shape:
                raise ValueError(
                    f"{self.checkpoint.path} holds a {prefix} variable of shape {value.shape} where the "
                    f"model has {v.path} of shape {tuple(v.shape)}: it is a checkpoint of another model. "
                    "Delete it or pass another checkpoint_dir."
                )
        for v, value in zip(variables, values):
            v.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.logs.setdefault(k, []).append(float(v))
        model = self.model
        now = time.monotonic()
        final = model.stop_training or epoch + 1 >= self.params.get("epochs", 0)
        if self._written_at is not None and now - self._written_at < WRITE_EVERY_S and not final:
            return
        self._written_at = now
        arrays = {f"model_{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.variables)}
        if model.optimizer is not None:
            arrays.update(
                {f"optimizer_{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.optimizer.variables)}
            )
        rng, rng_arrays = global_rng_state()
        arrays.update(rng_arrays)
        state = {
            "epoch": epoch + 1,
            "stopped": bool(model.stop_training),
            "history": self.logs,
            "rng": rng,
        }
        es = self.early_stopping
        if es is not None:
            state["early_stopping"] = {f: _json_number(getattr(es, f)) for f in self._ES_FIELDS}
            if es.best_weights is not None:
                state["n_best_weights"] = len(es.best_weights)
                arrays.update({f"best_{i}": np.asarray(w) for i, w in enumerate(es.best_weights)})
        self.checkpoint.write(state, arrays)


def _json_number(value):
    if value is None:
        return None
    if isinstance(value, (np.generic, np.ndarray)):
        value = np.asarray(value).item()
    return value if isinstance(value, int) else float(value)
