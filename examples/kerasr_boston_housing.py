"""kerasR's README example: Boston housing with a small Sequential network.

R (kerasR):
    mod <- Sequential(); mod$add(Dense(units = 50, input_shape = 13))
    mod$add(Activation("relu")); mod$add(Dense(units = 1))
    keras_compile(mod, loss = 'mse', optimizer = RMSprop())
    boston <- load_boston_housing(); X_train <- normalize(boston$X_train) ...
    keras_fit(mod, X_train, Y_train, batch_size = 32, epochs = 200, validation_split = 0.1)
    pred <- keras_predict(mod, X_test); sd(as.numeric(pred) - Y_test) / sd(Y_test)   # 0.68

Works offline: load_boston_housing() rebuilds Keras' split from data shipped in keraslearn.
Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run (fewer epochs).
"""

import os

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keraslearn import load_boston_housing, normalize  # noqa: E402

(X_train, Y_train), (X_test, Y_test) = load_boston_housing()
X_train, X_test = normalize(X_train), normalize(X_test)  # kerasR's normalize: unit L2 rows



def kerasr_model(*preprocessing):
    keras.utils.set_random_seed(1)
    mod = keras.Sequential()
    mod.add(keras.Input(shape=(13,)))
    for layer in preprocessing:
        mod.add(layer)
    mod.add(keras.layers.Dense(units=50))
    mod.add(keras.layers.Activation("relu"))
    mod.add(keras.layers.Dense(units=1))
    mod.compile(loss="mse", optimizer=keras.optimizers.RMSprop())
    return mod


def relative_error(mod, x_test):
    pred = mod.predict(x_test, verbose=0).ravel()
    return np.std(pred - Y_test) / np.std(Y_test)


epochs = 100 if SMALL else 200
mod = kerasr_model()
history = mod.fit(X_train, Y_train, batch_size=32, epochs=epochs, verbose=0, validation_split=0.1)
kerasr_error = relative_error(mod, X_test)
print(f"{keras.backend.backend()}, {epochs} epochs: sd(pred - Y_test) / sd(Y_test) = {kerasr_error:.3f} (README: 0.68)")

# normalize() scales each *row* to unit length. Standardizing each *column* with Keras'
# Normalization layer (fitted on the training rows) is what the network really wants.
(X_raw, _), (X_test_raw, _) = load_boston_housing()
standardize = keras.layers.Normalization()
standardize.adapt(X_raw)
std_mod = kerasr_model(standardize)
std_mod.fit(X_raw, Y_train, batch_size=32, epochs=epochs, verbose=0, validation_split=0.1)
standardized_error = relative_error(std_mod, X_test_raw)
print(f"with keras.layers.Normalization instead: {standardized_error:.3f}")

# A constant prediction scores 1.0: both networks must explain part of the variance.
assert history.history["val_loss"][-1] < 0.5 * history.history["val_loss"][0]
assert kerasr_error < (0.95 if SMALL else 0.87), kerasr_error
assert standardized_error < min(0.65, kerasr_error), standardized_error
print("OK")
