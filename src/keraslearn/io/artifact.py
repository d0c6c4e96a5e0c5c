"""One-file learner artifacts: a zip of the Keras ``.keras`` archive, JSON and ``.npz`` arrays.

Nothing in the file is pickled, and loading runs no code from it: the learner class must be
one of keraslearn's own, arrays are read with ``allow_pickle=False`` and the Keras model is
loaded in Keras' safe mode.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
import zipfile

import numpy as np

from keraslearn.io import jsonsafe
from keraslearn.io.model_bytes import model_from_bytes, model_to_bytes

FORMAT = "keraslearn-artifact"
FORMAT_VERSION = 1
#: The members of an artifact, each exactly once; nothing is ever extracted to disk.
MEMBERS = ("keraslearn.json", "encoder.npz", "fitted.npz", "model.keras")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _npz_load(data: bytes, path=None, member="") -> dict:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as err:  # a pickle, an object array, a truncated or foreign file
        raise ValueError(
            f"{path}: member {member} is not a plain .npz of numeric arrays ({err}). keraslearn never "
            "unpickles data from a file; this artifact is damaged or was not written by keraslearn."
        ) from None


def _check_members(path, z: zipfile.ZipFile):
    names = z.namelist()
    found = {
        "missing": [m for m in MEMBERS if m not in names],
        "unexpected members": sorted({n for n in names if n not in MEMBERS}),
        "duplicated members": sorted({n for n in names if names.count(n) > 1}),
    }
    problems = [f"{what} {which}" for what, which in found.items() if which]
    if problems:
        raise ValueError(
            f"{path} is not a valid keraslearn artifact: {'; '.join(problems)} (an artifact holds exactly "
            f"{', '.join(MEMBERS)})."
        )


def _load_model(data: bytes, path):
    try:
        return model_from_bytes(data)
    except Exception as err:
        text = str(err)
        if "safe_mode" in text or "lambda" in text.lower() or "arbitrary code" in text:
            why = "it contains code (a Lambda layer or a Python function), which keraslearn never runs"
        else:
            why = f"Keras could not load it in safe mode ({type(err).__name__}: {text.splitlines()[0][:300]})"
        raise ValueError(
            f"{path}: refusing to load its Keras model: {why}. Artifacts hold only registered Keras "
            "layers; load only files you or keraslearn wrote."
        ) from None


def _params_json(learner) -> tuple[dict, list[str]]:
    params, dropped = {}, []
    for name, value in learner.get_params(deep=False).items():
        try:
            params[name] = jsonsafe.encode(value)
        except jsonsafe.NotSerializable:
            dropped.append(name)
    return params, dropped


def save(learner, path) -> str:
    """Write a fitted learner to ``path`` atomically (temp file + rename); return the path.

    The path holds the old file or the complete new one at every moment, even if the process
    is killed; the data is flushed to disk before the rename. A killed save may leave a
    ``.keraslearn-*.tmp`` file beside it, never read by :func:`load`.
    """
    import keras

    from keraslearn import __version__

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(learner, "model_")
    path = os.fspath(path)
    params, dropped = _params_json(learner)
    if dropped:
        warnings.warn(
            f"Parameters {dropped} have no file form (functions or Keras objects) and are saved as "
            "their defaults; the fitted model and its predictions are unaffected.",
            UserWarning,
            stacklevel=3,
        )
    # Image learners have no tabular encoder: their inputs need only what _fitted_state holds.
    encoder = getattr(learner, "encoder_", None)
    enc_state, enc_arrays = encoder.get_state() if encoder is not None else (None, {})
    fit_state, fit_arrays = learner._fitted_state()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(learner).__name__,
        "params": params,
        "encoder": jsonsafe.encode(enc_state),
        "fitted": jsonsafe.encode(fit_state),
        "feature_names_in": enc_state["feature_names_in"] if enc_state is not None else None,
        "spec": learner.spec_.to_dict(),
        "keraslearn_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keraslearn-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("keraslearn.json", json.dumps(meta, indent=1))
            z.writestr("encoder.npz", _npz_bytes(enc_arrays))
            z.writestr("fitted.npz", _npz_bytes(fit_arrays))
            z.writestr("model.keras", model_to_bytes(learner.model_))
            z.close()
            f.flush()
            os.fsync(f.fileno())  # the rename must never expose a file whose data is not on disk
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_meta(path) -> dict:
    """The artifact's JSON header, without loading the model."""
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("keraslearn.json"))
            _check_members(path, z)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a keraslearn artifact ({err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a keraslearn artifact.")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer keraslearn (format {meta['format_version']}); upgrade.")
    return meta


def load(path):
    """Load a learner written by ``learner.save(path)``; it predicts exactly as when saved."""
    from keraslearn.learners.registry import learner_classes
    from keraslearn.preprocessing.encoder import TabularEncoder

    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    meta = read_meta(path)
    classes = {cls.__name__: cls for cls in learner_classes()}
    if meta.get("class") not in classes:
        raise ValueError(
            f"{path} holds an unknown learner class {meta.get('class')!r}; only keraslearn's own learners "
            "(keraslearn.list_learners()) are loaded."
        )
    cls = classes[meta["class"]]
    with zipfile.ZipFile(path) as z:
        enc_arrays = _npz_load(z.read("encoder.npz"), path, "encoder.npz")
        fit_arrays = _npz_load(z.read("fitted.npz"), path, "fitted.npz")
        model_bytes = z.read("model.keras")
    learner = cls(**{k: jsonsafe.decode(v) for k, v in meta["params"].items()})
    from keraslearn.preprocessing.spec import DataSpec

    enc_state = jsonsafe.decode(meta["encoder"])
    if enc_state is not None:
        learner.encoder_ = TabularEncoder.from_state(enc_state, enc_arrays)
        learner.n_features_in_ = learner.encoder_.n_features_in_
        if meta["feature_names_in"] is not None:
            learner.feature_names_in_ = learner.encoder_.feature_names_in_
    learner.spec_ = DataSpec.from_dict(meta["spec"])
    learner._restore_fitted_state(jsonsafe.decode(meta["fitted"]), fit_arrays)
    learner.model_ = _load_model(model_bytes, path)
    return learner
