"""Learner registry: mlr3keras keys, Python class names and short names; search spaces."""

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn.architectures.blocks import output_head, tabular_inputs
from keraslearn.learners.registry import known_names, learner_classes, resolve
from keraslearn.tuning.spaces import apply_sample, search_space

optuna = pytest.importorskip("optuna")

MLR3KERAS = {
    "classif.keras": "KerasClassifier",
    "regr.keras": "KerasRegressor",
    "classif.smlp": "SMLPClassifier",
    "regr.smlp": "SMLPRegressor",
    "classif.smlp2": "SMLP2Classifier",
    "regr.smlp2": "SMLP2Regressor",
    "classif.deep_wide": "DeepWideClassifier",
    "regr.deep_wide": "DeepWideRegressor",
}


def build(spec, units=16):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, output_head(spec, keras.layers.Dense(units)(x)))


@pytest.mark.parametrize("key, cls", MLR3KERAS.items())
def test_every_name_resolves(key, cls):
    assert resolve(key).__name__ == cls
    assert resolve(cls).__name__ == cls  # Python class name
    assert resolve(cls.lower()).__name__ == cls
    family = key.split(".")[1]
    task = "classification" if key.startswith("classif") else "regression"
    assert resolve(family, task=task).__name__ == cls  # short name + task
    assert getattr(keraslearn, cls) is resolve(key)  # exported at top level
    assert resolve(key) in learner_classes()  # so keraslearn.load accepts it
    assert {key, cls.lower(), family} <= known_names()  # the CLI's --learner check


def test_learner_passes_parameters_and_routes_model_params():
    assert keraslearn.learner("regr.smlp", epochs=20).epochs == 20
    clf = keraslearn.learner("classif.keras", model=build, model__units=8, epochs=5)
    assert clf.model is build and clf.model_params == {"units": 8} and clf.epochs == 5
    with pytest.raises(ValueError, match="task='classification'"):
        keraslearn.learner("smlp2")
    with pytest.raises(ValueError, match="classif.deep_wide"):
        keraslearn.learner("classif.deepest")


def test_list_learners_shows_the_mlr3keras_keys():
    table = keraslearn.list_learners()
    for key, cls in MLR3KERAS.items():
        row = table[table["class"] == cls]
        assert row["mlr3keras"].tolist() == [key]


@pytest.mark.parametrize("family", ["smlp", "smlp2", "deep_wide"])
def test_search_spaces_sample_into_valid_parameters(family):
    for kind in ("classification", "regression"):
        est = keraslearn.learner(family, task=kind)
        space = search_space(est)
        assert space and all(isinstance(d, optuna.distributions.BaseDistribution) for d in space.values())
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        trial = study.ask(space)
        params = apply_sample(est, trial.params)
        est.set_params(**params)
        est._validate_params()  # every sampled value is one the learner accepts
        if family == "deep_wide":
            assert len(params["layer_units"]) == trial.params["n_layers"]


def test_search_space_of_a_subclass_a_name_and_a_misspelt_parameter():
    """A subclass of a learner is that learner to scikit-learn: its family's space (it was "MyFF is not a
    registered keraslearn learner"); a registered name has its space; a near miss is named."""
    class MyFF(keraslearn.FFClassifier):
        pass

    assert search_space(MyFF()).keys() == search_space(keraslearn.FFClassifier).keys()
    assert search_space("classif.kerasff").keys() == search_space(keraslearn.FFClassifier).keys()
    with pytest.raises(ValueError, match="Unknown learner 'classif.kerasfff'"):
        search_space("classif.kerasfff")
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['dropuot'\] \(did you mean 'dropout' for "
                                         r"'dropuot'\?\); check the search space"):
        apply_sample(MyFF(), {"dropuot": 0.1})


