"""Search spaces per learner family, as Optuna distributions.

A space maps names to ``optuna.distributions``. Most names are learner parameters; a few
are *derived* (e.g. ``n_layers`` and ``units`` for ``layer_units``, because Optuna's
categorical choices cannot be tuples); :func:`apply_sample` turns a sampled point into
learner parameters.
"""

from __future__ import annotations

import difflib


def import_optuna():
    """Import Optuna, as the first use does, without the warning its import of ``tqdm.auto`` gives in a notebook
    without ipywidgets ("IProgress not found", shown even at verbose=0; keraslearn draws its own bars)."""
    import sys
    import warnings

    if "optuna" not in sys.modules:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found")
            import optuna  # noqa: F401


def _optuna_distributions():
    try:
        import_optuna()
        from optuna import distributions
    except ImportError as err:
        raise ImportError("Search spaces need Optuna: pip install 'keraslearn[tune]'") from err
    return distributions


def _ff_space(d):
    return {
        "n_layers": d.IntDistribution(1, 4),
        "units": d.IntDistribution(16, 512, log=True),
        "activation": d.CategoricalDistribution(["relu", "elu", "selu", "gelu", "silu"]),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "input_dropout": d.FloatDistribution(0.0, 0.3),
        "use_batchnorm": d.CategoricalDistribution([False, True]),
        "embed_dropout": d.FloatDistribution(0.0, 0.3),
        "learning_rate": d.FloatDistribution(1e-4, 1e-2, log=True),
        "batch_size": d.CategoricalDistribution([32, 64, 128, 256, 512]),
    }


def _smlp_space(d):
    # mlr3keras bounds only n_max, n_layers >= 1; the ranges are Auto-PyTorch Tabular's shaped-MLP space.
    return {
        "n_max": d.IntDistribution(32, 1024, log=True),
        "n_layers": d.IntDistribution(1, 6),
        "activation": d.CategoricalDistribution(["relu", "elu", "selu", "gelu", "silu"]),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "input_dropout": d.FloatDistribution(0.0, 0.3),
        "use_batchnorm": d.CategoricalDistribution([False, True]),
        "embed_dropout": d.FloatDistribution(0.0, 0.3),
        "learning_rate": d.FloatDistribution(1e-4, 1e-2, log=True),
        "lr_schedule": d.CategoricalDistribution(["cosine", "cosine_restarts", "constant"]),
        "batch_size": d.CategoricalDistribution([32, 64, 128, 256, 512]),
    }


def _smlp2_space(d):
    # Residual blocks carry batch norm and dropout always (no use_batchnorm); n_layers >= 2 has a block.
    return {
        "n_max": d.IntDistribution(32, 512, log=True),
        "n_layers": d.IntDistribution(2, 6),
        "activation": d.CategoricalDistribution(["relu", "elu", "selu", "gelu", "silu"]),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "input_dropout": d.FloatDistribution(0.0, 0.3),
        "embed_dropout": d.FloatDistribution(0.0, 0.3),
        "learning_rate": d.FloatDistribution(1e-4, 1e-2, log=True),
        "lr_schedule": d.CategoricalDistribution(["cosine", "cosine_restarts", "constant"]),
        "batch_size": d.CategoricalDistribution([32, 64, 128, 256, 512]),
    }


def _deep_wide_space(d):
    # The deep part's layers are tuned like FF's (n_layers × units → layer_units).
    return {
        "n_layers": d.IntDistribution(1, 4),
        "units": d.IntDistribution(16, 512, log=True),
        "activation": d.CategoricalDistribution(["relu", "elu", "selu", "gelu", "silu"]),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "input_dropout": d.FloatDistribution(0.0, 0.3),
        "use_batchnorm": d.CategoricalDistribution([False, True]),
        "embed_dropout": d.FloatDistribution(0.0, 0.3),
        "learning_rate": d.FloatDistribution(1e-4, 1e-2, log=True),
        "batch_size": d.CategoricalDistribution([32, 64, 128, 256, 512]),
    }


