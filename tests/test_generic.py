"""KerasClassifier / KerasRegressor: your own build function, routed ``model__`` params, sklearn contract."""

import pickle
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import estimator_checks_generator

import keraslearn
from keraslearn.architectures.blocks import output_head, tabular_inputs
from keraslearn.learners.generic import KerasClassifier, KerasRegressor

# Build functions live at module level so learners holding them pickle (n_jobs=2, artifacts).


def build_mlp(spec, units=16, activation="relu", compile_with=None):
    """A one-hidden-layer MLP; ``compile_with=(optimizer, loss)`` returns it compiled."""
    inputs, x = tabular_inputs(spec)
    x = keras.layers.Dense(units, activation=activation, name="hidden")(x)
    model = keras.Model(inputs, output_head(spec, x))
    if compile_with is not None:
        optimizer, loss = compile_with
        metrics = ["accuracy"] if "entropy" in loss else None
        model.compile(optimizer=keras.optimizers.get(optimizer), loss=loss, metrics=metrics)
    return model


def build_eager(spec, units=16):
    """Compiled without jit: the check suite fits dozens of tiny models, and JAX's eager mode
    skips the per-fit compile that dominates their cost."""
    inputs, x = tabular_inputs(spec)
    x = keras.layers.Dense(units, activation="relu")(x)
    model = keras.Model(inputs, output_head(spec, x))
    loss = {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy"}.get(spec.task, "mse")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, jit_compile=False)
    return model


def build_matrix(spec, units=16):
    """A model with one plain matrix input (fed through ``x_transform``)."""
    inp = keras.Input(shape=(spec.n_numeric + len(spec.categorical),))
    x = keras.layers.Dense(units, activation="relu")(inp)
    model = keras.Model(inp, keras.layers.Dense(spec.n_classes, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    return model


def to_matrix(x):
    return np.hstack([x[k].astype(np.float32) for k in sorted(x)])


SEEN_TARGETS = []


def smooth_labels(y):
    SEEN_TARGETS.append(y)
    return y * 0.9 + 0.1 / y.shape[1]


FAST = dict(epochs=10, batch_size=16, random_state=0)


# ------------------------------------------------------------------ fitted learners (shared)
@pytest.fixture(scope="module")
def multiclass_fit(iris_mixed):
    """Compiled by the build function with categorical cross-entropy: targets must be one-hot."""
    X, y = iris_mixed
    clf = KerasClassifier(build_mlp, model_params={"compile_with": ("adam", "categorical_crossentropy")}, **FAST)
    return clf.fit(X, y), X, y


@pytest.fixture(scope="module")
def binary_fit(cancer_mixed):
    """Not compiled: the learner compiles with its own optimizer and the task's loss."""
    X, y = cancer_mixed
    clf = KerasClassifier(build_mlp, model_params={"units": 8}, learning_rate=0.01, **FAST)
    return clf.fit(X, y), X, y


@pytest.fixture(scope="module")
def regression_fit(diabetes_mixed):
    """Compiled with RMSprop; an explicit learning_rate recompiles it, keeping the optimizer."""
    X, y = diabetes_mixed
    reg = KerasRegressor(build_mlp, model_params={"compile_with": ("rmsprop", "mse")}, learning_rate=0.01, **FAST)
    return reg.fit(X, y), X, y


# ------------------------------------------------------------------------ behaviour
def test_multiclass_learns_with_compiled_loss(multiclass_fit):
    clf, X, y = multiclass_fit
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.6  # chance is 1/3; 10 tiny epochs reach 0.7 (seed 0) to 0.9
    # The build function's compile settings were kept: its metric is in the history.
    assert "accuracy" in clf.history_
    assert clf.model_.loss == "categorical_crossentropy"


def test_binary_uncompiled_gets_learner_defaults(binary_fit):
    clf, X, y = binary_fit
    assert isinstance(clf.model_.optimizer, keras.optimizers.Adam)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.01)
    assert clf.model_.loss == "binary_crossentropy"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert clf.score(X, y) > 0.85


def test_regression_explicit_learning_rate_recompiles(regression_fit):
    reg, X, y = regression_fit
    assert isinstance(reg.model_.optimizer, keras.optimizers.RMSprop)
    assert float(reg.model_.optimizer.learning_rate) == pytest.approx(0.01)
    pred = reg.predict(X)
    assert pred.shape == (len(X),)
    assert reg.score(X, y) > 0.3


def test_fit_and_predict_are_quiet(binary_fit, capfd):
    clf, X, _ = binary_fit
    clf.predict_proba(X.iloc[:5])
    clf.predict(X.iloc[:5])
    out, err = capfd.readouterr()
    assert out == ""


@pytest.mark.parametrize("fixture", ["multiclass_fit", "binary_fit", "regression_fit"])
def test_save_load_predicts_identically(fixture, request, tmp_path):
    est, X, _ = request.getfixturevalue(fixture)
    path = tmp_path / "learner.keraslearn"
    with pytest.warns(UserWarning, match="model"):
        est.save(path)  # the build function has no file form
    loaded = keraslearn.load(path)
    assert type(loaded) is type(est)
    assert loaded.model is None
    assert loaded.model_params == est.model_params
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    with pytest.raises(ValueError, match="model=build"):
        loaded.fit(X, est.predict(X))


def test_pickle_roundtrip_predicts_identically(multiclass_fit):
    clf, X, _ = multiclass_fit
    again = pickle.loads(pickle.dumps(clf))
    assert again.model is build_mlp
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_x_transform_and_y_transform(iris_mixed, tmp_path):
    X, y = iris_mixed
    SEEN_TARGETS.clear()
    clf = KerasClassifier(build_matrix, x_transform=to_matrix, y_transform=smooth_labels, validation_fraction=0, **FAST)
    clf.fit(X, y)
    (seen,) = SEEN_TARGETS
    # y_transform saw one-hot rows (categorical cross-entropy compiled in), one per training row.
    assert seen.shape == (len(X), 3)
    np.testing.assert_array_equal(seen.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.8
    path = tmp_path / "xt.keraslearn"
    with pytest.warns(UserWarning):
        clf.save(path)
    loaded = keraslearn.load(path)
    with pytest.raises(ValueError, match="x_transform"):
        loaded.predict(X)
    loaded.set_params(x_transform=to_matrix)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_mlr3keras_y_transform_to_categorical_is_refused_by_name(iris_mixed):
    """Keras said 'target.shape=(81, 3), output.shape=(81, 3)' (equal shapes) or failed to squeeze: the class
    codes keraslearn trains on, one-hot encoded again by the user's y_transform."""
    X, y = iris_mixed
    for loss, shapes in ((None, r"\(\d+,\) into one-hot rows of shape \(\d+, 3\)"),
                         ("categorical_crossentropy", r"\(\d+, 3\) into one-hot rows of shape \(\d+, 3, 2\)")):
        with pytest.raises(ValueError, match=rf"y_transform turned the training target of shape {shapes}.*drop "
                                             r"y_transform=to_categorical"):
            KerasClassifier(build_mlp, y_transform=keraslearn.to_categorical, loss=loss, **FAST).fit(X, y)

    # A loss keraslearn does not know may want one-hot rows: only y_transform can give them (the review)
    def smoothed(target, output):
        return keras.losses.categorical_crossentropy(target, output, label_smoothing=0.1)

    fitted = KerasClassifier(build_mlp, y_transform=keraslearn.to_categorical, loss=smoothed, **FAST).fit(X, y)
    assert fitted.score(X, y) > 0.5


def test_an_x_transform_output_is_never_reordered_in_place(iris_mixed):
    """The validation split moves rows in place only in the encoder's own arrays, never in a user's."""
    X, y = iris_mixed
    mine = {}

    def swap_in_my_array(x):  # the same dict, holding an array the user keeps
        mine["numeric"] = x["numeric"].copy()
        mine["before"] = mine["numeric"].copy()
        x["numeric"] = mine["numeric"]
        return x

    clf = KerasClassifier(build_mlp, x_transform=swap_in_my_array, validation_fraction=0.3, **FAST).fit(X, y)
    np.testing.assert_array_equal(mine["numeric"], mine["before"])
    assert "val_loss" in clf.history_


def build_two_softmax(spec):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def build_ending_in(spec, last="softmax", output="linear"):
    """Dense outputs then a Softmax or ReLU layer (not an activation=)."""
    inputs, x = tabular_inputs(spec)
    x = keras.layers.Dense(spec.n_outputs, activation=output)(keras.layers.Dense(8, activation="relu")(x))
    return keras.Model(inputs, keras.layers.Softmax()(x) if last == "softmax" else keras.layers.ReLU()(x))


def build_poisson(spec):
    inputs, x = tabular_inputs(spec)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="exponential")(x))
    model.compile(optimizer="adam", loss="poisson")
    return model


def test_target_encoding_follows_the_model(cancer_mixed, diabetes_mixed):
    X, y = cancer_mixed
    clf = KerasClassifier(build_two_softmax, epochs=1, random_state=0).fit(X, y)
    assert clf.model_.loss == "sparse_categorical_crossentropy"  # two softmax units for two classes
    assert clf.predict_proba(X).shape == (len(X), 2)
    Xd, yd = diabetes_mixed
    reg = KerasRegressor(build_poisson, epochs=1, random_state=0).fit(Xd, yd)
    # A Poisson loss needs the raw counts-like target, so it is not standardized.
    assert reg.y_mean_.tolist() == [0.0] and reg.y_scale_.tolist() == [1.0]
    assert (reg.predict(Xd) > 0).all()
    # loss="poisson" given to the learner, over that exponential output: it was refused as if the output were linear
    given = KerasRegressor(build_ending_in, model_params={"last": "relu", "output": "exponential"}, loss="poisson",
                           epochs=1, random_state=0).fit(Xd, yd)
    assert given.y_mean_.tolist() == [0.0] and (given.predict(Xd) >= 0).all()
    with pytest.raises(ValueError, match=r"The Poisson loss needs positive predictions, but the model's output layer "
                                         r"has activation='linear'"):
        KerasRegressor(build_mlp, loss="poisson", epochs=1).fit(Xd, yd)
    # A ReLU layer (not an activation=) on the standardized target: predictions floored at y's mean, silently
    with pytest.raises(ValueError, match=r"activation='relu', whose outputs are never negative"):
        KerasRegressor(build_ending_in, model_params={"last": "relu"}, epochs=1).fit(Xd, yd)
    # tanh: predictions silently capped at the mean ± 1 sd (QA)
    with pytest.raises(ValueError, match=r"activation='tanh', whose outputs lie in \[-1, 1\]"):
        KerasRegressor(build_scores, model_params={"activation": "tanh"}, epochs=1).fit(Xd, yd)
    # A y_transform of the standardized target that makes NaN (np.log) was a DivergedError about learning rates
    with pytest.raises(ValueError, match=r"y_transform returned NaN or infinite targets for \d+ value\(s\); it "
                                         r"receives the encoded target \(a regressor's target standardized"):
        KerasRegressor(build_mlp, y_transform=np.log, epochs=1).fit(Xd, yd)


# ------------------------------------------------------------- routed parameters, clone
def test_model_params_routing():
    user_dict = {"units": 8}
    clf = KerasClassifier(build_mlp, model_params=user_dict, epochs=7)
    deep = clf.get_params(deep=True)
    assert deep["model__units"] == 8
    assert deep["model__activation"] == "relu"  # the build function's default
    assert "model__units" not in clf.get_params(deep=False)
    assert clf.set_params(model__units=32, model__activation="tanh", epochs=3) is clf
    assert clf.model_params == {"units": 32, "activation": "tanh"}
    assert clf.epochs == 3
    assert user_dict == {"units": 8}  # the caller's dict is never modified
    pipe = Pipeline([("scale", FunctionTransformer()), ("clf", clf)])
    assert pipe.get_params()["clf__model__units"] == 32
    pipe.set_params(clf__model__units=64)
    assert clf.model_params["units"] == 64
    with pytest.raises(ValueError, match="model__"):
        clf.set_params(model__=1)
    # A name the build function does not take is refused at once, as scikit-learn's set_params does (it was
    # accepted, and refused at the next fit); a build function taking **kwargs takes any.
    with pytest.raises(ValueError, match=r"Invalid parameter 'model__unitz' for KerasClassifier: its build function "
                                         r"takes no 'unitz'; its hyperparameters: model__units, model__activation"):
        clf.set_params(model__unitz=8)
    assert KerasClassifier(lambda spec, **hp: None).set_params(model__anything=1).model_params == {"anything": 1}
    with pytest.raises(ValueError, match="search space dict"):
        clf.search_space()
    assert clone(KerasClassifier()).model is None  # no build function yet: still clonable


def test_clone_keeps_every_setting():
    callbacks = [keras.callbacks.TerminateOnNaN()]
    clf = KerasClassifier(
        build_mlp,
        model_params={"units": 8},
        x_transform=to_matrix,
        epochs=7,
        batch_size=13,
        validation_fraction=0.25,
        patience=2,
        learning_rate=0.02,
        optimizer="sgd",
        callbacks=callbacks,
        random_state=3,
    )
    twin = clone(clf)
    params, twin_params = clf.get_params(), twin.get_params()
    assert params.keys() == twin_params.keys()
    for name, value in params.items():
        if name != "callbacks":
            assert twin_params[name] == value, name
    assert len(twin.callbacks) == 1 and isinstance(twin.callbacks[0], keras.callbacks.TerminateOnNaN)


def test_grid_search_trains_what_it_was_asked(iris_mixed):
    """keras.wrappers.SKLearnClassifier's clone drops fit settings, so its grid search trains 1 epoch.
    The grid holds numpy integers (as np.arange gives), which keras.layers.Dense refuses: build gets ints."""
    X, y = iris_mixed
    base = KerasClassifier(build_mlp, epochs=4, early_stopping=False, batch_size=32, random_state=0)
    grid = GridSearchCV(base, {"model__units": np.array([4, 12])}, cv=2, n_jobs=2, error_score="raise")
    grid.fit(X, y)
    best = grid.best_estimator_
    assert best.n_iter_ == 4 and len(best.history_["loss"]) == 4
    assert best.model_.get_layer("hidden").units == grid.best_params_["model__units"]
    assert best.model_params == {"units": grid.best_params_["model__units"]}
    assert base.model_params is None  # the search left its template untouched


# ------------------------------------------------------------------------ clear errors
def build_wrong_width(spec):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))


