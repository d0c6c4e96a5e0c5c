"""Hyperparameter tuning on Optuna: search spaces, resumable studies, many workers."""

from keraslearn.tuning.spaces import apply_sample, search_space

_STUDY_NAMES = ("TuneResult", "best_params", "tune")
# keraslearn.tuning.storage.open_storage(...) etc., as docs/tuning.md writes them, after `import keraslearn`
_MODULES = ("callbacks", "checks", "folds", "report", "storage", "study")


def __getattr__(name):
    # Imported on use: the study module imports Keras, and the `keraslearn` command (the
    # doctor above all) must start even where the Keras backend is broken.
    if name in _STUDY_NAMES:
        from keraslearn.tuning import study

        return getattr(study, name)
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"keraslearn.tuning.{name}")
    raise AttributeError(f"module 'keraslearn.tuning' has no attribute {name!r}")


__all__ = ["search_space", "apply_sample", *_STUDY_NAMES]