def _tabnet_space(d):
    # After the TabNet paper's search grid (Arik & Pfister 2019, appendix); its batch-norm
    # momentum 0.6-0.98 (TensorFlow convention) is 0.02-0.4 in the PyTorch convention used here.
    return {
        "n_d": d.CategoricalDistribution([8, 16, 24, 32, 64]),
        "n_a": d.CategoricalDistribution([8, 16, 24, 32, 64]),
        "n_steps": d.IntDistribution(3, 10),
        "gamma": d.FloatDistribution(1.0, 2.0),
        "n_independent": d.IntDistribution(1, 5),
        "n_shared": d.IntDistribution(1, 5),
        "lambda_sparse": d.FloatDistribution(1e-6, 1e-1, log=True),
        "momentum": d.FloatDistribution(0.02, 0.4, log=True),
        "virtual_batch_size": d.CategoricalDistribution([128, 256, 512]),
        "batch_size": d.CategoricalDistribution(["auto", 256, 512, 1024, 2048]),
        "learning_rate": d.FloatDistribution(5e-3, 5e-2, log=True),
    }


def _cnn_space(d):
    return {
        "cl_layer_units": d.CategoricalDistribution([128, 256, 512, 1024]),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "unfreeze_n_last_layers": d.IntDistribution(0, 30),
        "learning_rate": d.FloatDistribution(1e-5, 1e-3, log=True),
        "batch_size": d.CategoricalDistribution([16, 32, 64]),
    }


def _resnet_space(d):
    # Gorishniy et al. 2021, Table (ResNet), with the numeric embeddings added.
    return {
        "n_blocks": d.IntDistribution(1, 8),
        "d_block": d.IntDistribution(64, 512, log=True),
        "d_hidden_multiplier": d.FloatDistribution(1.0, 4.0),
        "hidden_dropout": d.FloatDistribution(0.0, 0.5),
        "residual_dropout": d.FloatDistribution(0.0, 0.5),
        "numeric_embedding": d.CategoricalDistribution([None, "periodic", "piecewise"]),
        "learning_rate": d.FloatDistribution(1e-5, 1e-2, log=True),
        "weight_decay": d.FloatDistribution(1e-6, 1e-3, log=True),
    }


def _ft_transformer_space(d):
    # Gorishniy et al. 2021 (FT-Transformer); token widths divisible by the 8 heads.
    return {
        "n_blocks": d.IntDistribution(1, 4),
        "d_block": d.CategoricalDistribution([64, 96, 128, 192, 256, 320]),
        "attention_dropout": d.FloatDistribution(0.0, 0.5),
        "ffn_d_hidden_multiplier": d.FloatDistribution(2 / 3, 8 / 3),
        "ffn_dropout": d.FloatDistribution(0.0, 0.5),
        "residual_dropout": d.FloatDistribution(0.0, 0.2),
        "learning_rate": d.FloatDistribution(1e-5, 1e-3, log=True),
        "weight_decay": d.FloatDistribution(1e-6, 1e-3, log=True),
    }


def _realmlp_space(d):
    # pytabkit's RealMLP-HPO space (Holzmüller et al. 2024), minus label smoothing
    # (classifier-only; a family space serves both tasks).
    return {
        "n_hidden_layers": d.IntDistribution(1, 5),
        "hidden_width": d.CategoricalDistribution([64, 128, 256, 512]),
        "activation": d.CategoricalDistribution(["relu", "selu", "mish"]),
        "dropout": d.CategoricalDistribution([0.0, 0.15, 0.3]),
        "numeric_embedding": d.CategoricalDistribution(["pbld", None]),
        "frequency_scale": d.FloatDistribution(0.05, 0.5, log=True),
        "learning_rate": d.FloatDistribution(2e-2, 3e-1, log=True),
        "weight_decay": d.CategoricalDistribution([0.0, 0.02]),
    }


def _tabm_space(d):
    # The TabM paper's space for TabM with piecewise-linear embeddings (k fixed).
    return {
        "n_blocks": d.IntDistribution(1, 4),
        "d_block": d.IntDistribution(64, 1024, step=16),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "n_bins": d.IntDistribution(2, 128),
        "numeric_embed_dim": d.IntDistribution(8, 32, step=4),
        "learning_rate": d.FloatDistribution(1e-4, 3e-3, log=True),
        "weight_decay": d.FloatDistribution(1e-4, 1e-1, log=True),
    }


