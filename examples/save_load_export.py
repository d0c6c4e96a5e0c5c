"""The R keras guide's saving section: whole model, legacy HDF5, weights only, and export
for serving (TensorFlow Lite, SavedModel) plus ONNX, each re-loaded and compared.

R (keras3; the older keras package's names in comments):
    save_model(model, "model.keras"); loaded_model <- load_model("model.keras")
    save_model_hdf5(model, "model.h5"); load_model_hdf5("model.h5")        # legacy HDF5 (keras)
    save_model_weights(model, "model.weights.h5")                            # (keras: save_model_weights_hdf5)
    load_model_weights(model, "model.weights.h5")                            # (keras: load_model_weights_hdf5)
    export_savedmodel(model, "model_tf/")                                    # SavedModel (keras: save_model_tf)
    converter <- tf$lite$TFLiteConverter$from_saved_model("model_tf/"); writeBin(converter$convert(), "model.tflite")

keraslearn.export writes ONNX with the active backend and LiteRT / SavedModel through
TensorFlow (in a subprocess when the backend is JAX or PyTorch): pip install 'keraslearn[export]'.
Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import os
import subprocess
import sys
import tempfile

SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from keraslearn import to_categorical  # noqa: E402

(x_train, y_train), (x_test, _) = keraslearn.load_mnist_sample()  # real MNIST digits, offline
n = 1000 if SMALL else len(x_train)
x_train = x_train[:n].reshape(n, 784).astype("float32") / 255
x_test = x_test[:100].reshape(100, 784).astype("float32") / 255


def mlp():
    return keras.Sequential(
        [
            keras.Input((784,), name="pixels"),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


keras.utils.set_random_seed(0)
model = mlp()
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, to_categorical(y_train[:n], 10), epochs=2 if SMALL else 5, batch_size=128, verbose=0)
expected = model.predict(x_test, verbose=0)


def check(name, got, tol=1e-5):
    err = float(np.abs(np.asarray(got).reshape(expected.shape) - expected).max())
    print(f"{name:32s} max |difference| {err:.1e}")
    assert err <= tol, (name, err)


with tempfile.TemporaryDirectory() as tmp:
    # Native Keras formats.
    model.save(os.path.join(tmp, "model.keras"))  # architecture + weights + optimizer state
    check(".keras", keras.saving.load_model(os.path.join(tmp, "model.keras")).predict(x_test, verbose=0), 0)
    model.save(os.path.join(tmp, "model.h5"))  # legacy HDF5
    check(".h5 (legacy)", keras.saving.load_model(os.path.join(tmp, "model.h5")).predict(x_test, verbose=0), 0)
    model.save_weights(os.path.join(tmp, "model.weights.h5"))  # weights only
    fresh = mlp()
    fresh.load_weights(os.path.join(tmp, "model.weights.h5"))
    check(".weights.h5 into a new model", fresh.predict(x_test, verbose=0), 0)

    # Export for serving, each checked in its own runtime.
    import onnxruntime

    onnx_path = keraslearn.export(model, os.path.join(tmp, "model.onnx"), format="onnx")
    session = onnxruntime.InferenceSession(onnx_path)
    check("ONNX in onnxruntime", session.run(None, {session.get_inputs()[0].name: x_test})[0])

    from ai_edge_litert.interpreter import Interpreter

    tflite_path = keraslearn.export(model, os.path.join(tmp, "model.tflite"), format="litert")
    runner = Interpreter(model_path=tflite_path).get_signature_runner()
    check("LiteRT in ai-edge-litert", list(runner(pixels=x_test).values())[0])

    saved = keraslearn.export(model, os.path.join(tmp, "model_tf"), format="saved_model")
    np.save(os.path.join(tmp, "x.npy"), x_test)
    serve = (
        "import sys, numpy as np, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); "
        "np.save(sys.argv[3], np.asarray(m.serve(np.load(sys.argv[2]))))"
    )
    out = os.path.join(tmp, "out.npy")
    # TF_CPP_MIN_LOG_LEVEL does not silence TensorFlow's start-up lines about oneDNN; turning it off does.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    subprocess.run([sys.executable, "-c", serve, saved, os.path.join(tmp, "x.npy"), out], check=True, env=env)
    check("SavedModel in TensorFlow", np.load(out))
    sizes = {f: os.path.getsize(os.path.join(tmp, f)) for f in ("model.keras", "model.onnx", "model.tflite")}
print(f"{keras.backend.backend()}: file sizes {sizes}")
print("OK")
