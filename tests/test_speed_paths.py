"""Speed machinery keeps results exact: fast predict, shared compiled steps, encoder fast paths.

No timing assertions here (timings live in benchmarks/speed.py).
"""

import contextlib
import gc
import os
import pickle
import subprocess
import sys
import weakref

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import keraslearn
from keraslearn import FFClassifier, FFRegressor
from keraslearn.preprocessing import TabularEncoder, coding
from keraslearn.training import compiled, padding
from keraslearn.training.fast_predict import predict_array

JAX = keraslearn.BACKEND == "jax"
needs_jax = pytest.mark.skipif(not JAX, reason="compiled-step sharing is JAX-only")
TINY = dict(layer_units=(8,), epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def data(diabetes_mixed):
    X, y = diabetes_mixed
    return X.iloc[:200].reset_index(drop=True), y.iloc[:200].to_numpy()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return FFRegressor(**TINY, dropout=0.1).fit(X, y)


# --------------------------------------------------------------------- fast predict
@pytest.mark.torch
def test_fast_predict_equals_keras_predict(data, fitted):
    X, _ = data
    x = fitted._encode_X(X)
    keras_out = fitted.model_.predict(x, verbose=0)
    for chunk in (256, 7):  # one padded chunk; several chunks plus a padded tail
        fast = predict_array(fitted.model_, x, chunk=chunk)
        assert fast.shape == keras_out.shape
        np.testing.assert_allclose(fast, keras_out, rtol=1e-6, atol=1e-6)


@needs_jax
def test_grouped_chunks_give_each_row_the_result_of_its_own_chunk(data, fitted):
    # 200 rows in chunks of 7: the first 16 chunks (112 rows) go through one lax.map call,
    # the other 88 rows chunk by chunk. A row's output must not depend on which path it took.
    from keraslearn.training import fast_predict

    X, _ = data
    x = fitted._encode_X(X)
    out = predict_array(fitted.model_, x, chunk=7)
    forward_group = fast_predict._jax_forward(fitted.model_)[1]
    assert forward_group._cache_size() >= 1  # the grouped path ran
    for i in (0, 6, 111, 112, 199):
        alone = predict_array(fitted.model_, {k: v[i : i + 1] for k, v in x.items()}, chunk=7)
        np.testing.assert_array_equal(alone[0], out[i])


@pytest.mark.torch
def test_prediction_of_a_row_does_not_depend_on_the_batch(data, fitted):
    X, _ = data
    full = fitted.predict(X)
    singles = np.array([fitted.predict(X.iloc[[i]])[0] for i in (0, 57, 199)])
    np.testing.assert_array_equal(singles, full[[0, 57, 199]])


def test_fast_predict_survives_a_keras_predict_call(data, fitted):
    # Keras' own predict donates the variable buffers on JAX; the fast path must re-read them.
    X, _ = data
    before = fitted.predict(X)
    fitted.model_.predict(fitted._encode_X(X), verbose=0)
    np.testing.assert_array_equal(fitted.predict(X), before)


# ----------------------------------------------------------- shared compiled steps
@needs_jax
def test_shared_steps_give_the_same_model_as_a_fresh_compile(data):
    X, y = data
    params = dict(TINY, dropout=0.2, use_batchnorm=True)  # dropout seeds and BN statistics are state too
    compiled.clear()
    fresh = FFRegressor(**params).fit(X, y)
    assert compiled.n_templates() == 1
    shared = FFRegressor(**params).fit(X, y)  # runs the first model's compiled functions
    assert compiled.template_for(shared.model_) is compiled.template_for(fresh.model_)
    np.testing.assert_array_equal(shared.predict(X), fresh.predict(X))
    assert shared.history_ == fresh.history_
    compiled.clear()
    again = FFRegressor(**params).fit(X, y)  # traced and compiled anew
    np.testing.assert_array_equal(again.predict(X), fresh.predict(X))


@needs_jax
def test_a_known_structure_builds_its_loss_and_metrics_without_tracing_the_model(iris_mixed, monkeypatch):
    """The second fit of a structure skips Keras' symbolic-build traces and still trains exactly as the first."""
    import keras.src.backend as kb

    from keraslearn.learners.generic import KerasClassifier
    from test_generic import build_mlp

    X, y = iris_mixed
    traced = []
    spec_of = kb.compute_output_spec

    def counting(fn, *args, **kwargs):
        traced.append(getattr(fn, "__name__", type(fn).__name__))
        return spec_of(fn, *args, **kwargs)

    monkeypatch.setattr(kb, "compute_output_spec", counting)
    # A user's compiled metric (accuracy, which Keras picks from the target and output shapes) and loss.
    params = dict(model_params={"compile_with": ("adam", "sparse_categorical_crossentropy")}, epochs=3,
                  batch_size=16, random_state=0)
    compiled.clear()
    fresh = KerasClassifier(build_mlp, **params).fit(X, y)
    assert traced  # Keras' own build: the model, its metrics and its loss are traced
    traced.clear()
    shared = KerasClassifier(build_mlp, **params).fit(X, y)
    assert compiled.template_for(shared.model_) is compiled.template_for(fresh.model_)
    assert traced == []
    assert "accuracy" in shared.history_ and shared.history_ == fresh.history_
    np.testing.assert_array_equal(shared.predict_proba(X), fresh.predict_proba(X))
    assert type(fresh.model_._compile_metrics.metrics[0]) is type(shared.model_._compile_metrics.metrics[0])


@needs_jax
def test_equal_shapes_compile_nothing_new_even_after_release_memory(data, monkeypatch):
    """A CV fold or tuning trial with the same network shape compiles nothing: no XLA compilation at all."""
    import jax

    from keraslearn.training import memory

    X, y = data
    FFRegressor(**TINY, learning_rate=1e-2).fit(X, y).predict(X)  # warm-up: compiles every step once
    monkeypatch.setitem(memory._baseline, "rss_mb", memory._rss_mb())  # what earlier tests grew is not ours
    memory.release_memory()  # as tuning does between trials
    compiles = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        FFRegressor(**dict(TINY, random_state=7), learning_rate=3e-3).fit(X, y).predict(X)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []


@needs_jax
@pytest.mark.parametrize("learner", [FFRegressor, FFClassifier])
def test_validation_rows_fill_whole_batches_and_keep_their_scores(data, monkeypatch, learner):
    # 60 validation rows in batches of 16 are 3 full batches and one of 12: two shapes, two
    # compiled test steps. Padded to 64 rows (weight 0, real rows' weights rescaled): one, and
    # val_loss and the validation metrics are those of the 60 rows.
    import logging

    import jax

    from keraslearn.training import fit as fit_module

    X, y = data
    y = y if learner is FFRegressor else (y > np.median(y)).astype(int)
    params = dict(TINY, layer_units=(7,), validation_fraction=0.3, early_stopping=False)
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("jax").addHandler(handler)
    jax.config.update("jax_log_compiles", True)
    try:
        compiled.clear()
        padded = learner(**params).fit(X, y)
        n_padded = sum(m.startswith("Compiling jit(test_step)") for m in messages)
        monkeypatch.setattr(fit_module, "validation_multiple", lambda n, batch_size: 1)  # Keras' own batches
        compiled.clear()
        messages.clear()
        plain = learner(**params).fit(X, y)
        n_plain = sum(m.startswith("Compiling jit(test_step)") for m in messages)
    finally:
        jax.config.update("jax_log_compiles", False)
        logging.getLogger("jax").removeHandler(handler)
        compiled.clear()
    assert (n_padded, n_plain) == (1, 2)
    scores = [k for k in plain.history_ if k.startswith("val_")]
    assert scores == ["val_loss"]
    assert set(padded.history_) == set(plain.history_)
    for key in scores:
        np.testing.assert_allclose(padded.history_[key], plain.history_[key], rtol=1e-5, err_msg=key)


@needs_jax
def test_rows_are_not_padded_under_unweighted_metrics_or_other_reductions(data):
    # Keras' unweighted ``metrics`` would count the padding rows: such fits keep their rows.
    _pads_exactly = padding.pads_exactly

    X, y = data
    est = FFRegressor(**TINY).fit(X, y)
    assert _pads_exactly(est.model_)
    est.model_.compile(optimizer="adam", loss="mse", weighted_metrics=["mae"])
    assert _pads_exactly(est.model_)
    est.model_.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert not _pads_exactly(est.model_)
    est.model_.compile(optimizer="adam", loss=keras.losses.MeanSquaredError(reduction="sum"))
    assert not _pads_exactly(est.model_)


def test_validation_padding_rule():
    from keraslearn.training.padding import pad_rows
    from keraslearn.training.split import validation_multiple

    assert validation_multiple(60, 16) == 16  # several batches: whole batches
    assert validation_multiple(845, 1024) == 32  # one batch: 864 rows, equal for 840-864-row folds
    assert validation_multiple(99, 100) == 100  # 128 rows would be two batches of 100
    x, y, w = pad_rows(np.arange(10.0)[:, None], np.arange(10.0), np.full(10, 2.0), 4, rescale=True)
    assert len(x) == len(y) == len(w) == 12 and list(y[10:]) == [0.0, 1.0]  # copies of real rows
    np.testing.assert_allclose(w, [2.4] * 10 + [0.0, 0.0])  # mean over 12 rows = mean over the 10


@needs_jax
def test_learning_rate_is_state_so_trials_share_one_compilation(data):
    X, y = data
    compiled.clear()
    a = FFRegressor(**TINY, learning_rate=1e-2).fit(X, y)
    b = FFRegressor(**TINY, learning_rate=1e-3).fit(X, y)
    assert compiled.n_templates() == 1 and compiled.template_for(b.model_) is compiled.template_for(a.model_)
    compiled.clear()
    b_fresh = FFRegressor(**TINY, learning_rate=1e-3).fit(X, y)
    np.testing.assert_array_equal(b.predict(X), b_fresh.predict(X))
    assert not np.allclose(a.predict(X), b.predict(X))


@needs_jax
@pytest.mark.parametrize("k", [32, 5])
def test_grouped_steps_run_every_batch_exactly_once(data, monkeypatch, k):
    # 180 training rows in batches of 16: 11 full batches and one of 4 rows. With k = 5 the
    # groups are 5, 5 and (1 full + the partial one); with k = 32 one padded group.
    monkeypatch.setattr(compiled, "STEPS_PER_EXECUTION", k)
    X, y = data
    n_batches = int(np.ceil(len(y) * 0.9 / 16))  # 10% validation split by default
    est = FFRegressor(**dict(TINY, epochs=3)).fit(X, y)
    assert int(est.model_.optimizer.iterations.numpy()) == 3 * n_batches


@needs_jax
def test_keras_hands_over_groups_of_batches_and_training_is_the_same(data, monkeypatch):
    # 180 training rows, batches of 16, 5 steps per call: Keras gathers 80 rows at a time
    # (two groups of 5 batches, reshaped, then 20 rows: 1 batch and the 4-row one, stacked), and
    # the fit is bitwise the fit that stacks Keras' single batches.
    from keraslearn.training import fit as fit_module
    from keraslearn.training import groups

    monkeypatch.setattr(compiled, "STEPS_PER_EXECUTION", 5)
    stacked, stack = [], groups._stack
    monkeypatch.setattr(groups, "_stack", lambda batches, k: stacked.append(len(batches)) or stack(batches, k))

    class Nested(keras.callbacks.Callback):  # epoch hooks only: the fit still groups
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.params["steps"])
            if epoch == 0:  # a fit of its own, with its own batch size: plain batches of 8
                before = int(self.model.optimizer.iterations.numpy())
                self.model.fit(inputs, target, batch_size=8, epochs=1, verbose=0)
                seen.append(int(self.model.optimizer.iterations.numpy()) - before)

    X, y = data
    params = dict(TINY, epochs=3, dropout=0.1, use_batchnorm=True)
    compiled.clear()
    grouped = FFRegressor(**params).fit(X, y)
    assert stacked == [2, 2, 2]  # per epoch only the last group's 1 + 1 batches were stacked
    assert grouped.model_.history.params["steps"] == 12  # batches, as Keras documents it, not groups
    assert int(grouped.model_.optimizer.iterations.numpy()) == 3 * 12
    inputs, target = grouped.encoder_.transform(X.iloc[:40]), y[:40].astype("float32")
    seen = []
    compiled.clear()
    FFRegressor(**params, callbacks=[Nested()]).fit(X, y)
    assert seen == [12, 5, 12, 12]  # 40 rows in 5 batches of 8
    monkeypatch.setattr(fit_module, "groups_fed", lambda model, rows, n, cbs: contextlib.nullcontext((rows, cbs)))
    compiled.clear()
    stacked.clear()
    single = FFRegressor(**params).fit(X, y)
    assert stacked == [5, 5, 2] * 3
    assert grouped.history_ == single.history_
    np.testing.assert_array_equal(grouped.predict(X), single.predict(X))
    # A later model.fit of the user's hands over plain batches again: 200 rows in 13 steps of 16.
    grouped.model_.fit(grouped.encoder_.transform(X), y.astype("float32"), batch_size=16, epochs=1, verbose=0)
    assert int(grouped.model_.optimizer.iterations.numpy()) == 3 * 12 + 13
    compiled.clear()