def build_wrong_names(spec):
    a, b = keras.Input(shape=(spec.n_numeric,), name="a"), keras.Input(shape=(1,), name="b")
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], out)


def build_scores(spec, activation=None):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, keras.layers.Dense(spec.n_outputs, activation=activation)(x))


def test_errors_name_the_fix(iris_mixed, diabetes_mixed):
    X, y = iris_mixed
    with pytest.raises(ValueError, match="needs model=build"):
        KerasClassifier().fit(X, y)
    with pytest.raises(TypeError, match="model__units"):
        KerasClassifier(build_mlp, model_params={"unitz": 3}).fit(X, y)
    with pytest.raises(TypeError, match="model_params must be a dict"):
        KerasClassifier(build_mlp, model_params=[3]).fit(X, y)
    with pytest.raises(ValueError, match="5 output units but y has 3 classes"):
        KerasClassifier(build_wrong_width).fit(X, y)
    def build_dict_output(spec):
        inputs, x = tabular_inputs(spec)
        return keras.Model(inputs, {"proba": output_head(spec, x)})

    with pytest.raises(ValueError, match=r"returns a dict of outputs; keraslearn learners need one output tensor"):
        KerasClassifier(build_dict_output, epochs=1).fit(X, y)
    for activation in (None, "relu"):  # logits, or scores that train to NaN: refused before training
        with pytest.raises(ValueError, match=r"outputs are not probabilities.*from_logits=True"):
            KerasClassifier(build_scores, model_params={"activation": activation}).fit(X, y)
    # A relu head is refused by name: its untrained outputs on the first rows could fall in [0, 1] (QA: on JAX
    # they did, and predict_proba gave -5 to 6), while an operation after that layer makes the output its own.
    with pytest.raises(ValueError, match=r"activation='relu', whose outputs are not probabilities"):
        KerasClassifier(build_scores, model_params={"activation": "relu"}).fit(X, y)

    def build_ops_softmax(spec):
        inputs, x = tabular_inputs(spec)
        return keras.Model(inputs, keras.ops.softmax(keras.layers.Dense(spec.n_outputs, activation="relu")(x)))

    proba = KerasClassifier(build_ops_softmax, epochs=1).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # A from_logits loss on a model that already ends in a softmax: trained, it applied the softmax twice
    # (a sigmoid model then predicted one class for every row).
    logits_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"from_logits=True\), but the model ends in a softmax.*applied twice"):
        KerasClassifier(build_mlp, loss=logits_loss, epochs=1).fit(X, y)
    # ... a Softmax layer too (only an activation= was read: probabilities came out flattened, at most 0.58)
    with pytest.raises(ValueError, match=r"from_logits=True\), but the model ends in a softmax.*applied twice"):
        KerasClassifier(build_ending_in, model_params={"last": "softmax"}, loss=logits_loss, epochs=1).fit(X, y)
    Xd, yd = diabetes_mixed
    with pytest.raises(ValueError, match=r"inputs are named \['a', 'b'\].*x_transform"):
        KerasRegressor(build_wrong_names).fit(Xd, yd)
    model = build_mlp(keraslearn.DataSpec(n_numeric=2, task="binary"))
    with pytest.raises(TypeError, match="not a keras.Model"):
        KerasClassifier(model).fit(X, y)
    with pytest.raises(TypeError, match="not a keras.Model"):
        clone(KerasClassifier(model))


