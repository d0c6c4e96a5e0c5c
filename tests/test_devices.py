"""devices=: data-parallel training over several (here: simulated CPU) devices through keras.distribution."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keraslearn
from keraslearn import FFRegressor
from keraslearn.training.devices import device_batch_size, pad_rows, resolve_devices

SRC = str(Path(__file__).resolve().parents[1] / "src")

# XLA reads the device count when JAX starts, so the two-device run needs its own process.
CHILD = textwrap.dedent(
    """
    import json, sys, tempfile, os
    import numpy as np
    import keraslearn, jax
    from keraslearn import FFRegressor
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    out = {"devices": len(jax.devices())}
    # 300 rows: 270 training and 30 validation rows, every batch splits evenly over 2 devices,
    # so data-parallel training computes the same steps as one device.
    Xe, ye = X.iloc[:300], y.iloc[:300]
    kw = dict(layer_units=(16, 16), epochs=6, batch_size=30, random_state=0)
    one = FFRegressor(**kw).fit(Xe, ye)
    two = FFRegressor(devices=2, **kw).fit(Xe, ye)
    out["even_max_diff"] = float(np.abs(one.predict(Xe) - two.predict(Xe)).max())
    out["pred_scale"] = float(np.abs(one.predict(Xe)).mean())
    out["val_loss"] = [one.history_["val_loss"][-1], two.history_["val_loss"][-1]]
    odd = FFRegressor(devices=2, layer_units=(4,), epochs=1, batch_size=31).fit(Xe, ye)
    out["batches"] = [two.batch_size_, odd.batch_size_]
    out["replicas"] = len(two.model_.weights[0].value.sharding.device_set)
    path = os.path.join(tempfile.mkdtemp(), "two.keraslearn")
    two.save(path)
    out["reload_diff"] = float(np.abs(keraslearn.load(path).predict(Xe) - two.predict(Xe)).max())
    # 332 rows: 299 training and 33 validation rows (both odd) are padded with a zero-weight
    # row each, which changes the shuffling, not the quality.
    Xo, yo = X.iloc[:332], y.iloc[:332]
    kw = dict(layer_units=(16,), epochs=20, batch_size=32, learning_rate=1e-2, random_state=0)
    out["uneven_scores"] = [FFRegressor(**kw).fit(Xo, yo).score(Xo, yo),
                            FFRegressor(devices="all", **kw).fit(Xo, yo).score(Xo, yo)]
    try:
        FFRegressor(devices=3, epochs=1).fit(Xe, ye)
    except ValueError as err:
        out["too_many"] = str(err)
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_two_devices_train_like_one():
    # One test (one subprocess), so that parallel test workers never start it twice.
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), KERAS_BACKEND="jax")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0"
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["devices"] == 2
    # Even batches: the same steps as one device, up to float rounding.
    assert r["batches"] == [30, 32]  # batch_size_: the batch trained, 31 rounded up to split over 2 devices
    assert r["replicas"] == 2  # the weights really live on both devices
    assert r["even_max_diff"] < 1e-3 * max(r["pred_scale"], 1.0), r
    assert r["val_loss"][1] == pytest.approx(r["val_loss"][0], rel=1e-3)
    assert r["reload_diff"] < 1e-5  # the artifact loads on one device with the same predictions
    # Uneven rows: padded, same quality.
    single, parallel = r["uneven_scores"]
    assert parallel > 0.3 and abs(parallel - single) < 0.1, r["uneven_scores"]
    # Asking for more devices than visible says how to get them.
    msg = r["too_many"]
    assert "3 devices" in msg and "only 2" in msg and "xla_force_host_platform_device_count" in msg


def test_devices_parameter_validation(diabetes_mixed):
    X, y = diabetes_mixed
    assert resolve_devices(None) is None and resolve_devices(1) is None
    for bad in ("gpu", 0, -1, 1.5, True):
        with pytest.raises(ValueError, match="devices must be None, a positive int or 'all'"):
            resolve_devices(bad)
    if keraslearn.BACKEND == "jax":
        import jax

        if len(jax.devices()) == 1:
            assert resolve_devices("all") is None  # all of one device: plain training
            with pytest.raises(ValueError, match="only 1 are visible"):
                FFRegressor(devices=2, epochs=1).fit(X, y)
    assert FFRegressor(devices=2).get_params()["devices"] == 2


def test_padding_keeps_every_row_and_weighs_the_copies_zero():
    x = {"numeric": np.arange(10, dtype=np.float32).reshape(5, 2), "cat_a": np.arange(5, dtype=np.int32)[:, None]}
    y = np.arange(5, dtype=np.float32)
    px, py, pw = pad_rows(x, y, None, 4)
    assert len(py) == 8 and px["numeric"].shape == (8, 2) and px["cat_a"].shape == (8, 1)
    np.testing.assert_array_equal(px["numeric"][:5], x["numeric"])
    np.testing.assert_array_equal(pw, [1, 1, 1, 1, 1, 0, 0, 0])
    same = pad_rows(x, y, None, 5)
    assert same[0] is x and same[2] is None
    assert device_batch_size(30, 4) == 32 and device_batch_size(32, 4) == 32