@needs_jax
def test_keras_per_epoch_lines_count_batches(data, capsys):
    X, y = data
    est = FFRegressor(**dict(TINY, epochs=1), verbose=2).fit(X, y)
    assert est.model_.history.params["steps"] == 12 and "12/12" in capsys.readouterr().out


def test_splitting_rows_in_place_gives_the_training_rows_as_a_view():
    from keraslearn.training.split import split_in_place

    rng = np.random.default_rng(0)
    order = rng.permutation(40_000)  # more rows than are moved at a time
    train, val = np.sort(order[:30_000]), np.sort(order[30_000:])
    for v in (rng.normal(size=(40_000, 21)).astype(np.float32), rng.integers(0, 9, (40_000, 1)), np.arange(4e4)):
        expected = v[train], v[val]
        first, rest = split_in_place(v, train, val)
        assert np.shares_memory(first, v)  # no copy of the training rows
        np.testing.assert_array_equal(first, expected[0])
        np.testing.assert_array_equal(rest, expected[1])
    view = np.arange(8e4)[::2]  # not contiguous: copied, and left as it is
    first, rest = split_in_place(view, train, val)
    np.testing.assert_array_equal(view, np.arange(0.0, 8e4, 2))
    np.testing.assert_array_equal(first, view[train])


def test_a_validation_split_in_place_trains_as_the_copied_split(iris_mixed, monkeypatch):
    from keraslearn.training import fit as fit_module

    X, y = iris_mixed
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    params = dict(layer_units=(8,), epochs=3, batch_size=16, validation_fraction=0.3, random_state=0)
    split, views = fit_module.split_in_place, []

    def spy(v, train, val):
        first, rest = split(v, train, val)
        views.append(np.shares_memory(first, v))
        return first, rest

    monkeypatch.setattr(fit_module, "split_in_place", spy)
    in_place = FFClassifier(**params).fit(X, y, sample_weight=weights)  # stratified, weighted
    assert len(views) == 3 and all(views)  # numeric and two categorical inputs, each split as views
    monkeypatch.setattr(fit_module, "split_in_place", lambda v, train, val: (v[train], v[val]))
    copied = FFClassifier(**params).fit(X, y, sample_weight=weights)
    assert in_place.history_ == copied.history_ and "val_loss" in in_place.history_
    np.testing.assert_array_equal(in_place.predict_proba(X), copied.predict_proba(X))


