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
    # training loops and export
    "CustomLoop": "keraslearn.training.loop",
    "train_loop": "keraslearn.training.loop",
    "export": "keraslearn.io.export",
    "export_inputs": "keraslearn.io.export",
    # kerasR / R keras utilities
    "normalize": "keraslearn.utils",
    "to_categorical": "keraslearn.utils",
    "classes_from_proba": "keraslearn.utils",
    "plot_history": "keraslearn.utils",
    "summary": "keraslearn.utils",
    # datasets
    "load_boston_housing": "keraslearn.datasets",
    "load_california_housing": "keraslearn.datasets",
    "load_mnist": "keraslearn.datasets",
    "load_mnist_sample": "keraslearn.datasets",
    "load_fashion_mnist": "keraslearn.datasets",
    "load_cifar10": "keraslearn.datasets",
    "load_cifar100": "keraslearn.datasets",
    "load_imdb": "keraslearn.datasets",
    "load_reuters": "keraslearn.datasets",
    "load_tabular": "keraslearn.datasets",
    "list_tabular": "keraslearn.datasets",
    "DatasetUnavailableError": "keraslearn.datasets",
}
# Subpackages reachable as attributes after a bare `import keraslearn`.
_SUBMODULES = {"datasets", "utils"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keraslearn.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keraslearn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY) + ["BACKEND", "__version__"]
