"""Custom layers of TabNet: sparsemax, ghost batch normalization and the encoder, on every backend."""

import numpy as np
import pytest

import keraslearn  # noqa: F401  (selects the backend)
import keras
from keras import ops

from keraslearn.architectures.layers import GhostBatchNormalization, Sparsemax, sparsemax
from keraslearn.architectures.tabnet import TabNetEncoder


def sparsemax_reference(z):
    """Martins & Astudillo (2016), Algorithm 1, one row at a time in float64."""
    z = np.asarray(z, dtype=np.float64)
    zs = np.sort(z)[::-1]
    cs = np.cumsum(zs)
    k = np.arange(1, len(z) + 1)
    k_z = k[1 + k * zs > cs].max()
    tau = (cs[k_z - 1] - 1) / k_z
    return np.maximum(z - tau, 0.0)


@pytest.mark.torch
def test_sparsemax_matches_reference_and_is_a_sparse_distribution():
    rng = np.random.default_rng(0)
    z = np.concatenate(
        [
            rng.normal(size=(200, 7)) * rng.choice([0.1, 1.0, 10.0], size=(200, 1)),
            [[0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0]],  # the example keras.ops.sparsemax 3.15 gets wrong
            [[3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]],  # ties: uniform
            [[1e4, -1e4, 0.0, 1.0, 2.0, 3.0, 4.0]],  # large logits stay finite
        ]
    ).astype("float32")
    out = ops.convert_to_numpy(sparsemax(z))
    expected = np.stack([sparsemax_reference(row) for row in z])
    np.testing.assert_allclose(out, expected, atol=2e-5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert (out >= 0).all()
    assert (out == 0).any(axis=1).mean() > 0.5  # most rows have exact zeros, unlike softmax
    np.testing.assert_allclose(out[-2], 1 / 7, atol=1e-6)
    np.testing.assert_allclose(out[-3, :3], [0.0, 0.25, 0.75], atol=1e-6)


@pytest.mark.torch
def test_sparsemax_support_by_sort_and_by_bisection_agree():
    from keraslearn.architectures.layers import _support_by_bisection, _support_by_sort

    rng = np.random.default_rng(3)
    scale = rng.choice([1e-3, 0.1, 1.0, 10.0, 1e3], size=(500, 1))
    z = (rng.normal(size=(500, 40)) * scale).astype("float32")
    z[:50, :20] = z[:50, :1]  # ties at the top
    z = ops.convert_to_tensor(z - z.max(axis=1, keepdims=True))  # both expect each row's max at 0
    by_sort = ops.convert_to_numpy(_support_by_sort(z))
    by_bisection = ops.convert_to_numpy(_support_by_bisection(z))
    expected = np.stack([sparsemax_reference(row) > 0 for row in ops.convert_to_numpy(z)])
    np.testing.assert_array_equal(by_sort, expected)
    np.testing.assert_array_equal(by_bisection, expected)


@pytest.mark.torch
def test_sparsemax_axis_and_layer_config():
    z = np.random.default_rng(1).normal(size=(4, 5, 3)).astype("float32")
    along_1 = ops.convert_to_numpy(sparsemax(z, axis=1))
    np.testing.assert_allclose(along_1.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(along_1[0, :, 2], sparsemax_reference(z[0, :, 2]), atol=1e-5)
    layer = Sparsemax(axis=1)
    clone = Sparsemax.from_config(layer.get_config())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(z)), along_1)


