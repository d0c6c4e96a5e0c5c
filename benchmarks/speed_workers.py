"""One measurement per call, run in a fresh process by benchmarks/speed.py (or in-process with --quick).

Each worker takes a config dict and returns a dict of numbers. Times come in pairs:
``*_s`` wall seconds and ``*_cpu`` CPU seconds of the process (``time.process_time``); with
one thread per framework the CPU time is what the wall time would be on an idle core, so
it is the robust figure on a shared, oversubscribed machine.
"""

from __future__ import annotations

import gc
import os
import statistics
import time

import numpy as np

import keraslearn  # noqa: F401  (selects the backend before any peer imports keras)
import speed_data
import speed_peers as peers

UNITS = (256, 128)
BATCH = 256
LR = 1e-3


class Clock:
    """Wall and CPU seconds of a block: ``with Clock() as c: ...; c.wall, c.cpu``."""

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c


def _task(y, clf):
    return ("binary", 2) if clf else ("regression", None, 1)


def _steady(times, i):
    """Median epoch time (i=0 wall, 1 CPU) without the first epoch (which compiles)."""
    vals = [t[i] for t in times]
    return statistics.median(vals[1:]) if len(vals) > 1 else vals[0]


def _ff(clf, **kw):
    from keraslearn import FFClassifier, FFRegressor

    params = dict(layer_units=UNITS, batch_size=BATCH, learning_rate=LR, validation_fraction=0.0,
                  early_stopping=False, random_state=0)
    params.update(kw)
    return (FFClassifier if clf else FFRegressor)(**params)


def _data(cfg):
    kw = {"n": cfg["n"]} if cfg.get("n") else {}
    return speed_data.load(cfg["data"], **kw)


def _standardized(y):
    return ((y - y.mean()) / y.std()).astype(np.float32)


# ---------------------------------------------------------------------------- epoch time
def epoch(cfg):
    """Seconds per epoch (steady state) and for the whole fit, one contender."""
    X, y = _data(cfg)
    clf, epochs, who = cfg["clf"], cfg["epochs"], cfg["who"]
    out = {}
    if who.startswith("keraslearn"):
        from keraslearn.training import compiled

        if who.startswith("keraslearn_spe"):  # steps per XLA call (default 32)
            compiled.STEPS_PER_EXECUTION = int(who[len("keraslearn_spe"):])
        if who == "keraslearn_long_fit":  # the train step a fit of more than SHORT_FIT_STEPS steps gets
            compiled.SHORT_FIT_STEPS = 0
        est = _ff(clf, epochs=epochs, callbacks=[peers.epoch_timer("kl")], **cfg.get("params", {}))
        with Clock() as c:
            est.fit(X, y)
        times = peers.EPOCH_TIMES["kl"]
        out["final_loss"] = est.history_["loss"][-1]
    else:
        xd, spec = peers.encode(X, y, _task(y, clf))
        yy = y if clf else _standardized(y)
        if who == "jax_loop":
            with Clock() as c:
                times, losses = peers.jax_loop(xd, yy, spec, UNITS, LR, epochs, BATCH)
            out["final_loss"] = losses[-1]
        elif who == "keras_wrapper":
            est = peers.keras_wrapper(spec, UNITS, LR, epochs, BATCH, callbacks=[peers.epoch_timer("kw")])
            xm = peers.as_matrix(xd, spec)
            with Clock() as c:
                est.fit(xm, yy)
            times = peers.EPOCH_TIMES["kw"]
            out["final_loss"] = float(est.history_.history["loss"][-1])
        elif who == "skorch":
            net = peers.skorch_net(spec, UNITS, LR, epochs, BATCH, callbacks=[peers.skorch_epoch_timer("sk")])
            xt = peers.torch_inputs(xd, spec)
            with Clock() as c:
                net.fit(xt, peers.skorch_target(yy, spec))
            times = peers.EPOCH_TIMES["sk"]
            out["final_loss"] = float(net.history[-1, "train_loss"])
        else:
            raise ValueError(who)
    out.update(epoch_s=_steady(times, 0), epoch_cpu=_steady(times, 1), first_epoch_s=times[0][0],
               first_epoch_cpu=times[0][1], fit_s=c.wall, fit_cpu=c.cpu, rows=len(y))
    return out