# ---------------------------------------------------------------- scikit-learn checks
CHECK = dict(epochs=10, batch_size=512, validation_fraction=0.0, early_stopping=False, random_state=0)

_SAMPLE_WEIGHT_REASON = (
    "Keras averages the weighted loss over the batch size and Adam's step depends on it, so weights "
    "equal repeated rows only up to floating-point error, not to the check's 1e-7."
)


def _expected_failures(estimator):
    return {"check_sample_weight_equivalence_on_dense_data": _SAMPLE_WEIGHT_REASON}


def _check_id(obj):
    # The estimator's repr holds the build function's address, which differs between pytest-xdist
    # workers; the class name keeps test ids equal on every worker.
    if hasattr(obj, "get_params"):
        return type(obj).__name__
    func, kwargs = getattr(obj, "func", obj), getattr(obj, "keywords", None) or {}
    return func.__name__ + (f"({','.join(f'{k}={v}' for k, v in sorted(kwargs.items()))})" if kwargs else "")


@pytest.mark.parametrize(
    "estimator, check",
    [
        case
        for est in (KerasClassifier(build_eager, **CHECK), KerasRegressor(build_eager, **CHECK))
        for case in estimator_checks_generator(est, mark="xfail", expected_failed_checks=_expected_failures(est))
    ],
    ids=_check_id,
)
def test_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def build_logits(spec):
    """Linear outputs (logits), trained by a from_logits=True loss, with one plainly named input."""
    inp = keras.Input((spec.n_numeric,), name="numeric")
    model = keras.Model(inp, keras.layers.Dense(spec.n_outputs)(inp))
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if spec.n_outputs == 1
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.mark.parametrize("classes", [2, 3])
def test_a_from_logits_loss_still_gives_probabilities_and_a_one_input_model_is_fed_quietly(classes, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.arange(90) % classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dict for a plain Input made Keras warn about the structure
        clf = KerasClassifier(build_logits, epochs=2, random_state=0).fit(X, y)
        proba = clf.predict_proba(X)
    assert proba.shape == (90, classes) and (proba >= 0).all() and np.allclose(proba.sum(axis=1), 1.0)
    raw = clf.model_.predict(X.astype(np.float32), verbose=0)
    assert (raw < 0).any()  # the model itself outputs logits
    path = tmp_path / "logits.keraslearn"
    with pytest.warns(UserWarning, match="model"):
        clf.save(path)
    np.testing.assert_array_equal(keraslearn.load(path).predict_proba(X), proba)


def build_sequential_without_input(spec, units=8):
    """Layers only, as in many Keras tutorials: the weights exist only after a first call."""
    return keras.Sequential([keras.layers.Dense(units, activation="relu"), keras.layers.Dense(spec.n_outputs)])


def build_conv_without_input(spec):
    return keras.Sequential([keras.layers.Conv1D(2, 3), keras.layers.Flatten(), keras.layers.Dense(spec.n_outputs)])


def build_subclassed_wrong_width(spec):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    return Net()


def build_subclassed_on_a_dict(spec):
    """A subclassed model reading keraslearn's named inputs: numbers and one categorical column's codes."""
    (cat,) = spec.categorical

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = keras.layers.Embedding(cat.n_codes, 2)
            self.out = keras.layers.Dense(spec.n_outputs, activation="softmax")

        def call(self, x):
            codes = keras.ops.squeeze(self.embed(x[cat.input_name]), 1)
            return self.out(keras.ops.concatenate([x["numeric"], codes], axis=-1))

    return Net()


def test_a_subclassed_model_takes_the_dict_of_named_inputs(iris_mixed):
    X, y = iris_mixed
    X = X.drop(columns="grade")  # one categorical column: colour
    clf = KerasClassifier(build_subclassed_on_a_dict, epochs=3, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)


class _WithArguments(keras.Model):
    """A subclassed model whose __init__ takes an argument, and no get_config."""

    def __init__(self, n_out, **kwargs):
        super().__init__(**kwargs)
        self.out = keras.layers.Dense(n_out, activation="softmax")

    def call(self, x):
        return self.out(x)


def test_a_subclassed_model_without_get_config_cannot_be_saved_and_says_why(iris_mixed, tmp_path):
    """pickle and save failed with Keras' NotImplementedError (save after a warning that load would refuse)."""
    import pickle

    X, y = iris_mixed
    clf = KerasClassifier(lambda spec: _WithArguments(3), epochs=1, random_state=0).fit(X.drop(columns=["grade",
                                                                                                         "colour"]), y)
    with pytest.raises(TypeError, match=r"The model \(_WithArguments\) cannot be saved or pickled: .*get_config"):
        pickle.dumps(clf)
    with pytest.warns(UserWarning), pytest.raises(TypeError, match=r"register_keras_serializable"):
        clf.save(tmp_path / "m.keraslearn")


def test_a_subclassed_model_with_two_softmax_units_fits_two_classes(cancer_mixed):
    """Its width is found by calling it (it has no model.outputs): two units get one-hot targets."""

    class TwoUnits(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, activation="softmax")

        def call(self, x):
            return self.dense(x["numeric"] if isinstance(x, dict) else x)

    X, y = cancer_mixed
    X = X.select_dtypes("number")
    proba = KerasClassifier(lambda spec: TwoUnits(), epochs=1, random_state=0).fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)


