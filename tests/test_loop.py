"""keraslearn.train_loop / CustomLoop: one custom training loop for JAX, PyTorch and TensorFlow."""

import warnings

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn import CustomLoop, train_loop


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16.0).astype("float32")
    return X, keras.utils.to_categorical(y[:600], 10).astype("float32"), y[:600]


def _mlp(n_in=64, n_out=10, bn=True, seed=0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((n_in,)), keras.layers.Dense(32, activation="relu")]
    if bn:
        layers.append(keras.layers.BatchNormalization(momentum=0.5))  # converges in a few steps
    layers += [keras.layers.Dropout(0.1), keras.layers.Dense(n_out, activation="softmax")]
    return keras.Sequential(layers)


@pytest.mark.torch
def test_loss_decreases_and_the_model_is_trained_in_place(digits):
    X, Y, _ = digits
    model = _mlp()
    logs = []
    history = train_loop(
        model,
        keras.optimizers.Adam(1e-2),
        "categorical_crossentropy",
        (X[:500], Y[:500]),
        epochs=4,
        batch_size=50,
        metrics=["accuracy"],
        validation_data=(X[500:], Y[500:]),
        on_batch_end=lambda step, batch_logs: logs.append((step, batch_logs)),
        seed=0,
    )
    assert set(history) == {"loss", "grad_norm", "accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == 4 and history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.85 and history["val_accuracy"][-1] > 0.6  # 10 classes, 100 rows
    assert [s for s, _ in logs] == list(range(1, 41)) and {"loss", "grad_norm", "accuracy"} <= set(logs[0][1])
    # The weights (and BatchNorm's moving statistics) live in the model, as with fit().
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    keras_eval = model.evaluate(X[500:], Y[500:], verbose=0, return_dict=True)
    assert keras_eval["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-4)
    assert keras_eval["accuracy"] == pytest.approx(history["val_accuracy"][-1], abs=1e-6)
    moving_mean = [v for v in model.non_trainable_variables if "moving_mean" in v.path][0]
    assert np.abs(keras.ops.convert_to_numpy(moving_mean)).max() > 0


@pytest.mark.torch
def test_clip_norm_bounds_each_update_and_grad_norm_is_the_true_norm(digits):
    X, Y, _ = digits

    def flat(model):
        return np.concatenate([w.ravel() for w in model.get_weights()])

    for clip in (None, 0.05):
        model = _mlp(bn=False, seed=1)
        # Plain SGD with learning rate 1: each update is exactly minus the applied gradient.
        loop = CustomLoop(model, keras.optimizers.SGD(1.0), "categorical_crossentropy", clip_norm=clip)
        model.layers[1].rate = 0.0  # no dropout noise between the two measurements
        before = flat(model)
        steps = []
        for start in range(0, 200, 50):
            logs = loop.train_step(X[start : start + 50], Y[start : start + 50])
            after = flat(model)
            steps.append((np.linalg.norm(after - before), logs["grad_norm"]))
            before = after
        for update, grad_norm in steps:
            if clip is None:
                assert update == pytest.approx(grad_norm, rel=1e-3)
            else:
                assert grad_norm > clip  # clipping was needed ...
                assert update == pytest.approx(clip, rel=1e-3)  # ... and bounds the step


def test_batches_hooks_and_multi_input_models(digits):
    X, Y, y = digits
    # Any iterable of (x, y) batches, e.g. what a DataLoader or tf.data.Dataset yields.
    batches = [(X[i : i + 100], Y[i : i + 100]) for i in range(0, 600, 100)]
    model = _mlp(seed=2)
    stop_at = []
    loop = CustomLoop(model, "adam", "categorical_crossentropy", metrics=["accuracy"])
    history = loop.fit(batches, epochs=5, on_batch_end=lambda step, logs: stop_at.append(step) or step == 8)
    assert stop_at[-1] == 8 and len(history["loss"]) == 2  # stopped inside the second epoch
    with pytest.raises(ValueError, match="no batches in epoch 2"):
        loop.fit((b for b in batches), epochs=2)

    # Two inputs as a dict, sparse labels, a plain-function loss.
    left, right = keras.Input((32,), name="left"), keras.Input((32,), name="right")
    merged = keras.layers.Concatenate()([keras.layers.Dense(16, activation="relu")(t) for t in (left, right)])
    two = keras.Model({"left": left, "right": right}, keras.layers.Dense(10, activation="softmax")(merged))
    data = ({"left": X[:, :32], "right": X[:, 32:]}, y)
    history = train_loop(
        two, keras.optimizers.Adam(1e-2), keras.losses.sparse_categorical_crossentropy, data, epochs=3, batch_size=50,
        metrics=["accuracy"],
    )
    assert history["loss"][-1] < history["loss"][0] and history["accuracy"][-1] > 0.5
    # Inputs of different lengths: the extra rows of the longer one were silently never trained on.
    with pytest.raises(ValueError, match=r"x's inputs have different numbers of rows \[600, 300\]"):
        train_loop(two, "adam", "sparse_categorical_crossentropy", ({"left": X[:, :32], "right": X[:300, 32:]}, y))


@pytest.mark.torch
def test_evaluate_leaves_the_training_metrics_counting_training_rows(digits):
    """A manual loop that evaluates between epochs: the validation rows were counted in the next epoch's accuracy."""
    X, Y, _ = digits
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])  # no dropout
    loop = CustomLoop(model, keras.optimizers.SGD(0.0), "categorical_crossentropy", metrics="accuracy")
    first = loop.train_step(X[:100], Y[:100])["accuracy"]  # learning rate 0: the predictions stay fixed
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # NumPy 2's: np.array on a Keras variable
        loop.evaluate((X[300:], Y[300:]))
    loop.reset_metrics()
    assert loop.train_step(X[:100], Y[:100])["accuracy"] == pytest.approx(first)
    both = loop.train_step(X[100:200], Y[100:200])["accuracy"]
    loop.evaluate((X[300:], Y[300:]))
    assert loop.train_step(X[200:300], Y[200:300])["accuracy"] == pytest.approx(
        (both * 200 + 100 * loop.evaluate((X[200:300], Y[200:300]))["accuracy"]) / 300)


