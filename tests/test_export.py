"""Saving (.keras, .h5, .weights.h5) and exporting (ONNX, LiteRT, SavedModel), each checked
by loading the file in its own runtime and comparing outputs."""

import json
import logging
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import keraslearn
from keraslearn import FFClassifier, FFRegressor, export, export_inputs
from keraslearn._atomic import WriteError
from keraslearn.io import export as export_module
from keraslearn.io.export import SIDECAR_SUFFIX, learner_model

ATOL = 1e-5  # probabilities
RTOL = 1e-5  # regression outputs in target units (float32 arithmetic inside the export)


def _new_rows(X):
    """Rows the learner never saw: an unseen category and missing values."""
    new = X.head(5).copy()
    new.loc[new.index[0], "colour"] = "purple"
    new.loc[new.index[1], "grade"] = None
    new.loc[new.index[2], new.columns[0]] = np.nan
    return pd.concat([X, new], ignore_index=True)


@pytest.fixture(scope="module")
def iris_clf(iris_mixed):
    X, y = iris_mixed
    clf = FFClassifier(layer_units=(16,), epochs=3, batch_size=32, random_state=0).fit(X, y)
    return clf, _new_rows(X)


@pytest.fixture(scope="module")
def tf_exports(iris_clf, tmp_path_factory):
    """LiteRT and SavedModel exports of one learner (through TensorFlow), shared by the tests."""
    clf, _ = iris_clf
    folder = tmp_path_factory.mktemp("exports")
    return {
        "litert": export(clf, folder / "iris.tflite", "litert"),
        "saved_model": export(clf, folder / "iris_saved_model", "saved_model"),
    }


