"""Numeric embeddings and the other custom layers of the modern architectures.

The layer tests are marked ``torch``: CI runs them on JAX and again on PyTorch.
"""

import numpy as np
import pandas as pd
import pytest

import keras  # noqa: E402  (conftest selected the backend)

from keraslearn.architectures import ff
from keraslearn.architectures.ft_transformer import CLSToken, FirstToken, ReGLU
from keraslearn.architectures.numeric_embeddings import (
    LinearEmbedding,
    PBLDEmbedding,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    PiecewiseLinearEncoding,
    bin_edges,
)
from keraslearn.architectures.realmlp import FeatureScale, NTKDense, ParametricActivation, SmoothClip
from keraslearn.architectures.tabm import ElementwiseScaling, EnsembleMean, LinearBatchEnsemble, LinearEnsemble
from keraslearn.preprocessing import DataSpec, TabularEncoder
from keraslearn.training.losses import EnsembleMemberLoss, SparseCategoricalCrossentropyLS

EDGES = [[-1.0, 0.0, 1.0], [0.0, 2.0], [-2.0, -1.0, 0.0, 1.0, 2.0]]


def _ple_reference(x, edges):
    """Piecewise-linear encoding straight from its definition, one feature at a time."""
    out = []
    for v, e in zip(x, edges):
        n = len(e) - 1
        enc = []
        for j in range(n):
            t = (v - e[j]) / (e[j + 1] - e[j])
            lo = -np.inf if j == 0 else 0.0
            hi = np.inf if j == n - 1 else 1.0
            enc.append(min(max(t, lo), hi))
        out.append(enc)
    return out


@pytest.mark.torch
def test_piecewise_linear_encoding_matches_its_definition():
    x = np.array([[0.5, 1.0, 1.5], [-3.0, 5.0, -0.25], [1.0, -1.0, 2.0]], dtype="float32")
    got = keras.ops.convert_to_numpy(PiecewiseLinearEncoding(EDGES)(x))
    assert got.shape == (3, 3, 4)
    for row, out in zip(x, got):
        for i, ref in enumerate(_ple_reference(row, EDGES)):
            n = len(ref)
            # A feature fills its first n - 1 slots and the last slot; the rest is padding.
            np.testing.assert_allclose(out[i, : n - 1], ref[:-1], rtol=1e-6)
            np.testing.assert_allclose(out[i, -1], ref[-1], rtol=1e-6)
            np.testing.assert_array_equal(out[i, n - 1 : -1], 0.0)


def test_piecewise_linear_encoding_rejects_bad_edges():
    with pytest.raises(ValueError, match="strictly increasing"):
        PiecewiseLinearEncoding([[0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="at least 2"):
        PiecewiseLinearEncoding([[1.0]])


def test_bin_edges_are_training_quantiles_of_the_encoded_columns():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.lognormal(size=500), "b": rng.integers(0, 3, 500).astype(float), "c": 7.0})
    enc = TabularEncoder(scaling="standard").fit(X)
    encoded = enc.transform(X)["numeric"]
    edges = bin_edges(enc.spec_, n_bins=8)
    np.testing.assert_allclose(edges[0], np.quantile(encoded[:, 0], np.linspace(0, 1, 9)), rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(edges[1]) > 0) and len(edges[1]) <= 4  # ties collapse: few distinct edges
    assert len(edges[2]) == 2  # a constant column still gets one bin
    # The quantiles travel with the spec (and so with saved learners).
    assert DataSpec.from_dict(enc.spec_.to_dict()).numeric_quantiles == enc.spec_.numeric_quantiles
    # print(spec) in a build function shows the columns, not 128 quantiles for each.
    assert "numeric_names=('a', 'b', 'c')" in repr(enc.spec_) and len(repr(enc.spec_)) < 300


def test_bin_edges_need_quantiles_from_the_encoder():
    with pytest.raises(ValueError, match="numeric_quantiles"):
        bin_edges(DataSpec(n_numeric=2, task="binary"), n_bins=4)


def test_ff_default_is_unchanged_and_can_embed_numeric_columns(cancer_mixed):
    X, y = cancer_mixed
    spec = TabularEncoder().fit(X).spec_.with_task("binary", 2)
    plain = ff.build(spec)
    assert not any("embedding" in layer.name and "numeric" in layer.name for layer in plain.layers)
    model = ff.build(spec, numeric_embedding="piecewise")
    layer = model.get_layer("numeric_embedding")
    assert isinstance(layer, PiecewiseLinearEmbedding)
    assert layer.get_config()["bin_edges"] == bin_edges(spec, 48)
    with pytest.raises(ValueError, match="numeric_embedding"):
        ff.build(spec, numeric_embedding="fourier")


