"""Export a Keras model or a fitted learner to ONNX, LiteRT or a TensorFlow SavedModel.

Keras 3 exports per backend: ONNX from every backend (JAX through jax2onnx), LiteRT and
SavedModel reliably only from TensorFlow. :func:`export` uses the active backend when it
can and otherwise saves the model as ``.keras`` (weights are backend-independent) and
exports it in a ``KERAS_BACKEND=tensorflow`` subprocess.

A learner is exported with its preprocessing folded in: the exported model takes the raw
numeric columns (NaN for missing; imputation, scaling and missing indicators happen inside
it) plus one int32 code column per categorical column, and returns what ``predict_proba``
(classifiers) or ``predict`` (regressors) return. :func:`export_inputs` builds that input
dict from a DataFrame, and a ``<path>.keraslearn.json`` file beside the export lists the
inputs and the category codes, for serving without Python.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from keraslearn._atomic import check_writable
from keraslearn._keras_warnings import loggers_quieted
from keraslearn._native_output import native_output_filtered
from keraslearn.io.serving_model import _tabular_encoder, export_inputs, input_description, learner_model

__all__ = ["export", "export_inputs", "input_description", "learner_model", "SIDECAR_SUFFIX"]

_FORMATS = {
    "onnx": "onnx",
    "litert": "litert",
    "tflite": "litert",
    "saved_model": "tf_saved_model",
    "savedmodel": "tf_saved_model",  # TensorFlow's own spelling, "SavedModel"
    "tf_saved_model": "tf_saved_model",
}
_LABELS = {"onnx": "ONNX", "litert": "LiteRT", "tf_saved_model": "a TensorFlow SavedModel"}
# module to import -> pip package
_PIP = {"jax2onnx": "jax2onnx", "onnx": "onnx", "tf2onnx": "tf2onnx", "tensorflow": "tensorflow-cpu"}
SIDECAR_SUFFIX = ".keraslearn.json"
# jax2onnx's IR library logs a WARNING per input ("The value type for shape [batch,4] is not
# known") on every export: nothing the user can act on.
_QUIET_LOGGERS = ("onnx_ir",)


def _format(format) -> str:
    key = str(format).strip().lower().replace("-", "_")
    if key not in _FORMATS:
        raise ValueError(f"format must be one of 'onnx', 'litert', 'saved_model'; got {format!r}.")
    return _FORMATS[key]


def _needs(fmt: str, backend: str) -> list[str]:
    if fmt == "onnx":
        by_backend = {"jax": ["jax2onnx", "onnx"], "torch": ["onnx"], "tensorflow": ["tf2onnx", "onnx"]}
        return by_backend.get(backend, ["onnx"])
    return ["tensorflow"]


def _check_installed(fmt: str, backend: str) -> None:
    missing = [m for m in _needs(fmt, backend) if importlib.util.find_spec(m) is None]
    if missing:
        pips = " ".join(_PIP[m] for m in missing)
        via = f"on the {backend} backend" if fmt == "onnx" else "(through TensorFlow)"
        raise ImportError(f"Exporting to {_LABELS[fmt]} {via} needs {', '.join(missing)}: "
                          f"pip install 'keraslearn[export]'  (or: pip install {pips})")


def _is_learner(obj) -> bool:
    from keraslearn.learners.base import KerasLearner

    return isinstance(obj, KerasLearner)


# --------------------------------------------------------------- export
def _call_once(model) -> None:
    """Run the model on a zero batch: Keras' ONNX export refuses a model never called."""
    import keras

    def zeros(t):
        return np.zeros((1,) + tuple(d or 1 for d in t.shape[1:]), dtype=t.dtype)

    try:
        spec = model.input  # the input structure (dict, list or tensor) of a Functional model
    except AttributeError:  # a Sequential model that has never been called
        spec = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    model(keras.tree.map_structure(zeros, spec), training=False)


def _export_here(model, path: str, fmt: str, quantize: bool = False) -> None:
    if fmt == "onnx":
        _call_once(model)
    options = {}
    if quantize:  # TFLiteConverter's post-training (dynamic-range) quantization: int8 weights
        import tensorflow as tf

        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    with warnings.catch_warnings(), loggers_quieted(_QUIET_LOGGERS):
        warnings.simplefilter("ignore")
        model.export(path, format=fmt, verbose=False, **options)
    if fmt == "onnx":
        _tidy_onnx(path)


#: The name of an exported ONNX file's output (Keras' own ONNX export names its first output so).
ONNX_OUTPUT = "output_0"


