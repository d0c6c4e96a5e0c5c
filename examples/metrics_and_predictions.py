"""The R keras guide's evaluation: accuracy, AUC, precision and recall in evaluate(), and
predicted classes from predicted probabilities, checked against scikit-learn.

R (keras):
    model |> compile(optimizer = optimizer_adam(0.001), loss = "categorical_crossentropy",
      metrics = c("accuracy", metric_auc(name = "auc"), metric_precision(name = "precision"),
                  metric_recall(name = "recall")))
    results <- model |> evaluate(x_test, y_test)      # $loss $accuracy $auc $precision $recall
    predictions <- model |> predict(x_test)
    predicted_classes <- apply(predictions, 1, which.max) - 1   # softmax: the most probable column
    predicted_classes <- as.integer(predictions > 0.5)          # one sigmoid unit (the binary model)

Offline data from scikit-learn (breast cancer: binary; digits: 10 classes). Set
KERASLEARN_EXAMPLES_SMALL=1 for fewer epochs.
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keraslearn import classes_from_proba, to_categorical  # noqa: E402

EPOCHS = 10 if SMALL else 30


def metrics():
    """Fresh metric objects for each model (a Keras metric holds its running state)."""
    return [
        "accuracy",
        keras.metrics.AUC(name="auc"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ]


def fit_evaluate(x, y, n_out, activation, loss):
    x_train, x_test, y_train, y_test = train_test_split(x.astype("float32"), y, test_size=0.3, random_state=0)
    keras.utils.set_random_seed(0)
    norm = layers.Normalization()
    norm.adapt(x_train)
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            norm,
            layers.Dense(32, activation="relu"),
            layers.Dense(n_out, activation=activation),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss=loss, metrics=metrics())
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    return results, model.predict(x_test, verbose=0), y_test


# Binary: one sigmoid output; predicted class = probability above 0.5.
X, y = load_breast_cancer(return_X_y=True)
results, proba, y_test = fit_evaluate(X, y.astype("float32"), 1, "sigmoid", "binary_crossentropy")
predicted = classes_from_proba(proba)
print("breast cancer:", {k: round(v, 4) for k, v in results.items()})
assert set(results) == {"loss", "accuracy", "auc", "precision", "recall"}
assert abs(results["accuracy"] - skm.accuracy_score(y_test, predicted)) < 1e-6
assert abs(results["precision"] - skm.precision_score(y_test, predicted)) < 1e-6
assert abs(results["recall"] - skm.recall_score(y_test, predicted)) < 1e-6
assert abs(results["auc"] - skm.roc_auc_score(y_test, proba.ravel())) < 0.01  # Keras: 200 thresholds
assert results["accuracy"] > 0.9 and results["auc"] > 0.95

# Ten classes: softmax; predicted class = the most probable one (which.max - 1 in R).
X, y = load_digits(return_X_y=True)
results, proba, y_test = fit_evaluate(X, to_categorical(y, 10), 10, "softmax", "categorical_crossentropy")
predicted = classes_from_proba(proba)
truth = y_test.argmax(axis=1)
print("digits:       ", {k: round(v, 4) for k, v in results.items()})
assert abs(results["accuracy"] - skm.accuracy_score(truth, predicted)) < 1e-6
# On one-hot targets Keras' precision and recall are micro-averaged over every (row, class)
# cell, with a probability above 0.5 counting as predicted.
assert abs(results["precision"] - skm.precision_score(y_test, proba > 0.5, average="micro")) < 1e-6
assert abs(results["recall"] - skm.recall_score(y_test, proba > 0.5, average="micro")) < 1e-6
assert abs(results["auc"] - skm.roc_auc_score(y_test.ravel(), proba.ravel())) < 0.01
assert results["accuracy"] > 0.9
print("OK")
