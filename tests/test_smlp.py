"""Shaped MLPs (SMLP, SMLP2): funnel widths, residual blocks, the per-fit cosine schedule."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import keraslearn
from keraslearn.architectures.smlp import build, build_residual, shaped_widths
from keraslearn.learners.smlp import SMLP2Classifier, SMLP2Regressor, SMLPClassifier, SMLPRegressor
from keraslearn.preprocessing.spec import CategoricalSpec, DataSpec
from keraslearn.training.schedules import learning_rate_schedule, steps_per_epoch, training_rows

FAST = dict(n_max=32, epochs=8, batch_size=16, learning_rate=0.01, random_state=0)
SPEC = DataSpec(
    n_numeric=5,
    categorical=(CategoricalSpec("colour", "cat_colour", n_codes=5, embed_dim=3),),
    task="multiclass",
    n_classes=3,
)


def _dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


# ---------------------------------------------------------------------- architecture
def test_shaped_widths_shrink_linearly_towards_the_output():
    assert shaped_widths(128, 3, 2) == (128, 86, 44)
    assert shaped_widths(64, 1, 1) == (64,)
    widths = shaped_widths(100, 4, 10)
    steps = np.diff(widths)
    assert widths[0] == 100 and widths[-1] > 10  # the output layer ends the funnel
    assert steps.max() - steps.min() <= 1  # linear, up to rounding


def test_smlp_build_has_funnel_layers_and_embeddings():
    model = build(SPEC, n_max=64, n_layers=3, use_batchnorm=True, dropout=0.2)
    assert _dense_units(model) == [*shaped_widths(64, 3, 3), 3]
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 3
    assert model.get_layer("embed_cat_colour").output_dim == 3


def test_smlp2_build_has_residual_blocks():
    model = build_residual(SPEC, n_max=64, n_layers=3, dropout=0.1)
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 2  # stem + two residual blocks
    widths = shaped_widths(64, 3, 3)
    assert model.get_layer("stem").units == widths[0]
    assert model.get_layer("block1_dense_b").units == widths[1]
    assert model.get_layer("block1_skip").units == widths[1]  # width changes: projected skip
    assert model.output_shape == (None, 3)
    assert build_residual(SPEC, n_layers=1).get_layer("stem").units == 128


# ------------------------------------------------------------------------- schedules
def test_cosine_schedule_spans_the_fit():
    sched = learning_rate_schedule("cosine", 0.01, epochs=5, steps=3)
    assert isinstance(sched, keras.optimizers.schedules.CosineDecay)
    assert float(sched(0)) == pytest.approx(0.01)
    assert float(sched(15)) == pytest.approx(0.0, abs=1e-9)
    assert float(sched(7.5)) == pytest.approx(0.005, rel=1e-4)
    restarts = learning_rate_schedule("cosine_restarts", 0.01, epochs=50, steps=2)
    assert float(restarts(20)) == pytest.approx(0.01)  # first cycle is 10 epochs
    assert learning_rate_schedule("constant", 0.01, epochs=5, steps=3) == 0.01
    mine = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    copy = learning_rate_schedule(mine, 0.01, epochs=5, steps=3)
    assert copy is not mine and copy.get_config() == mine.get_config()
    with pytest.raises(ValueError, match="lr_schedule"):
        learning_rate_schedule("cosine_anneal", 0.01, epochs=5, steps=3)


def test_steps_per_epoch_follows_the_validation_split():
    assert steps_per_epoch(training_rows(150, 0.1), 16) == 9  # 135 training rows
    assert steps_per_epoch(training_rows(150, 0.0), 16) == 10
    assert steps_per_epoch(training_rows(10, 0.1), 256) == 1


def test_the_stratified_split_holds_out_the_rows_the_schedule_was_planned_for():
    """Each class rounded on its own held out 101 of 1,000 rows where 100 were planned: the cosine schedule
    then reached 0 three steps early. A one-row class stays in training, the others are still stratified."""
    from keraslearn.training.split import validation_split

    classes = np.repeat(["a", "b", "c"], [333, 333, 334])
    _, val = validation_split(1000, 0.1, stratify=classes, seed=0)
    assert len(val) == 1000 - training_rows(1000, 0.1) == 100
    assert sorted(np.unique(classes[val], return_counts=True)[1]) == [33, 33, 34]
    rare = np.array(["a"] * 30 + ["b"] * 9 + ["c"])
    _, val = validation_split(40, 0.1, stratify=rare, seed=0)
    assert len(val) == 4 and set(rare[val]) == {"a", "b"}  # was four rows of "a": no stratification at all
    clf = SMLPClassifier(epochs=3, batch_size=100, early_stopping=False, random_state=0)
    clf.fit(np.random.default_rng(0).normal(size=(1000, 3)), classes)
    optimizer = clf.model_.optimizer
    assert int(optimizer.iterations) == optimizer._learning_rate.decay_steps == 27


def test_one_row_per_class_makes_no_validation_split_and_keras_gets_no_empty_validation_set():
    """Every class kept its single row for training: Keras was given a validation set of no rows, warned
    'Your input ran out of data' each epoch, and early stopping watched a val_loss that was never logged."""
    from keraslearn.training.split import validation_split

    from keraslearn.training.split import held_out_count

    labels = np.array([f"c{i}" for i in range(40)])
    train, val = validation_split(40, 0.1, stratify=labels, seed=0)
    assert val is None and train.tolist() == list(range(40))
    # What the learners plan their schedules for is what the split holds out, however few rows classes spare.
    rng = np.random.default_rng(0)
    for n, k, fraction in ((40, 40, 0.1), (40, 38, 0.2), (40, 30, 0.5), (100, 3, 0.1), (25, 20, 0.3)):
        codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        _, val = validation_split(n, fraction, stratify=codes, seed=0)
        assert held_out_count(n, fraction, k) == (0 if val is None else len(val)), (n, k, fraction)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SMLPClassifier(epochs=2, batch_size=4, random_state=0).fit(np.random.default_rng(0).normal(size=(40, 2)),
                                                                        labels)
    said = [str(w.message) for w in caught]
    assert set(clf.history_) == {"loss"} and len(clf.history_["loss"]) == 2
    optimizer = clf.model_.optimizer  # the cosine schedule planned for the 40 rows trained on, not 36
    assert int(optimizer.iterations) == optimizer._learning_rate.decay_steps == 20
    assert any("one row per class" in m for m in said), said
    assert not any("ran out of data" in m or "not available" in m for m in said), said


# --------------------------------------------------------------------- fitted learners
@pytest.fixture(scope="module")
def smlp_multiclass(iris_mixed):
    X, y = iris_mixed
    return SMLPClassifier(early_stopping=False, **FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def smlp_binary(cancer_mixed):
    X, y = cancer_mixed
    return SMLPClassifier(dropout=0.1, use_batchnorm=True, **FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def smlp_regression(diabetes_mixed):
    X, y = diabetes_mixed
    return SMLPRegressor(**FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def smlp2_multiclass(iris_mixed):
    X, y = iris_mixed
    return SMLP2Classifier(**FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def smlp2_binary(cancer_mixed):
    X, y = cancer_mixed
    return SMLP2Classifier(dropout=0.1, **FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def smlp2_regression(diabetes_mixed):
    X, y = diabetes_mixed
    return SMLP2Regressor(lr_schedule="cosine_restarts", **FAST).fit(X, y), X, y


FITTED = ["smlp_multiclass", "smlp_binary", "smlp_regression", "smlp2_multiclass", "smlp2_binary", "smlp2_regression"]


@pytest.mark.parametrize("fixture", FITTED)
def test_learns_real_data(fixture, request):
    est, X, y = request.getfixturevalue(fixture)
    if fixture.endswith("regression"):
        assert est.predict(X).shape == (len(X),)
        assert est.score(X, y) > 0.3
    else:
        proba = est.predict_proba(X)
        assert proba.shape == (len(X), len(est.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        assert est.score(X, y) > (0.85 if fixture.endswith("binary") else 0.8)


def test_cosine_schedule_is_sized_from_the_fit(smlp_multiclass):
    clf, X, _ = smlp_multiclass
    config = clf.model_.optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "CosineDecay"
    # 150 rows, 10% held out, batches of 16 → 9 steps per epoch, over every epoch.
    assert config["config"]["decay_steps"] == 9 * clf.epochs
    assert clf.n_iter_ == clf.epochs
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-7)  # annealed to the end


def test_embeddings_for_classification_and_regression(smlp_binary, smlp_regression):
    # mlr3keras used embeddings for regr.smlp only; here both tasks use them by default.
    for est, _, _ in (smlp_binary, smlp_regression):
        assert est.model_.get_layer("embed_cat_colour").output_dim >= 1


@pytest.mark.parametrize("fixture", FITTED)
def test_save_load_predicts_identically(fixture, request, tmp_path):
    est, X, _ = request.getfixturevalue(fixture)
    loaded = keraslearn.load(est.save(tmp_path / "m.keraslearn"))
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


@pytest.mark.torch
def test_residual_blocks_train_and_reload(smlp2_multiclass, tmp_path):
    """Runs on the torch backend too (make test's torch pass)."""
    est, X, y = smlp2_multiclass
    assert est.score(X, y) > 0.8
    loaded = keraslearn.load(est.save(tmp_path / "m.keraslearn"))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_clone_and_grid_search(iris_mixed):
    X, y = iris_mixed
    est = SMLPClassifier(n_max=16, n_layers=1, epochs=3, lr_schedule="constant", batch_size=32, random_state=0)
    assert clone(est).get_params() == est.get_params()
    grid = GridSearchCV(est, {"n_layers": [1, 2]}, cv=2, refit=False, error_score="raise").fit(X, y)
    assert [p["n_layers"] for p in grid.cv_results_["params"]] == [1, 2]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))


def test_bad_parameters_are_named(iris_mixed):
    X, y = iris_mixed
    with pytest.raises(ValueError, match="n_layers"):
        SMLPClassifier(n_layers=0).fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule"):
        SMLP2Regressor(lr_schedule="anneal").fit(X, y.eq("setosa").astype(float))


def test_learning_rate_none_peaks_at_the_optimizers_own_rate(iris_mixed):
    """As the docs say for every learner; SMLP's schedule peaked at 1e-3 whatever the optimizer's rate."""
    X, y = iris_mixed
    clf = SMLPClassifier(n_max=8, epochs=1, learning_rate=None, optimizer=keras.optimizers.SGD(learning_rate=0.1))
    lr = clf.fit(X, y).model_.optimizer._learning_rate
    assert lr.get_config()["initial_learning_rate"] == pytest.approx(0.1)
    own = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(ValueError, match="learning_rate=None keeps the optimizer's own rate, a schedule"):
        SMLPClassifier(n_max=8, epochs=1, learning_rate=None, optimizer=own).fit(X, y)
