"""The R keras guide's "Making new layers and models via subclassing", "Writing your own callbacks" and
"Customizing what happens in fit()": a layer of your own with weights, a loss and a config; a callback
class that reads the logs and stops training; a model whose train_step is written for the active backend
(JAX, PyTorch or TensorFlow), trained by fit() with a metric of its own. Saved and reloaded as .keras.

R (keras3):
    layer_linear <- Layer("Linear",
      initialize = function(units = 32) { super$initialize(); self$units <- units },
      build = function(input_shape) {
        self$w <- self$add_weight(shape = shape(tail(input_shape, 1), self$units), initializer = "random_normal")
        self$b <- self$add_weight(shape = shape(self$units), initializer = "zeros") },
      call = function(inputs) { self$add_loss(1e-4 * op_sum(op_square(self$w))); op_matmul(inputs, self$w) + self$b },
      get_config = function() modifyList(super$get_config(), list(units = self$units)))
    callback_stop_at <- Callback("StopAt",
      initialize = function(target) { super$initialize(); self$target <- target },
      on_epoch_end = function(epoch, logs = NULL) {
        if (logs$val_accuracy >= self$target) self$model$stop_training <- TRUE })
    # train_step: see the guide's per-backend versions (GradientTape, jax$value_and_grad, $backward()).

On scikit-learn's digits (offline). Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402,F401  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

BACKEND = keras.backend.backend()
X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))
X, y = (X[order] / 16.0).astype("float32"), y[order].astype("int32")
x_train, y_train, x_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
EPOCHS = 12 if SMALL else 30


# 1. A layer of your own: weights made in build(), a loss added in call(), a config to save it by.
@keras.saving.register_keras_serializable(package="examples")
class Linear(keras.layers.Layer):
    def __init__(self, units=32, l2=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.units, self.l2 = units, l2

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        self.add_loss(self.l2 * ops.sum(ops.square(self.w)))  # collected in model.losses, added to the loss
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units, "l2": self.l2}


# 2. A callback class: reads the epoch's logs and its model, and stops the fit at a target.
class StopAtAccuracy(keras.callbacks.Callback):
    def __init__(self, target):
        super().__init__()
        self.target, self.stopped_at = target, None

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_accuracy"] >= self.target:
            self.stopped_at = epoch
            self.model.stop_training = True


keras.utils.set_random_seed(1)
inputs = keras.Input((64,))
hidden = keras.layers.Activation("relu")(Linear(64)(inputs))
model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(Linear(32)(hidden)))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model(x_train[:2])  # a call fills model.losses: one per Linear layer, added to the loss by fit
assert len(model.losses) == 2, model.losses
stop = StopAtAccuracy(0.93)
history = model.fit(x_train, y_train, validation_split=0.2, epochs=100, batch_size=32, callbacks=[stop], verbose=0)
assert stop.stopped_at is not None and len(history.history["loss"]) == stop.stopped_at + 1, stop.stopped_at
accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
print(f"own layer: stopped after epoch {stop.stopped_at + 1} at val accuracy >= 0.93; test accuracy {accuracy:.3f}")
assert accuracy > 0.8, accuracy
with tempfile.TemporaryDirectory() as folder:  # the registered class is found by its name
    model.save(os.path.join(folder, "linear.keras"))
    again = keras.saving.load_model(os.path.join(folder, "linear.keras"))
np.testing.assert_allclose(again.predict(x_test, verbose=0), model.predict(x_test, verbose=0), atol=1e-6)


# 3. Customizing fit(): train_step for the active backend, with a metric of its own (the gradient norm).
class CustomStepModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_norm = keras.metrics.Mean(name="grad_norm")  # a metric attribute: in self.metrics, reset per epoch

    def _update_metrics(self, loss, y, y_pred, grads):
        norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            elif metric is self.grad_norm:
                metric.update_state(norm)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    if BACKEND == "tensorflow":
        def train_step(self, data):
            import tensorflow as tf

            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            return self._update_metrics(loss, y, y_pred, grads)

    elif BACKEND == "torch":
        def train_step(self, data):
            import torch

            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            weights = self.trainable_weights
            grads = [w.value.grad for w in weights]
            with torch.no_grad():
                self.optimizer.apply(grads, weights)
            return self._update_metrics(loss, y, y_pred, grads)

    else:  # JAX: pure functions of the state, which the step returns updated
        def train_step(self, state, data):
            import jax

            trainable, non_trainable, optimizer_vars, metrics_vars = state
            x, y = data

            def loss_fn(trainable, non_trainable):
                y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x, training=True)
                return self.compute_loss(x, y, y_pred), (y_pred, non_trainable)

            (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable, non_trainable)
            trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
            norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
            logs, new_metrics_vars = {}, []
            for metric in self.metrics:
                own = metrics_vars[len(new_metrics_vars):len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    own = metric.stateless_update_state(own, loss)
                elif metric is self.grad_norm:
                    own = metric.stateless_update_state(own, norm)
                else:
                    own = metric.stateless_update_state(own, y, y_pred)
                logs[metric.name] = metric.stateless_result(own)
                new_metrics_vars += own
            return logs, (trainable, non_trainable, optimizer_vars, new_metrics_vars)


keras.utils.set_random_seed(2)
inputs = keras.Input((64,))
outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Dense(64, activation="relu")(inputs))
custom = CustomStepModel(inputs, outputs)
custom.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = custom.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0).history
assert set(history) >= {"loss", "accuracy", "grad_norm"}, sorted(history)
assert custom.metrics.count(custom.grad_norm) == 1  # (listed twice, JAX's step would donate its buffers twice)
assert history["loss"][-1] < history["loss"][0] and all(g > 0 for g in history["grad_norm"]), history
accuracy = custom.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
print(f"train_step on {BACKEND}: loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
      f"grad_norm {history['grad_norm'][0]:.3f} -> {history['grad_norm'][-1]:.3f}; test accuracy {accuracy:.3f}")
assert accuracy > 0.88, accuracy
print("OK")
