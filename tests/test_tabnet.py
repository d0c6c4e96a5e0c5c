"""TabNet learners on real mixed data: quality, explanations, persistence, sklearn tools."""

import copy
import pickle
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split

import keraslearn
from keraslearn import TabNetClassifier, TabNetRegressor

# Small networks and batches keep compile and training time low; the defaults are pytorch-tabnet's.
SMALL = dict(n_d=8, n_a=8, n_steps=2, n_independent=1, n_shared=1, batch_size=64, virtual_batch_size=32)


def _split(X, y, stratify=True):
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y if stratify else None)


@pytest.fixture(scope="module")
def cancer_fit(cancer_mixed):
    X, y = cancer_mixed
    Xtr, Xte, ytr, yte = _split(X, y)
    clf = TabNetClassifier(**SMALL, epochs=40, patience=8, random_state=0).fit(Xtr, ytr)
    return clf, Xte, yte


@pytest.fixture(scope="module")
def iris_fit(iris_mixed):
    X, y = iris_mixed
    Xtr, Xte, ytr, yte = _split(X, y)
    clf = TabNetClassifier(**SMALL, epochs=60, patience=15, random_state=0).fit(Xtr, ytr)
    return clf, Xte, yte


def test_binary_beats_chance_and_uses_early_stopping(cancer_fit):
    clf, Xte, yte = cancer_fit
    majority = max(np.mean(yte), 1 - np.mean(yte))
    assert accuracy_score(yte, clf.predict(Xte)) > max(0.85, majority + 0.1)
    assert "val_loss" in clf.history_  # trains with a validation split (mlr3keras forced it to 0)
    assert clf.n_iter_ == len(clf.history_["loss"]) <= 40
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_multiclass_beats_chance_with_string_labels(iris_fit):
    clf, Xte, yte = iris_fit
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert accuracy_score(yte, clf.predict(Xte)) > 0.7  # chance is 1/3


def test_regression_beats_the_mean(diabetes_mixed):
    X, y = diabetes_mixed
    Xtr, Xte, ytr, yte = _split(X, y, stratify=False)
    params = dict(SMALL, batch_size=32, virtual_batch_size=16)
    reg = TabNetRegressor(**params, epochs=60, patience=10, random_state=0).fit(Xtr, ytr)
    # 0 = the mean; a linear model reaches about 0.45. On 300 rows TabNet ranges 0.04-0.3 over seeds.
    assert r2_score(yte, reg.predict(Xte)) > 0.0


def test_one_row_predicts_as_in_a_batch(cancer_fit):
    clf, Xte, _ = cancer_fit
    full = clf.predict_proba(Xte.iloc[:40])
    one = clf.predict_proba(Xte.iloc[[7]])
    np.testing.assert_allclose(one[0], full[7], rtol=1e-5, atol=1e-7)


def test_feature_importances_map_to_original_columns(cancer_fit):
    clf, Xte, _ = cancer_fit
    fi = clf.feature_importances_
    # one entry per original column, although "grade" and "colour" are embedded and the
    # first column has a missing indicator
    assert fi.shape == (clf.n_features_in_,) == (Xte.shape[1],)
    assert np.isclose(fi.sum(), 1.0) and (fi >= 0).all()
    assert clf.encoder_.indicator_columns_ == [Xte.columns[0]]
    explanation, masks = clf.explain(Xte, per_step=True)
    assert explanation.shape == (len(Xte), Xte.shape[1])
    assert masks.shape == (len(Xte), clf.n_steps, Xte.shape[1])
    # each step's mask is a distribution over the columns, even after summing widths back
    np.testing.assert_allclose(masks.sum(axis=-1), 1.0, atol=1e-5)
    normalized = clf.explain(Xte, normalize=True)
    np.testing.assert_allclose(normalized.sum(axis=1)[normalized.sum(axis=1) > 0], 1.0)


def test_explanations_with_cleared_feature_names_use_the_columns_of_fit(cancer_fit):
    """shap.KernelExplainer sets feature_names_in_ = None on its copy: explain goes on by the columns the encoder
    kept (it raised KeyError)."""
    clf, Xte, _ = cancer_fit
    cleared = copy.deepcopy(clf)
    cleared.feature_names_in_ = None
    np.testing.assert_allclose(cleared.explain(Xte.to_numpy()), clf.explain(Xte), rtol=1e-6)  # the importances'
    np.testing.assert_allclose(cleared.explain(Xte), clf.explain(Xte), rtol=1e-6)  # path too (_reducing_matrix)


