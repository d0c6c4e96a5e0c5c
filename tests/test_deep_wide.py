"""Deep & wide learners: the wide linear part, the deep MLP, their sum."""

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import keraslearn
from keraslearn.architectures.deep_wide import build
from keraslearn.learners.deep_wide import DeepWideClassifier, DeepWideRegressor
from keraslearn.preprocessing.spec import CategoricalSpec, DataSpec

FAST = dict(layer_units=(16, 16), epochs=8, batch_size=16, learning_rate=0.01, random_state=0)


def _spec(task, **kw):
    cats = (
        CategoricalSpec("colour", "cat_colour", n_codes=5, embed_dim=3),
        CategoricalSpec("grade", "cat_grade", n_codes=4, embed_dim=2),
    )
    return DataSpec(n_numeric=6, categorical=cats, task=task, **kw)


@pytest.mark.parametrize(
    "task, kw, activation, width",
    [("binary", {"n_classes": 2}, "sigmoid", 1), ("multiclass", {"n_classes": 4}, "softmax", 4),
     ("regression", {}, "linear", 1), ("multioutput", {"n_targets": 2}, "linear", 2)],
)
def test_wide_and_deep_parts_are_summed(task, kw, activation, width):
    model = build(_spec(task, **kw), layer_units=(32, 8), use_batchnorm=True, dropout=0.1, input_dropout=0.1)
    wide, deep = model.get_layer("wide"), model.get_layer("deep")
    # The wide part is linear in the numeric inputs and the one-hot levels (5 + 4 codes).
    assert wide.kernel.shape == (6 + 5 + 4, width)
    assert wide.activation is keras.activations.linear
    assert deep.units == width
    hidden = [layer for layer in model.layers if layer.name.startswith("dense_")]
    assert [layer.units for layer in hidden] == [32, 8]
    assert model.get_layer("output").activation is keras.activations.get(activation)
    assert model.output_shape == (None, width)


def test_use_embedding_false_one_hot_encodes_the_deep_part():
    model = build(_spec("binary", n_classes=2), use_embedding=False)
    assert not any(isinstance(layer, keras.layers.Embedding) for layer in model.layers)
    assert model.get_layer("dense_0").kernel.shape[0] == 6 + 5 + 4


@pytest.fixture(scope="module")
def dw_multiclass(iris_mixed):
    X, y = iris_mixed
    return DeepWideClassifier(**FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def dw_binary(cancer_mixed):
    X, y = cancer_mixed
    return DeepWideClassifier(use_batchnorm=True, dropout=0.1, **FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def dw_regression(diabetes_mixed):
    X, y = diabetes_mixed
    return DeepWideRegressor(**FAST).fit(X, y), X, y


FITTED = ["dw_multiclass", "dw_binary", "dw_regression"]


@pytest.mark.parametrize("fixture", FITTED)
def test_learns_real_data(fixture, request):
    est, X, y = request.getfixturevalue(fixture)
    if fixture == "dw_regression":
        assert est.predict(X).shape == (len(X),)
        assert est.score(X, y) > 0.3
    else:
        proba = est.predict_proba(X)
        assert proba.shape == (len(X), len(est.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        assert est.score(X, y) > (0.85 if fixture == "dw_binary" else 0.8)


@pytest.mark.parametrize("fixture", ["dw_binary", "dw_regression"])
def test_save_load_predicts_identically(fixture, request, tmp_path):
    est, X, _ = request.getfixturevalue(fixture)
    loaded = keraslearn.load(est.save(tmp_path / "m.keraslearn"))
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


@pytest.mark.torch
def test_multiclass_trains_and_reloads(dw_multiclass, tmp_path):
    """Runs on the torch backend too (make test's torch pass)."""
    est, X, y = dw_multiclass
    assert est.score(X, y) > 0.8
    loaded = keraslearn.load(est.save(tmp_path / "m.keraslearn"))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_clone_and_grid_search(diabetes_mixed):
    X, y = diabetes_mixed
    est = DeepWideRegressor(layer_units=(8,), epochs=3, batch_size=64, random_state=0)
    assert clone(est).get_params() == est.get_params()
    grid = GridSearchCV(est, {"layer_units": [(8,), (16, 8)]}, cv=2, refit=False, error_score="raise").fit(X, y)
    assert [p["layer_units"] for p in grid.cv_results_["params"]] == [(8,), (16, 8)]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
