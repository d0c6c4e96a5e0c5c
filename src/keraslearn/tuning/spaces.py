"""Search spaces per learner family, as Optuna distributions.

A space maps names to ``optuna.distributions``. Most names are learner parameters; a few
are *derived* (e.g. ``n_layers`` and ``units`` for ``layer_units``, because Optuna's
categorical choices cannot be tuples); :func:`apply_sample` turns a sampled point into
learner parameters.
"""

from __future__ import annotations


def _optuna_distributions():
    try:
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
        "batch_size": d.CategoricalDistribution([256, 512, 1024, 2048]),
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


# family key (as in learners.registry) -> function(distributions module) -> space
SPACES = {
    "ff": _ff_space,
    "smlp": _smlp_space,
    "smlp2": _smlp2_space,
    "deep_wide": _deep_wide_space,
    "tabnet": _tabnet_space,
    "cnn": _cnn_space,
}

# derived name(s) -> (learner parameter, function of the sampled values)
_DERIVED = {
    ("n_layers", "units"): ("layer_units", lambda n_layers, units: (int(units),) * int(n_layers)),
}


def family_of(learner) -> str:
    """The registry family key of a learner instance or class."""
    from keraslearn.learners.registry import _FAMILIES

    cls = learner if isinstance(learner, type) else type(learner)
    for fam, (clf, reg, _, _) in _FAMILIES.items():
        if cls.__name__ in {p.split(":")[1] for p in (clf, reg) if p}:
            return fam
    raise ValueError(f"{cls.__name__} is not a registered keraslearn learner; pass a search space dict.")


def search_space(learner) -> dict:
    """The default Optuna search space for ``learner`` (instance or class)."""
    fam = family_of(learner)
    if fam not in SPACES:
        raise ValueError(f"No default search space for the {fam!r} family; pass a search space dict.")
    return SPACES[fam](_optuna_distributions())


def apply_sample(learner, sampled: dict) -> dict:
    """Learner parameters for a sampled point: derived names are combined, others pass through."""
    params = dict(sampled)
    # deep=True: the generic learners list their build function's hyperparameters as model__<name>.
    valid = set(learner.get_params(deep=True))
    for names, (target, fn) in _DERIVED.items():
        if all(n in params for n in names) and target in valid:
            params[target] = fn(*(params.pop(n) for n in names))
    unknown = set(params) - valid
    if unknown:
        raise ValueError(f"{type(learner).__name__} has no parameter(s) {sorted(unknown)}; check the search space.")
    return params
