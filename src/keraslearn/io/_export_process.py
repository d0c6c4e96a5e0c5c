"""Export a ``.keras`` file with another backend than the caller's (run as a subprocess by io.export).

Usage: ``KERAS_BACKEND=<backend> python -m keraslearn.io._export_process model.keras out fmt [module ...]``
(the modules define the user's layer classes; importing them registers the classes). TensorFlow
writes LiteRT and SavedModels for every backend; JAX writes ONNX for models torch's exporter refuses.
"""

from __future__ import annotations

import importlib
import os
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
    import keraslearn  # noqa: F401  (first: backend from KERAS_BACKEND, set by the caller)
    import keras

    from keraslearn.io.export import _export_here

    if keras.backend.backend() != os.environ.get("KERAS_BACKEND"):
        expected = os.environ.get("KERAS_BACKEND")
        print(f"expected the {expected} backend, got {keras.backend.backend()}", file=sys.stderr)
        return 2
    _register_keraslearn_layers()
    for module in modules:
        importlib.import_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.saving.load_model(src, compile=False, safe_mode=True)
    _export_here(model, dst, fmt, quantize=os.environ.get("KERASLEARN_EXPORT_QUANTIZE") == "1")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