@needs_jax
@pytest.mark.parametrize("verbose, k, per_epoch", [
    (0, 5, [True, False]),  # 10 batches: a full group, then the last group (a full batch and 6 rows)
    (0, 3, [True, True, True, False]),  # the last group is 6 rows: topped up from the third group's rows
    (2, 5, [True, True]),  # Keras' per-epoch lines: single batches, joined on the device
])
def test_batches_already_on_the_device_are_not_sliced_or_copied_back(data, monkeypatch, verbose, k, per_epoch):
    """On a GPU Keras puts what it hands over on the device first (its one-batch-ahead iterator): groups
    of batches, or single batches under verbose=2. Splitting the epoch's last group there and taking the
    donor batch there were a device op per batch and input (80 ms of a 0.12-0.15 s diamonds epoch on an H100,
    and every epoch of a CV fold smaller than one group), and stacking single batches on the host a copy
    back per batch. Simulated with Keras' own GPU iterator; the fit is bitwise the one fed NumPy."""
    import jax
    from keras.src.backend.jax import trainer as jax_trainer

    monkeypatch.setattr(compiled, "STEPS_PER_EXECUTION", k)
    X, y = data
    params = dict(TINY, epochs=3, validation_fraction=0.0, verbose=verbose)
    compiled.clear()
    plain = FFRegressor(**params).fit(X[:150], y[:150])
    array_type = type(jax.numpy.zeros(1))
    sliced, getitem, reshape = [], array_type.__getitem__, array_type.reshape
    monkeypatch.setattr(array_type, "__getitem__", lambda a, index: sliced.append(index) or getitem(a, index))
    monkeypatch.setattr(array_type, "reshape", lambda a, *shape, **kw: sliced.append(shape) or reshape(a, *shape, **kw))
    monkeypatch.setattr(jax_trainer.JAXEpochIterator, "_get_iterator",
                        lambda self: self._one_batch_ahead_iterator(self.data_adapter.get_jax_iterator()))
    scanned = []  # per call of the scan: are its inputs on the device (as Keras put them) or from the host?
    wrap_init = compiled._Template.__init__

    def init(self, *args, **kwargs):
        wrap_init(self, *args, **kwargs)
        multi = self.multi
        self.multi = lambda state, group, counted: scanned.append(
            {isinstance(a, jax.Array) for a in jax.tree.leaves(group)}) or multi(state, group, counted)

    monkeypatch.setattr(compiled._Template, "__init__", init)
    compiled.clear()
    on_device = FFRegressor(**params).fit(X[:150], y[:150])
    assert sliced == []  # no slice or reshape of a device array outside the compiled calls
    assert scanned == [{flag} for flag in per_epoch] * 3
    assert on_device.history_ == plain.history_
    np.testing.assert_array_equal(on_device.predict(X), plain.predict(X))
    compiled.clear()