def test_a_model_without_input_is_built_on_the_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    reg = KerasRegressor(build_sequential_without_input, epochs=30, learning_rate=0.02, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.5  # trained, not just built
    again = KerasRegressor(build_sequential_without_input, epochs=30, learning_rate=0.02, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))  # seeded like any other build
    path = tmp_path / "seq.keraslearn"
    reg.save(path)
    np.testing.assert_array_equal(keraslearn.load(path).predict(X), reg.predict(X))
    with pytest.raises(ValueError, match="has 3 output units but y has 1 target"):
        KerasRegressor(build_subclassed_wrong_width, epochs=1).fit(X, y)
    softmax = lambda spec: keras.Sequential([keras.layers.Dense(spec.n_outputs, activation="softmax")])  # noqa: E731
    with pytest.raises(ValueError, match="ends in a softmax over one unit, which outputs 1 for every row"):
        KerasRegressor(softmax, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="The model's output has shape \\(2, 4, 1\\)"):
        KerasRegressor(build_sequential_without_input, epochs=1, x_transform=lambda x: X[:, :, None]).fit(X, y)
    with pytest.raises(ValueError, match="has no keras.Input, and calling it on two rows of the data failed"):
        KerasRegressor(build_conv_without_input, epochs=1).fit(X, y)  # Conv1D cannot take (n, 4) rows
    mixed = pd.DataFrame({"x": X[:, 0], "colour": np.array(["red", "blue"])[np.arange(120) % 2]})
    with pytest.raises(ValueError, match=r"is a keras.Sequential, which takes one input, but the data gives 2: "
                                         r"\['cat_colour', 'numeric'\].*tabular_inputs\(spec\)"):
        KerasRegressor(build_sequential_without_input, epochs=1).fit(mixed, y)
    # ... and one that starts with keras.Input((spec.n_numeric,)) (QA: it was told to rename its one input)
    numeric_first = lambda spec: keras.Sequential([keras.Input((spec.n_numeric,)), keras.layers.Dense(1)])  # noqa: E731
    with pytest.raises(ValueError, match=r"is a keras.Sequential, which takes one input, but the data gives 2: "):
        KerasRegressor(numeric_first, epochs=1).fit(mixed, y)


