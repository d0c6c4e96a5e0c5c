"""One-file learner artifacts: a zip of the Keras ``.keras`` archive, JSON and ``.npz`` arrays.

Nothing in the file is pickled, and loading runs no code from it: the learner class must be
one of keraslearn's own, arrays are read with ``allow_pickle=False`` and the Keras model is
loaded in Keras' safe mode.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
import zlib

import numpy as np

from keraslearn._backend import check_started
from keraslearn._user_warnings import warn_user
from keraslearn.io import jsonsafe, keras_params
from keraslearn._atomic import atomic_file
from keraslearn.io.model_bytes import model_from_bytes, model_to_bytes

FORMAT = "keraslearn-artifact"
#: 2: the encoder's stand-in codes (an earlier keraslearn would read unseen levels otherwise, silently).
FORMAT_VERSION = 2
#: The members of an artifact, each exactly once; nothing is ever extracted to disk.
MEMBERS = ("keraslearn.json", "encoder.npz", "fitted.npz", "model.keras")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


class ArtifactError(ValueError):
    """A file that is damaged or not a keraslearn artifact; the message names the file."""


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


def _damaged(path, err) -> ArtifactError:
    first = _first_line(str(err))
    return ArtifactError(
        f"{path} is damaged or not a keraslearn artifact ({type(err).__name__}: {first}); "
        "save the learner again, or load the file it was copied from."
    )


def _npz_load(data: bytes, path=None, member="") -> dict:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as err:  # a pickle, an object array, a truncated or foreign file
        raise ArtifactError(
            f"{path}: member {member} is not a plain .npz of numeric arrays ({err}). keraslearn never "
            "unpickles data from a file; this artifact is damaged or was not written by keraslearn."
        ) from err


def _check_members(path, z: zipfile.ZipFile):
    names = z.namelist()
    found = {
        "missing": [m for m in MEMBERS if m not in names],
        "unexpected members": sorted({n for n in names if n not in MEMBERS}),
        "duplicated members": sorted({n for n in names if names.count(n) > 1}),
    }
    problems = [f"{what} {which}" for what, which in found.items() if which]
    if problems:
        raise ArtifactError(
            f"{path} is not a valid keraslearn artifact: {'; '.join(problems)} (an artifact holds exactly "
            f"{', '.join(MEMBERS)})."
        )


def _load_model(data: bytes, path):
    if not zipfile.is_zipfile(io.BytesIO(data)):  # cut short or overwritten: Keras would name a temp file
        raise ArtifactError(f"{path} is damaged: its member model.keras is not a Keras archive (cut short?).")
    try:
        return model_from_bytes(data)
    except Exception as err:
        # The model is read from a temporary copy: name the member, not that copy.
        text = re.sub(r"\S*keraslearn-[^\s/\\]+[/\\]model\.keras", "model.keras", str(err))
        unknown, has_lambda = _classes_in_config(data)
        if has_lambda or "safe_mode" in text or "lambda" in text.lower() or "arbitrary code" in text:
            raise ArtifactError(
                f"{path}: refusing to load its Keras model: it contains code (a Lambda layer or a Python "
                "function), which keraslearn never runs (Keras' safe mode). If you wrote it, make that step a layer "
                "class decorated with @keras.saving.register_keras_serializable() and fit again; load only files "
                "you or keraslearn wrote."
            ) from err
        if unknown:
            raise ArtifactError(
                f"{path}: refusing to load its Keras model: it uses layer classes that are not registered in this "
                f"process: {', '.join(unknown)}. Import the module that defines them (decorated with "
                "@keras.saving.register_keras_serializable()) before loading; the keraslearn command imports no "
                "module, so predict in Python: import it, then keraslearn.load(path).predict(X)."
            ) from err
        else:
            why = f"Keras could not load it in safe mode ({type(err).__name__}: {_first_line(text)})"
        raise ArtifactError(
            f"{path}: refusing to load its Keras model: {why}. The file is damaged, or holds layers that "
            "are not registered Keras layers (decorate your layer classes with "
            "@keras.saving.register_keras_serializable() and import them before loading); load only files you "
            "or keraslearn wrote."
        ) from err


def _classes_in_config(data: bytes) -> tuple[list[str], bool]:
    """The model config's registered names (a user's ``package>Class``) that Keras cannot find
    here, and whether it holds a Lambda layer."""
    import keras

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            config = json.loads(z.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return [], False
    found, has_lambda, stack = [], False, [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name, module = node.get("registered_name"), node.get("module")
            has_lambda = has_lambda or node.get("class_name") == "Lambda"
            # A class registered where it was saved names its module; one that was not has none.
            if (isinstance(name, str) and (module is None or isinstance(module, str) and not module.startswith("keras"))
                    and keras.saving.get_registered_object(name) is None):
                found.append(f"{name} (module {module})" if module else f"{name} (not registered when saved)")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(set(found)), has_lambda


def _params(meta: dict, path) -> dict:
    """The learner's parameters; a Keras object whose class is not registered here is left at its default."""
    params, lost = {}, []
    for name, value in meta["params"].items():
        if not keras_params.is_keras_json(value):
            params[name] = jsonsafe.decode(value)
            continue
        try:
            params[name] = keras_params.from_json(value)
        except Exception as err:
            lost.append(f"{name} ({type(err).__name__}: {_first_line(str(err))[:200]})")
    if lost:
        warn_user(f"{path}: parameter(s) {'; '.join(lost)} could not be rebuilt and are left at their defaults "
                  "(import the module that registers their classes before loading); the model's predictions "
                  "are unaffected.")
    return params


