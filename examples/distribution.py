"""The R keras guide's "Distributed training with Keras 3" (keras.distribution: list_devices, DeviceMesh,
DataParallel on the JAX backend) and the FAQ's "How can I train on data that does not fit in memory?" (a
keras.utils.PyDataset that streams batches from a memory-mapped .npy file), on scikit-learn's digits.

This machine has no accelerator, so JAX is asked for 2 CPU devices (XLA_FLAGS below): the model's variables
are then replicated on both and each batch is split between them, as it would be over 2 GPUs. Data parallel
training computes the same gradients as one device, so the fit is checked against a single-device fit.

R (keras3):
    devices <- keras$distribution$list_devices()          # "cpu:0" "cpu:1"
    mesh <- keras$distribution$DeviceMesh(shape = shape(2), axis_names = list("batch"), devices = devices)
    keras$distribution$set_distribution(keras$distribution$DataParallel(device_mesh = mesh))
    model <- keras_model_sequential(...)                  # built after set_distribution: replicated
    model |> fit(x, y, batch_size = 64)                   # each batch split over the devices
    batches <- PyDataset("MemmapBatches", ...)            # __len__ and __getitem__ over np.load(mmap_mode = "r")
    model |> fit(batches, epochs = 10)

keras.distribution is implemented for JAX only: on PyTorch keras.distribution.list_devices() fails
("'NoneType' object has no attribute 'list_devices'"); on TensorFlow it runs, but Keras' TensorFlow
distribution code is a prototype headed "!!!DO NOT USE!!!" (keras/src/backend/tensorflow/distribution_lib.py;
use tf.distribute strategies there). On those backends this script says so and runs the PyDataset part alone.
Set KERASLEARN_EXAMPLES_SMALL=1 for a quick run.
"""

import math
import os
import tempfile

# XLA reads XLA_FLAGS once, when JAX starts its CPU backend: this must come before jax is imported (keras
# and keraslearn import it), and a user's own XLA_FLAGS are left alone (then there may be 1 device only).
FORCED_DEVICES = "XLA_FLAGS" not in os.environ
if FORCED_DEVICES:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
SMALL = os.environ.get("KERASLEARN_EXAMPLES_SMALL") == "1"

import keraslearn  # noqa: E402,F401  (picks the JAX backend unless KERAS_BACKEND is set)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

BACKEND = keras.backend.backend()
EPOCHS = 8 if SMALL else 25
BATCH = 64
X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))
X, y = (X[order] / 16.0).astype("float32"), y[order].astype("int32")
# Every batch must split evenly over the devices, the last one of an epoch too: 5 rows over 2 devices
# fail in fit/evaluate with jax's IndivisibleError. Hence 1408 = 22 x 64 training rows and 384 test rows.
x_train, y_train, x_test, y_test = X[:1408], y[:1408], X[1408:1792], y[1408:1792]


def digits_model():
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),  # no dropout: the two fits below must follow one path
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


keras.utils.set_random_seed(0)
start = digits_model().get_weights()  # one starting point for every fit below

