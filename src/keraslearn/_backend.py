"""Select the Keras backend before Keras is imported, without importing it.

keraslearn defaults to JAX. ``import keraslearn`` only sets ``KERAS_BACKEND`` (JAX when
unset); Keras itself is imported by the first module that needs it, so the command line,
``keraslearn doctor`` and ``keraslearn install`` work even when a backend is broken.

Keras, on its first import, writes ``~/.keras/keras.json`` with ``"backend": "tensorflow"``.
We let that first import write into a scratch folder instead, so the user's other programs
keep Keras' own behaviour and no file appears behind their back.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile

from keraslearn._native_output import native_output_filtered
from keraslearn._user_warnings import warn_user

DEFAULT_BACKEND = "jax"
BACKENDS = ("jax", "torch", "tensorflow")
# Names people give KERAS_BACKEND for a backend Keras calls otherwise.
_ALIASES = {**{name: name for name in BACKENDS}, "pytorch": "torch", "tf": "tensorflow",
            "tensorflow-cpu": "tensorflow", "jaxlib": "jax"}


def meant_backend(name: str) -> str:
    """The backend a name people give it means ("pytorch" → "torch"), else the default."""
    return _ALIASES.get(name.strip().lower(), DEFAULT_BACKEND)

# The user's own KERAS_BACKEND, read before keraslearn fills in its default (None: unset).
REQUESTED_BACKEND: str | None = None
DEFAULTED = False  # True when keraslearn set KERAS_BACKEND itself
_prepared = False


def _default_keras_dir() -> str:
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return os.path.join(base, ".keras")


class BackendUnavailableError(ImportError):
    """Keras or its backend cannot run in this process; the message says how to fix it."""


def _backend_error(name, why, culprit=None, missing=False) -> BackendUnavailableError:
    """``culprit``: the backend package whose import failed (not always ``name``: Keras imports jax on
    every backend where it is installed); ``missing``: it is not installed at all."""
    start = f"Keras cannot run keraslearn on the {name!r} backend ({why})."
    if culprit is None:  # a name Keras does not know, or a backend that cannot train
        fix = ("Use jax (the default), torch or tensorflow, e.g. `export KERAS_BACKEND=jax`; `keraslearn doctor` "
               "shows which are installed and how to fix one.")
    elif missing:
        other = "torch" if culprit == DEFAULT_BACKEND else DEFAULT_BACKEND
        fix = (f"{culprit} is not installed. Fix: keraslearn install --backend {culprit} (or use another backend, "
               f"e.g. `export KERAS_BACKEND={other}`); `keraslearn doctor` shows which are installed.")
    else:
        also = "" if culprit == name else f" (Keras imports {culprit} on every backend where it is installed)"
        fix = (f"{culprit} is installed but does not import{also}. Fix: keraslearn install --backend {culprit} "
               "--reinstall; `keraslearn doctor` shows the cause.")
    return BackendUnavailableError(f"{start} {fix}")


_STARTED = False


def check_trainable() -> None:
    """Raise :class:`BackendUnavailableError` on a Keras backend that cannot train (numpy, openvino), or
    whose platform does not start (JAX_PLATFORMS naming one this machine lacks)."""
    import keras

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise _backend_error(name, "it only runs inference")
    check_started()


def check_started() -> None:
    """JAX starts its platforms at the first array: where that fails (``JAX_PLATFORMS=cuda`` on a machine
    without CUDA is a bare AssertionError from inside jax), say so once, with the fix."""
    global _STARTED
    if _STARTED:
        return
    import keras

    if keras.backend.backend() != "jax":
        _STARTED = True
        return
    import jax

    try:
        jax.devices()
    except Exception as err:
        why = _last_words(err)
        platforms = os.environ.get("JAX_PLATFORMS")
        if platforms:
            fix = (f"JAX_PLATFORMS={platforms!r} is set and chooses which platforms it starts. Fix: "
                   "`unset JAX_PLATFORMS` (or name a platform this machine has, e.g. JAX_PLATFORMS=cpu); "
                   "`keraslearn doctor` shows the cause.")
        else:
            fix = "Fix: run `keraslearn doctor` for the cause and the command that repairs it."
        raise BackendUnavailableError(f"JAX cannot start its devices ({why}). {fix}") from err
    _STARTED = True


def keras_config_path() -> str:
    """Where Keras reads ``keras.json`` from (``$KERAS_HOME`` or ``~/.keras``)."""
    return os.path.join(_default_keras_dir(), "keras.json")


def prepare() -> None:
    """Set ``KERAS_BACKEND`` (JAX when unset) without importing Keras.

    Warns, with the fix, when Keras was imported earlier with another backend.
    Idempotent: only the first call acts.
    """
    global REQUESTED_BACKEND, DEFAULTED, _prepared
    if _prepared:
        return
    _prepared = True
    requested = os.environ.get("KERAS_BACKEND") or None
    REQUESTED_BACKEND = requested
    if "keras" in sys.modules:
        _warn_if_other_backend(requested or DEFAULT_BACKEND)
        _skip_unimported_tensorflow()
        return
    if not requested:
        os.environ["KERAS_BACKEND"] = DEFAULT_BACKEND
        DEFAULTED = True
    if requested == "tensorflow":
        # TensorFlow's C++ start-up banner is not the user's problem.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    scratch = "KERAS_HOME" not in os.environ and not os.path.exists(keras_config_path())
    sys.meta_path.insert(0, _FirstKerasImport(_default_keras_dir(), scratch))


def select_backend() -> str:
    """Import Keras (after :func:`prepare`) and return the backend it runs on."""
    prepare()
    import keras

    return keras.backend.backend()


def _warn_if_other_backend(wanted: str) -> None:
    try:
        active = sys.modules["keras"].backend.backend()
    except Exception:  # a half-imported or broken keras: the doctor reports it
        return
    if active != wanted:
        warn_user(
            f"keras was imported before keraslearn and runs on the {active!r} backend, "
            f"not {wanted!r}. keraslearn will use {active!r}. To use {wanted!r}, "
            f"set KERAS_BACKEND={wanted} before starting Python, or import keraslearn "
            "before keras.")


class _ImportedTensorFlowOnly:
    """Keras' lazy ``tensorflow`` module, reporting TensorFlow available only once imported."""

    def __init__(self, lazy):
        self._lazy = lazy

    @property
    def available(self):
        return "tensorflow" in sys.modules and self._lazy.available

    def __getattr__(self, name):
        return getattr(self._lazy, name)