def test_a_parameter_turned_off_by_a_fixed_value_is_not_tuned():
    from keraslearn.tuning.spaces import without_fixed

    space = search_space(keraslearn.RealMLPRegressor)
    assert "frequency_scale" in without_fixed(space, {"numeric_embedding": "pbld"})[0]
    reduced, dropped = without_fixed(space, {"numeric_embedding": None})  # --param numeric_embedding=None
    assert dropped == ["numeric_embedding", "frequency_scale"] and "frequency_scale" not in reduced
    assert "frequency_scale" in without_fixed(space, ["numeric_embedding"])[0]  # names alone: values unknown
    # a user's space for TabM, ResNet or FT-Transformer, whose periodic embedding uses frequency_scale
    assert "frequency_scale" in without_fixed({"numeric_embedding": None, "frequency_scale": None},
                                              {"numeric_embedding": "periodic"})[0]


def test_generic_learner_asks_for_a_search_space():
    clf = keraslearn.KerasClassifier(build)
    with pytest.raises(ValueError, match="search space dict"):
        clf.search_space()
    # A user space over the build function's hyperparameters applies through model__<name>.
    assert apply_sample(clf, {"model__units": 32, "learning_rate": 0.01}) == {"model__units": 32, "learning_rate": 0.01}
    with pytest.raises(ValueError, match="model__unitz"):
        apply_sample(clf, {"model__unitz": 32})


def test_wrong_names_are_answered_with_the_right_one():
    """A near miss of a learner name, a task the family lacks, and mlr3keras' parameter names."""
    with pytest.raises(ValueError, match=r"Unknown learner 'FFClasifier'; did you mean 'FFClassifier'"):
        keraslearn.learner("FFClasifier")
    with pytest.raises(ValueError, match="learner family 'cnn' has no regressor; its learner is classif.kerascnn"):
        keraslearn.learner("regr.kerascnn")
    # mlr3keras' keys are family names too ('kerasff' suggested 'keras', the learner of your own model); a
    # family of one learner needs no task; a task that contradicts a full name is an error, not ignored.
    assert type(keraslearn.learner("kerasff", task="regression")).__name__ == "FFRegressor"
    assert type(keraslearn.learner("cnn")).__name__ == type(keraslearn.learner("KerasCNN")).__name__ == "CNNClassifier"
    with pytest.raises(ValueError, match=r"learner 'classif.tabnet' is a classification learner but "
                                         r"task='regression'; name a regression learner, or leave task out"):
        keraslearn.learner("classif.tabnet", task="regression")
    with pytest.raises(ValueError, match=r"Unknown learner 'xgb'\. Learners are named classif.<family> or "
                                         r"regr.<family>, family one of ff, keras, smlp"):
        keraslearn.learner("xgb")
    with pytest.raises(TypeError, match="no parameter 'validation_split'; keraslearn calls it validation_fraction"):
        keraslearn.learner("regr.kerasff", validation_split=0.2)
    with pytest.raises(TypeError, match="TabNetClassifier has no parameter 'num_decision_steps'; keraslearn calls it "
                                        "n_steps"):
        keraslearn.learner("classif.tabnet", num_decision_steps=2)
    # set_params says it too (scikit-learn's ValueError, which listed the parameters only)
    with pytest.raises(ValueError, match="Invalid parameter: FFClassifier has no parameter 'lr'; keraslearn calls it "
                                         "learning_rate"):
        keraslearn.FFClassifier().set_params(lr=0.1)
    with pytest.raises(ValueError, match="TabNetRegressor has no parameter 'num_decision_steps'; keraslearn calls it"):
        keraslearn.TabNetRegressor().set_params(epochs=2, num_decision_steps=2)
    with pytest.raises(TypeError, match=r"no parameter 'batch_momentum'; keraslearn calls it momentum \(PyTorch's"):
        keraslearn.learner("classif.tabnet", batch_momentum=0.98)
    with pytest.raises(TypeError, match=r"SMLP2Classifier has no parameter 'use_batchnorm': its residual blocks"):
        keraslearn.learner("classif.smlp2", use_batchnorm=True)
    with pytest.raises(TypeError, match=r"no parameter 'initializer' \(mlr3keras has\): the layers use Keras'"):
        keraslearn.learner("classif.smlp", initializer="he_normal")
    with pytest.raises(TypeError, match=r"FFClassifier has no parameter 'norm_type'\. Its parameters: activation"):
        keraslearn.learner("classif.kerasff", norm_type="batch")  # TabNet's name: no TabNet advice for FF
    with pytest.raises(TypeError, match=r"ResNetClassifier has no parameter 'use_dropout'; did you mean "
                                        r"'hidden_dropout'"):
        keraslearn.learner("classif.resnet", use_dropout=False)  # no `dropout` to offer: its own names
    # fit()'s own arguments, met as parameters (--param checkpoint_dir=ck listed every parameter instead).
    with pytest.raises(TypeError, match=r"checkpoint_dir is an argument of FFClassifier.fit\(X, y, "
                                        r"checkpoint_dir=...\), not a parameter of the learner; the command line "
                                        r"has no checkpoints"):
        keraslearn.learner("classif.kerasff", checkpoint_dir="ck")


