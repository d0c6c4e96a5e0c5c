"""Learner names ↔ classes: Python class names, mlr3keras keys and short family names."""

from __future__ import annotations

import difflib
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


_KERAS_DEFAULT = "the layers use Keras' defaults; classif.keras / regr.keras train your own network"
_TABNET_NORM = "TabNet normalizes with ghost batch normalization (virtual_batch_size, momentum)"
# mlr3keras (and R keras) parameter names keraslearn spells differently: said only when the class has
# the keraslearn name (ResNet has no `dropout` to offer for `use_dropout`).
_RENAMED = {
    "validation_split": "validation_fraction",
    "seed": "random_state",
    "lr": "learning_rate",
    "use_dropout": "dropout (dropout=0 is off)",
}
# ... and those it does without.
_ABSENT = {
    "initializer": _KERAS_DEFAULT,
    "regularizer": _KERAS_DEFAULT,
    "output_activation": "the output follows the task (softmax or sigmoid for classes, linear "
                         "for regression); classif.keras / regr.keras train your own network",
    "metrics": "history_ records the loss; score predictions with sklearn.metrics, or compile metrics in a "
               "KerasClassifier / KerasRegressor build function",
    "low_memory": "keraslearn feeds Keras in batches from one array",
}
# mlr3keras' TabNet wrapped tf-TabNet, whose names these are.
_TABNET_RENAMED = {
    "num_decision_steps": "n_steps",
    "feature_dim": "n_d + n_a (tf-TabNet's feature_dim is their sum)",
    "output_dim": "n_d",
    "relaxation_factor": "gamma",
    "sparsity_coefficient": "lambda_sparse",
    "batch_momentum": "momentum (PyTorch's convention: 1 - batch_momentum)",
}
# scikit-learn's MLPClassifier / MLPRegressor: the names its users type by habit.
_SKLEARN_RENAMED = {
    "hidden_layer_sizes": "layer_units",
    "max_iter": "epochs",
    "n_iter_no_change": "patience",
    "learning_rate_init": "learning_rate",
    "solver": "optimizer (a Keras name: 'adam', 'sgd'...; no 'lbfgs')",
}
_OPTIMIZER_INSTANCE = "give a Keras optimizer instance, e.g. optimizer=keras.optimizers.{}, learning_rate=None"
_SKLEARN_ABSENT = {
    "alpha": "no L2 penalty by name; decay the weights with "
             "optimizer=keras.optimizers.AdamW(weight_decay=1e-4) (decoupled: not alpha's scale)",
    "tol": "early stopping counts any lower validation loss as progress and waits `patience` epochs",
    "warm_start": "each fit trains from scratch; give more epochs (early stopping ends the fit when the "
                  "validation loss stops falling)",
    "shuffle": "the training rows are shuffled every epoch",
    **dict.fromkeys(("momentum", "nesterovs_momentum"),
                    _OPTIMIZER_INSTANCE.format("SGD(learning_rate=0.01, momentum=0.9, nesterov=True)")),
    **dict.fromkeys(("beta_1", "beta_2", "epsilon"),
                    _OPTIMIZER_INSTANCE.format("Adam(beta_1=0.9, beta_2=0.999, epsilon=1e-8)")),
    "power_t": _OPTIMIZER_INSTANCE.format("SGD(learning_rate=keras.optimizers.schedules.InverseTimeDecay("
                                          "0.01, decay_steps=1, decay_rate=1.0))"),
    "max_fun": "it is lbfgs' budget; keraslearn trains with Keras' optimizers, which have no lbfgs",
}
_TABNET_ABSENT = {
    "norm_type": _TABNET_NORM,
    "num_groups": _TABNET_NORM,
    "epsilon": _TABNET_NORM,
    "stacked": "one TabNet; n_shared and n_independent size its blocks",
    "num_layers": "one TabNet; n_shared and n_independent size its blocks",
    "mask_type": "keraslearn's TabNet masks features with sparsemax only (pytorch-tabnet's default; no entmax)",
}