# ------------------------------------------------------------------ CV and tuning (small)
def _cv_once(who, X, y, cfg, xd=None, spec=None):
    from sklearn.model_selection import KFold, cross_validate

    cv = KFold(cfg["folds"], shuffle=True, random_state=0)
    epochs = cfg["epochs"]
    if who.startswith("keraslearn"):
        est, Xin, yin = _ff(False, epochs=epochs), X, y
    elif who == "keras_wrapper":
        est, Xin, yin = peers.keras_wrapper(spec, UNITS, LR, epochs, BATCH), peers.as_matrix(xd, spec), _standardized(y)
    elif who == "skorch":
        est = peers.skorch_net(spec, UNITS, LR, epochs, BATCH)
        Xin, yin = peers.torch_inputs(xd, spec), _standardized(y).reshape(-1, 1)
    else:
        raise ValueError(who)
    with Clock() as c:
        res = cross_validate(est, Xin, yin, cv=cv, scoring="r2")
    return c, float(np.mean(res["test_score"]))


def cv(cfg):
    """k-fold cross_validate on small data, twice in the same process (fresh process, then warm)."""
    X, y = _data(cfg)
    who = cfg["who"]
    xd = spec = None
    if not who.startswith("keraslearn"):
        xd, spec = peers.encode(X, y, ("regression", None, 1))
    c1, r2 = _cv_once(who, X, y, cfg, xd, spec)
    c2, _ = _cv_once(who, X, y, cfg, xd, spec)
    return {"cv_s": c1.wall, "cv_cpu": c1.cpu, "cv_again_s": c2.wall, "cv_again_cpu": c2.cpu, "r2": r2}


def _trials(n, seed=0):
    rng = np.random.default_rng(seed)
    choices = [(256, 128), (128, 64)]
    return [(float(10 ** rng.uniform(-4, -2)), choices[int(rng.integers(len(choices)))]) for _ in range(n)]


def _import_framework(who):
    """Import a contender's framework before its clock starts: the sections time work, not imports.

    (keras with jax and keraslearn's learners: about 1.2 s; torch with skorch: about 1.6 s.)
    """
    if who.startswith("keraslearn"):
        import keraslearn.learners  # noqa: F401
    elif who == "keras_wrapper":
        import keras.wrappers  # noqa: F401
    elif who == "skorch":
        import skorch  # noqa: F401
        import torch  # noqa: F401


def tune(cfg):
    """A random search (learning_rate x layer sizes) on a train/holdout split of small data."""
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    X, y = _data(cfg)
    who, epochs = cfg["who"], cfg["epochs"]
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0)
    ys = _standardized(y)
    if not who.startswith("keraslearn"):
        xd, spec = peers.encode(X, y, ("regression", None, 1))
        xm = peers.as_matrix(xd, spec)
    _import_framework(who)
    best = -np.inf
    with Clock() as c:
        for lr, units in _trials(cfg["trials"]):
            if who.startswith("keraslearn"):
                est = _ff(False, epochs=epochs, learning_rate=lr, layer_units=units)
                est.fit(X.iloc[idx_tr], y[idx_tr])
                score = r2_score(y[idx_te], est.predict(X.iloc[idx_te]))
            elif who == "keras_wrapper":
                est = peers.keras_wrapper(spec, units, lr, epochs, BATCH).fit(xm[idx_tr], ys[idx_tr])
                score = r2_score(ys[idx_te], est.predict(xm[idx_te]))
            elif who == "skorch":
                net = peers.skorch_net(spec, units, lr, epochs, BATCH).fit(xm[idx_tr], ys[idx_tr].reshape(-1, 1))
                score = r2_score(ys[idx_te], net.predict(xm[idx_te]).ravel())
            else:
                raise ValueError(who)
            best = max(best, score)
    return {"tune_s": c.wall, "tune_cpu": c.cpu, "best_r2": float(best)}


# ------------------------------------------------------------------------------ predict
def _p50(fn, n):
    wall, cpu = [], []
    for _ in range(n):
        with Clock() as c:
            fn()
        wall.append(c.wall)
        cpu.append(c.cpu)
    return statistics.median(wall), statistics.median(cpu)