# family key (as in learners.registry) -> function(distributions module) -> space
SPACES = {
    "ff": _ff_space,
    "smlp": _smlp_space,
    "smlp2": _smlp2_space,
    "deep_wide": _deep_wide_space,
    "tabnet": _tabnet_space,
    "cnn": _cnn_space,
    "resnet": _resnet_space,
    "ft_transformer": _ft_transformer_space,
    "realmlp": _realmlp_space,
    "tabm": _tabm_space,
}

# derived name(s) -> (learner parameter, function of the sampled values)
_DERIVED = {
    ("n_layers", "units"): ("layer_units", lambda n_layers, units: (int(units),) * int(n_layers)),
    ("n_hidden_layers", "hidden_width"): (
        "hidden_sizes",
        lambda n_hidden_layers, hidden_width: (int(hidden_width),) * int(n_hidden_layers),
    ),
}


def family_of(learner) -> str:
    """The registry family key of a learner instance or class."""
    from keraslearn.learners.registry import _FAMILIES

    cls = learner if isinstance(learner, type) else type(learner)
    registered = {p: fam for fam, (clf, reg, _, _) in _FAMILIES.items() for p in (clf, reg) if p}
    for klass in cls.__mro__:  # a subclass of a learner has its family's space
        fam = registered.get(f"{klass.__module__}:{klass.__name__}")
        if fam is not None:
            return fam
    raise ValueError(f"{cls.__name__} is not a registered keraslearn learner; pass a search space dict.")


def _pretrained(cnn_learner) -> bool:
    """Whether a CNN learner's fit will start from pretrained weights: a file, or ImageNet's when cached or
    to be downloaded (see :func:`keraslearn.architectures.cnn.imagenet_unavailable`; the network is not asked)."""
    import os

    from keraslearn.architectures.cnn import imagenet_unavailable

    weights = cnn_learner.weights
    if weights is None or not isinstance(weights, (str, os.PathLike)) or os.fspath(weights) != "imagenet":
        return weights is not None  # None: random weights; a path: that file's (anything else: fit refuses it)
    try:
        size = cnn_learner._size()
        return not imagenet_unavailable(cnn_learner.application, size[0], cnn_learner.alpha)
    except ValueError:  # a bad image_size or application: fit names it
        return True


def search_space(learner) -> dict:
    """The default Optuna search space for ``learner`` (instance or class)."""
    if isinstance(learner, str):  # "classif.kerasff", "FFRegressor"
        from keraslearn.learners.registry import resolve

        learner = resolve(learner)
    fam = family_of(learner)
    if fam not in SPACES:
        raise ValueError(f"No default search space for the {fam!r} family; pass a search space dict.")
    space = SPACES[fam](_optuna_distributions())
    if fam == "cnn" and not isinstance(learner, type) and not _pretrained(learner):
        del space["unfreeze_n_last_layers"]  # without pretrained weights nothing is frozen: it changes nothing
    return space


def default_batch_sizes(learner):
    """The ``batch_size`` distribution of ``learner``'s default space; None without one (a generic
    learner, whose hyperparameters are its build function's, or a Pipeline)."""
    try:
        return learner.search_space().get("batch_size")
    except (AttributeError, TypeError, ValueError):
        return None


def for_rows(space: dict, rows: int) -> dict:
    """A default ``space`` without the batch sizes that train fewer than 8 steps an epoch on ``rows``
    (a trial's training rows): on a few hundred rows TabNet's 1024 and 2048 trained one step an epoch
    and scored near chance. ``"auto"`` (which sizes itself) stays, else at least the smallest number."""
    choices = getattr(space.get("batch_size"), "choices", ())
    numbers = [c for c in choices if not isinstance(c, str)]
    smallest = min(numbers, default=None) if len(numbers) == len(choices) else None
    keep = [c for c in choices if isinstance(c, str) or c * 8 <= rows or c == smallest]
    if len(keep) == len(choices):
        return space
    return {**space, "batch_size": type(space["batch_size"])(keep)}