def check_parameters(cls, params) -> None:
    """A TypeError for the first name in ``params`` that ``cls`` takes no parameter of, saying why."""
    unknown = [p for p in params if p not in cls._get_param_names()]
    if unknown:
        raise TypeError(unknown_parameter(cls, unknown[0]))


# fit()'s keyword arguments, met as --param or a learner(...) parameter: what the command line does instead.
_FIT_ARGUMENTS = {
    "checkpoint_dir": "; the command line has no checkpoints: fit from Python to resume an interrupted fit",
    "sample_weight": "",
    "X_val": "; the learner holds out validation_fraction of the training rows (--param validation_fraction=0.2)",
    "y_val": "; the learner holds out validation_fraction of the training rows (--param validation_fraction=0.2)",
}


def unknown_parameter(cls, name: str) -> str:
    """Why ``cls`` takes no parameter ``name``: its keraslearn spelling, a near miss, or its parameters."""
    known = cls._get_param_names()
    tabnet = "TabNet" in cls.__name__
    meant = {**_SKLEARN_RENAMED, **_RENAMED, **(_TABNET_RENAMED if tabnet else {})}.get(name, "")
    if name == "alpha" and "weight_decay" in known:
        meant = "weight_decay (decoupled, AdamW's: not alpha's scale)"
    if meant and meant.split(" ")[0] in known:
        peer = " (scikit-learn's MLP name)" if name in _SKLEARN_RENAMED or name == "alpha" else ""
        return f"{cls.__name__} has no parameter {name!r}{peer}; keraslearn calls it {meant}."
    if name in _FIT_ARGUMENTS:
        return (f"{name} is an argument of {cls.__name__}.fit(X, y, {name}=...), not a parameter of the learner"
                f"{_FIT_ARGUMENTS[name]}.")
    absent = {**_SKLEARN_ABSENT, **_ABSENT, **(_TABNET_ABSENT if tabnet else {})}.get(name)
    if name == "metrics" and "model" in known:  # the generic learners: the user's build function compiles
        absent = ("compile them in the build function (model.compile(..., metrics=[...])): the learner keeps them, "
                  "and history_ logs them (val_ ones too); or score predictions with sklearn.metrics")
    if absent:
        peer = ("pytorch-tabnet" if name == "mask_type" else "mlr3keras" if name in _ABSENT or tabnet and
                name in _TABNET_ABSENT else "scikit-learn's MLP")
        return f"{cls.__name__} has no parameter {name!r} ({peer} has): {absent}."
    if name == "use_batchnorm" and cls.__name__.startswith("SMLP2"):
        return (f"{cls.__name__} has no parameter 'use_batchnorm': its residual blocks (BN-act-Dense) always "
                "normalize; SMLPClassifier / SMLPRegressor have the switch.")
    close = [k for k in known if name in k] or difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return (f"{cls.__name__} has no parameter {name!r}" + (f"; did you mean {close[0]!r}?" if close else ".")
            + f" Its parameters: {', '.join(known)}")


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
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification', 'regression' or None, got {task!r}.")
    key = str(name).strip().lower()
    aliases = _aliases()
    fam = _family_named(key)
    if key in aliases:
        fam, kind = aliases[key]
        named = "classification" if kind == "classif" else "regression"
        if task is not None and task != named:
            raise ValueError(f"learner {name!r} is a {named} learner but task={task!r}; name a {task} learner, "
                             "or leave task out.")
    elif fam is not None:
        clf, reg = _FAMILIES[fam][:2]
        if task is None and (clf is None or reg is None):  # one learner in the family: 'cnn'
            task = "classification" if reg is None else "regression"
        if task not in ("classification", "regression"):
            raise ValueError(
                f"learner {name!r} is a family with a classifier and a regressor: pass "
                f"task='classification' or task='regression', or a full name such as 'classif.{key}'."
            )
        kind = "classif" if task == "classification" else "regr"
    else:
        raise ValueError(unknown_learner(name))
    path = _FAMILIES[fam][0 if kind == "classif" else 1]
    if path is None:
        raise ValueError(f"learner family {fam!r} has no {'classifier' if kind == 'classif' else 'regressor'}.")
    return _load(path)