def _gradient(fn, z):
    """d sum(fn(z) * w) / dz with the backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(z))
    if backend == "tensorflow":
        import tensorflow as tf

        t = tf.Variable(z)
        with tf.GradientTape() as tape:
            y = fn(t)
        return tape.gradient(y, t).numpy()
    import torch

    t = torch.tensor(z, requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()


@pytest.mark.torch
def test_sparsemax_gradient_is_the_sparsemax_jacobian():
    z = np.array([0.2, 1.1, 0.9, -1.0, 1.0], dtype="float32")
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype="float32")
    grad = _gradient(lambda t: ops.sum(sparsemax(t) * ops.convert_to_tensor(w)), z)
    s = (sparsemax_reference(z) > 0).astype(np.float64)
    jacobian = np.diag(s) - np.outer(s, s) / s.sum()  # Martins & Astudillo (2016), eq. 11
    np.testing.assert_allclose(grad, jacobian.T @ w, atol=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("batch, chunks", [(8, [4, 4]), (10, [4, 4, 2]), (3, [3])])
def test_ghost_batch_norm_normalizes_each_virtual_batch(batch, chunks):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(batch, 3)) * 5 + 2).astype("float32")
    layer = GhostBatchNormalization(virtual_batch_size=4, momentum=0.9, epsilon=1e-6)
    out = ops.convert_to_numpy(layer(x, training=True))
    start = 0
    for size in chunks:  # torch.chunk sizes: ceil(batch / ceil(batch / 4)) each, the last smaller
        part = out[start : start + size]
        np.testing.assert_allclose(part.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(part.std(axis=0), 1.0, atol=1e-3)
        start += size
    # One moving-average update per virtual batch, towards the mean of the chunk statistics.
    n = len(chunks)
    means = np.mean([x[i : i + s].mean(0) for i, s in zip(np.cumsum([0] + chunks[:-1]), chunks)], axis=0)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.moving_mean), means * (1 - 0.9**n), rtol=1e-4)


@pytest.mark.torch
def test_ghost_batch_norm_inference_uses_moving_stats_for_any_batch_size():
    rng = np.random.default_rng(3)
    layer = GhostBatchNormalization(virtual_batch_size=4)
    for _ in range(3):
        layer(rng.normal(size=(12, 2)).astype("float32"), training=True)
    x = rng.normal(size=(5, 2)).astype("float32")
    full = ops.convert_to_numpy(layer(x, training=False))
    one = ops.convert_to_numpy(layer(x[:1], training=False))
    np.testing.assert_allclose(one[0], full[0], rtol=1e-6)
    mean, var = ops.convert_to_numpy(layer.moving_mean), ops.convert_to_numpy(layer.moving_variance)
    np.testing.assert_allclose(full, (x - mean) / np.sqrt(var + layer.epsilon), rtol=1e-5, atol=1e-6)
    config = layer.get_config()
    assert config["virtual_batch_size"] == 4
    assert GhostBatchNormalization.from_config(config).virtual_batch_size == 4


@pytest.fixture(scope="module")
def encoder_model():
    inp = keras.Input((6,))
    enc = TabNetEncoder(n_d=4, n_a=3, n_steps=2, n_independent=1, n_shared=1, virtual_batch_size=8, name="enc")
    return keras.Model(inp, enc(inp)), enc


@pytest.mark.torch
def test_encoder_outputs_masks_and_sparsity_loss(encoder_model):
    model, enc = encoder_model
    x = np.random.default_rng(4).normal(size=(20, 6)).astype("float32")
    decision, masks, explanation = (ops.convert_to_numpy(t) for t in enc(x, training=False, return_masks=True))
    assert decision.shape == (20, 4) and (decision >= 0).all()  # sum of ReLU step outputs
    assert masks.shape == (20, 2, 6) and explanation.shape == (20, 6)
    np.testing.assert_allclose(masks.sum(axis=-1), 1.0, atol=1e-5)
    # The entropy loss is added in training only, and is positive and bounded by log(F).
    model(x, training=False)
    assert model.losses == []
    model(x, training=True)
    (loss,) = model.losses
    assert 0.0 <= float(ops.convert_to_numpy(loss)) <= 1e-3 * np.log(6) + 1e-9


@pytest.mark.torch
def test_encoder_saves_and_loads_in_safe_mode(encoder_model, tmp_path):
    model, enc = encoder_model
    x = np.random.default_rng(5).normal(size=(9, 6)).astype("float32")
    path = tmp_path / "enc.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x, training=False)), ops.convert_to_numpy(model(x, training=False)), rtol=1e-6
    )
    assert loaded.get_layer("enc").get_config() == enc.get_config()


def test_encoder_rejects_empty_transformer():
    with pytest.raises(ValueError, match="n_independent and n_shared"):
        TabNetEncoder(n_independent=0, n_shared=0)
