"""One measurement per call, run in a fresh process by benchmarks/speed.py (or in-process with --quick).

Each worker takes a config dict and returns a dict of numbers (seconds, rows/s, bytes).
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


def _task(y, clf):
    return ("binary", 2) if clf else ("regression", None, 1)


def _steady(times):
    """Median epoch time without the first epoch (which compiles)."""
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def _ff(clf, **kw):
    from keraslearn import FFClassifier, FFRegressor

    params = dict(layer_units=UNITS, batch_size=BATCH, learning_rate=LR, validation_fraction=0.0,
                  early_stopping=False, random_state=0)
    params.update(kw)
    return (FFClassifier if clf else FFRegressor)(**params)


def _data(cfg):
    kw = {"n": cfg["n"]} if cfg.get("n") else {}
    return speed_data.load(cfg["data"], **kw)


# ---------------------------------------------------------------------------- epoch time
def epoch(cfg):
    """Seconds per epoch (steady state) and for the whole fit, one contender."""
    X, y = _data(cfg)
    clf, epochs, who = cfg["clf"], cfg["epochs"], cfg["who"]
    out = {}
    if who.startswith("keraslearn"):
        extra = cfg.get("params", {})
        est = _ff(clf, epochs=epochs, callbacks=[peers.epoch_timer("kl")], **extra)
        t0 = time.perf_counter()
        est.fit(X, y)
        out["fit_s"] = time.perf_counter() - t0
        times = peers.EPOCH_TIMES["kl"]
        out["final_loss"] = est.history_["loss"][-1]
    else:
        xd, spec = peers.encode(X, y, _task(y, clf))
        if who == "jax_loop":
            yy = y if clf else (y - y.mean()) / y.std()
            t0 = time.perf_counter()
            times, losses = peers.jax_loop(xd, yy, spec, UNITS, LR, epochs, BATCH)
            out["fit_s"] = time.perf_counter() - t0
            out["final_loss"] = losses[-1]
        elif who == "keras_wrapper":
            est = peers.keras_wrapper(spec, UNITS, LR, epochs, BATCH, callbacks=[peers.epoch_timer("kw")])
            xm = peers.as_matrix(xd, spec)
            yy = y if clf else ((y - y.mean()) / y.std()).astype(np.float32)
            t0 = time.perf_counter()
            est.fit(xm, yy)
            out["fit_s"] = time.perf_counter() - t0
            times = peers.EPOCH_TIMES["kw"]
            out["final_loss"] = float(est.history_.history["loss"][-1])
        elif who == "skorch":
            net = peers.skorch_net(spec, UNITS, LR, epochs, BATCH)
            xt = peers.torch_inputs(xd, spec)
            yy = y if clf else (y - y.mean()) / y.std()
            t0 = time.perf_counter()
            net.fit(xt, peers.skorch_target(yy, spec))
            out["fit_s"] = time.perf_counter() - t0
            times = list(net.history[:, "dur"])
            out["final_loss"] = float(net.history[-1, "train_loss"])
        else:
            raise ValueError(who)
    out["epoch_s"] = _steady(times)
    out["first_epoch_s"] = times[0]
    out["rows"] = len(y)
    return out


# ------------------------------------------------------------------ CV and tuning (small)
def _cv_once(who, X, y, cfg, xd=None, spec=None):
    from sklearn.model_selection import KFold, cross_validate

    cv = KFold(cfg["folds"], shuffle=True, random_state=0)
    epochs = cfg["epochs"]
    ys = ((y - y.mean()) / y.std()).astype(np.float32)
    if who.startswith("keraslearn"):
        est, Xin, yin = _ff(False, epochs=epochs), X, y
    elif who == "keras_wrapper":
        est, Xin, yin = peers.keras_wrapper(spec, UNITS, LR, epochs, BATCH), peers.as_matrix(xd, spec), ys
    elif who == "skorch":
        est, Xin, yin = peers.skorch_net(spec, UNITS, LR, epochs, BATCH), peers.torch_inputs(xd, spec), ys.reshape(-1, 1)
    else:
        raise ValueError(who)
    t0 = time.perf_counter()
    res = cross_validate(est, Xin, yin, cv=cv, scoring="r2")
    return time.perf_counter() - t0, float(np.mean(res["test_score"]))


def cv(cfg):
    """5-fold cross_validate on small data, twice in the same process (cold, then warm)."""
    X, y = _data(cfg)
    who = cfg["who"]
    xd = spec = None
    if not who.startswith("keraslearn"):
        xd, spec = peers.encode(X, y, ("regression", None, 1))
    t1, r2 = _cv_once(who, X, y, cfg, xd, spec)
    t2, _ = _cv_once(who, X, y, cfg, xd, spec)
    return {"cv_s": t1, "cv_again_s": t2, "r2": r2}


def _trials(n, seed=0):
    rng = np.random.default_rng(seed)
    choices = [(256, 128), (128, 64)]
    return [(float(10 ** rng.uniform(-4, -2)), choices[int(rng.integers(len(choices)))]) for _ in range(n)]


def tune(cfg):
    """A random search (learning_rate x layer sizes) on a train/holdout split of small data."""
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    X, y = _data(cfg)
    who, epochs = cfg["who"], cfg["epochs"]
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0)
    ys = ((y - y.mean()) / y.std()).astype(np.float32)
    if not who.startswith("keraslearn"):
        xd, spec = peers.encode(X, y, ("regression", None, 1))
    best = -np.inf
    t0 = time.perf_counter()
    for lr, units in _trials(cfg["trials"]):
        if who.startswith("keraslearn"):
            est = _ff(False, epochs=epochs, learning_rate=lr, layer_units=units)
            est.fit(X.iloc[idx_tr], y[idx_tr])
            score = r2_score(y[idx_te], est.predict(X.iloc[idx_te]))
        elif who == "keras_wrapper":
            xm = peers.as_matrix(xd, spec)
            est = peers.keras_wrapper(spec, units, lr, epochs, BATCH).fit(xm[idx_tr], ys[idx_tr])
            score = r2_score(ys[idx_te], est.predict(xm[idx_te]))
        elif who == "skorch":
            xt = peers.torch_inputs(xd, spec)
            net = peers.skorch_net(spec, units, lr, epochs, BATCH).fit(xt[idx_tr], ys[idx_tr].reshape(-1, 1))
            score = r2_score(ys[idx_te], net.predict(xt[idx_te]).ravel())
        best = max(best, score)
    return {"tune_s": time.perf_counter() - t0, "best_r2": float(best)}


# ------------------------------------------------------------------------------ predict
def _p50(fn, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def predict(cfg):
    """One-row latency (p50) and 10k-row throughput, DataFrame and numpy input."""
    X, y = _data(cfg)
    who, reps = cfg["who"], cfg["reps"]
    big = X.iloc[: cfg["n_big"]]
    one = X.iloc[[0]]
    num_cols = [c for c in X.columns if X[c].dtype.kind == "f"]
    Xnum = X[num_cols].to_numpy(np.float64)
    out = {}
    if who.startswith("keraslearn"):
        est = _ff(False, epochs=cfg["epochs"]).fit(X, y)
        est_num = _ff(False, epochs=cfg["epochs"]).fit(Xnum, y)
        fns = {
            "frame": (lambda: est.predict(one), lambda: est.predict(big)),
            "numpy": (lambda: est_num.predict(Xnum[:1]), lambda: est_num.predict(Xnum[: cfg["n_big"]])),
        }
        if who == "keraslearn_keras_predict":  # the path before this work: Keras' model.predict
            def kp(e, x):
                xe = e._encode_X(x)
                return e.model_.predict(xe, batch_size=min(len(x), 8192), verbose=0)

            fns = {
                "frame": (lambda: kp(est, one), lambda: kp(est, big)),
                "numpy": (lambda: kp(est_num, Xnum[:1]), lambda: kp(est_num, Xnum[: cfg["n_big"]])),
            }
    else:
        xd, spec = peers.encode(X, y, ("regression", None, 1))
        ys = ((y - y.mean()) / y.std()).astype(np.float32)
        if who == "keras_wrapper":
            xm = peers.as_matrix(xd, spec)
            est = peers.keras_wrapper(spec, UNITS, LR, cfg["epochs"], BATCH).fit(xm, ys)
            fns = {"encoded": (lambda: est.predict(xm[:1]), lambda: est.predict(xm[: cfg["n_big"]]))}
        elif who == "skorch":
            xt = peers.torch_inputs(xd, spec)
            net = peers.skorch_net(spec, UNITS, LR, cfg["epochs"], BATCH).fit(xt, ys.reshape(-1, 1))
            fns = {"encoded": (lambda: net.predict(xt[:1]), lambda: net.predict(xt[: cfg["n_big"]]))}
        else:
            raise ValueError(who)
    for kind, (f1, fbig) in fns.items():
        f1(), fbig()  # warm up: compile / allocate once
        out[f"one_row_p50_ms_{kind}"] = 1e3 * _p50(f1, reps)
        t = _p50(fbig, max(5, reps // 20))
        out[f"rows_per_s_{kind}"] = cfg["n_big"] / t
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
    est = _ff(False, epochs=cfg["epochs"])
    gc.collect()
    base = _rss_bytes("VmRSS")
    try:  # reset the high-water mark so VmHWM is the peak during fit
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - t0
    peak = _rss_bytes("VmHWM")
    return {"raw_bytes": raw, "base_rss": base, "peak_rss": peak, "fit_peak_delta": peak - base,
            "ratio": (peak - base) / raw, "fit_s": fit_s, "rows": len(y)}


WORKERS = {"epoch": epoch, "cv": cv, "tune": tune, "predict": predict, "rss": rss}


def run(section, cfg):
    if cfg.get("threads"):
        os.environ.setdefault("OMP_NUM_THREADS", str(cfg["threads"]))
    return WORKERS[section](cfg)