def _skip_unimported_tensorflow() -> None:
    """Stop Keras importing TensorFlow on JAX/torch just to ask ``tf.available``.

    Keras' serialization (every save, hence every pickle) and ``set_random_seed`` check
    ``tf.available``, which imports TensorFlow whenever it is installed: seconds per
    process, for objects that cannot exist while TensorFlow is not imported.
    """
    keras = sys.modules.get("keras")
    try:
        if keras is None or keras.backend.backend() == "tensorflow":
            return
        from keras.src.legacy.saving import json_utils
        from keras.src.saving import serialization_lib
        from keras.src.utils import rng_utils
    except Exception:  # a broken or unusual keras: leave it as it is
        return
    for module in (serialization_lib, rng_utils, json_utils):
        if not isinstance(module.tf, _ImportedTensorFlowOnly):
            module.tf = _ImportedTensorFlowOnly(module.tf)


class _FirstKerasImport(importlib.abc.MetaPathFinder):
    """Finds ``keras`` once and wraps its loader (no ``keras.json``; see above)."""

    def __init__(self, keras_dir: str, scratch: bool):
        self.keras_dir = keras_dir
        self.scratch = scratch
        self._finding = False

    def find_spec(self, fullname, path=None, target=None):
        # Stays in sys.meta_path until the import runs (the loader removes it): a bare
        # importlib.util.find_spec("keras"), as keraslearn.available() asks, imports nothing.
        if fullname != "keras" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec("keras")  # the other finders
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _ScratchHomeLoader(spec.loader, self.keras_dir, self.scratch, self)
        return spec


