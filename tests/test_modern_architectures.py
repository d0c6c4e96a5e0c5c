"""ResNet, FT-Transformer, RealMLP and TabM learners on small real data.

Each family is fitted once per task (module-scoped fixtures, small widths, few epochs) and the
fits are shared: output shapes, better-than-chance quality, determinism, save → load.
"""

import json
import warnings
import zipfile

import keras
import numpy as np
import pytest
from sklearn.base import clone

import keraslearn
from keraslearn.learners.registry import list_learners, resolve
from keraslearn.tuning.spaces import _DERIVED, apply_sample, search_space

# Small but real configurations: same architecture code, quick to compile and fit.
SMALL = {
    "resnet": dict(n_blocks=1, d_block=32),
    "ft_transformer": dict(n_blocks=1, d_block=16, n_heads=2, learning_rate=1e-3),
    "realmlp": dict(hidden_sizes=(32, 32)),
    "tabm": dict(k=4, d_block=32, n_bins=8, dropout=0.0),
}
TRAIN = dict(epochs=15, batch_size=128, random_state=0)
FAMILIES = sorted(SMALL)
N_TRAIN = 320  # 256 rows after the 20% validation split: two full batches, one compiled step


def _make(family, task, **extra):
    return resolve(family, task)(**SMALL[family], **TRAIN, **extra)


@pytest.fixture(scope="module")
def binary_fits(cancer_mixed):
    X, y = cancer_mixed
    return {f: _make(f, "classification").fit(X.iloc[:N_TRAIN], y.iloc[:N_TRAIN]) for f in FAMILIES}