class Doubling(keras.layers.Layer):
    """A user's layer, deliberately not registered with Keras."""

    def call(self, x):
        return x * 2.0


def build_with_own_layers(spec, units=8):
    inputs, x = tabular_inputs(spec)
    x = Doubling()(keras.layers.Dense(units, activation="relu")(x))
    x = keras.layers.Lambda(lambda t: t * 0.5)(x)
    return keras.Model(inputs, output_head(spec, x))


def test_own_layers_and_lambdas_pickle_but_the_artifact_says_it_will_be_refused(iris_mixed, tmp_path):
    """A pickle (what n_jobs=2 meta-estimators send back from workers) loads such a model; the
    artifact, which keraslearn loads without running code, is refused, and save says so first."""
    X, y = iris_mixed
    clf = KerasClassifier(build_with_own_layers, epochs=2, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    path = tmp_path / "own.keraslearn"
    with pytest.warns(UserWarning, match=r"keraslearn.load will refuse this file: the model has Lambda layer"):
        clf.save(path)
    with pytest.raises(ValueError, match="refusing to load its Keras model: it contains code") as err:
        keraslearn.load(path)
    assert "damaged" not in str(err.value) and "register_keras_serializable" in str(err.value)  # it is not


def test_an_artifact_whose_layer_class_is_not_imported_names_it(iris_mixed, tmp_path):
    @keras.saving.register_keras_serializable(package="keraslearn_test")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x

    def build(spec):
        inputs, x = tabular_inputs(spec)
        return keras.Model(inputs, output_head(spec, Twice()(x)))

    X, y = iris_mixed
    with pytest.warns(UserWarning):  # model=build is a function the file cannot hold
        KerasClassifier(build, epochs=1, random_state=0).fit(X, y).save(tmp_path / "t.keraslearn")
    del keras.saving.get_custom_objects()["keraslearn_test>Twice"]  # another process, without the module
    with pytest.raises(ValueError, match=r"refusing to load its Keras model: it uses layer classes that are not "
                                         r"registered in this process: "
                                         r"keraslearn_test>Twice \(module [\w.]+\)\. Import the module.*the keraslearn "
                                         r"command imports no module, so predict in Python"):
        keraslearn.load(tmp_path / "t.keraslearn")


class Tripling(keras.layers.Layer):
    """A user's layer defined in a script (Keras saves those without their module), not registered."""

    __module__ = "__main__"

    def call(self, x):
        return x * 3.0


def build_with_an_unregistered_layer(spec):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, output_head(spec, Tripling()(keras.layers.Dense(8)(x))))