def _params_json(learner) -> tuple[dict, list[str]]:
    params, dropped = {}, []
    for name, value in learner.get_params(deep=False).items():
        if name == "warm_start" and value is False:  # its default, left out: keraslearn before it loads the file
            continue
        try:
            params[name] = jsonsafe.encode(value)
        except jsonsafe.NotSerializable:
            if (activation := keras_params.activation_name(value)) is not None:
                params[name] = activation  # keras.activations.gelu as "gelu", which builds the same layers
                continue
            config = keras_params.to_json(value)
            if config is None:
                dropped.append(name)
            else:
                params[name] = config
    return params, dropped


def _warn_unloadable(model):
    """Say at save time what :func:`load` will refuse: Lambda layers and unregistered layer classes."""
    import keras

    from keraslearn.io.model_bytes import all_layers, user_classes

    lambdas = [layer.name for layer in all_layers(model) if isinstance(layer, keras.layers.Lambda)]
    unregistered = sorted({c.__name__ for c in user_classes(model).values()
                           if keras.saving.get_registered_object(keras.saving.get_registered_name(c)) is None})
    if lambdas or unregistered:
        what = (f"Lambda layer(s) {lambdas}, whose code load never runs" if lambdas else
                f"layer class(es) {unregistered} not registered with @keras.saving.register_keras_serializable()")
        warn_user(f"keraslearn.load will refuse this file: the model has {what}. Register your layer classes "
                  "(and use them instead of Lambda layers), or keep the learner with pickle.")


_EXPORT_SUFFIXES = {".onnx": ("an ONNX model", "onnx"), ".tflite": ("a LiteRT model", "litert")}


