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
METHODS = ("_get_jax_state", "_purge_model_variables", "jax_state_sync", "_get_metrics_result_or_logs", "get_weights")


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
    assert type(model._tracker) is keras.src.utils.tracking.Tracker
    model.extra_layers = [keras.layers.Dense(2)]  # Keras tracks new attributes again
    assert model.extra_layers[0] in model._layers
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


class _WeightsSeen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen, self.state_types = [], set()

    def on_train_batch_end(self, batch, logs=None):
        self.state_types.add(type(self._model._jax_state))  # ``self.model`` would sync the state

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        self.seen.append((model.get_weights(), [v.numpy() for v in model.weights]))


@needs_jax
def test_callbacks_see_keras_weights_during_the_fit():
    seen = _WeightsSeen()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.BatchNormalization()(inputs)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    xs, ys = np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 3
    with lean_state(model):
        model.fit(xs, ys, epochs=3, batch_size=8, validation_split=0.25, callbacks=[seen], verbose=0)
    assert len(seen.seen) == 3
    for got, keras_own in seen.seen:
        assert len(got) == len(keras_own) == len(model.weights)
        for a, b in zip(got, keras_own, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a is not b and a.flags.writeable  # copies, as Keras' own get_weights returns
    assert not np.array_equal(seen.seen[0][0][0], seen.seen[-1][0][0])  # each epoch's own weights
    assert seen.state_types == {dict}  # the per-step state passed Keras' attribute tracking untouched