def test_an_artifact_whose_layer_class_was_never_registered_names_it_not_damage(iris_mixed, tmp_path):
    """Load said 'The file is damaged, or holds layers that are not registered' (damage first) for a class
    of a script's that was never registered: Keras saves it without a module."""
    X, y = iris_mixed
    with pytest.warns(UserWarning, match=r"layer class\(es\) \['Tripling'\] not registered"):
        KerasClassifier(build_with_an_unregistered_layer, epochs=1, random_state=0).fit(X, y).save(
            tmp_path / "d.keraslearn")
    with pytest.raises(ValueError, match=r"not registered in this process: Tripling \(not registered when saved\)"
                       ) as err:
        keraslearn.load(tmp_path / "d.keraslearn")
    assert "damaged" not in str(err.value)


def build_sized_by_columns(spec, width=4):
    """An R user's network: keras.Input sized by the table's column count (ncol(x)), not by the spec."""
    return keras.Sequential([keras.Input((width,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dense(spec.n_outputs, activation="sigmoid")])


def build_scalar_codes(spec):
    """Each categorical input declared as keras.Input(shape=()): Keras squeezes the (n, 1) codes fed to it."""
    numeric = keras.Input((spec.n_numeric,), name="numeric")
    codes = [keras.Input((), name=c.input_name, dtype="int32") for c in spec.categorical]
    embedded = [keras.layers.Embedding(c.n_codes, 2)(t) for c, t in zip(spec.categorical, codes)]
    return keras.Model([numeric, *codes], output_head(spec, keras.layers.Concatenate()([numeric, *embedded])))


def build_gru_over_lags(spec):
    """The R guide's recurrent net over a row of lags: keras.Input((d, 1)) fed (n, d); Keras adds the axis."""
    return keras.Sequential([keras.Input((spec.n_numeric, 1), name="numeric"), keras.layers.GRU(4),
                             keras.layers.Dense(spec.n_outputs)])


def build_one_unit_softmax(spec):
    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, keras.layers.Dense(spec.n_outputs, activation="softmax")(x))


def build_compiled(spec, loss="categorical_crossentropy"):
    inputs, x = tabular_inputs(spec)
    model = keras.Model(inputs, output_head(spec, x))
    model.compile(optimizer="adam", loss=loss)
    return model


def build_mlr3keras(task, pars):  # mlr3keras' build_arch_fun(task, pars)
    raise AssertionError("never called")


def test_models_that_cannot_take_the_data_or_the_target_are_refused_before_training():
    """An input sized by the column count (missing values add an indicator column each), a softmax over
    one unit (always 1), a compiled categorical loss on the one unit of a binary head, a regressor ending
    in a sigmoid (the standardized target is half negative), and MSLE on negative targets: each fails with
    the cause and the fix, not a Keras traceback or a useless model."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    X.loc[::7, "a"] = np.nan
    X.loc[::5, "c"] = np.nan
    y = (X["b"] > 0).astype(int)
    with pytest.raises(ValueError, match=r"takes rows of shape \(4,\), but the encoded data's are \(6,\): 4 numeric "
                                         r"columns and 2 missing-value indicators \(a__missing, c__missing\).*"
                                         r"spec.n_numeric"):
        KerasClassifier(build_sized_by_columns, epochs=1).fit(X, y)
    KerasClassifier(build_sized_by_columns, model_params={"width": 6}, epochs=1).fit(X, y)  # sized right: fits
    KerasClassifier(build_scalar_codes, epochs=1).fit(X.assign(e=np.array(list("xyz"))[np.arange(60) % 3]), y)
    KerasRegressor(build_gru_over_lags, epochs=1).fit(X[["b", "d"]], X["b"])
    with pytest.raises(ValueError, match="softmax over one unit, which outputs 1 for every row; two classes need one "
                                         "sigmoid unit"):
        KerasClassifier(build_one_unit_softmax, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="one \\(sigmoid\\) output unit for the two classes, but its loss, "
                                         "categorical_crossentropy, needs one unit per class"):
        KerasClassifier(build_compiled, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="its loss, sparse_categorical_crossentropy, needs one unit per class"):
        # over one unit its loss is 0 for every row: nothing trained (accuracy 0.35 on separable data)
        KerasClassifier(build_compiled, model_params={"loss": "sparse_categorical_crossentropy"}, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"activation='sigmoid', whose outputs are never negative, but keraslearn "
                                         r"trains a regressor on the standardized target"):
        KerasRegressor(build_sized_by_columns, model_params={"width": 6}, epochs=1).fit(X, X["b"] + 10)
    with pytest.raises(ValueError, match=r"y must be >= 0; y has negative values \(smallest -5.2"):
        KerasRegressor(build_compiled, model_params={"loss": "msle"}, epochs=1).fit(X, X["b"] - 3)
    with pytest.raises(ValueError, match=r"y must be >= 0; y has negative values \(smallest -5.2"):
        KerasRegressor(build_mlp, loss="msle", epochs=1).fit(X, X["b"] - 3)
    with pytest.raises(TypeError, match=r"cannot be called as build_mlr3keras\(spec\): .*mlr3keras' build\(task, "
                                        r"pars\) becomes build\(spec, units=32"):
        KerasClassifier(build_mlr3keras, epochs=1).fit(X, y)


@pytest.mark.torch
def test_fit_and_predict_meet_no_numpy_copy_deprecation(iris_mixed):
    """On torch, the output check turned tensors into arrays through NumPy 2's deprecated copy= path: a
    DeprecationWarning from keraslearn's own call (fatal under -W error)."""
    X, y = iris_mixed
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="__array__ implementation doesn't accept a copy keyword")
        clf = KerasClassifier(build_mlp, epochs=1, batch_size=32, random_state=0).fit(X, y)
        assert clf.predict_proba(X).shape == (len(X), 3)


