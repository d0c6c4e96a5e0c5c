"""Export a ``.keras`` file with the TensorFlow backend (run as a subprocess by io.export).

Usage: ``KERAS_BACKEND=tensorflow python -m keraslearn.io._tf_export model.keras out fmt [module ...]``
(the modules define the user's layer classes; importing them registers the classes).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings


def _register_keraslearn_layers() -> None:
    """Import the modules that define keraslearn's serializable layers (safe-mode loading)."""
    import keraslearn.architectures as architectures
    import keraslearn.preprocessing.layers  # noqa: F401

    for info in pkgutil.iter_modules(architectures.__path__, architectures.__name__ + "."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # an architecture whose optional dependency is missing
            pass


def main(argv: list[str]) -> int:
    src, dst, fmt, *modules = argv
    import keraslearn  # noqa: F401  (backend from KERAS_BACKEND, set by the caller)
    import keras

    if keras.backend.backend() != "tensorflow":
        print(f"expected the tensorflow backend, got {keras.backend.backend()}", file=sys.stderr)
        return 2
    _register_keraslearn_layers()
    for module in modules:
        importlib.import_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.saving.load_model(src, compile=False, safe_mode=True)
        model.export(dst, format=fmt, verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
