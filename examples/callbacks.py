"""The R keras guide's callbacks: early stopping, reduce-LR-on-plateau, model checkpoint and
a lambda callback that stops at a target accuracy.

R (keras):
    callbacks <- list(
      callback_early_stopping(monitor = "val_loss", patience = 5, restore_best_weights = TRUE),
      callback_reduce_lr_on_plateau(monitor = "val_loss", factor = 0.5, patience = 3, min_lr = 1e-6),
      callback_model_checkpoint("best_model.keras", monitor = "val_accuracy", save_best_only = TRUE),
      callback_lambda(on_epoch_end = function(epoch, logs) {
        if (logs$val_accuracy > 0.98) { cat("Reached 98% ..."); model$stop_training <- TRUE } }))

On scikit-learn's digits (offline). Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keraslearn import to_categorical  # noqa: E402

X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))  # shuffled: the file is sorted by writer
X, Y = (X[order] / 16.0).astype("float32"), to_categorical(y[order], 10)
x_val, y_val = X[1400:], Y[1400:]


def model(learning_rate):
    keras.utils.set_random_seed(3)
    m = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    m.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy", metrics=["accuracy"])
    return m


# 1. Early stopping with restore_best_weights, and reduce-LR-on-plateau. Few training rows
#    and a high learning rate: the validation loss soon stops improving.
m = model(0.01)
max_epochs = 60
history = m.fit(
    X[:300],
    Y[:300],
    validation_data=(x_val, y_val),
    epochs=max_epochs,
    batch_size=32,
    verbose=0,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6),
    ],
).history
val_loss_now = m.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
rates = history["learning_rate"]
print(
    f"early stopping after {len(rates)} of {max_epochs} epochs; best val_loss {min(history['val_loss']):.4f}, "
    f"restored model {val_loss_now:.4f}; learning rate {rates[0]:g} -> {rates[-1]:g}"
)
assert len(rates) < max_epochs  # stopped early
assert abs(val_loss_now - min(history["val_loss"])) < 1e-4  # the best epoch's weights are back
assert rates[-1] < rates[0] and all(b in (a, a * 0.5) for a, b in zip(rates, rates[1:]))  # halved on plateaus

# 2. The guide's list: checkpoint the best model, stop once validation accuracy passes a target.
target = 0.95 if SMALL else 0.97
stopped = []


def stop_at_target(epoch, logs):
    if logs["val_accuracy"] > target:
        print(f"Reached {target:.0%} validation accuracy at epoch {epoch + 1}. Stopping...")
        stopped.append(epoch)
        m.stop_training = True


with tempfile.TemporaryDirectory() as tmp:
    best_path = os.path.join(tmp, "best_model.keras")
    m = model(0.003)
    history = m.fit(
        X[:1400],
        Y[:1400],
        validation_data=(x_val, y_val),
        epochs=100,
        batch_size=32,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6),
            keras.callbacks.ModelCheckpoint(best_path, monitor="val_accuracy", save_best_only=True),
            keras.callbacks.LambdaCallback(on_epoch_end=stop_at_target),
        ],
    ).history
    best = keras.saving.load_model(best_path)
    best_accuracy = best.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"]

accuracies = history["val_accuracy"]
print(f"val_accuracy per epoch: {np.round(accuracies, 3).tolist()}; checkpoint's: {best_accuracy:.4f}")
assert stopped == [len(accuracies) - 1] and accuracies[-1] > target >= max(accuracies[:-1])
assert abs(best_accuracy - max(accuracies)) < 1e-6  # the checkpoint holds the best epoch
print("OK")