def test_scikit_learn_mlp_habits_get_keraslearn_spelling():
    """A user of MLPClassifier typed hidden_layer_sizes=, max_iter=, alpha=: the constructor said only Python's
    "unexpected keyword argument", set_params listed the parameters. Each now names keraslearn's way."""
    with pytest.raises(TypeError, match=r"FFClassifier has no parameter 'hidden_layer_sizes' \(scikit-learn's MLP "
                                        r"name\); keraslearn calls it layer_units\."):
        keraslearn.FFClassifier(hidden_layer_sizes=(10,))
    with pytest.raises(TypeError, match=r"no parameter 'max_iter' .*; keraslearn calls it epochs\."):
        keraslearn.FFRegressor(epochs=3, max_iter=3)
    with pytest.raises(TypeError, match=r"no parameter 'n_iter_no_change' .*calls it patience"):
        keraslearn.learner("classif.smlp", n_iter_no_change=5)
    with pytest.raises(ValueError, match=r"Invalid parameter: FFClassifier has no parameter 'solver' .*calls it "
                                         r"optimizer \(a Keras name: 'adam', 'sgd'...; no 'lbfgs'\)"):
        keraslearn.FFClassifier().set_params(solver="adam")
    with pytest.raises(TypeError, match=r"no parameter 'alpha' \(scikit-learn's MLP has\): no L2 penalty by name; "
                                        r"decay the weights with optimizer=keras.optimizers.AdamW"):
        keraslearn.FFClassifier(alpha=1e-4)
    # a family with a weight decay of its own names it
    with pytest.raises(TypeError, match=r"RealMLPRegressor has no parameter 'alpha' .*calls it weight_decay"):
        keraslearn.RealMLPRegressor(alpha=1e-4)
    with pytest.raises(TypeError, match=r"CNNClassifier has no parameter 'warm_start' \(scikit-learn's MLP has\): "
                                        r"each fit trains from scratch"):
        keraslearn.CNNClassifier(warm_start=True)  # the tabular learners have it
    with pytest.raises(TypeError, match=r"no parameter 'momentum' .*optimizer=keras.optimizers.SGD\(.*momentum=0.9"):
        keraslearn.FFClassifier(momentum=0.9)
    # TabNet's own `epsilon` advice (tf-TabNet's name) wins over the MLP's
    with pytest.raises(TypeError, match=r"TabNetClassifier has no parameter 'epsilon' \(mlr3keras has\): TabNet "
                                        r"normalizes"):
        keraslearn.TabNetClassifier(epsilon=1e-8)
    # the constructor says set_params' words for mlr3keras' names too, and a plain typo gets its near miss
    with pytest.raises(TypeError, match=r"FFClassifier has no parameter 'lr'; keraslearn calls it learning_rate"):
        keraslearn.FFClassifier(lr=0.1)
    with pytest.raises(TypeError, match=r"FFRegressor has no parameter 'dropuot'; did you mean 'dropout'"):
        keraslearn.FFRegressor(dropuot=0.1)

    # A user's preset passing **kwargs on is left to its own __init__ (a review: it could not be made any more)
    class Small(keraslearn.FFClassifier):
        def __init__(self, foo=1, **kwargs):
            self.foo = foo
            super().__init__(layer_units=(8,), **kwargs)

    assert Small(foo=2, epochs=3).epochs == 3