class _NestedFit(keras.callbacks.Callback):
    """Trains the model on other rows, in batches of 32 with weights, at the end of each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        rng = np.random.default_rng(epoch)
        x = {"numeric": rng.normal(size=(64, 5)).astype("float32")}
        self.model.fit(x, (x["numeric"][:, 1] > 0).astype("float32"), sample_weight=np.ones(64, "float32"),
                       batch_size=32, epochs=1, verbose=0)


@needs_jax
def test_later_fits_of_the_model_keep_nothing_of_earlier_ones():
    """The grouped train function stays on ``model_``: a later fit (the user's own, or one a callback starts)
    took the earlier fit's batch size and last batch, topping its own batches up with the earlier fit's rows:
    a crash when y's rank differed, and batch statistics from other data with batch normalization (so
    verbose=2, whose batches a callback's fit interleaves, trained another model than verbose=0)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] > 0).astype(int)
    params = dict(layer_units=(8,), epochs=3, batch_size=16, use_batchnorm=True, early_stopping=False,
                  validation_fraction=0.0, random_state=0, callbacks=[_NestedFit()])
    compiled.clear()
    quiet = FFClassifier(**params).fit(X, y)
    lined = FFClassifier(**params, verbose=2).fit(X, y)
    assert quiet.history_ == lined.history_
    np.testing.assert_array_equal(quiet.predict_proba(X), lined.predict_proba(X))
    # The user's own fit: 40 rows in batches of 10, y as the model's (n, 1) output
    x2 = {"numeric": rng.normal(size=(40, 5)).astype("float32")}
    before = int(quiet.model_.optimizer.iterations.numpy())
    history = quiet.model_.fit(x2, (x2["numeric"][:, :1] > 0).astype("float32"), sample_weight=np.ones(40, "float32"),
                               batch_size=10, epochs=1, verbose=0)
    assert int(quiet.model_.optimizer.iterations.numpy()) == before + 4 and np.isfinite(history.history["loss"][0])


class _BatchCounter(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.calls = getattr(self, "calls", 0) + 1


@needs_jax
def test_one_models_steps_per_call_is_its_own():
    """Keras' loops over the shared compiled steps were made on the first model of a structure and read
    its ``steps_per_execution`` at every call: set to 1 there (a Keras habit, for one's own ``model_.fit``
    with batch callbacks), another fitted model's ``model_.predict`` returned 96 of 2000 rows, its
    ``evaluate`` and later fits' validation saw one batch in 32 (val_loss 0.86 instead of 1.29); and the
    model's own fit still took 32 batches a call, so a batch callback saw one of 10 batches."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = X[:, 0] + rng.normal(size=2000) * 0.1
    params = dict(layer_units=(8,), epochs=2, batch_size=16, validation_fraction=0.3, early_stopping=False,
                  random_state=0)
    compiled.clear()
    first, other = FFRegressor(**params).fit(X, y), FFRegressor(**params).fit(X, y)
    x = other._encode_X(X)
    predicted, evaluated = other.model_.predict(x, verbose=0), other.model_.evaluate(x, y, verbose=0)
    first.model_.steps_per_execution = 1
    later = FFRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(other.model_.predict(x, verbose=0), predicted)
    assert other.model_.evaluate(x, y, verbose=0) == evaluated
    counter, before = _BatchCounter(), int(first.model_.optimizer.iterations.numpy())
    first.model_.fit(x, y, batch_size=200, epochs=1, verbose=0, callbacks=[counter])
    assert counter.calls == 10 and int(first.model_.optimizer.iterations.numpy()) == before + 10
    first.model_.steps_per_execution = 64  # more than the compiled scan's 32: two scans a call
    first.model_.fit(x, y, batch_size=20, epochs=1, verbose=0)
    assert int(first.model_.optimizer.iterations.numpy()) == before + 110
    compiled.clear()
    assert later.history_ == FFRegressor(**params).fit(X, y).history_
    compiled.clear()


@needs_jax
def test_keras_functions_another_thread_makes_meanwhile_are_its_own():
    """While a model's Keras loops are made around shared compiled steps, Keras' ``jit`` name is patched
    (module-wide): another thread's Keras making its own functions then got the shared test step as its
    predict step ("not enough values to unpack"), and the shared steps kept the stranger's."""
    import threading

    from keraslearn.training import xla

    def model():
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        m.compile(loss="mse")
        return m

    shared, plain, equal = model(), model(), model()
    steps = xla.keras_jit_functions(shared)
    make = equal.make_test_function

    def make_meanwhile(*args, **kwargs):  # another thread makes its functions while the patch is on
        thread = threading.Thread(target=plain.make_predict_function)
        thread.start()
        thread.join()
        return make(*args, **kwargs)

    equal.make_test_function = make_meanwhile
    assert xla.keras_jit_functions(equal, steps=steps) == steps
    x = np.ones((4, 3), "float32")
    assert plain.predict(x, verbose=0).shape == (4, 2)
    np.testing.assert_allclose(equal.predict(x, verbose=0), np.asarray(equal(x)), rtol=1e-6)


@needs_jax
def test_training_keeps_at_most_in_flight_calls_queued(monkeypatch):
    """Python may not run ahead of the steps: each queued call holds its stacked batches."""
    monkeypatch.setattr(compiled, "STEPS_PER_EXECUTION", 2)
    wrap_init = compiled._Template.__init__
    dispatched = []  # per call: were the earlier calls' steps done when it was dispatched?

    def init(self, *args, **kwargs):
        wrap_init(self, *args, **kwargs)
        multi = self.multi

        def recording(state, stacked, mask):
            dispatched.append([logs["loss"].is_ready() for logs in outputs])
            logs, state = multi(state, stacked, mask)
            outputs.append(logs)
            return logs, state

        outputs = []
        self.multi = recording

    monkeypatch.setattr(compiled._Template, "__init__", init)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1280, 8)), rng.normal(size=1280)
    compiled.clear()
    # A slow step (1024-wide layers, 128 rows: tens of ms a call) against a few ms of Python per call.
    FFRegressor(layer_units=(1024, 1024), batch_size=128, epochs=1, validation_fraction=0.0,
                early_stopping=False, random_state=0).fit(X, y)
    compiled.clear()
    assert len(dispatched) == 5  # 10 batches, 2 a call
    for i, ready in enumerate(dispatched):
        assert all(ready[: max(0, i - compiled.IN_FLIGHT)]), (i, ready)


@needs_jax
def test_last_smaller_batch_is_topped_up_and_trains_as_itself(data, monkeypatch):
    # 180 training rows in batches of 16: the 4-row batch is filled to 16 with weight-0 rows
    # and runs in the compiled scan. Its loss, so the fit, must equal running it on its own.
    X, y = data
    params = dict(TINY, epochs=4, dropout=0.0)
    topped = []
    real = padding.top_up

    def spy(part, donor, size):
        out = real(part, donor, size)
        topped.append(out is not None and len(out[2]) == size and float(out[2][size - 1]) == 0.0)
        return out

    monkeypatch.setattr(padding, "top_up", spy)
    compiled.clear()
    a = FFRegressor(**params).fit(X, y)
    assert topped and all(topped)  # once per epoch, always filled to a full batch
    monkeypatch.setattr(padding, "top_up", lambda *args: None)  # the smaller batch's own compiled step
    compiled.clear()
    b = FFRegressor(**params).fit(X, y)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-4, atol=1e-4 * np.std(y))
    # The epoch's loss counts the topped-up batch as its own 4 rows, as Keras counts a smaller batch (it
    # was the batches' unweighted mean, so history_["loss"] changed with an unrelated batch callback).
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-4)
    hook = keras.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: None)  # steps one by one
    lone = FFRegressor(**params, callbacks=[hook])
    np.testing.assert_allclose(lone.fit(X, y).history_["loss"], a.history_["loss"], rtol=1e-6)
    # With batch normalization the borrowed rows also enter the batch statistics; the batch is
    # still topped up (one compiled train step), and only its own rows carry loss weight.
    monkeypatch.setattr(padding, "top_up", spy)
    topped.clear()
    FFRegressor(**params, use_batchnorm=True).fit(X, y)
    assert topped and all(topped)
    # Keras' unweighted metrics would count the borrowed rows: the smaller batch runs on its own.
    monkeypatch.setattr(FFRegressor, "_default_metrics", ("mae",))
    topped.clear()
    compiled.clear()
    c = FFRegressor(**params).fit(X, y)
    assert topped == [] and len(c.history_["mae"]) == 4
    compiled.clear()