def save(learner, path) -> str:
    """Write a fitted learner to ``path`` atomically (temp file + rename); return the path.

    The path holds the old file or the complete new one at every moment, even if the process
    is killed; the data is flushed to disk before the rename. A killed save may leave a
    ``.keraslearn-*.tmp`` file beside it, never read by :func:`load`.

    Parameters
    ----------
    learner : fitted keraslearn learner
        The learner to write.
    path : str or path-like
        The file to write (a ``.keraslearn`` name).

    Returns
    -------
    str
        The path written.
    """
    import keras
    from sklearn.utils.validation import check_is_fitted

    from keraslearn import __version__
    from keraslearn.tables import table_kind

    check_is_fitted(learner, "model_")
    path = _file_path(path, "save")
    suffix = os.path.splitext(path)[1].lower()
    if table_kind(path) is not None:  # a slip that would replace the user's data with a zip
        raise ValueError(f"{path} names a data table; save writes a keraslearn artifact (a zip for keraslearn.load): "
                         "name a .keraslearn file.")
    if suffix in _EXPORT_SUFFIXES:
        what, fmt = _EXPORT_SUFFIXES[suffix]
        warn_user(f"{path}: save writes a keraslearn artifact (a zip for keraslearn.load), not {what}; "
                  f"keraslearn.export(learner, {os.path.basename(path)!r}, format={fmt!r}) writes one.")
    elif suffix in (".keras", ".h5"):
        warn_user(f"{path}: save writes a keraslearn artifact (a zip for keraslearn.load), which "
                  f"keras.saving.load_model cannot read; learner.model_.save({os.path.basename(path)!r}) writes the "
                  "Keras model alone (without the encoder: it takes encoded inputs).")
    params, dropped = _params_json(learner)
    if dropped:
        warn_user(
            f"Parameters {dropped} have no file form (functions, callbacks, Keras objects their config does not "
            "rebuild exactly) and are "
            "saved as their defaults; the fitted model and its predictions are unaffected.")
    model_bytes = model_to_bytes(learner.model_)  # a model that cannot be written at all says so first
    _warn_unloadable(learner.model_)
    # Image learners have no tabular encoder: their inputs need only what _fitted_state holds.
    encoder = getattr(learner, "encoder_", None)
    enc_state, enc_arrays = encoder.get_state() if encoder is not None else (None, {})
    fit_state, fit_arrays = learner._fitted_state()
    if getattr(learner, "training_row_hashes_", None) is not None:  # the command line's fit: evaluate compares them
        fit_arrays = {**fit_arrays, "training_row_hashes": np.asarray(learner.training_row_hashes_, dtype=np.uint64)}
    try:
        fitted = jsonsafe.encode(fit_state)
    except jsonsafe.NotSerializable as err:  # labels of a type JSON cannot hold (Decimal, Timestamp objects, ...)
        raise ValueError(
            f"Cannot save this {type(learner).__name__}: its fitted state holds {err} values (the class labels?); "
            "train it on labels that are strings, numbers, booleans, datetimes or durations."
        ) from None
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(learner).__name__,
        "params": params,
        "encoder": jsonsafe.encode(enc_state),
        "fitted": fitted,
        "feature_names_in": enc_state["feature_names_in"] if enc_state is not None else None,
        "spec": learner.spec_.to_dict(),
        "keraslearn_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        # How the command line's training file wrote numbers ("comma"/"point"), for predict's files.
        "table_numbers": getattr(learner, "table_numbers_", None),
        # The column the command line trained the model to predict: evaluate's default --target.
        "target": getattr(learner, "target_name_", None),
        # Its --weight column, if any: evaluate says when its metrics are not weighted by it.
        "weight": getattr(learner, "weight_name_", None),
        "metadata_requests": _metadata_requests(learner),
    }
    with atomic_file(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("keraslearn.json", json.dumps(meta, indent=1))
        z.writestr("encoder.npz", _npz_bytes(enc_arrays))
        z.writestr("fitted.npz", _npz_bytes(fit_arrays))
        z.writestr("model.keras", model_bytes)
    return path


def _file_path(path, verb) -> str:
    """``path`` (str, bytes or os.PathLike) as a str, ``~`` expanded; a file object is refused by name."""
    if not isinstance(path, (str, bytes, os.PathLike)) and (hasattr(path, "read") or hasattr(path, "write")):
        raise TypeError(f"{verb} takes a file path (a str or pathlib.Path), not a file object ({type(path).__name__}).")
    return os.path.expanduser(os.fsdecode(path))


def read_meta(path) -> dict:
    """The artifact's JSON header, without loading the model."""
    path = _file_path(path, "read_meta")
    if os.path.isdir(path):
        raise ArtifactError(f"{path} is a folder; give the artifact file that learner.save(path) wrote.")
    _refuse_pickle(path)
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("keraslearn.json"))
            _check_members(path, z)
    except ArtifactError:
        raise
    except KeyError as err:
        if _is_keras_file(path):
            raise ArtifactError(f"{path} is a Keras model file, not a keraslearn artifact: load it with "
                                "keras.saving.load_model(path).") from err
        raise ArtifactError(f"{path} is not a keraslearn artifact, or is damaged ({err}).") from err
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, zlib.error, EOFError) as err:
        raise ArtifactError(f"{path} is not a keraslearn artifact, or is damaged ({err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not a keraslearn artifact.")
    version = meta.get("format_version", 0)
    if not isinstance(version, int):
        raise ArtifactError(f"{path} is damaged: its header's format_version is {version!r}.")
    if version > FORMAT_VERSION:
        from keraslearn import __version__

        by = meta.get("keraslearn_version")
        raise ArtifactError(f"{path} was written by a newer keraslearn ({f'{by}, ' if isinstance(by, str) else ''}"
                            f"format {version}; this is {__version__}, format {FORMAT_VERSION}): upgrade keraslearn "
                            "to load it.")
    return meta