@pytest.fixture(scope="module")
def regression_fits(diabetes_mixed):
    X, y = diabetes_mixed
    return {f: _make(f, "regression").fit(X.iloc[:N_TRAIN], y.iloc[:N_TRAIN]) for f in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_binary_classifier_shapes_and_quality(family, binary_fits, cancer_mixed):
    X, y = cancer_mixed
    X_test, y_test = X.iloc[N_TRAIN:], y.iloc[N_TRAIN:]
    m = binary_fits[family]
    proba = m.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(np.unique(m.predict(X_test))) <= set(m.classes_)
    majority = max(np.mean(y_test), 1 - np.mean(y_test))
    # Seed-robust bars (checked over 6 seeds at these tiny sizes): clearly above majority / chance.
    assert m.score(X_test, y_test) > majority + 0.08


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_gives_same_predictions(family, binary_fits, cancer_mixed):
    X, y = cancer_mixed
    again = clone(binary_fits[family]).fit(X.iloc[:N_TRAIN], y.iloc[:N_TRAIN])
    np.testing.assert_array_equal(again.predict_proba(X.iloc[N_TRAIN:]), binary_fits[family].predict_proba(X.iloc[N_TRAIN:]))


@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_predicts_identically(family, binary_fits, cancer_mixed, tmp_path):
    X, _ = cancer_mixed
    m = binary_fits[family]
    path = m.save(tmp_path / f"{family}.keraslearn")
    loaded = keraslearn.load(path)
    assert type(loaded) is type(m) and loaded.get_params() == m.get_params()
    np.testing.assert_allclose(loaded.predict_proba(X), m.predict_proba(X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("family", FAMILIES)
def test_regressor_shapes_and_quality(family, regression_fits, diabetes_mixed):
    X, y = diabetes_mixed
    pred = regression_fits[family].predict(X.iloc[N_TRAIN:])
    assert pred.shape == (len(X) - N_TRAIN,)
    assert regression_fits[family].score(X.iloc[N_TRAIN:], y.iloc[N_TRAIN:]) > 0.15  # 0 = predicting the mean


@pytest.mark.parametrize("family", ["realmlp", "tabm"])
def test_multiclass_probabilities(family, iris_mixed):
    # RealMLP: sparse cross-entropy with label smoothing; TabM: the same loss per member.
    X, y = iris_mixed
    m = _make(family, "classification").fit(X, y)
    proba = m.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert m.score(X, y) > 0.6  # chance is 1/3; 15 epochs on 150 rows, 0.63-0.85 over seeds


def test_tabm_trains_k_members_and_predicts_their_mean(binary_fits, cancer_mixed):
    X, _ = cancer_mixed
    m = binary_fits["tabm"]
    x = m.encoder_.transform(X.iloc[:50])
    members = np.asarray(m.model_(x, training=True))  # dropout=0: training mode is deterministic
    assert members.shape == (50, 4, 1)
    mean = np.asarray(m.model_(x, training=False))
    np.testing.assert_allclose(mean, members.mean(axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m.predict_proba(X.iloc[:50])[:, 1], mean[:, 0], rtol=1e-5, atol=1e-7)
    assert len({tuple(np.round(members[i, :, 0], 6)) for i in range(3)}) == 3  # members differ


def test_realmlp_uses_label_smoothing_and_a_schedule(binary_fits):
    m = binary_fits["realmlp"]
    assert m.model_.loss.get_config()["label_smoothing"] == 0.1
    lr = m.model_.optimizer._learning_rate
    assert lr.get_config()["shape"] == "coslog4"
    assert lr.get_config()["total_steps"] == 15 * 2  # epochs × batches per epoch



def test_realmlp_regressor_clips_predictions_to_the_training_targets_range(tmp_path):
    """RealMLP-TD's clamp_output: each target's predictions stay within the range its training rows span
    (far-out inputs extrapolated past it), training is not clipped, and a warm start widens the range."""
    from keraslearn.architectures.realmlp import ClampAtInference
    from keraslearn.learners.realmlp import _output_clamp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = np.c_[3 * X[:, 0] + 5, -30 * X[:, 0]]
    far = np.array([[40.0, 0, 0], [-40.0, 0, 0]])
    make = dict(hidden_sizes=(16,), epochs=10, random_state=0)
    free = keraslearn.RealMLPRegressor(**make, clamp_output=False).fit(X, Y).predict(far)
    assert free[0, 0] > Y[:, 0].max() and free[1, 0] < Y[:, 0].min()  # so clipping has something to do
    m = keraslearn.RealMLPRegressor(**make).fit(X, Y)
    np.testing.assert_allclose(m.predict(far), [[Y[:, 0].max(), Y[:, 1].min()], [Y[:, 0].min(), Y[:, 1].max()]],
                               rtol=1e-5)
    m.set_params(warm_start=True).fit(X, Y + [10, 0])  # higher first targets: the low bound is the first fit's
    low, high = (w * m.y_scale_ + m.y_mean_ for w in _output_clamp(m.model_).get_weights())  # in y's units
    np.testing.assert_allclose([low, high], [Y.min(axis=0), Y.max(axis=0) + [10, 0]], rtol=1e-5)
    with pytest.raises(ValueError, match=r"fitted with clamp_output=True; set clamp_output back, or warm_start"):
        m.set_params(clamp_output=False).fit(X, Y)  # not "a network of another shape"
    m.set_params(clamp_output=True, warm_start=False)
    # A RealMLPRegressor pickled or saved before clamp_output existed has a network that does not clip: False.
    state = m.__getstate__()
    del state["clamp_output"]
    old = keraslearn.RealMLPRegressor.__new__(keraslearn.RealMLPRegressor)
    old.__setstate__(state)
    assert old.clamp_output is False and old.epochs == 10
    m.save(tmp_path / "m.keraslearn")
    with zipfile.ZipFile(tmp_path / "m.keraslearn") as z:
        members = {name: z.read(name) for name in z.namelist()}
    meta = json.loads(members["keraslearn.json"])
    assert meta["params"].pop("clamp_output") is True
    members["keraslearn.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "old.keraslearn", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert keraslearn.load(tmp_path / "old.keraslearn").clamp_output is False
    assert keraslearn.load(tmp_path / "m.keraslearn").clamp_output is True
    clamp = ClampAtInference()
    clamp.build((None, 1))
    clamp.set_weights([np.array([-1.0], "float32"), np.array([1.0], "float32")])
    x = np.array([[-3.0], [0.5], [3.0]], "float32")
    np.testing.assert_array_equal(np.asarray(clamp(x, training=True)), x)
    np.testing.assert_array_equal(np.asarray(clamp(x, training=False)), [[-1.0], [0.5], [1.0]])

def test_schedules_take_the_middle_of_each_step():
    """coslog4 is 0 at t=0: read at step / total_steps, a one-step fit (epochs=1 on <= 256 rows)
    never trained and predicted a constant."""
    from keraslearn.training.progress_schedules import SCHEDULES, ProgressSchedule

    for shape in SCHEDULES:
        rates = [float(ProgressSchedule(1.0, 2, shape)(step)) for step in (0, 1)]
        assert min(rates) > 1e-3, shape
    assert float(ProgressSchedule(1.0, 1, "coslog4")(0)) > 0.01


def test_numeric_embeddings_norms_and_biases_do_not_decay(cancer_mixed):
    """As the docs and rtdl say; Keras matches excluded names against "kernel", not a layer's path,
    so the numeric embedding's kernel and frequencies decayed."""
    from keraslearn.architectures.numeric_embeddings import PeriodicEmbedding

    X, y = cancer_mixed
    mine = PeriodicEmbedding(d_embedding=8)  # a layer of the user's, named as they named it
    for family, embedding in (("resnet", "periodic"), ("ft_transformer", "periodic"), ("resnet", mine)):
        model = _make(family, "classification", numeric_embedding=embedding).set_params(epochs=1)
        model = model.fit(X.iloc[:64], y.iloc[:64]).model_
        decays = {v.path: model.optimizer._use_weight_decay(v) for v in model.trainable_variables}
        embedding = [p for p in decays if p.startswith("numeric_embedding/")]
        assert len(embedding) >= 2 and not any(decays[p] for p in embedding), family
        assert not any(d for p, d in decays.items() if p.endswith(("/bias", "/gamma", "/beta"))), family
        assert any(decays.values()), family  # the linear layers' kernels still decay


def test_learning_rate_none_is_the_optimizers_own_rate(cancer_mixed):
    """As for every learner: None keeps an optimizer instance's rate, or Keras' default for a name,
    which RealMLP's schedule then shapes (it crashed in float(None) before)."""
    X, y = cancer_mixed[0].iloc[:64], cancer_mixed[1].iloc[:64]
    resnet = _make("resnet", "classification", learning_rate=None).set_params(epochs=1).fit(X, y)
    assert float(resnet.model_.optimizer.learning_rate) == pytest.approx(keras.optimizers.AdamW().learning_rate)
    realmlp = _make("realmlp", "classification", learning_rate=None, optimizer=keras.optimizers.SGD(0.05))
    lr = realmlp.set_params(epochs=1).fit(X, y).model_.optimizer._learning_rate
    assert lr.get_config()["learning_rate"] == pytest.approx(0.05) and lr.get_config()["shape"] == "coslog4"
    own = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(ValueError, match="learning_rate=None keeps the optimizer's own rate, a schedule"):
        _make("realmlp", "classification", learning_rate=None, optimizer=own).set_params(epochs=1).fit(X, y)


@pytest.mark.parametrize("family", FAMILIES)
def test_registry_names_and_search_space(family):
    names = set(list_learners()["name"])
    assert {f"classif.{family}", f"regr.{family}"} <= names
    clf = resolve(f"classif.{family}")
    assert getattr(keraslearn, clf.__name__) is clf
    space = search_space(clf)
    derived = {n for names_ in _DERIVED for n in names_}
    assert set(space) - derived <= set(clf().get_params())
    point = {name: dist.high if hasattr(dist, "high") else dist.choices[-1] for name, dist in space.items()}
    for cls in (clf, resolve(f"regr.{family}")):
        cls().set_params(**apply_sample(cls(), point))  # every sampled point is valid for both tasks


@pytest.mark.parametrize(
    ("family", "params", "match"),
    [
        ("resnet", dict(numeric_embedding="fourier"), "numeric_embedding"),
        ("ft_transformer", dict(d_block=30, n_heads=8), "divisible"),
        ("realmlp", dict(lr_schedule="linear"), "lr_schedule"),
        ("tabm", dict(arch_type="tabm-packed"), "arch_type"),
        ("tabm", dict(k=0), "k must be"),
        ("resnet", dict(weight_decay=-1.0), "weight_decay"),
        ("resnet", dict(batch_size=1), "batch_size=1 with a model that has batch normalization"),
    ],
)
def test_bad_parameters_fail_clearly(family, params, match, cancer_mixed):
    X, y = cancer_mixed
    with pytest.raises(ValueError, match=match):
        resolve(family, "classification")(**params).fit(X.iloc[:20], y.iloc[:20])


def test_a_numeric_embedding_layer_is_taken_and_a_token_width_mismatch_is_named(diabetes_mixed):
    from keraslearn.architectures import ft_transformer
    from keraslearn.architectures.numeric_embeddings import PeriodicEmbedding

    X, y = diabetes_mixed
    reg = keraslearn.ResNetRegressor(n_blocks=1, d_block=16, epochs=1, random_state=0,
                                     numeric_embedding=PeriodicEmbedding(d_embedding=4))
    first = reg.fit(X[:100], y[:100]).predict(X[:5])
    assert np.isfinite(first).all()
    # The layer given is a template: each fit builds a fresh copy, so a refit starts from scratch.
    np.testing.assert_array_equal(reg.fit(X[:100], y[:100]).predict(X[:5]), first)
    with pytest.raises(ValueError, match=r"one token of d_block=16 per numeric column.*d_embedding=16"):
        ft_transformer.build(reg.spec_, d_block=16, n_heads=2, numeric_embedding=PeriodicEmbedding(d_embedding=4))


def test_ft_transformer_warns_when_its_attention_would_need_gigabytes(monkeypatch):
    """Attention over one token per column grows with the square of the columns: 300 columns peaked at
    6.3 GB for one epoch on 200 rows, silently, where every other learner stayed under 1.6 GB."""
    from keraslearn.learners import ft_transformer

    X = np.random.default_rng(0).normal(size=(40, 7))
    y = (X[:, 0] > 0).astype(int)
    est = keraslearn.FTTransformerClassifier(epochs=1, n_blocks=2, d_block=8, n_heads=2, random_state=0)
    # 32 training rows (validation_fraction=0.2) x 2 heads x (8² tokens² in the first block + 8 in the last,
    # which queries [CLS] only) x 4 bytes x 4 copies
    gib = 32 * 2 * (64 + 8) * 16 / 2**30
    monkeypatch.setattr(ft_transformer, "ATTENTION_WARN_GIB", gib * (1 - 1e-9))
    with pytest.warns(UserWarning, match=r"attends over 8 tokens .* for batches of 32 rows, n_heads=2, n_blocks=2"):
        est.fit(X, y)
    monkeypatch.setattr(ft_transformer, "ATTENTION_WARN_GIB", gib)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est.fit(X, y)