@pytest.mark.torch
def test_onnx_export_runs_in_onnxruntime_like_predict_proba(iris_clf, tmp_path, caplog):
    import onnxruntime as ort

    clf, X = iris_clf
    with caplog.at_level(logging.WARNING):
        path = export(clf, tmp_path / "iris.onnx")
    # jax2onnx's IR library logs "The value type for shape ... is not known" on every export.
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("onnx_ir")]
    session = ort.InferenceSession(path)
    inputs = export_inputs(clf, X)
    assert {i.name for i in session.get_inputs()} == set(inputs) == {"numeric", "cat_grade", "cat_colour"}
    assert np.isnan(inputs["numeric"]).any()  # raw values: imputation happens inside the model
    (proba,) = session.run(None, inputs)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)
    one = {k: v[-1:] for k, v in inputs.items()}  # any batch size
    np.testing.assert_allclose(session.run(None, one)[0], clf.predict_proba(X.tail(1)), atol=ATOL)
    with open(path + SIDECAR_SUFFIX) as f:
        described = json.load(f)
    assert described["preprocessing_folded"] and described["output"]["classes"] == list(clf.classes_)
    assert described["inputs"]["numeric"]["columns"] == list(X.columns[:4])
    codes = described["inputs"]["cat_colour"]["codes"]
    expected = X["colour"].map(codes).fillna(described["inputs"]["cat_colour"]["unknown_code"]).to_numpy()
    np.testing.assert_array_equal(inputs["cat_colour"].ravel(), expected)  # the JSON replays the encoder
    # The reserved codes fed as such (colour had no missing value and no rare level in training) are read
    # as predict reads missing and unseen values: they reached embedding rows that never trained.
    reserved = {**inputs, "cat_colour": np.array([[0], [1]] * (len(X) // 2), dtype=np.int32)}
    reserved = {k: v[: len(X) // 2 * 2] for k, v in reserved.items()}
    as_predict = X.iloc[: len(X) // 2 * 2].assign(colour=[None, "purple"] * (len(X) // 2))
    np.testing.assert_allclose(session.run(None, reserved)[0], clf.predict_proba(as_predict), atol=ATOL)


@pytest.mark.torch
def test_tabnet_exports_to_onnx_on_every_backend(iris_mixed, tmp_path, capfd):
    """torch's exporter refuses TabNet's take_along_axis: on torch the export goes through JAX, quietly."""
    import onnxruntime as ort

    X, y = iris_mixed
    clf = keraslearn.TabNetClassifier(n_d=4, n_a=4, n_steps=1, epochs=1, batch_size=64, virtual_batch_size=32,
                                      random_state=0).fit(X, y)
    capfd.readouterr()
    path = export(clf, tmp_path / "tabnet.onnx")
    assert "graph" not in capfd.readouterr().out  # torch prints the whole graph to C++'s stdout when it fails
    X = _new_rows(X)
    (proba,) = ort.InferenceSession(path).run(None, export_inputs(clf, X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)


def test_litert_export_runs_in_ai_edge_litert(iris_clf, tf_exports):
    from ai_edge_litert.interpreter import Interpreter

    clf, X = iris_clf
    runner = Interpreter(model_path=tf_exports["litert"]).get_signature_runner()
    (proba,) = runner(**export_inputs(clf, X)).values()
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)


def test_a_quantized_litert_export_is_smaller_and_close(iris_mixed, tmp_path):
    """quantize=True (the R keras guide's Optimize.DEFAULT): int8 weights (TFLite quantizes tensors
    of 1024 weights and more), a file about 3× smaller, outputs close to predict_proba's."""
    from ai_edge_litert.interpreter import Interpreter

    X, y = iris_mixed
    clf = FFClassifier(layer_units=(128, 64), epochs=2, random_state=0).fit(X, y)
    plain = export(clf, tmp_path / "plain.tflite", "litert")
    small = export(clf, tmp_path / "int8.tflite", "litert", quantize=True)
    assert os.path.getsize(small) < 0.5 * os.path.getsize(plain)
    (quantized,) = Interpreter(model_path=small).get_signature_runner()(**export_inputs(clf, X)).values()
    np.testing.assert_allclose(quantized, clf.predict_proba(X), atol=0.05)
    assert not np.allclose(quantized, clf.predict_proba(X), atol=ATOL)
    with pytest.raises(ValueError, match="quantize=True is for format='litert'"):
        export(clf, tmp_path / "m.onnx", quantize=True)


_SERVE = """
import sys, numpy as np, tensorflow as tf
inputs = dict(np.load(sys.argv[2]))
loaded = tf.saved_model.load(sys.argv[1])  # keep it referenced while serving
np.save(sys.argv[3], np.asarray(loaded.serve(inputs)))
"""


def test_saved_model_export_runs_in_tensorflow(iris_clf, tf_exports, tmp_path):
    clf, X = iris_clf
    np.savez(tmp_path / "inputs.npz", **export_inputs(clf, X))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-c", _SERVE, tf_exports["saved_model"], str(tmp_path / "inputs.npz")]
    cmd.append(str(tmp_path / "out.npy"))
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), clf.predict_proba(X), atol=ATOL)


def test_a_realmlp_export_loads_in_onnxruntime_without_a_warning(diabetes_mixed, tmp_path, capfd):
    """jax2onnx declared one of RealMLP's tensors a scalar where onnxruntime infers shape (1,): onnxruntime
    printed "Error merging shape info" at every load. Its output clamp is exported too."""
    import onnxruntime as ort

    from keraslearn import RealMLPRegressor

    X, y = diabetes_mixed
    reg = RealMLPRegressor(hidden_sizes=(8,), epochs=2, random_state=0).fit(X.iloc[:100], y.iloc[:100])
    path = export(reg, tmp_path / "realmlp.onnx")
    capfd.readouterr()
    session = ort.InferenceSession(path)
    assert "shape info" not in capfd.readouterr().err
    far = X.iloc[:20].copy()
    far[far.select_dtypes("number").columns] *= 50  # predictions clipped to the training targets' range
    (pred,) = session.run(None, export_inputs(reg, far))
    np.testing.assert_allclose(pred.ravel(), reg.predict(far), rtol=RTOL)


def test_regressor_exports_predictions_in_target_units(diabetes_mixed, tmp_path):
    import onnxruntime as ort

    X, y = diabetes_mixed
    reg = FFRegressor(layer_units=(16,), epochs=3, random_state=0).fit(X, y)
    path = export(reg, tmp_path / "diabetes.onnx")
    session = ort.InferenceSession(path)
    assert [o.name for o in session.get_outputs()] == ["output_0"]  # on every backend (jax2onnx's was "add_out_4")
    (pred,) = session.run(None, export_inputs(reg, _new_rows(X)))
    assert pred.shape == (len(X) + 5, 1) and pred.mean() > 50  # target units, not standardized
    np.testing.assert_allclose(pred.ravel(), reg.predict(_new_rows(X)), rtol=RTOL)


def test_learner_model_folds_binary_and_skips_quantile_scaling(cancer_mixed, tmp_path):
    X, y = cancer_mixed
    clf = FFClassifier(layer_units=(8,), epochs=2, random_state=0).fit(X, y)
    folded = learner_model(clf)
    proba = folded.predict(export_inputs(clf, X), verbose=0)
    assert proba.shape == (len(X), 2)  # sigmoid output → both columns, as predict_proba
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)
    # The folded model is a plain .keras model that loads in safe mode.
    folded.save(tmp_path / "folded.keras")
    again = keras.saving.load_model(tmp_path / "folded.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict(export_inputs(clf, X), verbose=0), proba, atol=1e-6)
    with pytest.warns(UserWarning, match="does not have valid feature names") as said:  # an array: once, as predict
        export_inputs(clf, X.to_numpy())
    assert len([w for w in said if "valid feature names" in str(w.message)]) == 1

    quantile = FFClassifier(layer_units=(8,), epochs=2, scaling="quantile", random_state=0).fit(X, y)
    inputs = export_inputs(quantile, X)
    assert inputs["numeric"].shape[1] == quantile.spec_.n_numeric  # the encoder's output, not raw columns
    np.testing.assert_allclose(learner_model(quantile).predict(inputs, verbose=0), quantile.predict_proba(X), atol=ATOL)


@pytest.fixture(scope="module")
def mnist_mlp():
    """The guide's MLP (784-256-128-10 with dropout), trained for one epoch."""
    from keraslearn.datasets import load_mnist_sample

    (x, y), _ = load_mnist_sample()
    x = x.reshape(len(x), 784).astype("float32")[:1000] / 255
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, keras.utils.to_categorical(y[:1000], 10), epochs=1, batch_size=128, verbose=0)
    return model, x[:64]


def test_keras_h5_and_weights_round_trips(mnist_mlp, tmp_path):
    model, x = mnist_mlp
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), expected)
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) > 0  # optimizer state kept

    model.save(tmp_path / "m.h5")  # legacy HDF5
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "m.h5").predict(x, verbose=0), expected)

    model.save_weights(tmp_path / "m.weights.h5")
    fresh = keras.Sequential.from_config(model.get_config())  # same architecture, new random weights
    assert not np.allclose(fresh.predict(x, verbose=0), expected)
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), expected)


