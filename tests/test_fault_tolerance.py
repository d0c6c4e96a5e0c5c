"""Fault tolerance: resumable fits after a real SIGKILL, and atomic artifact saving."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import keras
import numpy as np
import pytest

import keraslearn
from keraslearn import FFClassifier, FFRegressor
from keraslearn.training import checkpoint
from keraslearn.training.checkpoint import FILENAME

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, X @ np.array([1.0, 2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=n)


def _env():
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("KERAS_BACKEND", keraslearn.BACKEND)
    return env


def _spawn(tmp_path, code):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen([sys.executable, str(script)], env=_env(), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate, proc, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"child exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("timed out waiting for the child")


def _checkpoint_epoch(directory):
    try:
        with zipfile.ZipFile(os.path.join(directory, FILENAME)) as z:
            return json.loads(z.read("state.json"))["epoch"]
    except (OSError, KeyError, zipfile.BadZipFile):
        return 0


class _EpochLog(keras.callbacks.Callback):
    epochs = []  # a class attribute: fit deep-copies the callbacks it is given

    def on_epoch_begin(self, epoch, logs=None):
        _EpochLog.epochs.append(epoch)


_PARAMS = dict(epochs=40, layer_units=(16,), dropout=0.2, batch_size=32, early_stopping=False, random_state=0)


@pytest.mark.slow
def test_fit_resumes_after_sigkill(tmp_path):
    ckpt = tmp_path / "ckpt"
    proc = _spawn(tmp_path, f"""
        import time, keras, numpy as np, keraslearn
        from keraslearn import FFRegressor

        class Slow(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                time.sleep(0.15)

        rng = np.random.default_rng(0)
        X = rng.normal(size=(120, 4))
        y = X @ np.array([1.0, 2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=120)
        FFRegressor(**{_PARAMS!r}, callbacks=[Slow()]).fit(X, y, checkpoint_dir={str(ckpt)!r})
    """)
    _wait_for(lambda: _checkpoint_epoch(ckpt) >= 3, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = _checkpoint_epoch(ckpt)
    assert 3 <= saved < 40
    # The file at the path is always a complete checkpoint; no half-written temp file is read.
    X, y = _data()
    _EpochLog.epochs = []
    resumed = FFRegressor(**_PARAMS, callbacks=[_EpochLog()]).fit(X, y, checkpoint_dir=ckpt)
    assert _EpochLog.epochs == list(range(saved, 40))
    assert len(resumed.history_["loss"]) == 40 and resumed.n_iter_ == 40
    assert np.all(np.isfinite(resumed.predict(X)))
    assert not ckpt.exists()  # removed once the fit completed
    # Model, optimizer, validation split and random state were all restored: the resumed
    # fit ends exactly where an uninterrupted one does.
    straight = FFRegressor(**_PARAMS).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), straight.predict(X))
    assert resumed.history_["loss"] == straight.history_["loss"]


class _Crash(keras.callbacks.Callback):
    """Dies at the end of epoch ``at``, before that epoch's checkpoint (user callbacks run first)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_resume_keeps_early_stopping_state_and_split(monkeypatch, tmp_path, iris_mixed):
    X, y = iris_mixed
    monkeypatch.setattr(checkpoint, "WRITE_EVERY_S", 0)  # a write at every epoch: the lost one is known
    params = dict(epochs=30, patience=2, layer_units=(8,), batch_size=32, validation_fraction=0.2)
    with pytest.raises(KeyboardInterrupt):  # random_state=None: the split seed is kept in the checkpoint
        FFClassifier(**params, callbacks=[_Crash(4)]).fit(X, y, checkpoint_dir=tmp_path)
    assert _checkpoint_epoch(tmp_path) == 4  # epochs 0-3 saved; epoch 4 is the one lost
    with zipfile.ZipFile(tmp_path / FILENAME) as z:
        state = json.loads(z.read("state.json"))
    assert state["split_seed"] is not None and "best" in state["early_stopping"]
    resumed = FFClassifier(**params).fit(X, y, checkpoint_dir=tmp_path)
    n = resumed.n_iter_
    assert 4 < n <= 30 and len(resumed.history_["val_loss"]) == n
    # Early stopping went on counting across the interruption: it stopped (or ran out of
    # epochs) patience epochs after the best validation loss of the whole history.
    val = resumed.history_["val_loss"]
    assert n == 30 or n - 1 - int(np.argmin(val)) == params["patience"]


@pytest.mark.torch
def test_resumed_fit_equals_an_uninterrupted_one(monkeypatch, tmp_path):
    """In-process interruption, on every backend (the torch pass runs it on torch)."""
    monkeypatch.setattr(checkpoint, "WRITE_EVERY_S", 0)
    X, y = _data()
    params = dict(epochs=8, layer_units=(16,), dropout=0.2, batch_size=32, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(**params, callbacks=[_Crash(2)]).fit(X, y, checkpoint_dir=tmp_path)
    assert _checkpoint_epoch(tmp_path) == 2
    resumed = FFRegressor(**params).fit(X, y, checkpoint_dir=tmp_path)
    straight = FFRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), straight.predict(X))
    assert resumed.history_ == straight.history_


class _CtrlCDiscarded(keras.callbacks.Callback):
    """A Ctrl-C at the end of epoch ``at`` that lands in code discarding it, as Keras' ``pythonify_logs`` (a bare
    ``except``) does while it waits for an epoch's results; records the epochs that ended."""

    ended = []

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        _CtrlCDiscarded.ended.append(epoch)
        # The fit's handler says what it runs (the command line's SIGTERM handler asks which SIGINT's is).
        _CtrlCDiscarded.wrapped = getattr(signal.getsignal(signal.SIGINT), "__wrapped__", None)
        if epoch == self.at:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass


def test_a_ctrl_c_keras_discards_still_stops_the_fit_and_keeps_the_learner():
    """QA in a Jupyter kernel: an interrupt during fit was lost 3 times of 3 and the fit ran to its last epoch
    (a refit replaced the model): Keras discarded the KeyboardInterrupt where it waited for the epoch's logs."""
    X, y = _data()
    learner = FFRegressor(epochs=2, layer_units=(8,), random_state=0).fit(X, y)
    before = learner.predict(X)
    _CtrlCDiscarded.ended = []
    with pytest.raises(KeyboardInterrupt):
        learner.set_params(epochs=50, early_stopping=False, callbacks=[_CtrlCDiscarded(1)]).fit(X, y)
    assert _CtrlCDiscarded.ended == [0, 1]  # stopped at the next boundary, not after epoch 50
    assert _CtrlCDiscarded.wrapped is signal.default_int_handler
    np.testing.assert_array_equal(learner.predict(X), before)  # the earlier fit's model, kept
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler given back
    # One discarded after the last boundary (Keras' on_train_end reads the last logs the same way) stops it too.
    with pytest.raises(KeyboardInterrupt):
        learner.set_params(epochs=2, callbacks=[_CtrlCDiscardedAtEnd()]).fit(X, y)
    np.testing.assert_array_equal(learner.predict(X), before)
    # A handler the user's code sets during the fit is the user's after it (review: the fit's restore replaced it).
    try:
        learner.set_params(epochs=1, callbacks=[_SetsHandler()]).fit(X, y)
        assert signal.getsignal(signal.SIGINT) is _own_handler
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _own_handler(signum, frame):
    pass


class _SetsHandler(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        signal.signal(signal.SIGINT, _own_handler)


class _CtrlCDiscardedAtEnd(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass


class _CrashAtEnd(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        raise KeyboardInterrupt


def test_killed_after_early_stopping_ends_with_the_best_weights(tmp_path):
    """Died after the last epoch's checkpoint, before the best weights were restored."""
    X, y = _data()
    params = dict(epochs=200, patience=1, layer_units=(16,), learning_rate=0.05, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(**params, callbacks=[_CrashAtEnd()]).fit(X, y, checkpoint_dir=tmp_path)
    with zipfile.ZipFile(tmp_path / FILENAME) as z:
        assert json.loads(z.read("state.json"))["stopped"]
    _EpochLog.epochs = []
    resumed = FFRegressor(**params, callbacks=[_EpochLog()]).fit(X, y, checkpoint_dir=tmp_path)
    straight = FFRegressor(**params).fit(X, y)
    assert _EpochLog.epochs == [] and resumed.n_iter_ == straight.n_iter_ < 200
    np.testing.assert_array_equal(resumed.predict(X), straight.predict(X))


def _edit_json_member(path, member, edit):
    """Rewrite the zip ``path`` with ``edit(d)`` applied to its JSON member ``member``."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    data = json.loads(members[member])
    edit(data)
    members[member] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)


def test_a_checkpoint_from_before_batch_size_auto_says_how_to_resume(tmp_path):
    """Upgrade QA: a checkpoint written when batch_size's default was 256 (no fingerprint_parts then) was
    refused as "a different fit" by the same call; batch_size=256 resumes it."""
    X, y = _data()
    params = dict(epochs=5, layer_units=(8,), random_state=0)
    tmp_path = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(**params, batch_size=256, callbacks=[_Crash(1)]).fit(X, y, checkpoint_dir=tmp_path)
    _edit_json_member(tmp_path / FILENAME, "state.json", lambda state: state.pop("fingerprint_parts"))  # as then
    with pytest.raises(ValueError, match=r"written before batch_size's default became \"auto\", when it was 256: "
                                         r"pass batch_size=256 to resume it"):
        FFRegressor(**params).fit(X, y, checkpoint_dir=tmp_path)
    (tmp_path / ".keraslearn-checkpoint-0123456789abcdef.tmp").write_bytes(b"a write a kill cut short")
    _EpochLog.epochs = []
    FFRegressor(**params, batch_size=256, callbacks=[_EpochLog()]).fit(X, y, checkpoint_dir=tmp_path)
    assert _EpochLog.epochs == [1, 2, 3, 4]  # resumed after the epoch written
    assert not tmp_path.exists()  # the finished fit removed its folder: the killed write's temp file kept it
    # Another writer's temp file in the folder (a save beside the checkpoint) is not the checkpoint's to remove.
    from keraslearn._atomic import atomic_file
    from keraslearn.training.checkpoint import FitCheckpoint

    with atomic_file(tmp_path / "model.keraslearn") as f:
        f.write(b"data")
        FitCheckpoint(tmp_path, "x").remove()
    assert (tmp_path / "model.keraslearn").read_bytes() == b"data"


def test_checkpoint_of_another_fit_is_refused(tmp_path):
    X, y = _data()
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(epochs=5, layer_units=(8,), random_state=0, callbacks=[_Crash(1)]).fit(
            X, y, checkpoint_dir=tmp_path
        )
    for learner, data, what in [  # the message says what differs, to the parameter and its values
        (FFRegressor(epochs=5, layer_units=(9,), random_state=0), (X, y),
         r"parameters differ: layer_units \[8\] in the checkpoint, \[9\] now\)"),
        (FFRegressor(epochs=6, layer_units=(8,), random_state=1), (X, y),
         r"parameters differ: epochs 5 in the checkpoint, 6 now; random_state 0 in the checkpoint, 1 now\)"),
        (FFRegressor(epochs=5, layer_units=(8,), random_state=0), (X, y + 1), r"the training data differ \(y\)\)"),
        (FFRegressor(epochs=5, layer_units=(8,), random_state=0), (X + (np.arange(X.size) == 0).reshape(X.shape), y),
         r"the training data differ \(X\)\)"),
        (keraslearn.SMLPRegressor(epochs=5, random_state=0), (X, y),
         r"a checkpoint of FFRegressor, not of SMLPRegressor"),
    ]:
        with pytest.raises(ValueError, match="checkpoint of a different fit .*" + what):
            learner.fit(*data, checkpoint_dir=tmp_path)
    assert _checkpoint_epoch(tmp_path) == 1  # left untouched
    # An optimizer object: the setting that differs, not two whole configs; its automatic name ("adam_1" for a
    # process's second Adam) is no difference (review: a fresh, equal Adam was refused).
    own = tmp_path / "own"
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(epochs=5, layer_units=(8,), optimizer=keras.optimizers.Adam(1e-3), learning_rate=None,
                    callbacks=[_Crash(1)]).fit(X, y, checkpoint_dir=own)
    with pytest.raises(ValueError, match=r"\(parameters differ: optimizer learning_rate 0.001 in the checkpoint, "
                                         r"0.01 now\)"):
        FFRegressor(epochs=5, layer_units=(8,), optimizer=keras.optimizers.Adam(1e-2),
                    learning_rate=None).fit(X, y, checkpoint_dir=own)
    _EpochLog.epochs = []
    resumed = FFRegressor(epochs=5, layer_units=(8,), optimizer=keras.optimizers.Adam(1e-3), learning_rate=None,
                          callbacks=[_EpochLog()]).fit(X, y, checkpoint_dir=own)
    assert resumed.n_iter_ == 5 and _EpochLog.epochs == [1, 2, 3, 4]  # resumed after the epoch written
    with zipfile.ZipFile(tmp_path / FILENAME) as z:
        state = json.loads(z.read("state.json"))
    assert state["epoch"] == 1 and state["history"]["loss"]
    with pytest.raises(ValueError, match="is a file; pass a folder"):
        FFRegressor(epochs=5).fit(X, y, checkpoint_dir=tmp_path / FILENAME)
    # A place it cannot write fails before training, not after the first epoch (a CNN's could take an hour).
    (tmp_path / "a_file").write_text("")
    epochs = []
    counter = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    with pytest.raises(OSError, match=r"cannot write .*a_file/ck"):
        FFRegressor(epochs=2, callbacks=[counter]).fit(X, y, checkpoint_dir=tmp_path / "a_file" / "ck")
    assert epochs == []
    (tmp_path / FILENAME).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable keraslearn checkpoint"):
        FFRegressor(epochs=5, layer_units=(8,), random_state=0).fit(X, y, checkpoint_dir=tmp_path)


# ------------------------------------------------------------------ atomic saving
@pytest.mark.slow
def test_save_killed_midway_leaves_old_or_new_artifact(tmp_path):
    X, y = _data(200)
    path = tmp_path / "model.keraslearn"
    # A big-ish model (a few MB), so an interruption often lands in the middle of a write.
    FFRegressor(epochs=1, layer_units=(512, 512, 512), random_state=0).fit(X, y).save(path)
    proc = _spawn(tmp_path, f"""
        import numpy as np, keraslearn
        from keraslearn import FFRegressor
        X = np.random.default_rng(1).normal(size=(50, 4))
        m = FFRegressor(epochs=1, layer_units=(512, 512, 512), random_state=1).fit(X, X[:, 0])
        m.save({str(path)!r})  # one complete save first: on a loaded machine the kills below could all
        open("ready", "w").close()  # land in the first one, and the child's file would never be seen
        while True:
            m.save({str(path)!r})
    """)
    _wait_for(lambda: (tmp_path / "ready").exists(), proc)
    rng = np.random.default_rng(0)
    seen = set()
    try:
        # SIGSTOP freezes the writer at a random moment: what is on disk then is exactly what
        # a kill at that moment would leave. Check it, let it go on, repeat; then really kill it.
        for i in range(7):
            time.sleep(float(rng.uniform(0.02, 0.3)))
            sig = signal.SIGKILL if i == 6 else signal.SIGSTOP
            os.kill(proc.pid, sig)
            if sig == signal.SIGKILL:
                proc.wait()
            loaded = keraslearn.load(path)  # never absent, never partial
            assert np.all(np.isfinite(loaded.predict(X[:5])))
            seen.add(loaded.random_state)
            if sig == signal.SIGSTOP:
                os.kill(proc.pid, signal.SIGCONT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen <= {0, 1} and 1 in seen  # the parent's artifact, then only complete child ones
    # Temp files of killed writes have other names (".keraslearn-*.tmp"): they never shadow the
    # artifact, and the next save still replaces the file cleanly.
    assert all(p.name.endswith(".tmp") for p in tmp_path.iterdir() if p.name.startswith(".keraslearn-"))
    keraslearn.load(path).save(path)
    assert keraslearn.load(path).random_state == 1


def test_ctrl_c_while_a_model_and_its_report_are_written_waits_for_the_last_file(tmp_path):
    """keraslearn fit writes the model, its curve and its metrics: a Ctrl-C between the first and
    the last left a new model beside the previous run's metrics, which said nothing was written."""
    from keraslearn._atomic import atomic_file, interrupts_deferred

    with pytest.raises(KeyboardInterrupt, match=r"interrupted; the model and its metrics had been written"):
        with interrupts_deferred("the model and its metrics"):
            (tmp_path / "m.keraslearn").write_text("new")
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal arrives while the set is being written
            with atomic_file(tmp_path / "m_metrics.json", "w") as f:
                f.write("{}")
    assert (tmp_path / "m_metrics.json").read_text() == "{}"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is itself again


def test_checking_an_output_path_leaves_no_folders_behind(tmp_path):
    """The CLI checks its --out paths before training; a run that then fails left the folders it named."""
    from keraslearn._atomic import WriteError, check_writable

    check_writable(tmp_path / "runs" / "a" / "model.keraslearn")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "kept.txt").write_text("x")
    check_writable(tmp_path / "runs" / "b" / "model.keraslearn")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["kept.txt"]  # a folder that was there stays
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "sub" / "model.keraslearn")


def test_checkpoints_of_fast_epochs_are_written_about_once_a_second(tmp_path):
    """A write (fsync included) is ~25 ms: at every epoch it made millisecond epochs several times slower.
    The first epoch is written, then a second must pass; the resumed fit still ends as a straight one."""
    X, y = _data()
    params = dict(epochs=12, layer_units=(8,), batch_size=64, early_stopping=False, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        FFRegressor(**params, callbacks=[_Crash(9)]).fit(X, y, checkpoint_dir=tmp_path)
    assert 1 <= _checkpoint_epoch(tmp_path) < 9  # epochs 2-9 took less than a second each
    resumed = FFRegressor(**params).fit(X, y, checkpoint_dir=tmp_path)
    np.testing.assert_array_equal(resumed.predict(X), FFRegressor(**params).fit(X, y).predict(X))


def test_an_artifact_of_a_newer_keraslearn_names_both_versions(tmp_path):
    from keraslearn.io.artifact import FORMAT_VERSION

    X, y = _data()
    path = FFRegressor(epochs=1, layer_units=(4,), random_state=0).fit(X, y).save(tmp_path / "m.keraslearn")
    _edit_json_member(path, "keraslearn.json",
                      lambda meta: meta.update(format_version=FORMAT_VERSION + 1, keraslearn_version="9.0.0"))
    with pytest.raises(ValueError, match=rf"written by a newer keraslearn \(9\.0\.0, format {FORMAT_VERSION + 1}; "
                                         rf"this is {keraslearn.__version__}, format {FORMAT_VERSION}\): upgrade"):
        keraslearn.load(path)