@pytest.mark.torch
def test_a_bfloat16_metric_is_read_on_every_backend(digits):
    """torch's .numpy() refuses bfloat16: reading the metrics without NumPy 2's warning broke train_step there."""
    X, Y, _ = digits
    loop = CustomLoop(_mlp(seed=3), "sgd", "categorical_crossentropy",
                      metrics=[keras.metrics.MeanSquaredError(dtype="bfloat16")])
    logs = loop.train_step(X[:64], Y[:64])
    assert 0 < logs["mean_squared_error"] < 1
    assert 0 < loop.evaluate((X[64:128], Y[64:128]))["mean_squared_error"] < 1


def test_bad_arguments_are_named(digits):
    X, Y, _ = digits
    model = _mlp(seed=3)
    with pytest.raises(ValueError, match="clip_norm"):
        CustomLoop(model, clip_norm=-1)
    with pytest.raises(ValueError, match="no weights"):
        CustomLoop(keras.Sequential([keras.layers.Dense(3)]))
    with pytest.raises(ValueError, match="x has 600 rows but y has 10"):
        train_loop(model, "adam", "mse", (X, Y[:10]))
    with pytest.raises(ValueError, match="epochs"):
        CustomLoop(model).fit((X, Y), epochs=0)
    with pytest.raises(ValueError, match=r"y is a list of 2 targets, but CustomLoop trains a model with one output"):
        CustomLoop(model).fit((X, [Y, Y]))  # was 'x has 600 rows but y has 2'
    with pytest.raises(ValueError, match="y is a dict of 2 targets"):
        CustomLoop(model).train_step(X[:10], {"a": Y[:10], "b": Y[:10]})
    # batches from an iterable (a DataLoader collates a pair of targets into a list) and test_step: were
    # NumPy's broadcasting error on the stacked (2, n) targets
    with pytest.raises(ValueError, match="y is a list of 2 targets"):
        CustomLoop(model).fit([(X[:32], [Y[:32], Y[:32]])])
    with pytest.raises(ValueError, match="y is a tuple of 2 targets"):
        CustomLoop(model).evaluate([(X[:32], (Y[:32], Y[:32]))])
    with pytest.raises(ValueError, match="y is a list of 2 targets"):
        CustomLoop(model).test_step(X[:32], [Y[:32], Y[:32]])
    inp = keras.Input((X.shape[1],))
    with pytest.raises(ValueError, match=r"model's output is a list of 2 tensor\(s\), but CustomLoop trains a model "
                                         r"with one output tensor"):  # was an AttributeError inside the loss
        CustomLoop(keras.Model(inp, [keras.layers.Dense(1)(inp), keras.layers.Dense(1)(inp)]))
    with pytest.raises(ValueError, match=r"model's output is a dict of 1 tensor\(s\).*keras.Model\(inputs, output\)"):
        CustomLoop(keras.Model(inp, {"out": keras.layers.Dense(1)(inp)}))
    with pytest.raises(ValueError, match="LossScaleOptimizer.*does not scale the loss"):
        CustomLoop(model, keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1)))
    assert keraslearn.train_loop is train_loop