def apply_sample(learner, sampled: dict) -> dict:
    """Learner parameters for a sampled point: derived names are combined, others pass through."""
    params = dict(sampled)
    # deep=True: the generic learners list their build function's hyperparameters as model__<name>.
    valid = set(learner.get_params(deep=True))
    for names, (target, fn) in _DERIVED.items():
        if all(n in params for n in names) and target in valid:
            if target in params:  # the sample would be overwritten: tuned and reported, yet never used
                raise ValueError(f"The search space has {target} and also {' and '.join(names)}, which make "
                                 f"{target}: keep one of the two.")
            params[target] = fn(*(params.pop(n) for n in names))
    unknown = set(params) - valid
    for names, (target, _) in _DERIVED.items():
        given = [n for n in names if n in unknown]
        if given and target in valid:
            missing = [n for n in names if n not in given]
            raise ValueError(
                f"{' and '.join(given)} make {target} together with {' and '.join(missing)}: add "
                f"{' and '.join(missing)} to the search space, or tune {target} itself."
            )
    if unknown:
        routed = [f"model__{n}" for n in sorted(unknown) if "model_params" in valid and not n.startswith("model__")]
        hint = f" (a build function's own: {', '.join(routed)})" if routed else ""
        near = {n: difflib.get_close_matches(n, sorted(valid), n=1, cutoff=0.7) for n in sorted(unknown)}
        if not routed and any(near.values()):
            hint = " (did you mean " + ", ".join(f"{m[0]!r} for {n!r}" for n, m in near.items() if m) + "?)"
        raise ValueError(f"{type(learner).__name__} has no parameter(s) {sorted(unknown)}{hint}; check the search "
                         "space.")
    return params


def tuned_params(space: dict) -> set:
    """The learner parameters a space sets: its names, and the targets of its derived names."""
    return set(space) | {target for names, (target, _) in _DERIVED.items() if any(n in space for n in names)}


# Parameters that act only under some values of another: {name: (that parameter, those values)}.
ONLY_WITH = {
    "frequency_scale": ("numeric_embedding", ("pbld", "periodic")),
    "n_bins": ("numeric_embedding", ("piecewise",)),
    "numeric_embed_dim": ("numeric_embedding", ("periodic", "piecewise")),
    "embed_dropout": ("use_embedding", (True,)),
}
#: Names a trial draws last, once what decides whether they act is known (see :func:`idle`).
CONDITIONAL = (*ONLY_WITH, "virtual_batch_size")


def idle(name, dist, learner, params: dict, rows: int, categorical: bool) -> bool:
    """Whether ``name`` can do nothing in a trial whose fits take ``params`` (the learner's, with the
    trial's draws so far) on at most ``rows`` training rows; ``categorical``: whether X has categorical
    columns.

    A trial leaves such a name out, so TPE models only what acts: ``frequency_scale`` without a periodic
    embedding, ``embed_dropout`` without embedded columns, TabNet's ``virtual_batch_size`` when the
    trial's batch (in its largest fit) is no larger than its smallest choice (every choice is then one
    ghost batch).
    """
    from optuna.distributions import CategoricalDistribution

    from keraslearn.learners.base import batch_rows

    switch, using = ONLY_WITH.get(name, (None, ()))
    if switch in params and params[switch] not in using:
        return True
    if name == "embed_dropout" and not categorical:
        return True
    if name == "virtual_batch_size" and "batch_size" in params:
        smallest = min(dist.choices) if isinstance(dist, CategoricalDistribution) else dist.low
        return batch_rows(params["batch_size"], rows, learner._auto_batch) <= smallest
    return False


def without_fixed(space: dict, fixed) -> tuple[dict, list]:
    """``space`` minus the names in ``fixed``, and minus derived names whose target is fixed; ``fixed``
    as a dict of values also drops what those values turn off (``frequency_scale`` without an embedding).

    Returns the reduced space and the names removed. Fixing ``layer_units`` removes
    ``n_layers`` and ``units``, which would otherwise overwrite it in every trial.
    """
    values = dict(fixed) if isinstance(fixed, dict) else {}
    fixed = set(fixed)
    dropped = {name for name in space if name in fixed}
    for names, (target, _) in _DERIVED.items():
        if target in fixed:
            dropped.update(n for n in names if n in space)
    for name, (switch, using) in ONLY_WITH.items():  # numeric_embedding=None: frequency_scale does nothing
        if switch in values and values[switch] not in using:
            dropped.update({name} & set(space))
    return {k: v for k, v in space.items() if k not in dropped}, [k for k in space if k in dropped]