def _weighted_mae_model(spec):
    model = keras.Sequential([keras.Input((spec.n_numeric,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", weighted_metrics=["mae"])
    return model


@needs_jax
def test_a_topped_up_batch_counts_as_its_rows_in_weighted_metrics_too():
    """A weighted metric's sums took the topped-up batch's rescaled weights: its epoch figure (training
    mae 0.014 off) changed when a batch callback made the steps run one by one."""
    from keraslearn import KerasRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(203, 4)).astype("float32")  # 183 training rows: 5 batches of 32 and one of 23
    y = X @ [1.0, 2.0, 0.0, -1.0] + 0.1 * rng.normal(size=203)
    hook = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    scanned = KerasRegressor(model=_weighted_mae_model, epochs=3, batch_size=32, random_state=0).fit(X, y)
    stepped = KerasRegressor(model=_weighted_mae_model, epochs=3, batch_size=32, random_state=0,
                             callbacks=[hook]).fit(X, y)
    for name in ("loss", "mae", "val_loss", "val_mae"):
        np.testing.assert_allclose(scanned.history_[name], stepped.history_[name], rtol=1e-6, err_msg=name)


@needs_jax
def test_batch_callbacks_still_see_every_batch(data):
    X, y = data

    class Count(keras.callbacks.Callback):
        seen = []

        def on_train_batch_end(self, batch, logs=None):
            Count.seen.append(batch)

    FFRegressor(**TINY, validation_fraction=0.0, callbacks=[Count()]).fit(X, y)
    per_epoch = int(np.ceil(len(y) / 16))
    assert len(Count.seen) == 2 * per_epoch
    # A LambdaCallback sets its hooks on the instance, not the class.
    seen = []
    hook = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    FFRegressor(**TINY, validation_fraction=0.0, callbacks=[hook]).fit(X, y)
    assert seen == list(range(per_epoch)) * 2


@needs_jax
def test_templates_are_bounded_and_released(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(compiled, "MAX_TEMPLATES", 1)
    compiled.clear()
    first = FFRegressor(**dict(TINY, layer_units=(3,), epochs=1)).fit(X, y)
    ref = weakref.ref(first.model_)
    FFRegressor(**dict(TINY, layer_units=(4,), epochs=1)).fit(X, y)  # another shape evicts the first
    assert compiled.n_templates() == 1 and compiled.template_for(first.model_) is None
    del first
    gc.collect()
    assert ref() is None, "an evicted template's model was kept alive"


@needs_jax
def test_templates_are_bounded_by_their_parameters_together(data, monkeypatch):
    """QA: eight templates of up to 16 M parameters each were kept, each with its weights and Adam's slots
    (about 1.5 GB in a notebook, for models long deleted): the cap is now on their parameters together."""
    X, y = data
    compiled.clear()
    small = FFRegressor(**dict(TINY, layer_units=(3,), epochs=1)).fit(X, y)
    n_small = compiled._n_params(small.model_)
    larger = FFRegressor(**dict(TINY, layer_units=(4,), epochs=1))
    monkeypatch.setattr(compiled, "MAX_TEMPLATE_PARAMS", 2 * n_small)  # room for one of each, not both
    larger.fit(X, y)
    assert n_small < compiled._n_params(larger.model_) < 2 * n_small
    assert compiled.n_templates() == 1 and compiled.template_for(small.model_) is None
    assert compiled.template_for(larger.model_) is not None  # the least recently used went


@needs_jax
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc (Linux)")
def test_a_fit_clears_jax_caches_once_the_process_has_grown(data, monkeypatch):
    """QA: outside tuning nothing cleared JAX's caches: a notebook or grid fitting ever new shapes grew by
    0.3-3 MB a fit with no plateau in 300 fits. Any fit now clears them past a growth in RSS."""
    import jax

    from keraslearn.training import memory

    X, y = data
    monkeypatch.setattr(memory, "FIT_CLEAR_AFTER_GROWTH_MB", 256)  # the default (the other tests turn it off)
    compiled.clear()
    rss = memory._rss_mb()
    monkeypatch.setitem(memory._baseline, "rss_mb", rss + 1000)  # far from grown: nothing cleared
    kept = FFRegressor(**TINY).fit(X, y)
    assert compiled.template_for(kept.model_) is not None and memory._baseline["rss_mb"] == rss + 1000
    jitted = jax.jit(lambda a: a + 1)
    jitted(np.ones(3))
    assert jitted._cache_size() == 1
    monkeypatch.setitem(memory._baseline, "rss_mb", rss - memory.FIT_CLEAR_AFTER_GROWTH_MB - 1)  # grown
    again = FFRegressor(**TINY).fit(X, y)
    assert compiled.n_templates() == 0 and jitted._cache_size() == 0  # keraslearn's and JAX's caches cleared
    assert abs(memory._baseline["rss_mb"] - memory._rss_mb()) < 64  # the new baseline: RSS after the clear
    np.testing.assert_array_equal(again.predict(X), kept.predict(X))  # the fitted models work on


@needs_jax
def test_a_recompiled_template_is_not_shared(data):
    X, y = data
    compiled.clear()
    first = FFRegressor(**TINY).fit(X, y)
    first.model_.compile(optimizer="sgd", loss="mae")  # the user changes the template's training
    second = FFRegressor(**TINY).fit(X, y)
    assert compiled.template_for(second.model_) is not compiled.template_for(first.model_)
    compiled.clear()
    np.testing.assert_array_equal(second.predict(X), FFRegressor(**TINY).fit(X, y).predict(X))


@needs_jax
def test_different_loss_closures_do_not_share():
    from keraslearn.architectures import ff
    from keraslearn.preprocessing import DataSpec

    def make_loss(w):
        def loss(y_true, y_pred):
            return w * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

        return loss

    def build(optimizer, loss):
        keras.backend.clear_session(free_memory=False)  # as every fit does: deterministic layer names
        model = ff.build(DataSpec(n_numeric=3, task="regression"), layer_units=(4,))
        model.compile(optimizer=optimizer, loss=loss)
        return model

    keys = []
    for loss in (make_loss(1.0), make_loss(5.0)):
        keys.append(compiled.structure_key(build("adam", loss), FFRegressor(loss=loss)))
    assert None not in keys and keys[0] != keys[1]
    same = [build(keras.optimizers.Adam(lr), "mse") for lr in (0.1, 0.001)]  # only the learning rate differs
    assert compiled.structure_key(same[0]) == compiled.structure_key(same[1])
    other = build(keras.optimizers.Adam(0.1, beta_1=0.5), "mse")
    assert compiled.structure_key(other) != compiled.structure_key(same[0])


@needs_jax
def test_keras_global_settings_are_part_of_the_structure(data):
    X, y = data
    model = FFRegressor(**TINY).fit(X, y).model_
    before = compiled.structure_key(model)
    for setting, value in (("epsilon", 1e-3), ("floatx", "float64")):
        old = getattr(keras.config, setting)()
        getattr(keras.config, f"set_{setting}")(value)
        try:
            assert compiled.structure_key(model) != before, setting  # losses clip with epsilon; states take floatx
        finally:
            getattr(keras.config, f"set_{setting}")(old)
    assert compiled.structure_key(model) == before


@needs_jax
def test_a_model_fitted_after_floatx_changed_does_not_take_the_earlier_steps():
    # Under x64 the optimizer's and metrics' variables follow floatx while the layers keep the policy
    # Keras settled on: the float32 template's compiled scan met float64 state (a TypeError from lax.cond).
    code = (
        "import numpy as np, keraslearn, keras\n"
        "X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "keraslearn.FFClassifier(layer_units=(4,), epochs=2, random_state=0).fit(X, y)\n"
        "keras.config.set_floatx('float64')\n"
        "m = keraslearn.FFClassifier(layer_units=(4,), epochs=2, random_state=0).fit(X, y)\n"
        "print(np.isfinite(m.predict_proba(X)).all())\n"
    )
    env = dict(os.environ, KERASLEARN_COMPILATION_CACHE="0", JAX_ENABLE_X64="1", KERAS_BACKEND="jax")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


def _closure_loss_build(spec, w=1.0):
    """A user build function whose keyword only reaches the model through a loss closure."""
    from keraslearn.architectures.blocks import output_head, tabular_inputs

    def loss(y_true, y_pred):
        return w * keras.ops.mean(keras.ops.square(y_true - y_pred)) + (1 - w) * keras.ops.mean(keras.ops.abs(y_pred))

    inputs, x = tabular_inputs(spec)
    model = keras.Model(inputs, output_head(spec, keras.layers.Dense(8, activation="relu")(x)))
    model.compile(optimizer="adam", loss=loss)
    return model


@needs_jax
def test_what_keras_configs_leave_out_keeps_models_apart(data):
    from keraslearn import KerasRegressor

    X, y = data
    tiny = dict(epochs=2, batch_size=16, random_state=0)
    compiled.clear()
    KerasRegressor(_closure_loss_build, model_params={"w": 1.0}, **tiny).fit(X, y)
    second = KerasRegressor(_closure_loss_build, model_params={"w": 0.2}, **tiny).fit(X, y)
    compiled.clear()
    alone = KerasRegressor(_closure_loss_build, model_params={"w": 0.2}, **tiny).fit(X, y)
    assert second.history_["loss"] == pytest.approx(alone.history_["loss"], rel=1e-6)  # it trained with w=1.0
    np.testing.assert_allclose(second.predict(X), alone.predict(X), rtol=1e-5, atol=1e-6)
    again = KerasRegressor(_closure_loss_build, model_params={"w": 0.2}, **dict(tiny, random_state=1)).fit(X, y)
    assert compiled.template_for(again.model_) is compiled.template_for(alone.model_) is not None  # closures alike
    # Keras 3.15's Huber config leaves out delta; a redefined layer class keeps its name; a closure's
    # constants are not in the name its config gives an activation.
    first = FFRegressor(**TINY, loss=keras.losses.Huber(delta=0.01)).fit(X, y).model_
    other = FFRegressor(**TINY, loss=keras.losses.Huber(delta=1.0))
    assert compiled.structure_key(first, other) != compiled.structure_key(first, FFRegressor(**TINY, loss=first.loss))

    def key(make_layer):
        keras.backend.clear_session(free_memory=False)  # as every fit does: the same layer names
        inputs = keras.Input((3,))
        return compiled.structure_key(keras.Model(inputs, keras.layers.Dense(1)(make_layer()(inputs))))

    def scaled(factor):  # an activation made by a function: its config names it, its constant is not there
        def activation(t):
            return t * factor

        return activation

    scales = [type("Scale", (keras.layers.Layer,), {"call": lambda self, t: t * k}) for k in (1.0, 10.0)]
    assert key(scales[0]) != key(scales[1]) and key(scales[0]) == key(scales[0])  # same name, other class
    assert key(lambda: keras.layers.Dense(3, activation=scaled(1.0))) != \
        key(lambda: keras.layers.Dense(3, activation=scaled(10.0)))
    # ... while two made alike (each CV fold or grid point builds its own) are one structure
    assert key(lambda: keras.layers.Dense(3, activation=scaled(1.0))) == \
        key(lambda: keras.layers.Dense(3, activation=scaled(1.0)))
    # a Keras object among a build's keywords, by its config
    same = [compiled._frozen({"reg": keras.regularizers.L2(1e-3)}) for _ in range(2)]
    assert same[0] == same[1] != compiled._frozen({"reg": keras.regularizers.L2(1e-2)})


SCALE = {"activation": 1.0}  # read by _scaled_relu and _ScaleLayer when traced; the test changes it


def _gain():
    return SCALE["activation"]


def _scaled_relu(t):  # a module-level function: counted by identity, and the values it reads by value
    return keras.ops.relu(t) * _gain()


class _ScaleBase(keras.layers.Layer):
    @property
    def gain(self):
        return SCALE["activation"]


class _ScaleLayer(_ScaleBase):  # reads the global through an inherited property (a review: not seen)
    def call(self, t):
        return t * self.gain


mean = np.arange(3.0)  # a notebook's global of the name of keras.ops.mean
TUPLE_KEYS = {(1, 2): 1.0}


def _reads_odd_globals(t):
    return keras.ops.mean(t) * TUPLE_KEYS[(1, 2)]


@needs_jax
def test_a_global_value_user_code_reads_is_part_of_the_structure(data):
    """A module-level activation or loss reading a global (also through a function it calls) gave the step
    traced before the global changed: with the scale set to 0 the hidden layer is 0, yet the second fit
    trained and predicted as the first (plain Keras traces again)."""
    X, y = data
    compiled.clear()
    try:
        first = FFRegressor(**TINY, activation=_scaled_relu).fit(X, y).predict(X)  # traced with the scale 1
        SCALE["activation"] = 0.0
        second = FFRegressor(**TINY, activation=_scaled_relu).fit(X, y)
        assert np.ptp(second.predict(X)) < 1e-6 < np.ptp(first)  # no hidden signal: one value
        third = FFRegressor(**dict(TINY, random_state=1), activation=_scaled_relu).fit(X, y)
        assert compiled.template_for(third.model_) is compiled.template_for(second.model_) is not None  # shared

        def key():
            keras.backend.clear_session(free_memory=False)
            inputs = keras.Input((3,))
            return compiled.structure_key(keras.Model(inputs, keras.layers.Dense(1)(_ScaleLayer()(inputs))))

        before = key()
        SCALE["activation"] = 2.0
        assert key() != before
        # What is not a value read (an attribute name: keras.ops.mean beside a global `mean`) or cannot be JSON
        # (tuple keys) does not keep CV folds apart; a large array is keyed without hashing it all.
        assert compiled._globals_read(_reads_odd_globals) == compiled._globals_read(_reads_odd_globals)
        assert "mean" not in compiled._globals_read(_reads_odd_globals)
        assert "TUPLE_KEYS" in compiled._globals_read(_reads_odd_globals)
    finally:
        SCALE["activation"] = 1.0
        compiled.clear()


@needs_jax
def test_layers_frozen_after_the_fit_in_one_model_leave_the_predictions_of_every_model(data):
    X, y = data
    compiled.clear()
    first = FFRegressor(**TINY).fit(X, y)
    second = FFRegressor(**dict(TINY, random_state=1)).fit(X, y)
    expected = second.predict(X.iloc[:50]), first.predict(X.iloc[:50])
    weighted = [i for i, layer in enumerate(first.model_.layers) if layer.trainable_weights]
    first.model_.layers[weighted[0]].trainable = False  # the template's model: its steps check its trainable ones
    np.testing.assert_array_equal(second.predict(X), FFRegressor(**dict(TINY, random_state=1)).fit(X, y).predict(X))
    second.model_.layers[weighted[-1]].trainable = False
    second.model_.compile(optimizer="adam", loss="mse")  # fine-tuning the Keras way
    np.testing.assert_array_equal(second.predict(X.iloc[:50]), expected[0])  # inference does not depend on it
    np.testing.assert_array_equal(first.predict(X.iloc[:50]), expected[1])
    assert compiled.template_for(first.model_) is None  # a new fit of the structure does not take its steps


@needs_jax
def test_shared_model_pickles_clones_and_saves(tmp_path, data, fitted):
    X, y = data
    shared = FFRegressor(**TINY, dropout=0.1).fit(X, y)
    expected = shared.predict(X)
    np.testing.assert_array_equal(expected, fitted.predict(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(shared)).predict(X), expected)
    shared.save(tmp_path / "m.keraslearn")
    np.testing.assert_array_equal(keraslearn.load(tmp_path / "m.keraslearn").predict(X), expected)
    np.testing.assert_array_equal(clone(shared).fit(X, y).predict(X), expected)


@needs_jax
def test_classifier_shares_and_matches(iris_mixed):
    X, y = iris_mixed
    compiled.clear()
    a = FFClassifier(**TINY).fit(X, y)
    b = FFClassifier(**TINY).fit(X, y)
    assert compiled.template_for(b.model_) is compiled.template_for(a.model_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@needs_jax
def test_persistent_cache_writes_to_the_chosen_folder(tmp_path, monkeypatch):
    import jax
    from jax._src import compilation_cache

    old = jax.config.jax_compilation_cache_dir
    monkeypatch.setattr(compiled, "_cache_state", {"done": False, "dir": None})  # as a new process
    try:
        compilation_cache.reset_cache()
        assert compiled.enable_compilation_cache(str(tmp_path)) == str(tmp_path)
        import jax.numpy as jnp

        jax.jit(lambda a: jnp.sin(a) * 3.25 + 0.5)(np.ones(13, np.float32)).block_until_ready()  # a new program
        assert any(p.name.startswith("jit_") for p in tmp_path.iterdir())
    finally:
        jax.config.update("jax_compilation_cache_dir", old)
        compilation_cache.reset_cache()


@needs_jax
def test_a_cache_folder_asked_for_is_expanded_and_one_that_cannot_be_made_is_said(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled, "_cache_state", {"done": False, "dir": None})
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValueError, match=r"enable_compilation_cache\('.*a-file/cc'\): cannot use that folder"):
        compiled.enable_compilation_cache(str(tmp_path / "a-file" / "cc"))  # returned None, silently
    import jax

    old = jax.config.jax_compilation_cache_dir
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    try:
        assert compiled.enable_compilation_cache("~/cc") == str(tmp_path / "cc")  # made ./~/cc before
        assert (tmp_path / "cc").is_dir() and not (tmp_path / "~").exists()
    finally:
        jax.config.update("jax_compilation_cache_dir", old)


def test_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(compiled, "_cache_state", {"done": False, "dir": None})
    monkeypatch.setenv(compiled.CACHE_ENV, "0")
    assert compiled.enable_compilation_cache() is None
    for word in ("0", "", "off"):  # made a folder named '0', or turned the default folder on
        with pytest.raises(ValueError, match=r"give a folder\. To run without the cache, set "
                                             r"KERASLEARN_COMPILATION_CACHE=0"):
            compiled.enable_compilation_cache(word)


@needs_jax
def test_a_cache_folder_asked_for_too_late_is_said_and_a_users_jax_setting_is_kept(tmp_path, monkeypatch):
    """After the process' first compilation JAX keeps its folder: enable_compilation_cache(other) returned
    the other folder and nothing went there. keraslearn set the minimum compile time over the user's."""
    import jax

    monkeypatch.setattr(compiled, "_cache_state", {"done": True, "dir": str(tmp_path / "first")})
    monkeypatch.setattr(compiled, "_cache_opened", lambda: True)
    with pytest.warns(UserWarning, match=r"comes after this process' first compilation, which opened the cache in "
                                         r".*first: JAX keeps that folder"):
        assert compiled.enable_compilation_cache(str(tmp_path / "second")) == str(tmp_path / "first")
    assert not (tmp_path / "second").exists()
    old_dir, old_min = jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs
    monkeypatch.setattr(compiled, "_cache_state", {"done": False, "dir": None})
    try:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 5.0)
        compiled.enable_compilation_cache(str(tmp_path / "mine"))
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 5.0
    finally:
        jax.config.update("jax_compilation_cache_dir", old_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", old_min)


def test_fit_predict_and_pickle_do_not_import_tensorflow():
    # Keras imports TensorFlow (if installed) to seed it and to serialize: seconds and ~300 MB.
    code = (
        "import pickle, sys, numpy as np, keraslearn\n"
        "X = np.random.default_rng(0).normal(size=(64, 3)); y = X.sum(1)\n"
        "m = keraslearn.FFRegressor(layer_units=(4,), epochs=1, random_state=0).fit(X, y)\n"
        "p = pickle.loads(pickle.dumps(m)).predict(X)\n"
        "assert np.array_equal(p, m.predict(X))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    env = dict(os.environ, KERASLEARN_COMPILATION_CACHE="0")
    env.pop("KERAS_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------- encoder fast paths
_number_code = coding.number_code


def _general_codes(enc, frame, j):
    """The plain pandas path's codes, with the stand-ins that transform applies after any path."""
    return coding.use_stand_ins(enc._codes_general(frame[enc.categorical_columns_[j]], j), enc.stand_in_codes_[j])


def test_category_codes_match_the_plain_pandas_path(monkeypatch):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "s": pd.Series(rng.choice(["a", "b", "c", None], n), dtype=object),
            "arrow": pd.Series(rng.choice(["u", "v", None], n), dtype="str"),
            "mixed": pd.Series([[1, "1", 1.5, None, np.nan, "z", True, np.float32("nan")][i % 8] for i in range(n)]),
            "cat": pd.Categorical(rng.choice(["p", "q", None], n)),
            "catint": pd.Categorical(rng.choice([1, 2, 3], n)),
        }
    )
    enc = TabularEncoder().fit(frame)
    frame.loc[5, "s"] = "unseen"
    frame.loc[6, "mixed"] = 99
    for rows in (frame, frame.iloc[:3], frame.iloc[[7]]):  # factorize path and the one-by-one path
        out = enc.transform(rows)
        for j, col in enumerate(enc.categorical_columns_):
            expected = _general_codes(enc, rows, j).reshape(-1, 1)
            np.testing.assert_array_equal(out[enc.spec_.categorical[j].input_name], expected, err_msg=col)
    # A category column's code table is kept for the next rows of the same dtype, and only for it:
    # the same values under other categories (another order, a new one) get their own table.
    calls = []  # number_code on a category (the mixed column's Python numbers are looked up too)
    monkeypatch.setattr(coding, "number_code", lambda v, *a: calls.append(v) or _number_code(v, *a))
    for row in range(4):
        enc.transform(frame.iloc[[row]])
    assert not [v for v in calls if v in ("p", "q") or isinstance(v, np.integer)]  # the table kept above
    reordered = frame.assign(cat=frame["cat"].cat.reorder_categories(["q", "p"]),
                             catint=frame["catint"].cat.add_categories([4]))
    for rows in (reordered, reordered.iloc[[7]]):
        out = enc.transform(rows)
        for j in (3, 4):
            expected = _general_codes(enc, rows, j).reshape(-1, 1)
            np.testing.assert_array_equal(out[enc.spec_.categorical[j].input_name], expected)


def test_chunked_numeric_transform_is_exact(monkeypatch, diabetes_mixed):
    X, _ = diabetes_mixed
    enc = TabularEncoder().fit(X)
    whole = enc.transform(X)["numeric"]
    monkeypatch.setattr(coding, "CHUNK_ROWS", 7)
    np.testing.assert_array_equal(enc.transform(X)["numeric"], whole)
    # and the numbers are still the imputed, standardized columns plus indicators
    col = X.columns[0]
    filled = X[col].fillna(X[col].median()).to_numpy()
    np.testing.assert_allclose(whole[:, 0], (filled - filled.mean()) / filled.std(), rtol=1e-5, atol=1e-6)


def test_numpy_input_is_not_copied_by_to_frame():
    from keraslearn.preprocessing.validation import to_frame

    arr = np.random.default_rng(0).normal(size=(50, 4))
    frame, _ = to_frame(arr)
    assert np.shares_memory(frame.to_numpy(), arr)


# ------------------------------------------------------------------ benchmark smoke
# ------------------------------------------------------------------------ XLA options
@needs_jax
def test_fused_reductions_keep_reductions_out_of_library_calls():
    # XLA's CPU default sends each reduction to YNNPACK as a separate call (too many small
    # calls in TabNet's step); with FUSED_REDUCTIONS they stay in XLA's own fused kernels.
    import jax
    import jax.numpy as jnp

    from keraslearn.training import xla

    x = np.random.default_rng(0).normal(size=(1024, 32)).astype("float32")

    def stats(v):
        return jnp.sum(v, axis=0), jnp.sum(v * v, axis=0)

    ours = xla.jit(stats, xla.FUSED_REDUCTIONS)
    assert "__ynn_fusion" not in ours.lower(x).compile().as_text()
    for a, b in zip(ours(x), jax.jit(stats)(x)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


@needs_jax
def test_xla_options_yield_to_the_users_flags_and_to_an_older_jaxlib(monkeypatch):
    from keraslearn.training import xla

    assert xla.usable(xla.FUSED_REDUCTIONS) == xla.FUSED_REDUCTIONS  # this jaxlib on CPU takes them
    assert xla.usable(None) == {}
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_REDUCE")
    assert xla._check(xla.FUSED_REDUCTIONS) == {}
    monkeypatch.delenv("XLA_FLAGS")
    assert xla._check({"xla_cpu_experimental_ynn_fusion_type": "NOT_A_FUSION_TYPE"}) == {}  # rejected: plain jit


@needs_jax
def test_learners_without_options_compile_with_xla_defaults(fitted):
    _, template = getattr(fitted.model_, compiled._LINK)  # the steps it was fitted with
    assert template.options == {}  # test and predict functions, and the fast-predict forward


@needs_jax
def test_short_fits_compile_their_train_and_test_steps_quickly_with_the_same_result(data, monkeypatch):
    # The MLP families compile a short fit's train and test steps with XLA's older emitters (half
    # the compile time, slightly slower steps); longer fits and every predict function keep the defaults.
    from keraslearn.training import xla

    assert xla.usable(xla.QUICK_COMPILE) == xla.QUICK_COMPILE  # this jaxlib on CPU takes it
    X, y = data
    params = dict(TINY, dropout=0.1, validation_fraction=0.2)  # 2 epochs of ceil(200 / 16) = 13 batches: 26 steps
    compiled.clear()
    monkeypatch.setattr(compiled, "SHORT_FIT_STEPS", 26)
    short = FFRegressor(**params).fit(X, y)
    _, quick = getattr(short.model_, compiled._LINK)
    assert quick.fit_options == xla.QUICK_COMPILE and quick.options == {}
    monkeypatch.setattr(compiled, "SHORT_FIT_STEPS", 25)
    long = FFRegressor(**params).fit(X, y)
    _, default = getattr(long.model_, compiled._LINK)
    assert default is not quick and default.fit_options == {} and default.options == {}
    np.testing.assert_allclose(long.predict(X), short.predict(X), rtol=1e-5, atol=1e-6)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(long.history_[key], short.history_[key], rtol=1e-5, err_msg=key)
    compiled.clear()


@pytest.mark.slow
@needs_jax
def test_speed_benchmark_quick_run_writes_results(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    import speed

    assert speed.main(["--quick", "--sections", "epoch", "predict", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "speed-latest-quick.json").read_text())
    epoch = payload["results"]["epoch:diamonds"]
    assert set(epoch) == {"keraslearn", "jax_loop"} and epoch["keraslearn"]["median"]["epoch_cpu"] > 0
    targets = {t["target"] for t in payload["targets"]}
    assert {"FF epoch <= 1.2x the hand-written JAX loop", "one-row predict p50 <= 1 ms"} <= targets
    assert (tmp_path / "speed-latest-quick.png").stat().st_size > 0
    # A merged result merges again (its rounds and threads are already lists).
    latest = str(tmp_path / "speed-latest-quick.json")
    assert speed.main(["--merge", latest, latest, "--out", str(tmp_path), "--tag", "m1"]) == 0
    merged = str(tmp_path / "speed-latest-m1.json")
    assert speed.main(["--merge", merged, latest, "--out", str(tmp_path), "--tag", "m2"]) == 0
    again = json.loads((tmp_path / "speed-latest-m2.json").read_text())
    assert again["rounds"] == [1] and again["results"].keys() == payload["results"].keys()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="binding to cores needs Linux")
def test_speed_benchmark_binds_each_worker_to_the_asked_cores(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import speed

    probe = [sys.executable, "-c", "import os; print(len(os.sched_getaffinity(0)))"]
    bound = subprocess.run(probe, capture_output=True, text=True, check=True, preexec_fn=speed._pinned(1))
    assert bound.stdout.strip() == "1"
    assert speed._pinned(0) is None  # --threads 0 / --no-pin: the worker sees every core