def test_a_y_transform_returning_a_list_trains_like_its_array(iris_mixed):
    """A list comprehension over the rows was read as a list of arrays ("'float' has no len()")."""
    X, species = iris_mixed
    y = pd.Series(pd.factorize(species)[0], dtype=float)
    halved = KerasRegressor(build_mlp, y_transform=lambda t: [v / 2 for v in t.ravel()], **FAST).fit(X, y)
    as_array = KerasRegressor(build_mlp, y_transform=lambda t: t / 2, **FAST).fit(X, y)
    np.testing.assert_allclose(halved.predict(X), as_array.predict(X), rtol=1e-5, atol=1e-6)
    ragged = KerasRegressor(build_mlp, y_transform=lambda t: [[v] * (i % 2 + 1) for i, v in enumerate(t.ravel())],
                            **FAST)
    with pytest.raises(ValueError, match="y_transform returned a list that is not one numeric array"):
        ragged.fit(X, y)
    wrapped = KerasRegressor(build_mlp, y_transform=lambda t: [t], **FAST)  # the review: a list holding the array
    with pytest.raises(ValueError, match=r"returned 1 rows for \d+; .*\(a list or tuple is read as one array"):
        wrapped.fit(X, y)


def build_lambda_loss(spec):
    inputs, x = tabular_inputs(spec)
    model = keras.Model(inputs, output_head(spec, x))
    model.compile(optimizer="adam", loss=lambda y_true, y_pred: keras.ops.mean((y_true - y_pred) ** 2))
    return model


