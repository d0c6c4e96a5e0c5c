"""Learner names ↔ classes: Python class names, mlr3keras keys and short family names."""

from __future__ import annotations

import importlib

# family: (classifier "module:Class", regressor "module:Class" or None, mlr3keras key or None, summary)
_FAMILIES: dict[str, tuple] = {
    "ff": (
        "keraslearn.learners.ff:FFClassifier",
        "keraslearn.learners.ff:FFRegressor",
        "kerasff",
        "feed-forward network with entity embeddings",
    ),
    "keras": (
        "keraslearn.learners.generic:KerasClassifier",
        "keraslearn.learners.generic:KerasRegressor",
        "keras",
        "your own architecture: model=build(spec, **hp) -> keras.Model",
    ),
    "smlp": (
        "keraslearn.learners.smlp:SMLPClassifier",
        "keraslearn.learners.smlp:SMLPRegressor",
        "smlp",
        "shaped MLP: widths shrink linearly from n_max; cosine-annealed learning rate",
    ),
    "smlp2": (
        "keraslearn.learners.smlp:SMLP2Classifier",
        "keraslearn.learners.smlp:SMLP2Regressor",
        "smlp2",
        "shaped residual MLP (BN-act-Dense residual blocks); cosine-annealed learning rate",
    ),
    "deep_wide": (
        "keraslearn.learners.deep_wide:DeepWideClassifier",
        "keraslearn.learners.deep_wide:DeepWideRegressor",
        "deep_wide",
        "deep & wide: a linear model and an MLP, summed",
    ),
    "tabnet": (
        "keraslearn.learners.tabnet:TabNetClassifier",
        "keraslearn.learners.tabnet:TabNetRegressor",
        "tabnet",
        "TabNet: sequential attention with sparse feature masks (Arik & Pfister 2019)",
    ),
    "cnn": (
        "keraslearn.learners.cnn:CNNClassifier",
        None,
        "kerascnn",
        "image classifier: transfer learning over keras.applications (MobileNetV2, ResNet50, ...)",
    ),
    "resnet": (
        "keraslearn.learners.resnet:ResNetClassifier",
        "keraslearn.learners.resnet:ResNetRegressor",
        None,
        "ResNet for tabular data (Gorishniy et al. 2021)",
    ),
    "ft_transformer": (
        "keraslearn.learners.ft_transformer:FTTransformerClassifier",
        "keraslearn.learners.ft_transformer:FTTransformerRegressor",
        None,
        "FT-Transformer: feature tokens + Transformer (Gorishniy et al. 2021)",
    ),
    "realmlp": (
        "keraslearn.learners.realmlp:RealMLPClassifier",
        "keraslearn.learners.realmlp:RealMLPRegressor",
        None,
        "RealMLP with its tuned defaults (Holzmüller et al. 2024)",
    ),
    "tabm": (
        "keraslearn.learners.tabm:TabMClassifier",
        "keraslearn.learners.tabm:TabMRegressor",
        None,
        "TabM: parameter-efficient ensemble of k MLPs (Gorishniy et al. 2025)",
    ),
}


def _load(path: str):
    module, cls = path.split(":")
    return getattr(importlib.import_module(module), cls)


def _aliases() -> dict[str, tuple[str, str]]:
    """Every accepted name → (family, "classif" | "regr")."""
    out = {}
    for fam, (clf, reg, mlr3, _) in _FAMILIES.items():
        for kind, path in (("classif", clf), ("regr", reg)):
            if path is None:
                continue
            out[path.split(":")[1].lower()] = (fam, kind)
            out[f"{kind}.{fam}"] = (fam, kind)
            if mlr3:
                out[f"{kind}.{mlr3}"] = (fam, kind)
    return out


def resolve(name: str, task: str | None = None):
    """The learner class for ``name``; ``task`` ("classification"/"regression") picks for family names."""
    key = str(name).strip().lower()
    aliases = _aliases()
    if key in aliases:
        fam, kind = aliases[key]
    elif key in _FAMILIES:
        if task not in ("classification", "regression"):
            raise ValueError(
                f"learner {name!r} is a family with a classifier and a regressor: pass "
                f"task='classification' or task='regression', or a full name such as 'classif.{key}'."
            )
        fam, kind = key, "classif" if task == "classification" else "regr"
    else:
        known = ", ".join(sorted(known_names()))
        raise ValueError(f"Unknown learner {name!r}. Known names: {known}.")
    path = _FAMILIES[fam][0 if kind == "classif" else 1]
    if path is None:
        raise ValueError(f"learner family {fam!r} has no {'classifier' if kind == 'classif' else 'regressor'}.")
    return _load(path)


def known_names() -> set[str]:
    """Every accepted learner name, lower case: class names, ``classif.<x>``/``regr.<x>`` keys, families."""
    return set(_aliases()) | set(_FAMILIES)


def learner(name: str, task: str | None = None, **params):
    """Make a learner by name: ``learner("classif.kerasff", epochs=20)``, ``learner("FFRegressor")``.

    Routed parameters such as ``model__units=64`` (``classif.keras``) are set with ``set_params``.
    """
    routed = {k: params.pop(k) for k in [k for k in params if "__" in k]}
    est = resolve(name, task)(**params)
    return est.set_params(**routed) if routed else est


def list_learners():
    """A DataFrame of every learner: family, class, mlr3keras key, task and a summary."""
    import pandas as pd

    rows = []
    for fam, (clf, reg, mlr3, summary) in _FAMILIES.items():
        for kind, path in (("classif", clf), ("regr", reg)):
            if path is not None:
                rows.append(
                    {
                        "name": f"{kind}.{fam}",
                        "class": path.split(":")[1],
                        "mlr3keras": f"{kind}.{mlr3}" if mlr3 else None,
                        "task": "classification" if kind == "classif" else "regression",
                        "summary": summary,
                    }
                )
    return pd.DataFrame(rows)


def learner_classes() -> list[type]:
    """All learner classes (used by ``keraslearn.load`` to accept only known classes)."""
    return [_load(p) for c, r, _, _ in _FAMILIES.values() for p in (c, r) if p is not None]
