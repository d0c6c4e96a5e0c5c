"""The R keras guide's optimizers and losses, each compiled and trained on real data.

R (keras):
    optimizer_adam(learning_rate = 0.001)
    optimizer_adamw(learning_rate = 0.001, weight_decay = 0.01)
    optimizer_sgd(learning_rate = 0.01, momentum = 0.9)
    optimizer_rmsprop(learning_rate = 0.001)
    loss = "categorical_crossentropy" | "binary_crossentropy" | "mse" | "mae" | "huber"

Digits (multiclass), breast cancer (binary) and diabetes (regression) ship with
scikit-learn, so this runs offline. Set KERASLEARN_EXAMPLES_SMALL=1 for fewer epochs.
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keraslearn import to_categorical  # noqa: E402

EPOCHS = 12 if SMALL else 40


def network(x_train, n_out, activation):
    """Standardize the columns (Keras' Normalization layer), one hidden layer, the task's head."""
    norm = layers.Normalization()
    norm.adapt(x_train)
    return keras.Sequential(
        [
            keras.Input((x_train.shape[1],)),
            norm,
            layers.Dense(32, activation="relu"),
            layers.Dense(n_out, activation=activation),
        ]
    )


def train(optimizer, loss, data, n_out, activation, metrics=()):
    x_train, x_test, y_train, y_test = data
    keras.utils.set_random_seed(0)
    model = network(x_train, n_out, activation)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0], (optimizer, loss, history.history["loss"])
    return model, model.evaluate(x_test, y_test, verbose=0, return_dict=True)


# -------------------------------------------------- optimizers: multiclass digits
X, y = load_digits(return_X_y=True)
digits = train_test_split(X.astype("float32"), to_categorical(y, 10), test_size=0.25, random_state=0)
optimizers = {
    "adam": keras.optimizers.Adam(learning_rate=0.001),
    "adamw": keras.optimizers.AdamW(learning_rate=0.001, weight_decay=0.01),
    "sgd + momentum": keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "rmsprop": keras.optimizers.RMSprop(learning_rate=0.001),
}
for name, optimizer in optimizers.items():
    _, results = train(optimizer, "categorical_crossentropy", digits, 10, "softmax", ["accuracy"])
    print(f"categorical_crossentropy, {name:15s}: test accuracy {results['accuracy']:.3f}")
    assert results["accuracy"] > 0.9, (name, results)

# ------------------------------------------------------ binary: breast cancer
X, y = load_breast_cancer(return_X_y=True)
cancer = train_test_split(X.astype("float32"), y.astype("float32"), test_size=0.25, random_state=0, stratify=y)
_, results = train("adam", "binary_crossentropy", cancer, 1, "sigmoid", ["accuracy"])
print(f"binary_crossentropy,      adam           : test accuracy {results['accuracy']:.3f}")
assert results["accuracy"] > 0.9, results

# ----------------------------------------------- regression losses: diabetes
X, y = load_diabetes(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(X.astype("float32"), y, test_size=0.25, random_state=0)
mean, sd = y_train.mean(), y_train.std()  # train on a standardized target, report in its units
regression = (x_train, x_test, ((y_train - mean) / sd).astype("float32"), ((y_test - mean) / sd).astype("float32"))
baseline_mae = np.abs(y_test - mean).mean()
for loss in ("mse", "mae", "huber"):
    model, _ = train(keras.optimizers.Adam(0.01), loss, regression, 1, None)
    mae = np.abs(model.predict(x_test, verbose=0).ravel() * sd + mean - y_test).mean()
    print(f"{loss:24s}, adam(0.01)     : test MAE {mae:.1f} (predicting the mean: {baseline_mae:.1f})")
    assert mae < 0.85 * baseline_mae, (loss, mae, baseline_mae)
print("OK")