def test_save_load_gives_identical_predictions_and_importances(iris_fit, tmp_path):
    clf, Xte, _ = iris_fit
    path = clf.save(tmp_path / "tabnet.keraslearn")
    loaded = keraslearn.load(path)
    assert type(loaded) is TabNetClassifier and loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(Xte), clf.predict_proba(Xte))
    np.testing.assert_array_equal(loaded.predict(Xte), clf.predict(Xte))
    np.testing.assert_allclose(loaded.feature_importances_, clf.feature_importances_)
    np.testing.assert_allclose(loaded.explain(Xte), clf.explain(Xte), rtol=1e-6)


def test_onnx_export_runs_in_onnxruntime_like_predict_proba(iris_fit, tmp_path):
    # The sparsemax bisection is a loop inside the network: the exported graph must carry it.
    import onnxruntime as ort

    from keraslearn import export, export_inputs

    clf, Xte, _ = iris_fit
    session = ort.InferenceSession(export(clf, tmp_path / "tabnet.onnx"))
    (proba,) = session.run(None, export_inputs(clf, Xte))
    np.testing.assert_allclose(proba, clf.predict_proba(Xte), atol=1e-5)
    # No constant that no node reads (onnxruntime prints a warning for each when it loads the file).
    import onnx

    def graphs(graph):
        yield graph
        for node in graph.node:
            for attr in node.attribute:
                for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                    yield from graphs(sub)

    every = list(graphs(onnx.load(tmp_path / "tabnet.onnx").graph))
    read = {name for g in every for node in g.node for name in node.input} | {o.name for g in every for o in g.output}
    assert len(every) > 1 and not [i.name for g in every for i in g.initializer if i.name not in read]


def test_clone_and_grid_search_keep_every_setting(iris_mixed):
    X, y = iris_mixed
    # batch_size above the row count: one batch shape per fit, so one compile per fit
    params = dict(SMALL, batch_size=256)
    base = TabNetClassifier(**params, epochs=3, early_stopping=False, validation_fraction=0.0, random_state=0)
    assert clone(base).get_params() == base.get_params()
    grid = GridSearchCV(base, {"gamma": [1.0, 1.5]}, cv=2, error_score="raise").fit(X, y)
    assert grid.best_params_["gamma"] in (1.0, 1.5)
    # clone kept epochs=3: every fit trained exactly 3 epochs
    assert grid.best_estimator_.n_iter_ == 3
    assert grid.best_estimator_.virtual_batch_size == 32


def test_the_html_repr_lists_importances_without_computing_them(cancer_mixed):
    """A notebook shows a fitted estimator's HTML repr after every fit; scikit-learn's lists its fitted
    attributes, which ran TabNet over the training rows for feature_importances_ (3 s the first time)."""
    from sklearn.utils import estimator_html_repr

    X, y = cancer_mixed
    clf = TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1, random_state=0).fit(X.head(64), y.head(64))
    estimator_html_repr(clf)
    assert clf.__dict__["_feature_importances"] is None  # not computed
    assert np.isclose(clf.feature_importances_.sum(), 1.0)
    assert "feature_importances_" in estimator_html_repr(clf)  # listed once computed
    # Rows of sample_weight 0 take no part in the fit, nor in the importances' sample (they did)
    w = np.r_[np.ones(40), np.zeros(24)]
    weighed = TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1, random_state=0).fit(
        X.head(64).assign(**{X.columns[0]: X[X.columns[0]].head(64) * np.r_[np.ones(40), np.full(24, 1e3)]}),
        y.head(64), sample_weight=w)
    removed = TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1, random_state=0).fit(X.head(40), y.head(40))
    np.testing.assert_allclose(weighed.feature_importances_, removed.feature_importances_, rtol=1e-5, atol=1e-7)
    scalar = TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1, random_state=0).fit(X.head(64), y.head(64),
                                                                                     sample_weight=2.0)
    np.testing.assert_allclose(scalar.feature_importances_, clf.feature_importances_, rtol=1e-5, atol=1e-7)


def test_unfitted_has_no_importances_and_bad_params_fail_early(cancer_mixed):
    X, y = cancer_mixed
    assert not hasattr(TabNetClassifier(), "feature_importances_")
    with pytest.raises(NotFittedError):  # what `except NotFittedError` around a forest's catches
        TabNetClassifier().feature_importances_
    for params, match in [
        (dict(n_independent=0, n_shared=0), "n_independent and n_shared"),
        (dict(gamma=0.5), "gamma"),
        (dict(n_steps=0), "n_steps"),
        (dict(momentum=1.0), "momentum"),
        (dict(virtual_batch_size=0), "virtual_batch_size"),
        # One row a (ghost) batch: batch norm's running statistics collapse (R² of -1e11, no error).
        (dict(virtual_batch_size=1), "virtual_batch_size=1 normalizes each row on its own"),
        (dict(batch_size=1), "batch_size=1 with a model that has batch normalization"),
        (dict(batch_size="big"), 'batch_size must be an int >= 1 or "auto"'),
    ]:
        start = time.perf_counter()
        with pytest.raises(ValueError, match=match):
            TabNetClassifier(**params).fit(X, y)
        assert time.perf_counter() - start < 2.0  # raised before any model is built