def _tidy_onnx(path: str) -> None:
    """Remove the constants no node reads (jax2onnx leaves some in a loop's body, e.g. TabNet's
    sparsemax): onnxruntime warns about each one when it loads the file. Drop the intermediate tensors'
    shape hints: optional (onnxruntime infers its own), and jax2onnx declared one of RealMLP's a scalar
    where onnxruntime infers shape (1,), which it warned about at every load. Name the output
    :data:`ONNX_OUTPUT` on every backend (jax2onnx names it after the operation that computes it, such as
    "add_out_4"). Max pooling is rewritten as onnxruntime runs it (:mod:`keraslearn.io.onnx_pooling`)."""
    import onnx

    def subgraphs(graph):  # the bodies of its Loop / If / Scan nodes
        for node in graph.node:
            for attr in node.attribute:
                yield from [attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs

    def used(graph) -> set:  # names read in ``graph`` and in its subgraphs (which may read outer names)
        names = {o.name for o in graph.output}
        for node in graph.node:
            names.update(node.input)
        for sub in subgraphs(graph):
            names |= used(sub)
        return names

    def prune(graph) -> bool:
        read = used(graph)
        unused = [init for init in graph.initializer if init.name not in read]
        for init in unused:
            graph.initializer.remove(init)
        changed = bool(unused)
        for sub in subgraphs(graph):
            changed = prune(sub) or changed
        return changed

    from keraslearn.io.onnx_pooling import pool_spatial_axes_only

    def renamed(graph, old, new):  # every use of the name ``old`` in ``graph`` and its subgraphs
        for node in graph.node:
            node.input[:] = [new if name == old else name for name in node.input]
            node.output[:] = [new if name == old else name for name in node.output]
        for sub in subgraphs(graph):
            renamed(sub, old, new)

    proto = onnx.load(path)
    pooled = pool_spatial_axes_only(proto.graph)
    changed = prune(proto.graph) or pooled or bool(proto.graph.value_info)
    del proto.graph.value_info[:]
    outputs, graph = proto.graph.output, proto.graph
    taken = {n for node in graph.node for n in [*node.input, *node.output]} | {i.name for i in graph.input} | \
        {i.name for i in graph.initializer}
    produced = {n for node in graph.node for n in node.output}
    # Renamed only where no other tensor has the name, and a node computes the output (not an input passed on).
    if len(outputs) == 1 and outputs[0].name != ONNX_OUTPUT and ONNX_OUTPUT not in taken \
            and outputs[0].name in produced:
        renamed(graph, outputs[0].name, ONNX_OUTPUT)
        outputs[0].name, changed = ONNX_OUTPUT, True
    if changed:
        onnx.save(proto, path)


def _drop_compile_configs(archive: str) -> None:
    """Remove every ``compile_config`` from a ``.keras`` archive's config.json.

    A learner's network is compiled; loading a nested compiled model recompiles it from its
    config, which names keraslearn's (or the user's) losses and learning-rate schedules. An
    export needs none of that, and the TensorFlow process need not import their modules.
    """
    import zipfile

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "compile_config"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    with zipfile.ZipFile(archive) as z:
        entries = {info.filename: z.read(info) for info in z.infolist()}
    entries["config.json"] = json.dumps(strip(json.loads(entries["config.json"]))).encode()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def _user_modules(model, fmt: str, through: str) -> list[str]:
    """Modules that define the model's own layer classes, for the exporting process to import."""
    from keraslearn.io.model_bytes import user_classes

    classes = set(user_classes(model).values())
    in_script = sorted(c.__name__ for c in classes if c.__module__ == "__main__")
    if in_script:
        raise ValueError(
            f"The layer class(es) {in_script} are defined in the running script (__main__), which the {through} "
            f"process writing {_LABELS[fmt]} cannot import. Move them into a module (registered with "
            "keras.saving.register_keras_serializable)"
            + (", or export to ONNX, which is written in this process." if fmt != "onnx" else ".")
        )
    return sorted({c.__module__ for c in classes if not c.__module__.startswith("keraslearn.")})


def _export_in_process_of(backend: str, model, path: str, fmt: str, timeout: float, quantize: bool = False) -> None:
    """Save ``model`` as ``.keras`` and export it in a ``KERAS_BACKEND=backend`` subprocess."""
    import keraslearn

    through = {"tensorflow": "TensorFlow", "jax": "JAX"}.get(backend, backend)
    modules = _user_modules(model, fmt, through)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(keraslearn.__file__)))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               KERASLEARN_EXPORT_QUANTIZE=str(int(quantize)))
    # This process' import path too (the script's folder first): the user's layer modules are found there.
    paths = [package_root, *(p for p in sys.path if p and os.path.isdir(p)), os.environ.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    with tempfile.TemporaryDirectory(prefix="keraslearn-export-") as tmp:
        src = os.path.join(tmp, "model.keras")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(src)
        _drop_compile_configs(src)
        cmd = [sys.executable, "-m", "keraslearn.io._export_process", src, path, fmt, *modules]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise RuntimeError(f"Exporting to {_LABELS[fmt]} through {through} took over {timeout:g} s; nothing "
                               "was written. Pass a larger timeout= (seconds) to export() for a large model or a "
                               "busy machine.") from err
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"Exporting to {_LABELS[fmt]} through {through} failed:\n{tail}")


