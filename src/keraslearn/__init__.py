"""keraslearn: scikit-learn estimators on Keras 3 (the R keras / kerasR / mlr3keras family).

Importing keraslearn selects the JAX backend when ``KERAS_BACKEND`` is unset. Keras itself
is imported by the first public name that needs it (or ``keraslearn.BACKEND``), so
``keraslearn doctor`` and ``keraslearn install`` run even where a backend is broken.
"""

from __future__ import annotations

import importlib

from keraslearn import _backend

__version__ = "0.1.0"
_backend.prepare()

# Public names, imported on first use so `import keraslearn` stays light.
_LAZY = {
    "TabularEncoder": "keraslearn.preprocessing",
    "DataSpec": "keraslearn.preprocessing",
    "embedding_size": "keraslearn.preprocessing",
    "FFClassifier": "keraslearn.learners",
    "FFRegressor": "keraslearn.learners",
    "KerasClassifier": "keraslearn.learners",
    "KerasRegressor": "keraslearn.learners",
    "SMLPClassifier": "keraslearn.learners",
    "SMLPRegressor": "keraslearn.learners",
    "SMLP2Classifier": "keraslearn.learners",
    "SMLP2Regressor": "keraslearn.learners",
    "DeepWideClassifier": "keraslearn.learners",
    "DeepWideRegressor": "keraslearn.learners",
    "learner": "keraslearn.learners",
    "list_learners": "keraslearn.learners",
    "load": "keraslearn.io",
    "install_keras": "keraslearn.setup.install",
    "available": "keraslearn.setup.check",
    "check": "keraslearn.setup.check",
    "doctor": "keraslearn.setup.doctor",
}


def __getattr__(name):
    if name == "BACKEND":
        # The backend Keras runs on; importing Keras here is what makes it final.
        value = _backend.select_backend()
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'keraslearn' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"BACKEND"})


__all__ = sorted(_LAZY) + ["BACKEND", "__version__"]