def test_auto_batch_gives_a_small_table_eight_steps_an_epoch(cancer_mixed, tmp_path):
    # pytorch-tabnet's 1024-row batch gives 569 rows one step an epoch; "auto" takes the largest
    # power of 2 that still gives 8: 569 rows, 57 held out, 512 to train on, batches of 64.
    X, y = cancer_mixed
    params = dict(SMALL, batch_size="auto")
    clf = TabNetClassifier(**params, epochs=1, early_stopping=False, random_state=0).fit(X, y)
    assert len(X) == 569 and int(clf.model_.optimizer.iterations) == 8
    assert clf.batch_size_ == 64  # the batch "auto" chose, shown after the fit
    assert TabNetClassifier()._batch_size(100_000) == 1024  # pytorch-tabnet's, once the rows allow it
    assert TabNetClassifier()._batch_size(18) == 32
    assert TabNetClassifier(batch_size=100)._batch_size(512) == 100  # a number is kept
    # Every tabular learner sizes its batch so (at most 256): at 256, 512 rows trained 2 steps an epoch
    ff = keraslearn.FFClassifier(layer_units=(8,), epochs=1, early_stopping=False, random_state=0).fit(X, y)
    assert ff.batch_size == "auto" and int(ff.model_.optimizer.iterations) == 8 and ff.batch_size_ == 64
    assert keraslearn.load(ff.save(tmp_path / "ff.keraslearn")).batch_size_ == 64  # kept by the artifact
    state = ff.__getstate__()
    del state["batch_size_"]  # a learner pickled before batch_size_ was kept: unknown where "auto" chose
    old = object.__new__(type(ff))
    old.__setstate__(state)
    assert old.batch_size_ is None and old.predict(X[:3]).shape == (3,)
    assert keraslearn.FFClassifier()._batch_size(100_000) == 256 and keraslearn.FFClassifier()._batch_size(18) == 32
    with pytest.raises(ValueError, match=r'batch_size must be an int for CNNClassifier \("auto" sizes the batches'):
        keraslearn.CNNClassifier(batch_size="auto").fit(np.zeros((4, 32, 32, 3)), [0, 1, 0, 1])  # images: a number
    for wrong in (None, 64.0, True):  # QA: "must be an int, got None" left "auto" out
        with pytest.raises(ValueError, match=rf'batch_size must be an int >= 1 or "auto", got {wrong}'):
            keraslearn.FFClassifier(batch_size=wrong).fit(X, y)
    kept = keraslearn.FFClassifier(batch_size=np.int64(48), epochs=1).fit(X, y)
    assert kept.batch_size == 48 and kept.batch_size_ == 48 and type(kept.batch_size_) is int
    # A batch larger than the training rows is all of them (QA: batch_size_ said 10000 of 270 rows).
    whole = keraslearn.FFClassifier(batch_size=10000, epochs=1, validation_fraction=0.0).fit(X, y)
    assert whole.batch_size_ == len(X) and type(whole.batch_size_) is int


def test_global_clipnorm_clips_an_optimizer_instance_unless_it_clips_itself(cancer_mixed):
    import keras

    X, y = cancer_mixed
    X, y = X.iloc[:64], y[:64]
    fit = dict(SMALL, epochs=1, early_stopping=False, random_state=0)
    opt = TabNetClassifier(**fit, optimizer=keras.optimizers.Adam(), learning_rate=None).fit(X, y).model_.optimizer
    assert opt.global_clipnorm == 1.0  # the default clipping, as with optimizer="adam"
    own = keras.optimizers.Adam(clipnorm=0.5)
    opt = TabNetClassifier(**fit, optimizer=own, learning_rate=None, global_clipnorm=2.0).fit(X, y).model_.optimizer
    assert opt.clipnorm == 0.5 and opt.global_clipnorm is None  # Keras allows one kind: the instance's own


def test_registry_and_search_space():
    reg = keraslearn.learner("regr.tabnet", epochs=20)
    assert isinstance(reg, TabNetRegressor) and reg.epochs == 20
    assert isinstance(keraslearn.learner("classif.tabnet"), TabNetClassifier)
    assert isinstance(keraslearn.learner("TabNetClassifier"), TabNetClassifier)
    table = keraslearn.list_learners()
    assert {"classif.tabnet", "regr.tabnet"} <= set(table["mlr3keras"].dropna())
    from keraslearn.tuning.spaces import apply_sample

    space = reg.search_space()
    sample = {name: dist.choices[0] if hasattr(dist, "choices") else dist.low for name, dist in space.items()}
    params = apply_sample(reg, sample)
    reg.set_params(**params)  # every sampled name is a parameter
    assert reg.n_d == space["n_d"].choices[0]