def _onnx_from_torch(model, path: str, timeout: float) -> None:
    """torch's ONNX exporter, or, for a model it refuses (an op it cannot map, e.g. TabNet's
    ``take_along_axis``), jax2onnx in a JAX subprocess."""
    try:
        # When it fails, torch logs the whole graph to C++'s stdout, whatever verbose says.
        with native_output_filtered(1):
            _export_here(model, path, "onnx")
        return
    except Exception as err:  # torch.onnx raises many types; its message holds a whole graph dump
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        refused = err
    missing = [m for m in ("jax", *_needs("onnx", "jax")) if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            f"torch's ONNX exporter cannot export this model ({reason}). keraslearn exports such models through "
            f"JAX, which needs {', '.join(missing)}: pip install jax 'keraslearn[export]'."
        ) from refused
    _export_in_process_of("jax", model, path, "onnx", timeout)


def export(model_or_learner, path, format="onnx", *, fold_preprocessing=True, quantize=False, timeout=600) -> str:
    """Export for serving: ``format`` is "onnx", "litert" (``.tflite``) or "saved_model".

    Parameters
    ----------
    model_or_learner : keras.Model or fitted keraslearn learner
        A learner is exported with its preprocessing folded in (see :func:`learner_model`)
        and a ``<path>.keraslearn.json`` description of its inputs is written beside it.
    path : str or PathLike
        File (``.onnx``, ``.tflite``) or directory (SavedModel) to write.
    format : {"onnx", "litert", "saved_model"}, default="onnx"
        ONNX, LiteRT (TensorFlow Lite) or a TensorFlow SavedModel (see Notes).
    fold_preprocessing : bool, default=True
        False leaves the numeric imputation and scaling out of the export: it then takes the
        encoder's output (``export_inputs(learner, X, fold_preprocessing=False)``), which is
        computed in float64 before the cast to float32. Its output is the same either way:
        what ``predict_proba`` (classifiers) or ``predict`` (regressors) return. Use it for
        numeric columns with a large offset (timestamps), which a float32 raw input rounds.
    quantize : bool, default=False
        LiteRT only: TensorFlow Lite's post-training quantization (``Optimize.DEFAULT``, as
        the R keras guide's converter sets): weight tensors of 1024 values and more stored as
        int8, a quarter of their size (the file shrinks 2-4×, more for wider inputs),
        outputs close to but not equal to ``predict``'s.
    timeout : float, default=600
        Seconds allowed for an export run in a subprocess (LiteRT and SavedModel through
        TensorFlow; ONNX on PyTorch through JAX when torch's exporter refuses the model).

    Returns
    -------
    str
        The path written.

    Notes
    -----
    ONNX is written by the active backend (JAX needs ``jax2onnx``, TensorFlow ``tf2onnx``).
    LiteRT and SavedModel are written by TensorFlow, in a subprocess when the active
    backend is JAX or PyTorch. ``pip install 'keraslearn[export]'`` installs what every
    format needs, plus onnxruntime and ai-edge-litert to run the exports.
    """
    import keras

    fmt = _format(format)
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if fmt == "litert" and not path.endswith(".tflite"):
        raise ValueError(f"A LiteRT export must be a .tflite file; got {path!r}.")
    if quantize and fmt != "litert":
        raise ValueError(f"quantize=True is for format='litert' (TensorFlow Lite's quantization); "
                         f"got format={format!r}.")
    ext = os.path.splitext(path)[1].lower()
    other = {".onnx": "onnx", ".tflite": "litert"}.get(ext)
    if other not in (None, fmt):  # e.g. ONNX bytes in a file named .tflite
        raise ValueError(f"{path!r} ends in {ext}, the name of a format={other!r} export, but format={format!r}; "
                         f"pass format={other!r}, or a path that fits {format!r}.")
    learner = None
    if isinstance(model_or_learner, keras.Model):
        model = model_or_learner
        if not model.built:
            raise ValueError("The model has no weights yet: give it a keras.Input or call it on data first.")
    elif _is_learner(model_or_learner):
        learner = model_or_learner
        model = learner_model(learner, fold_preprocessing)
    else:
        raise TypeError(f"export needs a keras.Model or a fitted learner; got {type(model_or_learner).__name__}.")
    backend = keras.backend.backend()
    here = fmt == "onnx" or backend == "tensorflow"
    _check_installed(fmt, backend if here else "tensorflow")
    # Now, not after a long export: a folder where a file goes (or the reverse), a read-only place.
    check_writable(os.path.join(path, "saved_model.pb") if fmt == "tf_saved_model" else path)
    if fmt == "onnx" and backend == "torch":
        _onnx_from_torch(model, path, timeout)
    elif here:
        _export_here(model, path, fmt, quantize)
    else:
        _export_in_process_of("tensorflow", model, path, fmt, timeout, quantize)
    if learner is not None and _tabular_encoder(learner) is not None:
        with open(path + SIDECAR_SUFFIX, "w", encoding="utf8") as f:
            json.dump(input_description(learner, fold_preprocessing), f, indent=1)
    elif os.path.exists(path + SIDECAR_SUFFIX):
        os.remove(path + SIDECAR_SUFFIX)  # an earlier export's description: not this model's
    return path
