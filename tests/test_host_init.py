"""Initial weights drawn on the host: a new model's build compiles no XLA kernel on JAX."""

import logging

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn.training.host_init import host_initializers

needs_jax = pytest.mark.skipif(keraslearn.BACKEND != "jax", reason="only JAX compiles initializers")


def _build(units, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((29,))
    hidden = keras.layers.Dense(units, kernel_initializer="glorot_uniform", bias_initializer="zeros")(inputs)
    normed = keras.layers.LayerNormalization()(hidden)  # ones and zeros
    model = keras.Model(inputs, keras.layers.Dense(3, kernel_initializer="he_normal")(normed))
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # Adam's zero slots
    return model


@needs_jax
def test_building_a_model_of_new_shapes_compiles_nothing(caplog):
    import jax

    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="jax"), host_initializers():
            model = _build(units=37, seed=0)  # shapes no other test compiles
    finally:
        jax.config.update("jax_log_compiles", False)
    compiled = [r.getMessage() for r in caplog.records if "Finished XLA compilation" in r.getMessage()]
    # Keras' global seed generator advances its state with tiny scalar kernels;
    # nothing of a weight's shape may compile.
    assert not [m for m in compiled if "convert_element_type" not in m], compiled
    kernel, bias, gamma, beta = (np.asarray(v) for v in model.weights[:4])
    assert kernel.shape == (29, 37) and np.abs(kernel).max() <= np.sqrt(6 / (29 + 37)) and kernel.std() > 0.05
    assert (bias == 0).all() and (gamma == 1).all() and (beta == 0).all() and bias.dtype == np.float32
    assert all((np.asarray(v) == 0).all() for v in model.optimizer.variables[2:])  # Adam moments


def test_host_weights_are_reproducible_and_initializers_are_restored():
    zeros_call = keras.initializers.Zeros.__call__
    with host_initializers():
        a = [np.asarray(w) for w in _build(units=5, seed=1).weights]
    with host_initializers():
        b = [np.asarray(w) for w in _build(units=5, seed=1).weights]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert keras.initializers.Zeros.__call__ is zeros_call
    out = keras.initializers.Zeros()((2, 3), dtype="int32")  # Keras' own again, outside the block
    assert keras.ops.convert_to_numpy(out).dtype == np.int32


@needs_jax
def test_variables_from_values_and_integer_seeds_convert_without_a_jax_kernel(caplog):
    """An optimizer's iteration counter and learning rate, and a weight drawn from an integer seed,
    reach the device without JAX's compiled type conversion (one small compilation each on a fresh
    machine); outside the block Keras converts as before."""
    import jax

    jax.clear_caches()  # a conversion taken through JAX must trace again, and so be logged
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="jax"):
            with host_initializers():
                step = keras.Variable(0, dtype="int")
                rate = keras.Variable(0.25, dtype="float32")
                kernel = keras.Variable(keras.initializers.GlorotUniform(seed=3)((4, 5)))
            inside = [r.getMessage() for r in caplog.records if "convert_element_type" in r.getMessage()]
            caplog.clear()
            keras_step = keras.Variable(0, dtype="int")
            outside = [r.getMessage() for r in caplog.records if "convert_element_type" in r.getMessage()]
    finally:
        jax.config.update("jax_log_compiles", False)
    assert inside == [], inside
    assert outside  # the control: Keras' own conversion of the same value goes through JAX
    assert step.dtype == keras_step.dtype and int(step.value) == 0 and float(rate.value) == 0.25
    with host_initializers():
        again = np.asarray(keras.initializers.GlorotUniform(seed=3)((4, 5)))
    np.testing.assert_array_equal(np.asarray(kernel.value), again)
    assert np.abs(again).max() <= np.sqrt(6 / 9) and again.std() > 0.05