# 1. Data parallel training (JAX).
if BACKEND == "jax":
    import jax

    # The reference: one device (no distribution set; JAX puts everything on its first device).
    single = digits_model()
    single.set_weights(start)
    reference = single.fit(x_train, y_train, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    assert len(single.weights[0].value.sharding.device_set) == 1, single.weights[0].value.sharding

    # The forced devices are CPUs: on a machine with one GPU, list_devices() would list that GPU alone.
    devices = keras.distribution.list_devices("cpu" if FORCED_DEVICES else None)  # ["cpu:0", "cpu:1"]
    n = len(devices)
    if FORCED_DEVICES:
        assert n == 2 and len(jax.devices("cpu")) == 2, devices
    elif n < 2:
        print("XLA_FLAGS is set without --xla_force_host_platform_device_count=2: one device, nothing to split")
    mesh = keras.distribution.DeviceMesh(shape=(n,), axis_names=["batch"], devices=devices)
    data_parallel = keras.distribution.DataParallel(device_mesh=mesh)
    keras.distribution.set_distribution(data_parallel)  # global: applies to variables made from now on

    model = digits_model()  # built after set_distribution, so its variables get the replicated layout
    model.set_weights(start)
    for variable in model.weights:
        sharding = variable.value.sharding
        assert sharding.is_fully_replicated and len(sharding.device_set) == n, (variable.path, sharding)
    # What fit does to each batch: the data layout splits axis 0 ("batch") over the mesh.
    layout = data_parallel.get_data_layout((BATCH, 64))
    batch = keras.distribution.distribute_tensor(x_train[:BATCH], layout)
    shards = [shard.data.shape for shard in batch.addressable_shards]
    assert layout.axes[0] == "batch" and shards == [(BATCH // n, 64)] * n, (layout.axes, shards)
    assert len({shard.device for shard in batch.addressable_shards}) == n, batch.sharding

    history = model.fit(x_train, y_train, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    assert all(v.value.sharding.is_fully_replicated for v in model.weights)  # still replicated after fit
    accuracy = model.evaluate(x_test, y_test, batch_size=128, verbose=0, return_dict=True)["accuracy"]
    print(f"DataParallel over {n} {jax.devices()[0].platform} devices: each batch of {BATCH} split as {shards}; "
          f"loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}; test accuracy {accuracy:.3f}")
    # Same batches, same start, same gradients: only the order of float additions differs.
    np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-4,
                               err_msg="DataParallel and single-device losses differ")
    for ours, theirs in zip(model.get_weights(), single.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-4, err_msg="DataParallel and single-device weights differ")
    assert history["loss"][-1] < history["loss"][0] / 3 and accuracy > 0.88, (history["loss"], accuracy)
else:
    print(f"keras.distribution (DeviceMesh, DataParallel) is for the JAX backend: skipped on {BACKEND}")


# 2. Data that does not fit in memory: a PyDataset reads each batch from a memory-mapped .npy file, so only
# the rows of the batch in hand are read from disk. Under JAX the DataParallel distribution above is still
# set, so these batches are split over the devices too (hence, again, batches of an even size).
class MemmapBatches(keras.utils.PyDataset):
    def __init__(self, x_path, y_path, batch_size, **kwargs):
        super().__init__(**kwargs)  # workers, use_multiprocessing, max_queue_size
        self.x = np.load(x_path, mmap_mode="r")  # nothing read yet
        self.y = np.load(y_path, mmap_mode="r")
        self.batch_size = batch_size
        self.order, self.rng = np.arange(len(self)), np.random.default_rng(0)

    def __len__(self):  # batches per epoch
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        start = self.order[index] * self.batch_size
        rows = slice(start, start + self.batch_size)
        return np.asarray(self.x[rows]), np.asarray(self.y[rows])  # copies just these rows into memory

    def on_epoch_end(self):  # a new batch order each epoch (fit's shuffle=True reorders batches too; rows stay)
        self.order = self.rng.permutation(len(self))


with tempfile.TemporaryDirectory() as folder:
    np.save(os.path.join(folder, "x.npy"), x_train)
    np.save(os.path.join(folder, "y.npy"), y_train)
    # workers=2: two threads fetch the next batches while the model trains on this one.
    batches = MemmapBatches(os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy"), BATCH, workers=2)
    assert isinstance(batches.x, np.memmap) and len(batches) == 22, (type(batches.x), len(batches))
    streamed = digits_model()
    streamed.set_weights(start)
    history = streamed.fit(batches, epochs=EPOCHS, verbose=0).history
    del batches  # release the memory map before the folder goes
accuracy = streamed.evaluate(x_test, y_test, batch_size=128, verbose=0, return_dict=True)["accuracy"]
print(f"PyDataset over a memory-mapped .npy on {BACKEND}: loss {history['loss'][0]:.3f} -> "
      f"{history['loss'][-1]:.3f}; test accuracy {accuracy:.3f}")
assert history["loss"][-1] < history["loss"][0] / 3 and accuracy > 0.88, (history["loss"], accuracy)
print("OK")