def test_missing_export_packages_name_the_pip_command(iris_clf, tmp_path, monkeypatch):
    clf, _ = iris_clf
    real = export_module.importlib.util.find_spec
    hidden = ("jax2onnx", "onnx", "tensorflow")
    monkeypatch.setattr(
        export_module.importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a)
    )
    backend = keras.backend.backend()
    if backend == "jax":
        pip_hint = r"needs jax2onnx, onnx: pip install 'keraslearn\[export\]'.*jax2onnx onnx"
        with pytest.raises(ImportError, match=pip_hint):
            export(clf, tmp_path / "m.onnx")
    pip_hint = r"LiteRT \(through TensorFlow\) needs tensorflow.*pip install tensorflow-cpu"
    with pytest.raises(ImportError, match=pip_hint):
        export(clf, tmp_path / "m.tflite", "litert")
    assert not os.listdir(tmp_path)  # nothing written


def test_export_arguments_are_checked(iris_clf, tmp_path):
    from sklearn.exceptions import NotFittedError

    clf, _ = iris_clf
    with pytest.raises(ValueError, match="format must be one of"):
        export(clf, tmp_path / "m.pt", "torchscript")
    with pytest.raises(ValueError, match=r"\.tflite"):
        export(clf, tmp_path / "m.lite", "litert")
    with pytest.raises(ValueError, match=r"ends in .tflite, the name of a format='litert' export, but format='onnx'"):
        export(clf, tmp_path / "m.tflite", "onnx")
    with pytest.raises(ValueError, match=r"ends in .onnx, the name of a format='onnx' export, but format='saved_"):
        export(clf, tmp_path / "m.onnx", "saved_model")
    with pytest.raises(NotFittedError):
        export(FFClassifier(), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="keras.Model or a fitted learner"):
        export("model.keras", tmp_path / "m.onnx")
    assert keraslearn.export is export
    # Places that cannot take the file fail before exporting, as save says, not deep in jax2onnx or TensorFlow.
    (tmp_path / "afile").write_text("x")
    for place, fmt in [("afile/m.onnx", "onnx"), ("afile/m.tflite", "litert"), ("afile", "saved_model")]:
        with pytest.raises(WriteError, match=r"afile is a file, not a folder"):
            export(clf, tmp_path / place, fmt)
    with pytest.raises(WriteError, match=r"it is a folder; name a file in it"):
        export(clf, tmp_path, "onnx")