def test_a_lambda_loss_fits_without_keras_saving_warning(diabetes_mixed):
    # QA: every fit warned "The object being serialized includes a `lambda` ... safe_mode=False": the shared
    # compiled steps' key reads the compile config, which is not saving anything.
    X, y = diabetes_mixed
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        for _ in range(2):  # the second fit finds the first's compiled steps by that key
            KerasRegressor(build_lambda_loss, epochs=1, random_state=0).fit(X.iloc[:64], y.iloc[:64])
    assert not [w for w in said if "lambda" in str(w.message)]


class _LaterHidden(keras.Model):
    """A subclassed model whose hidden layer is set after its output layer: ``layers[-1]`` is not the output."""

    def __init__(self, n, hidden="tanh", out=None, **kwargs):
        super().__init__(**kwargs)
        self.out = keras.layers.Dense(n, activation=out)
        self.hidden = keras.layers.Dense(4, activation=hidden)

    def call(self, x):
        return self.out(self.hidden(x))


def _masked_mse(y_true, y_pred):
    """MSE over the known targets: NaN marks a missing one (a multi-task table)."""
    known = keras.ops.logical_not(keras.ops.isnan(y_true))
    diff = keras.ops.where(known, y_true - y_pred, keras.ops.zeros_like(y_pred))
    return keras.ops.sum(diff**2, axis=-1) / keras.ops.maximum(keras.ops.sum(keras.ops.cast(known, "float32"), -1), 1)


def test_valid_models_the_output_checks_must_not_refuse():
    # Review: a subclassed model lists its layers as __init__ set them, so the hidden tanh layer read as the output
    # (refused as "not probabilities" / "within [-1, 1]"); and a y_transform's NaN that a loss of the user's masks.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = np.arange(64) % 3
    clf = KerasClassifier(lambda spec: _LaterHidden(spec.n_outputs, out="softmax"), epochs=1).fit(X, y)
    assert clf.predict_proba(X).shape == (64, 3)
    Y = np.column_stack([X.sum(axis=1), X[:, 0]])
    assert KerasRegressor(lambda spec: _LaterHidden(spec.n_outputs), epochs=1).fit(X, Y).predict(X).shape == (64, 2)

    def missing_labels(y):
        y = y.copy()
        y[:20, 1] = np.nan
        return y

    masked = KerasRegressor(lambda spec: _LaterHidden(spec.n_outputs, hidden="relu"), loss=_masked_mse,
                            y_transform=missing_labels, epochs=2, early_stopping=False).fit(X, Y)
    assert np.isfinite(masked.predict(X)).all()


def test_a_val_monitor_without_validation_rows_fails_even_with_compiled_metrics(iris_mixed):
    # QA (a Keras user): with metrics compiled in build, EarlyStopping("val_accuracy") and no validation rows
    # was accepted, and only Keras' runtime warning said it never fired.
    X, y = iris_mixed
    params = dict(model_params={"compile_with": ("adam", "categorical_crossentropy")}, epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='val_accuracy'\) watches a value this fit does not "
                                         r"log; it logs loss and the model's compiled metrics. There are no "
                                         r"validation rows: set validation_fraction > 0 \(or pass X_val and y_val\), "
                                         r"or monitor 'accuracy'\."):
        KerasClassifier(build_mlp, validation_fraction=0.0, callbacks=[keras.callbacks.EarlyStopping("val_accuracy")],
                        **params).fit(X, y)
    fitted = KerasClassifier(build_mlp, callbacks=[keras.callbacks.EarlyStopping("val_accuracy")], **params).fit(X, y)
    assert "val_accuracy" in fitted.history_


def test_a_robust_loss_compiled_in_build_standardizes_the_target_as_loss_given(diabetes_mixed):
    # QA (a Keras user): mae compiled in build scaled y by its mean and sd, loss="mae" by its median and IQR / 1.349
    # (which outliers do not inflate); one rule now, wherever the loss is set.
    X, y = diabetes_mixed
    y = y.copy()
    y.iloc[:8] = 1e5  # outliers: the sd grows 100-fold, the IQR does not
    fit = dict(epochs=1, random_state=0)
    for loss in ("mae", "huber"):
        given = KerasRegressor(build_mlp, loss=loss, **fit).fit(X, y)
        compiled = KerasRegressor(build_mlp, model_params={"compile_with": ("adam", loss)}, **fit).fit(X, y)
        np.testing.assert_allclose(compiled.y_mean_, given.y_mean_)
        np.testing.assert_allclose(compiled.y_scale_, given.y_scale_)
        assert compiled.y_scale_[0] < 100  # not the outliers' sd (about 9,000)
        assert not hasattr(compiled, "_target_given")
    mse = KerasRegressor(build_mlp, model_params={"compile_with": ("adam", "mse")}, **fit).fit(X, y)
    assert mse.y_scale_[0] > 1000  # mse keeps the mean and sd
