"""Keras' per-epoch state hand-over on JAX without re-listing the variables (training.jax_state)."""

import contextlib

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn import FFClassifier
from keraslearn.training import fit as fit_module
from keraslearn.training.jax_state import lean_state

needs_jax = pytest.mark.skipif(keraslearn.BACKEND != "jax", reason="the hand-over replaced is Keras' JAX one")
PARAMS = dict(layer_units=(16,), dropout=0.2, use_batchnorm=True, epochs=8, batch_size=32, patience=2,
              validation_fraction=0.25, random_state=3)
METHODS = ("_get_jax_state", "_purge_model_variables", "jax_state_sync", "_get_metrics_result_or_logs")


class _FFWithAccuracy(FFClassifier):
    _default_metrics = ("accuracy",)  # a compiled metric beside the loss


def _state(model):
    return [np.asarray(v) for v in model.variables + model.optimizer.variables]


@needs_jax
def test_lean_hand_over_trains_the_model_keras_own_would(iris_mixed, monkeypatch):
    X, y = iris_mixed
    lean = _FFWithAccuracy(**PARAMS).fit(X, y)  # validation, early stopping restoring the best weights, BN
    monkeypatch.setattr(fit_module, "lean_state", lambda model: contextlib.nullcontext())
    own = _FFWithAccuracy(**PARAMS).fit(X, y)
    assert lean.history_ == own.history_  # the step's logs are the metrics Keras re-reads
    assert set(lean.history_) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    for a, b in zip(_state(lean.model_), _state(own.model_), strict=True):
        np.testing.assert_array_equal(a, b)  # weights, BN statistics, Adam's slots and step count
    np.testing.assert_array_equal(lean.predict_proba(X), own.predict_proba(X))


@needs_jax
def test_model_is_keras_own_again_after_the_fit(iris_mixed):
    X, y = iris_mixed
    est = FFClassifier(**dict(PARAMS, epochs=1)).fit(X, y)
    model = est.model_
    assert not set(METHODS) & set(vars(model))
    # A new optimizer brings new variables: Keras' own fit must list them, not the old ones.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(est.encoder_.transform(X), np.searchsorted(est.classes_, y), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(model.optimizer.iterations) == 2 * int(np.ceil(len(y) / 32))


@needs_jax
def test_a_model_with_its_own_step_keeps_keras_metric_results():
    class OwnStep(keras.Model):
        def train_step(self, state, data):
            return super().train_step(state, data)

    inputs = keras.Input((3,))
    model = OwnStep(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="adam", loss="mse")
    with lean_state(model):
        assert "jax_state_sync" in vars(model)
        assert "_get_metrics_result_or_logs" not in vars(model)  # its logs may not be the metrics
        model.fit(np.ones((8, 3)), np.ones(8), epochs=2, verbose=0)
    assert not set(METHODS) & set(vars(model))
    assert np.isfinite(model.evaluate(np.ones((8, 3)), np.ones(8), verbose=0))