def test_scikit_learn_mlp_attributes_say_where_keraslearn_keeps_them():
    clf = keraslearn.FFClassifier()  # fitted or not: keraslearn never has them
    with pytest.raises(AttributeError, match=r"FFClassifier has no loss_curve_ \(scikit-learn's MLP attribute\): "
                                             r"the per-epoch training loss is history_\['loss'\]"):
        clf.loss_curve_
    with pytest.raises(AttributeError, match=r"no best_validation_score_ .*history_\['val_loss'\]"):
        clf.best_validation_score_
    with pytest.raises(AttributeError, match=r"no intercepts_ .*model_.get_weights\(\)"):
        clf.intercepts_
    assert not hasattr(clf, "coefs_") and "coefs_" not in vars(clf)  # not a fitted attribute of its own
    assert "not kept: the per-epoch training loss" in repr(type(clf).loss_curve_)  # in help()
    clf.coefs_ = "set"  # an instance (or a subclass) may still have one
    assert clf.coefs_ == "set"
    del clf.coefs_


def test_parameters_are_keyword_only_as_in_scikit_learn():
    """FFClassifier(10) bound 10 to layer_units silently; scikit-learn's estimators refuse positional
    parameters (MLPClassifier(10) is a TypeError). A generic learner takes its model first, as Keras' wrappers."""
    for cls in sorted(learner_classes(), key=lambda c: c.__name__):
        generic = cls.__name__.startswith("Keras")
        with pytest.raises(TypeError, match="positional argument"):
            cls(build, 10) if generic else cls(10)
    assert keraslearn.KerasClassifier(build).model is build
    with pytest.raises(TypeError, match="positional argument"):
        keraslearn.TabularEncoder("standard")


def test_the_cli_help_lists_every_family_the_command_line_trains():
    # Written out in keraslearn.commands (importing the registry imports Keras): checked here against it.
    from keraslearn.commands import LEARNER_FAMILIES
    from keraslearn.learners.registry import _FAMILIES

    assert set(LEARNER_FAMILIES) == set(_FAMILIES) - {"keras"}  # keras: a Python build function


def test_keras_fit_arguments_given_to_fit_say_where_they_go():
    """A Keras user wrote fit(X, y, epochs=5) and fit(X, y, validation_data=(Xv, yv)): Python's bare "unexpected
    keyword argument" said nothing of the constructor or of X_val. Nothing is fitted."""
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    clf = keraslearn.FFClassifier()
    with pytest.raises(TypeError, match=r"^FFClassifier.fit\(\) got an unexpected keyword argument 'epochs': it is a "
                                        r"parameter of the learner, as in scikit-learn: FFClassifier\(epochs=5\) or "
                                        r"learner.set_params\(epochs=5\)\.$"):
        clf.fit(X, y, epochs=5)
    with pytest.raises(TypeError, match=r"'validation_data': pass the rows as fit\(X, y, X_val=..., y_val=...\)"):
        clf.fit(X, y, validation_data=(X, y))
    with pytest.raises(TypeError, match=r"'validation_split': keraslearn calls it validation_fraction, a parameter "
                                        r"of the learner: TabNetRegressor\(validation_fraction=...\)"):
        keraslearn.TabNetRegressor().fit(X, y, validation_split=0.2)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'callbacks': .*set_params\(callbacks=\.\.\.\)"):
        clf.fit(X, y, callbacks=[object()] * 9)  # a long value is not written out
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'shuffel'$"):  # anything else: Python's words
        clf.fit(X, y, shuffel=True)
    assert not hasattr(clf, "model_")


def test_metrics_given_to_a_generic_learner_point_to_its_build_function():
    # QA (a Keras user): the advice was sklearn.metrics alone, though metrics compiled in build are kept and logged.
    with pytest.raises(TypeError, match=r"KerasClassifier has no parameter 'metrics' \(mlr3keras has\): compile them "
                                        r"in the build function \(model.compile\(..., metrics=\[...\]\)\)"):
        keraslearn.KerasClassifier(metrics=["auc"])
    with pytest.raises(TypeError, match=r"FFClassifier has no parameter 'metrics' .*sklearn.metrics, or compile "
                                        r"metrics in a KerasClassifier / KerasRegressor build function"):
        keraslearn.FFClassifier(metrics=["auc"])
