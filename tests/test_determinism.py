"""Same random_state and backend: bit-identical predictions, even in two separate processes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keraslearn

TESTS = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(TESTS), "src")


def _data():
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=90), "b": rng.normal(size=90), "c": rng.choice(["x", "y", "z"], size=90)})
    y_class = np.where(X["a"] + (X["c"] == "x") > 0.5, "yes", "no")
    y_reg = 2 * X["a"] - X["b"] + rng.normal(scale=0.1, size=90)
    return X, y_class, y_reg


def _ff(seed):
    from keraslearn import FFClassifier

    return FFClassifier(layer_units=(16, 16), dropout=0.2, epochs=8, batch_size=16, random_state=seed)


CHILD = textwrap.dedent(
    f"""
    import sys
    sys.path.insert(0, {TESTS!r})
    import numpy as np
    from keraslearn import TabMRegressor
    from test_determinism import _data, _ff

    X, y_class, y_reg = _data()
    ff = _ff(7)
    tabm = TabMRegressor(k=4, n_blocks=1, d_block=16, n_bins=4, numeric_embed_dim=4, epochs=4,
                         batch_size=16, random_state=7)
    np.savez(sys.argv[1], ff=ff.fit(X, y_class).predict_proba(X), tabm=tabm.fit(X, y_reg).predict(X),
             ff_loss=ff.history_["loss"], tabm_loss=tabm.history_["loss"])
    """
)


@pytest.mark.slow
def test_two_processes_give_identical_predictions(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("KERAS_BACKEND", keraslearn.BACKEND)
    outs = []
    for run, cache in (("first", None), ("second", "0")):
        out = tmp_path / f"{run}.npz"
        # The second process compiles everything itself (no persistent compilation cache), so
        # equal results do not just come from running one cached executable twice.
        run_env = env if cache is None else dict(env, KERASLEARN_COMPILATION_CACHE=cache)
        done = subprocess.run([sys.executable, "-c", CHILD, str(out)], env=run_env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        outs.append(np.load(out))
    first, second = outs
    for key in ("ff", "tabm", "ff_loss", "tabm_loss"):
        assert np.all(np.isfinite(first[key]))
        assert np.array_equal(first[key], second[key]), key
    # This process (other models fitted before, other compiled-step templates) agrees too,
    # and the seed matters: another one gives other predictions.
    X, y_class, _ = _data()
    np.testing.assert_array_equal(_ff(7).fit(X, y_class).predict_proba(X), first["ff"])
    assert not np.array_equal(_ff(8).fit(X, y_class).predict_proba(X), first["ff"])


@pytest.mark.torch
def test_a_seeded_fit_gives_back_the_callers_global_random_state():
    """random_state seeds the fit, not the caller: draws after fit go on as if it had not run."""
    import random

    X, y_class, _ = _data()

    def draws():
        return np.random.random_sample(3).tolist(), random.random()

    np.random.seed(123)
    random.seed(123)
    expected = draws()
    np.random.seed(123)
    random.seed(123)
    fitted = _ff(0).set_params(epochs=1).fit(X, y_class)
    assert draws() == expected
    # ... and the fit itself is still seeded: a second one gives bitwise the same model.
    again = _ff(0).set_params(epochs=1).fit(X, y_class)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_an_unseeded_fit_repeats_after_keras_set_random_seed():
    """random_state=None draws from the global generators, as scikit-learn's None does: seeding them
    (keras.utils.set_random_seed; Keras draws its layers' seeds from Python's random) repeats the fit. The
    validation split drew fresh entropy, so val_loss and the model changed from run to run."""
    import keras

    X, y_class, _ = _data()
    fits = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        fits.append(_ff(None).set_params(epochs=2).fit(X, y_class))
    assert fits[0].history_["val_loss"] == fits[1].history_["val_loss"]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))


def test_seeded_fits_in_threads_repeat_and_keep_the_callers_state():
    """joblib's threading backend (also what it nests inside a loky worker, e.g. StackingClassifier's
    cross_val_predict) runs fits in threads of one process; Keras draws its seeds from process-wide
    generators, so interleaved seeded fits gave other models than one at a time."""
    import joblib
    from sklearn.model_selection import KFold, cross_validate

    X, y_class, _ = _data()
    cv = KFold(4, shuffle=True, random_state=0)
    est = _ff(0).set_params(epochs=3, batch_size=16)
    alone = cross_validate(est, X, y_class, cv=cv, scoring="neg_log_loss")["test_score"]
    np.random.seed(7)
    expected = np.random.random_sample(2)
    np.random.seed(7)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = cross_validate(est, X, y_class, cv=cv, scoring="neg_log_loss", n_jobs=2)["test_score"]
    np.testing.assert_array_equal(np.random.random_sample(2), expected)
    np.testing.assert_array_equal(threaded, alone)


def test_fits_in_threads_do_not_clear_each_others_keras_state():
    """Keras' clear_session, run before each build, replaced its thread-local state for every thread: an
    unseeded fit in one thread (seeded ones take turns) emptied another's StatelessScope while it traced its
    step, which failed with "'NoneType' object is not callable" (GridSearchCV under the threading backend:
    NaN scores, its default error_score)."""
    import threading

    from keras.src.backend.common import global_state
    from keras.src.backend.common.stateless_scope import StatelessScope, in_stateless_scope

    from keraslearn.training.memory import clear_session

    global_state.set_global_attribute("mine", 1)
    with StatelessScope():
        other = threading.Thread(target=clear_session)
        other.start()
        other.join()
        assert in_stateless_scope() and global_state.get_global_attribute("mine") == 1
    clear_session()  # this thread's own state it does clear
    assert global_state.get_global_attribute("mine") is None


def test_a_seeded_fit_keeps_the_keras_random_stream():
    """keras.random's global generator, started by keras.utils.set_random_seed, was thrown away by the fit's
    clear_session: the caller's next draw started the stream over instead of going on."""
    import keras

    X, y_class, _ = _data()
    keras.utils.set_random_seed(0)
    keras.random.normal((3,))
    expected = keras.ops.convert_to_numpy(keras.random.normal((3,)))
    keras.utils.set_random_seed(0)
    keras.random.normal((3,))
    _ff(0).set_params(epochs=1).fit(X, y_class)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.random.normal((3,))), expected)
