"""The R keras guide's "Transfer learning & fine-tuning", offline: a small convolutional base trained on the
digits 0-4 stands in for an ImageNet network; it is frozen and called with training=False, a new head
learns the digits 5-9 on top of it with image augmentation layers, and then the network is fine-tuned at a
low learning rate (its batch normalization kept frozen).

R (keras3):
    base_model$trainable <- FALSE
    inputs <- keras_input(shape = c(8, 8, 1))
    outputs <- inputs |> layer_random_translation(0.1, 0.1) |> base_model(training = FALSE) |>
      layer_dropout(0.2) |> layer_dense(5, activation = "softmax")
    model <- keras_model(inputs, outputs)
    model |> compile(optimizer = optimizer_adam(), loss = "sparse_categorical_crossentropy", metrics = "accuracy")
    model |> fit(x_new, y_new, epochs = 20)
    base_model$trainable <- TRUE       # fine-tuning: compile again for the change to count (keep its
                                       # batch normalization layers' trainable FALSE: see step 3 below)
    model |> compile(optimizer = optimizer_adam(1e-5), ...); model |> fit(x_new, y_new, epochs = 10)

For an ImageNet network on image files, keraslearn.CNNClassifier does all of this (docs/cnn.md).
Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402,F401  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))
X, y = (X[order] / 16.0).astype("float32").reshape(-1, 8, 8, 1), y[order]
old, new = y < 5, y >= 5
x_old, y_old = X[old], y[old]
x_new, y_new = X[new], y[new] - 5
n_train = 600  # of about 900 images of 5-9
EPOCHS = 10 if SMALL else 25

# 1. The "pretrained" base: a small CNN trained on the digits 0-4.
keras.utils.set_random_seed(0)
base = keras.Sequential([
    keras.Input((8, 8, 1)),
    layers.Conv2D(16, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.Activation("relu"),
    layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
], name="base")
pretrain = keras.Sequential([base, layers.Dense(5, activation="softmax")])
pretrain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
pretrain.fit(x_old, y_old, epochs=EPOCHS, batch_size=32, verbose=0)
print(f"base trained on 0-4: accuracy {pretrain.evaluate(x_old, y_old, verbose=0)[1]:.3f}")

# 2. Freeze it and train a new head on 5-9; augmentation layers run in training only.
base.trainable = False
bn = base.layers[1]
frozen = [w.copy() for w in base.get_weights()]  # kernels and the batch normalization's statistics
statistics = {w.name: v.copy() for w, v in zip(bn.weights, bn.get_weights()) if w.name.startswith("moving")}
inputs = keras.Input((8, 8, 1))
x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(inputs)
x = base(x, training=False)  # the guide's inference mode (frozen, the base never updates; see step 3)
outputs = layers.Dense(5, activation="softmax")(layers.Dropout(0.2)(x))
model = keras.Model(inputs, outputs)
assert len(model.trainable_weights) == 2  # the head's kernel and bias only
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_new[:n_train], y_new[:n_train], epochs=EPOCHS * 2, batch_size=32, verbose=0)
for before, after in zip(frozen, base.get_weights()):
    np.testing.assert_array_equal(before, after)  # nothing in the base moved, its statistics included
head_only = model.evaluate(x_new[n_train:], y_new[n_train:], verbose=0, return_dict=True)["accuracy"]
print(f"frozen base + new head on 5-9: accuracy {head_only:.3f}")
assert head_only > 0.7, head_only

# 3. Fine-tune everything at a low learning rate: compile again after changing trainable. Keep the batch
# normalization frozen: on Keras 3 the training=False given to base(...) in the functional graph does not
# hold during fit (fit's training=True replaces it: keras-team/keras#20285; the statistics moved on JAX,
# PyTorch and TensorFlow alike), while a BatchNormalization layer with trainable=False runs in inference mode.
base.trainable = True
for layer in base.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
assert len(model.trainable_weights) > 2
model.fit(x_new[:n_train], y_new[:n_train], epochs=EPOCHS, batch_size=32, verbose=0)
for w, value in zip(bn.weights, bn.get_weights()):
    if w.name in statistics:  # its batch normalization frozen: fine-tuning never moved its statistics
        np.testing.assert_array_equal(value, statistics[w.name])
assert len(statistics) == 2, statistics
tuned = model.evaluate(x_new[n_train:], y_new[n_train:], verbose=0, return_dict=True)["accuracy"]
print(f"fine-tuned: accuracy {tuned:.3f} (the batch normalization's statistics still the base's)")
assert tuned >= head_only - 0.02, (tuned, head_only)
print("OK")