def _refuse_pickle(path) -> None:
    """A pickle of a learner (``pickle.dump``, ``joblib.dump``) holds its model's .keras zip: zipfile finds
    that inner zip, which read as "a Keras model file", a wrong lead. Named for what it is instead."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return  # the zip reading below says why
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):  # pickle protocols 2-5
        raise ArtifactError(f"{path} is a pickle (pickle.dump or joblib.dump), not a keraslearn artifact: load it "
                            "with joblib.load(path) or pickle.load, only if you trust its source (unpickling runs "
                            "code); learner.save(path) writes an artifact.")


def _is_keras_file(path) -> bool:
    """Whether a zip is a Keras ``.keras`` archive (what ``model.save`` writes)."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # a zip inside another file (a pickle): not a .keras file
                return False
        with zipfile.ZipFile(path) as z:
            return {"config.json", "metadata.json"} <= set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load(path):
    """Load a learner written by ``learner.save(path)``; it predicts exactly as when saved.

    Parameters
    ----------
    path : str or path-like
        The file ``save`` wrote.

    Returns
    -------
    KerasLearner
        The fitted learner.
    """
    from keraslearn.learners.registry import learner_classes

    path = _file_path(path, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    meta = read_meta(path)
    classes = {cls.__name__: cls for cls in learner_classes()}
    if not isinstance(meta.get("class"), str) or meta["class"] not in classes:
        raise ArtifactError(
            f"{path} holds an unknown learner class {meta.get('class')!r}; only keraslearn's own learners "
            "(keraslearn.list_learners()) are loaded."
        )
    check_started()  # a backend that cannot start is not the file's damage
    try:
        # Any damage (a bad CRC, a header missing keys or naming unknown parameters, arrays of
        # the wrong shape) is one error naming the file, never a KeyError from deep inside.
        return _restore(classes[meta["class"]], meta, path)
    except (ArtifactError, MemoryError, OSError, ImportError):
        raise  # already names the file, or is not the file's fault
    except Exception as err:
        raise _damaged(path, err) from err


def _restore(cls, meta: dict, path):
    from keraslearn.preprocessing.encoder import TabularEncoder
    from keraslearn.preprocessing.spec import DataSpec

    with zipfile.ZipFile(path) as z:
        enc_arrays = _npz_load(z.read("encoder.npz"), path, "encoder.npz")
        fit_arrays = _npz_load(z.read("fitted.npz"), path, "fitted.npz")
        model_bytes = z.read("model.keras")
    params = _params(meta, path)
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ArtifactError(
            f"{path} is damaged or was written by another keraslearn version: {cls.__name__} has no "
            f"parameter(s) {unknown}."
        )
    learner = cls(**{**getattr(cls, "_legacy_defaults", {}), **params})
    enc_state = jsonsafe.decode(meta["encoder"])
    if enc_state is not None:
        learner.encoder_ = TabularEncoder.from_state(enc_state, enc_arrays)
        learner.n_features_in_ = learner.encoder_.n_features_in_
        if meta["feature_names_in"] is not None:
            learner.feature_names_in_ = learner.encoder_.feature_names_in_
    learner.spec_ = DataSpec.from_dict(meta["spec"])
    learner._restore_fitted_state(jsonsafe.decode(meta["fitted"]), fit_arrays)
    learner.model_ = _load_model(model_bytes, path)
    if meta.get("table_numbers") in ("comma", "point"):
        learner.table_numbers_ = meta["table_numbers"]
    if isinstance(meta.get("target"), str):
        learner.target_name_ = meta["target"]
    if isinstance(meta.get("weight"), str):
        learner.weight_name_ = meta["weight"]
    hashes = fit_arrays.get("training_row_hashes")
    if hashes is not None and hashes.dtype == np.uint64 and hashes.ndim == 1:  # else evaluate says nothing of them
        learner.training_row_hashes_ = np.sort(hashes)
    _set_metadata_requests(learner, meta.get("metadata_requests"))
    return learner


def _metadata_requests(learner) -> dict:
    """What ``set_fit_request``/``set_score_request`` asked for ({method: {parameter: True, False or an
    alias}}), which clone and pickle keep too: scikit-learn's metadata routing reads them."""
    routing = learner.get_metadata_routing()
    return {method: asked for method, request in vars(routing).items() if hasattr(request, "requests")
            and (asked := {k: v for k, v in request.requests.items() if isinstance(v, (bool, str))})}


def _set_metadata_requests(learner, requests) -> None:
    if not isinstance(requests, dict) or not requests:
        return
    import sklearn

    routing = learner.get_metadata_routing()
    with sklearn.config_context(enable_metadata_routing=True):  # set_*_request needs it on, as when saved
        for method, asked in requests.items():
            known = getattr(getattr(routing, str(method), None), "requests", {})  # this version's parameters
            if isinstance(asked, dict) and (asked := {k: v for k, v in asked.items()
                                                      if k in known and isinstance(v, (bool, str))}):
                getattr(learner, f"set_{method}_request")(**asked)
