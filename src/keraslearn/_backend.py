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


def _backend_error(name, why) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"Keras cannot run keraslearn on the {name!r} backend ({why}). Use jax (the default), torch or "
        "tensorflow, e.g. `export KERAS_BACKEND=jax`; `keraslearn doctor` shows which are installed and how to fix one."
    )


def check_trainable() -> None:
    """Raise :class:`BackendUnavailableError` on a Keras backend that cannot train (numpy, openvino)."""
    import keras

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise _backend_error(name, "it only runs inference")


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

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")  # the remaining finders
        if spec is not None and spec.loader is not None:
            spec.loader = _ScratchHomeLoader(spec.loader, self.keras_dir, self.scratch)
        return spec


def _backend_failed(err: BaseException, name: str) -> bool:
    """Whether Keras' import failed on its backend: a name Keras does not know, or the backend's
    own import failing (not installed, or broken: the error passes through its files)."""
    if isinstance(err, ValueError):
        return str(err).startswith("Unable to import backend")
    if name not in BACKENDS:
        return False
    if (getattr(err, "name", None) or "").split(".")[0] == name:
        return True
    tb = err.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if f"{os.sep}{name}{os.sep}" in path or os.path.basename(path) == f"{name}.py":
            return True
        tb = tb.tb_next
    return False


def _tensorflow_banner(line: str) -> bool:
    """TensorFlow's C++ start-up lines, printed before absl reads TF_CPP_MIN_LOG_LEVEL."""
    return "before absl::InitializeLog() is called" in line or "oneDNN custom operations are on" in line


class _ScratchHomeLoader(importlib.abc.Loader):
    """Runs Keras' package import with ``KERAS_HOME`` pointing at a scratch folder."""

    def __init__(self, inner, keras_dir: str, scratch: bool):
        self.inner = inner
        self.keras_dir = keras_dir
        self.scratch = scratch

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def _exec(self, module):
        banner = _tensorflow_banner if os.environ.get("KERAS_BACKEND") == "tensorflow" else None
        try:
            with native_output_filtered(2, keep=lambda line: not banner(line)) if banner else contextlib.nullcontext():
                self.inner.exec_module(module)
        except (ImportError, ValueError) as err:
            name = os.environ.get("KERAS_BACKEND", "")
            if not _backend_failed(err, name):  # e.g. Keras' own "Invalid `epsilon`" from keras.json
                raise
            lines = str(err).strip().splitlines()
            # The next `import keras` (a notebook cell run again) meets this loader again, so it gets
            # this message and its fix too, not Keras' bare one.
            sys.meta_path.insert(0, _FirstKerasImport(self.keras_dir, self.scratch))
            raise _backend_error(name, f"{type(err).__name__}: {lines[-1] if lines else 'no message'}") from err

    def exec_module(self, module):
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