def predict(cfg):
    """One-row latency (p50) and ``n_big``-row throughput, DataFrame and numpy input.

    The two inputs time two different networks. "frame" is the whole table (diamonds: 6 numbers
    and 3 categorical columns, embedded, so the first Dense layer is (22, 256)). "numpy" is the
    float64 array of the numeric columns only: diamonds' 3 categorical columns are dropped, as a
    NumPy float array has no categories, so its model is a smaller one (first Dense (6, 256),
    about 11% fewer FLOPs a row) fitted on less information, and no category codes are encoded.
    The "numpy" figures are the array path's overhead on that smaller network, not the same
    model's speed from another input type.
    """
    X, y = _data(cfg)
    who, reps, n_big = cfg["who"], cfg["reps"], cfg["n_big"]
    big, one = X.iloc[:n_big], X.iloc[[0]]
    # numeric columns only (see the docstring): a smaller network than the DataFrame's
    Xnum = X[[c for c in X.columns if X[c].dtype.kind == "f"]].to_numpy(np.float64)
    if who.startswith("keraslearn"):
        est = _ff(False, epochs=cfg["epochs"]).fit(X, y)
        est_num = _ff(False, epochs=cfg["epochs"]).fit(Xnum, y)
        pred = (lambda e, x: e.predict(x))
        if who == "keraslearn_keras_predict":  # for reference: Keras' model.predict on the encoded rows
            def pred(e, x):
                xe = e._encode_X(x)
                return e.model_.predict(xe, batch_size=min(len(x), 8192), verbose=0)

        fns = {
            "frame": (lambda: pred(est, one), lambda: pred(est, big)),
            "numpy": (lambda: pred(est_num, Xnum[:1]), lambda: pred(est_num, Xnum[:n_big])),
        }
    else:
        xd, spec = peers.encode(X, y, ("regression", None, 1))
        ys, xm = _standardized(y), peers.as_matrix(xd, spec)
        if who == "keras_wrapper":
            est = peers.keras_wrapper(spec, UNITS, LR, cfg["epochs"], BATCH).fit(xm, ys)
        elif who == "skorch":
            est = peers.skorch_net(spec, UNITS, LR, cfg["epochs"], BATCH).fit(xm, ys.reshape(-1, 1))
        else:
            raise ValueError(who)
        fns = {"encoded": (lambda: est.predict(xm[:1]), lambda: est.predict(xm[:n_big]))}
    out = {}
    for kind, (f1, fbig) in fns.items():
        f1(), fbig()  # warm up: compile / allocate once
        out[f"one_row_ms_{kind}"], out[f"one_row_cpu_ms_{kind}"] = (1e3 * t for t in _p50(f1, reps))
        wall, cpu = _p50(fbig, max(5, reps // 20))
        out[f"rows_per_s_{kind}"], out[f"rows_per_cpu_s_{kind}"] = n_big / wall, n_big / cpu
    return out


# ---------------------------------------------------------------------------------- RSS
def _rss_bytes(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def rss(cfg):
    """Peak RSS added by fit() over the RSS before it, next to the size of the raw data."""
    X, y = _data(cfg)
    if cfg.get("numpy"):
        X = X.select_dtypes("number").to_numpy(np.float64)
    raw = speed_data.frame_nbytes(X) + y.nbytes
    if cfg.get("warm"):
        # A first small fit pays the fixed costs (lazy imports, the XLA compiler's memory,
        # compiled steps), so that what remains is the memory the data itself costs.
        _ff(False, epochs=1).fit(X[:3000], y[:3000])
    est = _ff(False, epochs=cfg["epochs"])
    gc.collect()
    base, base_file = _rss_bytes("VmRSS"), _rss_bytes("RssFile")
    try:  # reset the high-water mark so that VmHWM is the peak during fit
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    with Clock() as c:
        est.fit(X, y)
    peak = _rss_bytes("VmHWM")
    # RSS counts the pages of shared libraries a process has touched. Compiling the first XLA
    # program pages in much of jaxlib's compiler code: file-backed, shared with other processes,
    # the same for any data size. Its growth is measured after fit (such pages are not dropped
    # while the process runs) to give the anonymous memory at the peak as well.
    code = _rss_bytes("RssFile") - base_file
    return {"raw_bytes": raw, "base_rss": base, "peak_rss": peak, "fit_peak_delta": peak - base,
            "ratio": (peak - base) / raw, "fit_s": c.wall, "fit_cpu": c.cpu, "rows": len(y),
            "hwm_reset": reset, "code_pages": code, "anon_ratio": (peak - base - code) / raw}


def tabnet(cfg):
    import speed_tabnet

    return speed_tabnet.tabnet(cfg)


WORKERS = {"epoch": epoch, "cv": cv, "tune": tune, "predict": predict, "rss": rss, "tabnet": tabnet}


def run(section, cfg):
    if cfg.get("threads"):
        os.environ.setdefault("OMP_NUM_THREADS", str(cfg["threads"]))
    return WORKERS[section](cfg)