def test_export_expands_the_home_folder(iris_clf, tmp_path, monkeypatch):
    clf, _ = iris_clf
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    written = export(clf, "~/m.onnx")  # was written to ./~/m.onnx: a folder named '~'
    assert written == str(tmp_path / "home" / "m.onnx") and os.path.isfile(written)
    assert not os.path.exists(tmp_path / "~")


_NO_TF_SCRIPT = """
import sys, numpy as np, keraslearn, keras
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
keras.utils.set_random_seed(0)
model.save(sys.argv[1])
keras.saving.load_model(sys.argv[1])
assert "tensorflow" not in sys.modules, "saving or seeding imported TensorFlow"
lookup = keras.layers.StringLookup(vocabulary=["a", "b"])  # a layer that does need TensorFlow
assert lookup(np.array(["b", "z"])).tolist() == [2, 0]
print("OK")
"""


def test_saving_on_jax_leaves_tensorflow_unimported(tmp_path):
    """With the export extra installed, plain saving and seeding must stay TensorFlow-free."""
    import importlib.util

    assert importlib.util.find_spec("tensorflow") is not None  # the export extra is installed
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-c", _NO_TF_SCRIPT, str(tmp_path / "m.keras")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr[-3000:]


def _logits_build(spec):
    from keraslearn.architectures.blocks import tabular_inputs

    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, keras.layers.Dense(spec.n_classes)(x))


def _plain_build(spec):
    """One keras.Input with Keras' default name, not keraslearn's "numeric"."""
    inputs = keras.Input((spec.n_numeric,))
    return keras.Model(inputs, keras.layers.Dense(spec.n_classes, activation="softmax")(inputs))


def test_generic_learners_export_what_they_predict(iris_mixed, tmp_path):
    """A from_logits loss exports probabilities; a model with its own input name is fed as in predict;
    x_transform (Python) cannot be exported and says so; a plain model's export drops a stale sidecar."""
    import onnxruntime as ort

    from keraslearn import KerasClassifier

    X, y = iris_mixed
    numeric = X[X.columns[:4]]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = KerasClassifier(_logits_build, loss=loss, epochs=2, random_state=0).fit(X, y)
    plain = KerasClassifier(_plain_build, epochs=2, random_state=0).fit(numeric, y)
    for name, clf, data in (("logits", logits, X), ("plain", plain, numeric)):
        path = export(clf, tmp_path / f"{name}.onnx")
        (proba,) = ort.InferenceSession(path).run(None, export_inputs(clf, data))
        np.testing.assert_allclose(proba, clf.predict_proba(data), atol=ATOL)
    assert os.path.exists(path + SIDECAR_SUFFIX)
    export(plain.model_, path)  # a bare Keras model: the learner's description no longer applies
    assert not os.path.exists(path + SIDECAR_SUFFIX)
    transformed = KerasClassifier(_plain_build, x_transform=lambda d: d["numeric"] * 2.0, epochs=1, random_state=0)
    transformed.fit(numeric, y)
    with pytest.raises(ValueError, match="x_transform, a Python function that an export cannot hold"):
        export(transformed, tmp_path / "t.onnx")