@pytest.mark.torch
def test_a_regularized_model_evaluates_as_keras_does_and_a_loss_name_takes_1d_targets(digits):
    """val_loss counts the regularization losses (as model.evaluate and the training loss do), and
    "binary_crossentropy" by name squeezes (n,) targets against (n, 1) outputs as compile() does."""
    X, _, labels = digits
    y = (labels % 2).astype("float32")  # 1-D
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                              keras.layers.Dense(1, activation="sigmoid")])
    history = train_loop(model, "adam", "binary_crossentropy", (X[:500], y[:500]), epochs=1, batch_size=100,
                         validation_data=(X[500:], y[500:]), on_epoch_end=lambda epoch, logs: None, metrics=["mae"])
    model.compile(loss="binary_crossentropy", metrics=["mae"])
    keras_eval = model.evaluate(X[500:], y[500:], verbose=0, return_dict=True)
    assert history["val_loss"][-1] == pytest.approx(keras_eval["loss"], rel=1e-5)
    # A metric is logged as named, as fit logs it: "mae", not "mean_absolute_error".
    assert {"mae", "val_mae"} <= set(history) and history["val_mae"][-1] == pytest.approx(keras_eval["mae"], rel=1e-5)


def test_sample_weights_are_refused_not_ignored(digits):
    X, Y, _ = digits
    loop = CustomLoop(_mlp(bn=False), "sgd", "categorical_crossentropy")
    w = np.zeros(len(X), "float32")
    for data in ((X, Y, w), [(X[:50], Y[:50], w[:50])]):
        with pytest.raises(ValueError, match="no sample weights"):
            loop.fit(data, epochs=np.int64(1))


TF_LOOP = """
import numpy as np
import keraslearn, keras
assert keras.backend.backend() == "tensorflow"
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype("float32")
y = (X[:, :1] > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
before = float(keras.ops.mean(keras.ops.square(y - model.predict(X, verbose=0))))
# A lambda's name, "<lambda>", is not a valid TensorFlow name scope.
keraslearn.train_loop(model, "adam", lambda t, p: keras.ops.mean(keras.ops.square(t - p)), (X, y),
                      epochs=5, batch_size=32)
after = float(keras.ops.mean(keras.ops.square(y - model.predict(X, verbose=0))))
print("mse", before, after)
assert after < before
"""


@pytest.mark.slow
def test_the_same_loop_with_a_lambda_loss_trains_on_tensorflow():
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("tensorflow")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    r = subprocess.run([sys.executable, "-c", TF_LOOP], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mse" in r.stdout