@pytest.mark.torch
def test_tabnet_trains_on_this_backend(iris_mixed):
    X, y = iris_mixed
    clf = TabNetClassifier(**SMALL, epochs=20, patience=20, random_state=1).fit(X, y)
    assert accuracy_score(y, clf.predict(X)) > 0.6
    assert np.isclose(clf.feature_importances_.sum(), 1.0)


@pytest.mark.skipif(keraslearn.BACKEND != "jax", reason="XLA compiler options are JAX-only")
def test_tabnet_steps_fuse_their_reductions(cancer_mixed):
    # The options reach every compiled function of a TabNet fit: the shared predict function
    # makes fewer library calls than the same function compiled with XLA's defaults.
    import jax
    from keras.src.backend.jax import trainer as jax_trainer

    from keraslearn.training import compiled, fast_predict, xla

    X, y = cancer_mixed
    clf = TabNetClassifier(**SMALL, epochs=1, random_state=0).fit(X, y)
    template = compiled.template_for(clf.model_)
    assert template.options == template.fit_options == xla.FUSED_REDUCTIONS  # no quick compile, even when short
    assert jax_trainer.jit is jax.jit  # Keras' own jit is back after the fit
    model = clf.model_
    forward, _ = fast_predict._jax_forward(model)
    args = ([v.value for v in model.variables], clf._encode_X(X.iloc[:256]))  # a predict chunk
    ours = forward.lower(*args).compile().as_text()
    plain = jax.jit(forward.__wrapped__).lower(*args).compile().as_text()
    assert ours.count("__ynn_fusion") < plain.count("__ynn_fusion")
    # An unpickled (or loaded) TabNet has no shared template; its predictions compile with them too.
    loaded = pickle.loads(pickle.dumps(clf))
    assert compiled.template_for(loaded.model_) is None
    np.testing.assert_allclose(loaded.predict_proba(X.iloc[:256]), clf.predict_proba(X.iloc[:256]), rtol=1e-5, atol=1e-6)
    forward, _ = getattr(loaded.model_, fast_predict._FORWARD)
    args = ([v.value for v in loaded.model_.variables], args[1])
    assert forward.lower(*args).compile().as_text().count("__ynn_fusion") == ours.count("__ynn_fusion")


def test_a_keras_convention_momentum_warns_and_entmax_is_named():
    """momentum=0.98 (Keras' convention) is the new batch's weight here: running statistics that barely
    average, silently; mask_type (pytorch-tabnet's entmax) was refused as an unknown name without a word."""
    X, y = np.random.default_rng(0).normal(size=(64, 3)), np.arange(64) % 2
    with pytest.warns(UserWarning, match=r"Keras' momentum=0.98 is momentum=0.02 here"):
        TabNetClassifier(momentum=0.98, epochs=1, virtual_batch_size=16, batch_size=32).fit(X, y)
    with pytest.raises(TypeError, match=r"no parameter 'mask_type' \(pytorch-tabnet has\): .*sparsemax only"):
        keraslearn.learner("classif.tabnet", mask_type="entmax")


def test_mixed_precision_trains_and_a_model_computes_in_its_own_policy_when_loaded(tmp_path):
    """Under mixed_float16 TabNet's entropy loss was NaN in the first epoch (epsilon 1e-15 is 0 in float16,
    and sparsemax makes zeros); TabNet's and the piecewise embedding's sub-layers took the global policy at
    load, so a model fitted in float32 and loaded under mixed_bfloat16 predicted 1.3 apart (and the reverse)."""
    import keras

    from keraslearn import TabMRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(160, 4)
    y = X @ [2.0, -1.0, 0.5, 0.0]
    fast = dict(epochs=2, random_state=0, validation_fraction=0.0)
    try:
        keras.config.set_dtype_policy("mixed_float16")
        half = TabNetRegressor(**fast, n_d=4, n_a=4, n_steps=2, virtual_batch_size=32, batch_size=32).fit(X, y)
        assert np.isfinite(half.history_["loss"]).all(), half.history_["loss"]
        keras.config.set_dtype_policy("float32")
        fitted = [TabNetRegressor(**fast, n_d=4, n_a=4, n_steps=2).fit(X, y),
                  TabMRegressor(**fast, k=2, n_blocks=1, d_block=16).fit(X, y)]
        for i, learner in enumerate(fitted):
            learner.save(tmp_path / f"{i}.keraslearn")
        keras.config.set_dtype_policy("mixed_bfloat16")
        for i, learner in enumerate(fitted):
            loaded = keraslearn.load(tmp_path / f"{i}.keraslearn")
            np.testing.assert_allclose(loaded.predict(X), learner.predict(X), rtol=1e-6, atol=1e-6,
                                       err_msg=type(learner).__name__)
    finally:
        keras.config.set_dtype_policy("float32")
