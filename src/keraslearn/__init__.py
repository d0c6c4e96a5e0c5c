"""keraslearn: scikit-learn estimators on Keras 3 (the R keras / kerasR / mlr3keras family).

Importing keraslearn selects the JAX backend when ``KERAS_BACKEND`` is unset.
"""

from __future__ import annotations

import importlib

from keraslearn._backend import select_backend as _select_backend

__version__ = "0.1.0"
BACKEND = _select_backend()

# Public names, imported on first use so `import keraslearn` stays light.
_LAZY = {
    "TabularEncoder": "keraslearn.preprocessing",
    "DataSpec": "keraslearn.preprocessing",
    "embedding_size": "keraslearn.preprocessing",
    "FFClassifier": "keraslearn.learners",
    "FFRegressor": "keraslearn.learners",
    "learner": "keraslearn.learners",
    "list_learners": "keraslearn.learners",
    "load": "keraslearn.io",
    "enable_compilation_cache": "keraslearn.training.compiled",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keraslearn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY) + ["BACKEND", "__version__"]