def test_a_table_without_numeric_columns_has_nothing_to_embed():
    """ResNet with piecewise embeddings crashed on such a table ("bin_edges must list the edges of at
    least one feature"); FT-Transformer and TabM fit it."""
    from keraslearn.architectures import resnet

    X = pd.DataFrame({"c": list("abcd") * 5, "d": list("xy") * 10})
    spec = TabularEncoder().fit(X).spec_.with_task("binary", 2)
    for kind in ("piecewise", "periodic"):
        model = resnet.build(spec, numeric_embedding=kind)
        assert not any("numeric" in layer.name for layer in model.layers) and model.count_params() > 0
    with pytest.raises(ValueError, match="numeric_embedding must be None, one of .* got 'fourier'"):
        resnet.build(spec, numeric_embedding="fourier")  # still checked


# Every custom layer: (factory, input shape, input dtype).
LAYERS = {
    "linear": (lambda: LinearEmbedding(4), (3,)),
    "periodic": (lambda: PeriodicEmbedding(n_frequencies=6, d_embedding=5), (3,)),
    "periodic_lite": (lambda: PeriodicEmbedding(n_frequencies=6, d_embedding=5, lite=True), (3,)),
    "pbld": (lambda: PBLDEmbedding(n_frequencies=6, d_embedding=4), (3,)),
    "ple": (lambda: PiecewiseLinearEncoding(EDGES), (3,)),
    "ple_embedding": (lambda: PiecewiseLinearEmbedding(EDGES, d_embedding=5), (3,)),
    "cls": (CLSToken, (3, 4)),
    "first_token": (lambda: FirstToken(keepdims=False), (3, 4)),
    "reglu": (ReGLU, (3, 8)),
    "smooth_clip": (SmoothClip, (3,)),
    "feature_scale": (FeatureScale, (3,)),
    "ntk_dense": (lambda: NTKDense(5), (3,)),
    "parametric_act": (lambda: ParametricActivation("mish"), (3,)),
    "elementwise_scaling": (lambda: ElementwiseScaling(4, init="random-signs", chunks=[1, 2]), (3,)),
    "batch_ensemble": (lambda: LinearBatchEnsemble(5, 4, first_init="normal"), (3,)),
    "linear_ensemble": (lambda: LinearEnsemble(2, 4), (4, 3)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_custom_layer_trains_saves_and_loads_in_safe_mode(name, tmp_path):
    factory, shape = LAYERS[name]
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=shape)
    out = factory()(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(6, *shape)).astype("float32")
    before = keras.ops.convert_to_numpy(model(x))
    assert before.shape[1:] == tuple(out.shape[1:])  # the symbolic shape is the real one
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.zeros_like(before), epochs=1, verbose=0)
    if model.trainable_weights:
        assert not np.allclose(keras.ops.convert_to_numpy(model(x)), before)  # gradients reach the weights
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    layer = model.layers[-1]
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.torch
def test_ensemble_mean_passes_members_in_training_and_averages_at_inference():
    x = np.arange(24, dtype="float32").reshape(2, 4, 3)
    layer = EnsembleMean()
    assert tuple(layer(x, training=True).shape) == (2, 4, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=False)), x.mean(axis=1))


@pytest.mark.torch
def test_ensemble_member_loss_is_the_mean_of_member_losses():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=(5, 4)).astype("float32")  # (batch, k, classes)
    y = np.array([0, 2, 1, 1, 0])
    loss = EnsembleMemberLoss("sparse_categorical_crossentropy", sparse=True)
    expected = np.mean([-np.log(p[i, m, y[i]]) for i in range(5) for m in range(4)])
    np.testing.assert_allclose(float(loss(y, p)), expected, rtol=1e-5)
    # On the averaged (inference) output it is the plain task loss.
    mean = p.mean(axis=1)
    np.testing.assert_allclose(float(loss(y, mean)), np.mean(-np.log(mean[np.arange(5), y])), rtol=1e-5)
    reg = EnsembleMemberLoss("mse")
    pred = rng.normal(size=(5, 4, 1)).astype("float32")
    target = rng.normal(size=(5, 1)).astype("float32")
    np.testing.assert_allclose(float(reg(target, pred)), np.mean((pred - target[:, None, :]) ** 2), rtol=1e-5)
    assert EnsembleMemberLoss.from_config(loss.get_config()).get_config() == loss.get_config()


@pytest.mark.torch
def test_sparse_label_smoothing_matches_keras_one_hot_loss():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=6).astype("float32")
    y = rng.integers(0, 4, 6)
    ours = SparseCategoricalCrossentropyLS(label_smoothing=0.1)(y, p)
    ref = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(4)[y], p)
    np.testing.assert_allclose(float(ours), float(ref), rtol=1e-6)