def _family_named(key: str) -> str | None:
    """The family a short name means: its own name, or its mlr3keras key without the task ('kerasff')."""
    return key if key in _FAMILIES else next((f for f, v in _FAMILIES.items() if v[2] == key), None)


def task_of(name) -> str | None:
    """"classification" or "regression" when ``name`` names one learner ('classif.ff', 'FFRegressor'),
    None for a family name ('ff') or an unknown one."""
    entry = _aliases().get(str(name).strip().lower())
    if entry is None:
        return None
    return "classification" if entry[1] == "classif" else "regression"


def unknown_learner(name) -> str:
    """Why ``name`` names no learner: a task the family lacks ('regr.kerascnn'), a near miss, or the list."""
    key = str(name).strip().lower()
    kind, _, fam = key.partition(".")
    for family, (clf, reg, mlr3, _) in _FAMILIES.items():
        if kind in ("classif", "regr") and fam in (family, mlr3) and (clf, reg)[kind == "regr"] is None:
            other = "regr" if kind == "classif" else "classif"
            return (f"learner family {family!r} has no {'classifier' if kind == 'classif' else 'regressor'}; "
                    f"its learner is {other}.{fam}.")
    spelled = {n.lower(): n for n in known_names()}
    spelled.update({p.split(":")[1].lower(): p.split(":")[1] for c, r, _, _ in _FAMILIES.values() for p in (c, r) if p})
    near = [spelled[n] for n in difflib.get_close_matches(key, sorted(spelled), n=3, cutoff=0.75)]
    if near:
        return f"Unknown learner {name!r}; did you mean {' or '.join(map(repr, near))}? {_NAMES}"
    return f"Unknown learner {name!r}. {_NAMES}"


_NAMES = (f"Learners are named classif.<family> or regr.<family>, family one of {', '.join(_FAMILIES)} (or "
          "mlr3keras' kerasff, kerascnn), or by class name, e.g. FFClassifier.")


def known_names() -> set[str]:
    """Every accepted learner name, lower case: class names, ``classif.<x>``/``regr.<x>`` keys, families."""
    return set(_aliases()) | set(_FAMILIES) | {v[2] for v in _FAMILIES.values() if v[2]}


def learner(name: str, task: str | None = None, **params):
    """Make a learner by name: ``learner("classif.kerasff", epochs=20)``, ``learner("FFRegressor")``.

    Routed parameters such as ``model__units=64`` (``classif.keras``) are set with ``set_params``.

    Parameters
    ----------
    name : str
        An mlr3keras key (``"classif.kerasff"``), a class name (``"FFRegressor"``, any case) or a family
        name (``"smlp"``), which needs ``task``.
    task : {"classification", "regression"} or None, default=None
        Picks the classifier or the regressor of a family name; a key or class name must agree with it.
    **params
        The learner's parameters.

    Returns
    -------
    KerasLearner
        An unfitted learner.
    """
    routed = {k: params.pop(k) for k in [k for k in params if "__" in k]}
    cls = resolve(name, task)
    check_parameters(cls, params)
    est = cls(**params)
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


def family_classes(family: str) -> list[type]:
    """A family's classifier and regressor classes (one of them for a one-task family such as 'cnn')."""
    return [_load(p) for p in _FAMILIES[family][:2] if p is not None]


def learner_classes() -> list[type]:
    """All learner classes (used by ``keraslearn.load`` to accept only known classes)."""
    return [cls for family in _FAMILIES for cls in family_classes(family)]
