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
    "TabNetClassifier": "keraslearn.learners",
    "TabNetRegressor": "keraslearn.learners",
    "CNNClassifier": "keraslearn.learners",
    "ResNetClassifier": "keraslearn.learners",
    "ResNetRegressor": "keraslearn.learners",
    "FTTransformerClassifier": "keraslearn.learners",
    "FTTransformerRegressor": "keraslearn.learners",
    "RealMLPClassifier": "keraslearn.learners",
    "RealMLPRegressor": "keraslearn.learners",
    "TabMClassifier": "keraslearn.learners",
    "TabMRegressor": "keraslearn.learners",
    "learner": "keraslearn.learners",
    "list_learners": "keraslearn.learners",
    "load": "keraslearn.io",
    "save": "keraslearn.io",
    "install_keras": "keraslearn.setup.install",
    "available": "keraslearn.setup.check",
    "check": "keraslearn.setup.check",
    "doctor": "keraslearn.setup.doctor",
    # training loops and export
    "CustomLoop": "keraslearn.training.loop",
    "train_loop": "keraslearn.training.loop",
    "export": "keraslearn.io.export",
    "export_inputs": "keraslearn.io.serving_model",
    # kerasR / R keras utilities
    "normalize": "keraslearn.utils",
    "to_categorical": "keraslearn.utils",
    "classes_from_proba": "keraslearn.utils",
    "plot_history": "keraslearn.utils",
    "plot_predictions": "keraslearn.report",
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
    "imdb_word_index": "keraslearn.datasets",
    "load_reuters": "keraslearn.datasets",
    "reuters_word_index": "keraslearn.datasets",
    "load_tabular": "keraslearn.datasets",
    "list_tabular": "keraslearn.datasets",
    "DatasetUnavailableError": "keraslearn.datasets",
    "DatasetFileError": "keraslearn.datasets",
    "tune": "keraslearn.tuning",
    # speed
    "enable_compilation_cache": "keraslearn.training.compiled",
    # mlr3keras' find_lr
    "find_learning_rate": "keraslearn.training.lr_finder",
}
# Subpackages reachable as attributes after a bare `import keraslearn`.
_SUBMODULES = {"datasets", "tuning", "utils"}


def __getattr__(name):
    if name == "BACKEND":
        # The backend Keras runs on; importing Keras here is what makes it final.
        value = _backend.select_backend()
    elif name in _SUBMODULES:
        return importlib.import_module(f"keraslearn.{name}")
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