# A backend's packages, by the folder (or file) their code is in.
_PACKAGES = {"jax": "jax", "jaxlib": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def _unknown_backend(err: BaseException) -> bool:
    return isinstance(err, ValueError) and str(err).startswith("Unable to import backend")


def _module_parts(filename: str) -> list[str]:
    """A file's module path (``["jax", "_src", "lib", "__init__.py"]``), from the ``sys.path`` folder it
    is under: not the folders above it, where an environment may be named ``torch`` or ``jax``."""
    roots = (os.path.abspath(e or os.curdir).rstrip(os.sep) for e in sys.path if isinstance(e, str))
    root = max((r for r in roots if filename.startswith(r + os.sep)), key=len, default=None)
    return [] if root is None else filename[len(root) + 1:].split(os.sep)


def _failing_backend(err: BaseException) -> str | None:
    """The backend whose import failed under Keras' import: the module found missing, else the deepest
    frame of the traceback in a backend package's own files (for an ImportError, Keras' module for that
    backend too); None when the error is Keras' own (e.g. its "Invalid `epsilon`" from keras.json)."""
    found = _named_backend(err)
    if found:
        return found
    tb = err.__traceback__
    while tb is not None:
        parts = _module_parts(os.path.abspath(tb.tb_frame.f_code.co_filename))
        top = parts[0][:-3] if len(parts) == 1 and parts[0].endswith(".py") else parts[0] if parts else ""
        if top in _PACKAGES:
            found = _PACKAGES[top]
        elif isinstance(err, ImportError) and parts[:3] == ["keras", "src", "backend"] and len(parts) > 4 \
                and parts[3] in _PACKAGES:
            found = _PACKAGES[parts[3]]
        tb = tb.tb_next
    return found


def _named_backend(err: BaseException) -> str | None:
    """The backend whose package an ImportError names (``No module named 'jaxlib'``), else None."""
    name = (getattr(err, "name", None) or "").split(".")[0] if isinstance(err, ImportError) else ""
    return _PACKAGES.get(name)


def _last_words(err: BaseException) -> str:
    """``Type: last line of its message``, for a one-line error."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[-1] if lines else 'no message'}"


def _tensorflow_banner(line: str) -> bool:
    """TensorFlow's C++ start-up lines, printed before absl reads TF_CPP_MIN_LOG_LEVEL."""
    return "before absl::InitializeLog() is called" in line or "oneDNN custom operations are on" in line


class _ScratchHomeLoader(importlib.abc.Loader):
    """Runs Keras' package import with ``KERAS_HOME`` pointing at a scratch folder."""

    def __init__(self, inner, keras_dir: str, scratch: bool, finder=None):
        self.inner = inner
        self.keras_dir = keras_dir
        self.scratch = scratch
        self.finder = finder

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def _exec(self, module):
        banner = _tensorflow_banner if os.environ.get("KERAS_BACKEND") == "tensorflow" else None
        try:
            with native_output_filtered(2, keep=lambda line: not banner(line)) if banner else contextlib.nullcontext():
                self.inner.exec_module(module)
        except Exception as err:  # a backend's import can fail with anything (jax: RuntimeError on its jaxlib)
            name = os.environ.get("KERAS_BACKEND", "")
            unknown = _unknown_backend(err)
            culprit = None if unknown else _failing_backend(err)
            if not (unknown or culprit):  # e.g. Keras' own "Invalid `epsilon`" from keras.json
                raise
            # The next `import keras` (a notebook cell run again) meets this loader again, so it gets
            # this message and its fix too, not Keras' bare one.
            sys.meta_path.insert(0, _FirstKerasImport(self.keras_dir, self.scratch))
            missing = isinstance(err, ModuleNotFoundError) and _named_backend(err) == culprit
            raise _backend_error(name, _last_words(err), culprit, culprit is not None and missing) from err

    def exec_module(self, module):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        # Hand the module back to its real loader (resources, reloads, pickling).
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        if not self.scratch:
            self._exec(module)
            _check_is_keras(module)
            _skip_unimported_tensorflow()
            return
        with tempfile.TemporaryDirectory(prefix="keraslearn-") as scratch:
            os.environ["KERAS_HOME"] = scratch
            try:
                self._exec(module)
            finally:
                os.environ.pop("KERAS_HOME", None)
        _check_is_keras(module)
        config = sys.modules.get("keras.src.backend.config")
        if config is not None:
            # Caches (datasets, weights) still go to the usual ~/.keras.
            config._KERAS_DIR = self.keras_dir
        _skip_unimported_tensorflow()


def _check_is_keras(module) -> None:
    """A ``keras.py`` (or ``keras/``) of the user's, in the working folder or on ``PYTHONPATH``, is found
    before the Keras package; keraslearn's ``from keras import ops`` then failed deep in a traceback."""
    if not hasattr(module, "backend"):
        raise BackendUnavailableError(
            f"`import keras` finds {getattr(module, '__file__', None) or module!r}, not the Keras package: a file "
            "or folder of that name shadows it. Fix: rename it, or run from another folder "
            "(`keraslearn doctor` checks for this)."
        )
