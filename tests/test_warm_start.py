"""warm_start=True: fit goes on from the fitted network, as scikit-learn's MLP does."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from keraslearn import FFClassifier, FFRegressor, KerasRegressor, ResNetRegressor, load
from keraslearn.training.checkpoint import fingerprint

# A rate too small to move any weight: what a warm fit predicts then is what it started from.
FROZEN = 1e-12


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                      "c": rng.choice(["x", "y", "z"], size=120)})
    y = pd.Series(3 * X["a"] - X["b"] + (X["c"] == "x") + rng.normal(scale=0.1, size=120), name="y")
    return X, y


@pytest.fixture(scope="module")
def fitted(rows):
    X, y = rows
    return FFRegressor(layer_units=(16,), epochs=3, early_stopping=False, random_state=0).fit(X, y)


def test_a_warm_fit_starts_from_the_fitted_weights(rows, fitted):
    X, y = rows
    before = fitted.predict(X)
    warm = pickle.loads(pickle.dumps(fitted))
    warm.set_params(warm_start=True, learning_rate=FROZEN, epochs=2).fit(X, y)
    np.testing.assert_allclose(warm.predict(X), before, atol=1e-4)
    assert warm.n_iter_ == 5 and len(warm.history_["loss"]) == 5  # the fitted fit's 3 epochs, then these 2
    assert warm.history_["loss"][:3] == fitted.history_["loss"]
    cold = clone(fitted).set_params(learning_rate=FROZEN, epochs=2, random_state=1).fit(X, y)
    assert np.abs(cold.predict(X) - before).max() > 0.1  # a fresh network predicts otherwise


def test_more_epochs_of_a_warm_fit_keep_lowering_the_loss(rows):
    X, y = rows
    model = FFRegressor(layer_units=(16,), epochs=4, early_stopping=False, random_state=0, warm_start=True)
    model.fit(X, y)
    first = model.history_["loss"]
    model.fit(X, y)
    second = model.history_["loss"][4:]
    assert second[0] < first[0] and second[-1] < first[-1]  # it went on, not from the start
    assert model.n_iter_ == 8


def test_a_warm_classifier_keeps_its_classes_and_names_a_new_label(rows):
    X, _ = rows
    labels = pd.Series(np.where(X["a"] > 0.5, "high", np.where(X["a"] < -0.5, "low", "mid")), name="level")
    model = FFClassifier(layer_units=(16,), epochs=2, random_state=0, warm_start=True).fit(X, labels)
    some = labels != "low"  # a batch of rows that lacks a class: the classes stay
    model.fit(X[some], labels[some])
    assert model.classes_.tolist() == ["high", "low", "mid"]
    assert model.predict_proba(X).shape == (len(X), 3)
    before = model.predict_proba(X)
    with pytest.raises(ValueError, match=r"y holds labels that the fitted model does not: \['top'\].*warm_start=False"):
        model.fit(X, labels.replace("high", "top"))
    np.testing.assert_array_equal(model.predict_proba(X), before)  # a refused fit leaves the model as it was


def test_a_warm_start_refuses_another_network_or_encoding(rows, fitted):
    X, y = rows
    model = clone(fitted).set_params(warm_start=True).fit(X, y)
    before = model.predict(X)
    with pytest.raises(ValueError, match="another shape.*warm_start=False"):
        model.set_params(layer_units=(8,)).fit(X, y)
    with pytest.raises(ValueError, match="scaling='standard'; with scaling='quantile'"):
        model.set_params(layer_units=(16,), scaling="quantile").fit(X, y)
    model.set_params(scaling="standard")
    with pytest.raises(ValueError, match="missing columns"):
        model.fit(X.drop(columns="b"), y)
    with pytest.raises(ValueError, match=r"fitted on y .*loss='msle' trains on log1p\(y\)"):
        model.set_params(loss="msle").fit(X, y.abs())
    np.testing.assert_array_equal(model.predict(X), before)


def test_clone_and_cross_validation_start_anew(rows):
    X, y = rows
    model = ResNetRegressor(n_blocks=1, d_block=16, epochs=2, random_state=0, warm_start=True).fit(X, y)
    assert not hasattr(clone(model), "model_")
    scores = cross_val_score(model, X, y, cv=2)
    assert np.isfinite(scores).all()
    assert model.n_iter_ == 2  # cross_val_score fitted clones, not this one


def test_a_loaded_model_warm_starts_from_its_saved_weights(rows, fitted, tmp_path):
    X, y = rows
    fitted.save(tmp_path / "m.keraslearn")
    loaded = load(tmp_path / "m.keraslearn")
    loaded.set_params(warm_start=True, learning_rate=FROZEN, epochs=1).fit(X.iloc[:40], y.iloc[:40])
    np.testing.assert_allclose(loaded.predict(X), fitted.predict(X), atol=1e-4)
    assert loaded.n_iter_ == fitted.n_iter_ + 1


def test_a_user_model_with_a_compiled_robust_loss_warm_starts(rows):
    import keras

    from keraslearn.architectures.blocks import tabular_inputs

    def build(spec):
        inputs, x = tabular_inputs(spec)
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(x)))
        model.compile(optimizer="adam", loss="mae")
        return model

    X, y = rows
    model = KerasRegressor(model=build, epochs=2, random_state=0, warm_start=True).fit(X, y)
    scaling = (model.y_mean_.copy(), model.y_scale_.copy())  # the median and IQR of the first fit's y
    model.fit(X, y + 100)  # the fitted scaling stays: the network keeps its meaning
    np.testing.assert_array_equal(model.y_mean_, scaling[0])
    np.testing.assert_array_equal(model.y_scale_, scaling[1])
    assert model.n_iter_ == 4


def test_a_checkpoint_tells_warm_starts_apart_by_their_weights(rows, fitted):
    X, y = rows
    x, y_fit = fitted._encode_X(X), np.asarray(y, dtype=np.float32)
    weights = fitted.model_.get_weights()
    cold = fingerprint(fitted, x, y_fit, None)
    warm = fingerprint(fitted, x, y_fit, None, start=weights)
    other = fingerprint(fitted, x, y_fit, None, start=[w + 1 for w in weights])
    assert len({cold, warm, other}) == 3
    assert fingerprint(fitted.set_params(warm_start=True), x, y_fit, None) == cold  # the flag alone changes nothing
    fitted.set_params(warm_start=False)


def test_a_warm_fit_keeps_the_fresh_fits_checks(rows, fitted):
    X, y = rows
    model = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True)
    with pytest.raises(ValueError, match="loss='binary_crossentropy' is a classification loss"):
        model.set_params(loss="binary_crossentropy").fit(X, y)
    with pytest.raises(ValueError, match="loss='poisson' needs positive predictions"):
        model.set_params(loss="poisson").fit(X, y.abs())


def test_a_warm_fit_judges_its_epochs_from_the_first(rows, fitted):
    """A fresh FF fit on a tiny table lets early stopping judge only from its 60th optimizer step; a warm fit goes
    on from a trained network, so it judges from the first epoch: a frozen one stops after its patience."""
    X, y = rows
    small = X.iloc[:30], y.iloc[:30]  # one batch an epoch
    model = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True, learning_rate=FROZEN, epochs=100,
                                                          early_stopping=True, patience=3)
    model.fit(*small)
    assert model.n_iter_ - fitted.n_iter_ <= 5  # 4: the first epoch, then 3 without a better one


def test_a_warm_tabnet_takes_the_fitted_columns_in_another_form(rows):
    from keraslearn import TabNetRegressor

    X, y = rows
    numeric = X[["a", "b"]]
    model = TabNetRegressor(n_d=4, n_a=4, n_steps=1, epochs=1, random_state=0, warm_start=True).fit(numeric, y)
    with pytest.warns(UserWarning):  # an array for a model fitted on named columns: matched by position
        model.fit(numeric.to_numpy(), y)
    assert model.feature_importances_.shape == (2,) and model.n_iter_ == 2


def test_an_artifact_leaves_out_warm_start_at_its_default(fitted, tmp_path):
    import json
    import zipfile

    fitted.save(tmp_path / "m.keraslearn")  # loadable by keraslearn before warm_start, which refuses it by name
    with zipfile.ZipFile(tmp_path / "m.keraslearn") as z:
        meta = json.loads(next(z.read(n) for n in z.namelist() if n.endswith(".json") and b'"params"' in z.read(n)))
    assert "warm_start" not in meta["params"] and meta["params"]["epochs"] == 3
    fitted.set_params(warm_start=True).save(tmp_path / "w.keraslearn")
    fitted.set_params(warm_start=False)
    assert load(tmp_path / "w.keraslearn").warm_start is True and load(tmp_path / "m.keraslearn").warm_start is False


def test_warm_start_must_be_a_bool(rows):
    X, y = rows
    with pytest.raises(ValueError, match="warm_start must be True or False, got 'yes'"):
        FFRegressor(warm_start="yes").fit(X, y)