def test_unfolded_export_takes_the_encoded_input_and_keeps_large_offsets(tmp_path):
    """fold_preprocessing=False: the encoder's output in, predictions in target units out, so columns
    with a large offset (timestamps), which a raw float32 input rounds, predict as predict does."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"ts": 1.7e9 + rng.normal(scale=86400, size=300), "x": rng.normal(size=300)})
    y = X["x"] + (X["ts"] - 1.7e9) / 86400
    reg = FFRegressor(layer_units=(8,), epochs=2, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match=r"\['ts'\] hold values far from 0 for their spread"):
        learner_model(reg)
    path = export(reg, tmp_path / "unfolded.onnx", fold_preprocessing=False)
    (pred,) = ort.InferenceSession(path).run(None, export_inputs(reg, X, fold_preprocessing=False))
    np.testing.assert_allclose(pred.ravel(), reg.predict(X), rtol=RTOL, atol=1e-5)
    with open(path + SIDECAR_SUFFIX) as f:
        described = json.load(f)
    assert described["preprocessing_folded"] is False and described["output"]["n_outputs"] == 1


_USER_LAYER = '''
import keras


@keras.saving.register_keras_serializable(package="kl_test")
class Double(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
'''


def _user_layer_build(spec):
    import kl_test_layers

    from keraslearn.architectures.blocks import output_head, tabular_inputs

    inputs, x = tabular_inputs(spec)
    return keras.Model(inputs, output_head(spec, kl_test_layers.Double()(keras.layers.Dense(4)(x))))


def test_compiled_modern_networks_and_user_layers_export_through_tensorflow(diabetes_mixed, tmp_path, monkeypatch):
    """A nested network's compile config (TabM's member loss, RealMLP's schedule) stays out of the
    export, and a user's layer module is imported by the TensorFlow process."""
    from ai_edge_litert.interpreter import Interpreter

    from keraslearn import KerasRegressor, RealMLPRegressor, TabMRegressor

    (tmp_path / "kl_test_layers.py").write_text(_USER_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    X, y = diabetes_mixed
    learners = [
        TabMRegressor(k=2, d_block=8, n_blocks=1, epochs=2, random_state=0),
        RealMLPRegressor(hidden_sizes=(8,), epochs=2, random_state=0),
        KerasRegressor(_user_layer_build, epochs=2, random_state=0),
    ]
    for reg in learners:
        reg.fit(X, y)
        path = export(reg, tmp_path / f"{type(reg).__name__}.tflite", "litert")
        (pred,) = Interpreter(model_path=path).get_signature_runner()(**export_inputs(reg, X)).values()
        np.testing.assert_allclose(pred.ravel(), reg.predict(X), rtol=1e-4)


def test_a_year_column_exports_without_the_large_offset_warning(tmp_path):
    """A year (2008 ± 0.8) rounds in float32 by far less than predict's tolerance: no warning for it."""
    import warnings

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"year": rng.integers(2007, 2010, 300), "x": rng.normal(size=300)})
    reg = FFRegressor(layer_units=(8,), epochs=2, random_state=0).fit(X, X["x"] + X["year"] - 2008)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner_model(reg)


def test_a_target_far_from_zero_for_its_spread_warns_at_export():
    """float32 predictions of 1e9 ± 1 came out as one value for every row, with no word."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200)})
    reg = FFRegressor(layer_units=(4,), epochs=1, random_state=0).fit(X, 1e9 + X["x"])
    with pytest.warns(UserWarning, match=r"float32 predictions around 1e\+09 with a spread of 0.9.*steps of 119"):
        learner_model(reg)
    import warnings

    constant = FFRegressor(layer_units=(4,), epochs=1, random_state=0).fit(X, np.full(len(X), 5.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant target predicts its value: nothing to round
        learner_model(constant)


@pytest.mark.torch
def test_onnx_export_of_pooling_layers_runs_in_onnxruntime(tmp_path):
    """jax2onnx writes Keras' max pooling as one MaxPool over (N, *spatial, C), valid ONNX that onnxruntime
    refuses ("Unsupported pooling size"): every CNN exported on JAX failed to run. Rewritten at export."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    for layer, shape in [(keras.layers.MaxPooling2D(3, strides=2, padding="same"), (9, 7, 4)),
                         (keras.layers.MaxPooling1D(2), (10, 3)), (keras.layers.AveragePooling2D(2), (8, 8, 3))]:
        inp = keras.Input(shape)
        model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(layer(inp))))
        path = export(model, tmp_path / "pool.onnx")
        session = ort.InferenceSession(path)
        x = rng.normal(size=(5, *shape)).astype("float32")
        (out,) = session.run(None, {session.get_inputs()[0].name: x})
        np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_format_names_are_read_as_people_write_them():
    """"ONNX" and "tflite" were taken, "SavedModel" (TensorFlow's own spelling) refused."""
    from keraslearn.io.export import _format

    assert {_format(name) for name in ("SavedModel", "saved-model", "savedmodel", "saved_model")} == {"tf_saved_model"}
    assert _format("ONNX") == "onnx" and _format("TFLite") == "litert"
    with pytest.raises(ValueError, match="format must be one of 'onnx', 'litert', 'saved_model'; got 'pb'"):
        _format("pb")
