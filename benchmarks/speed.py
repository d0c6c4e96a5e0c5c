"""Speed benchmark: keraslearn vs Keras' sklearn wrapper, skorch and a hand-written JAX loop.

Usage::

    PYTHONPATH=src python benchmarks/speed.py              # full run (~30 min on 2 busy cores)
    PYTHONPATH=src python benchmarks/speed.py --quick      # smoke run: tiny data, in one process
    PYTHONPATH=src python benchmarks/speed.py --sections epoch cv --rounds 5
    PYTHONPATH=src python benchmarks/speed.py --sections epoch --who keraslearn jax_loop  # a few minutes
    PYTHONPATH=src python benchmarks/speed.py --render results/speed-latest.json          # tables only
    PYTHONPATH=src python benchmarks/speed.py --threads 0 --tag gpu                        # on a GPU machine

On a machine with a GPU every contender trains there: JAX (keraslearn, the loop, the Keras wrapper)
finds it itself, skorch and pytorch-tabnet get ``cuda`` when torch sees it. ``--threads 0`` lifts the
one-core binding; read wall seconds and ``samples_per_s`` there (CPU seconds also count the host's waiting).

Every measurement runs in a fresh process (so compilation, thread pools and memory are
measured as a user meets them); contenders take turns round by round so that the noise of a
shared machine hits them alike, and the table reports medians over rounds and the ratios
between medians of the same run. Results: ``benchmarks/results/speed-<time>.json`` (plus
``speed-latest.json``) and ``speed-latest.png``.

The same network everywhere: FF ``layer_units=(256, 128)``, ReLU, embeddings for the
categorical columns, Adam (lr 1e-3), batch 256, no validation split, no early stopping.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

FULL = {
    "epoch": {
        "configs": [
            {"data": "diamonds", "clf": False, "epochs": 5},
            {"data": "synthetic", "clf": True, "epochs": 4},
        ],
        # keraslearn_long_fit: the train step compiled as for a fit of > SHORT_FIT_STEPS steps
        "who": ["keraslearn", "keraslearn_long_fit", "jax_loop", "skorch", "keras_wrapper"],
    },
    # steps per XLA call on JAX: compile cost (first epoch) against the per-epoch gain
    "spe": {"worker": "epoch", "configs": [{"data": "diamonds", "clf": False, "epochs": 5}],
            "who": ["keraslearn_spe1", "keraslearn_spe8", "keraslearn", "keraslearn_spe128"]},
    "cv": {"configs": [{"data": "diamonds", "n": 5000, "folds": 5, "epochs": 10}],
           "who": ["keraslearn", "keraslearn_warm_disk_cache", "skorch", "keras_wrapper"]},
    "tune": {"configs": [{"data": "diamonds", "n": 5000, "trials": 20, "epochs": 10}],
             "who": ["keraslearn", "keraslearn_warm_disk_cache", "skorch", "keras_wrapper"]},
    "predict": {"configs": [{"data": "diamonds", "epochs": 2, "reps": 200, "n_big": 10_000}],
                "who": ["keraslearn", "keraslearn_keras_predict", "skorch", "keras_wrapper"]},
    # TabNet at pytorch-tabnet's defaults on wa_churn (benchmarks/speed_tabnet.py)
    "tabnet": {"configs": [{"data": "churn", "epochs": 8}], "who": ["keraslearn", "pytorch_tabnet"]},
    "rss": {"configs": [{"data": "flights", "epochs": 1}, {"data": "flights", "epochs": 1, "numpy": True},
                        {"data": "flights", "epochs": 1, "warm": True},
                        {"data": "flights", "epochs": 1, "numpy": True, "warm": True}],
            "who": ["keraslearn"]},
}

# A smoke run of the pipeline: in this process, JAX contenders only, tiny data, a temporary
# compilation cache. Its figures and target verdicts are not evidence: contenders share the
# process (and whatever it compiled before), and the sizes are not the targets' sizes.
QUICK = {
    "epoch": {"configs": [{"data": "diamonds", "n": 2000, "clf": False, "epochs": 2}],
              "who": ["keraslearn", "jax_loop"]},
    "cv": {"configs": [{"data": "diamonds", "n": 600, "folds": 2, "epochs": 1}], "who": ["keraslearn", "keras_wrapper"]},
    "tune": {"configs": [{"data": "diamonds", "n": 600, "trials": 2, "epochs": 1}], "who": ["keraslearn"]},
    "predict": {"configs": [{"data": "diamonds", "n": 1000, "epochs": 1, "reps": 10, "n_big": 500}],
                "who": ["keraslearn"]},
}


def _env(who, threads, cache_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(HERE), env.get("PYTHONPATH", "")])
    env["KERAS_BACKEND"] = "torch" if who.endswith("_torch") else "jax"
    env["KERASLEARN_COMPILATION_CACHE"] = cache_dir or "0"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    return env


def _pinned(cores):
    """A ``preexec_fn`` that binds the worker to ``cores`` CPU cores (None: no binding).

    Thread-count settings alone do not make JAX single-threaded: XLA's CPU runtime runs
    independent kernels on a pool as large as the cores the process may use, and on 2 cores
    that second thread costs about 40% more CPU for 13% less wall time (FF epoch, measured
    2026-11-21). Binding every contender alike to the same cores is what "n threads per
    framework" means: JAX then sizes its pool to them, torch keeps its own setting.
    """
    if not cores or not hasattr(os, "sched_setaffinity"):
        return None
    chosen = sorted(os.sched_getaffinity(0))[-cores:]
    return lambda: os.sched_setaffinity(0, chosen)


def run_worker(section, cfg, env, timeout=1800, cores=0):
    """Run one measurement in a fresh Python process (bound to ``cores`` cores, 0: any); return its result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", section, "--config", json.dumps(cfg)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_pinned(cores))
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker {section} {cfg} failed:\n{proc.stderr[-3000:]}")


def _worker_main(section, cfg):
    if cfg.get("threads") and (cfg["who"] in ("skorch", "pytorch_tabnet") or cfg["who"].endswith("_torch")):
        import torch

        torch.set_num_threads(int(cfg["threads"]))  # the same thread count as the others
    import keraslearn  # noqa: F401  (selects the backend before keras is imported)
    import speed_workers

    print("RESULT " + json.dumps(speed_workers.run(section, cfg)), flush=True)


def _median_dict(runs):
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    if "rows" in med and "epoch_s" in med:  # training rows per steady-state wall second, of the median epoch
        med["samples_per_s"] = med["rows"] / med["epoch_s"]
    return med


def measure(plan, rounds, threads, quick, log=print, on_section=None, pin=True):
    """Run every (section, config, contender) ``rounds`` times, contenders interleaved.

    With ``pin`` each worker is bound to ``threads`` cores (see :func:`_pinned`).

    ``on_section(results)`` is called after each config (so a long run saves as it goes).
    """
    results = {}
    cores = threads if pin else 0
    warm_dir = tempfile.mkdtemp(prefix="kl-bench-jaxcache-")
    try:
        for section, spec in plan.items():
            for ci, cfg in enumerate(spec["configs"]):
                cfg = dict(cfg, threads=threads)
                label = f"{section}:{cfg['data']}" + "".join(f"-{k}" for k in ("numpy", "warm") if cfg.get(k))
                per = {who: [] for who in spec["who"]}
                if "keraslearn_warm_disk_cache" in per and not quick:
                    # Fill the persistent compilation cache once (not timed).
                    run_worker(spec.get("worker", section), dict(cfg, who="keraslearn"),
                               _env("keraslearn", threads, warm_dir), cores=cores)
                for r in range(rounds):
                    order = spec["who"][r % len(spec["who"]):] + spec["who"][: r % len(spec["who"])]
                    for who in order:
                        cold = tempfile.mkdtemp(prefix="kl-bench-cold-")
                        cache = warm_dir if who == "keraslearn_warm_disk_cache" else cold
                        t0 = time.perf_counter()
                        worker = spec.get("worker", section)
                        if quick:
                            res = _in_process(worker, dict(cfg, who=who))
                        else:
                            res = run_worker(worker, dict(cfg, who=who), _env(who, threads, cache),
                                             cores=cores)
                        shutil.rmtree(cold, ignore_errors=True)
                        per[who].append(res)
                        log(f"  {label:22s} round {r + 1}/{rounds} {who:28s} {time.perf_counter() - t0:6.1f}s "
                            + " ".join(f"{k}={v:.4g}" for k, v in res.items() if isinstance(v, float)))
                results[label] = {who: {"median": _median_dict(runs), "runs": runs} for who, runs in per.items()}
                if on_section:
                    on_section(results)
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
    return results


def _in_process(section, cfg):
    import speed_workers

    from keraslearn.training import compiled

    compiled.clear()  # no compiled steps carried over from the previous contender or section
    return speed_workers.run(section, cfg)


# ---------------------------------------------------------------------------- reporting
TARGETS = [
    # (description, section prefix, metric stem, peer, kind, bound); checked for every
    # keraslearn contender, on CPU seconds and on wall seconds. "{folds}" and "{trials}" are
    # filled in from the run's config (a quick run's CV has 2 folds, not 5).
    ("FF epoch <= 1.2x the hand-written JAX loop", "epoch:", "epoch", "jax_loop", "max_ratio", 1.2),
    ("FF epoch >= 2x faster than skorch", "epoch:", "epoch", "skorch", "min_speedup", 2.0),
    ("{folds}-fold CV >= 3x faster than the Keras wrapper", "cv:", "cv", "keras_wrapper", "min_speedup", 3.0),
    ("{folds}-fold CV >= 3x faster than skorch", "cv:", "cv", "skorch", "min_speedup", 3.0),
    ("{folds}-fold CV, run again in the same process, >= 3x faster than the Keras wrapper", "cv:", "cv_again",
     "keras_wrapper", "min_speedup", 3.0),
    ("{folds}-fold CV, run again in the same process, >= 3x faster than skorch", "cv:", "cv_again", "skorch",
     "min_speedup", 3.0),
    ("{trials}-trial tuning >= 3x faster than the Keras wrapper", "tune:", "tune", "keras_wrapper", "min_speedup",
     3.0),
    ("{trials}-trial tuning >= 3x faster than skorch", "tune:", "tune", "skorch", "min_speedup", 3.0),
    ("TabNet epoch >= 3x faster than pytorch-tabnet", "tabnet:", "epoch", "pytorch_tabnet", "min_speedup", 3.0),
]


def _kl_contenders(res):
    return [w for w in res if w.startswith("keraslearn") and not w.endswith("_keras_predict")]


def _config(configs, label):
    """The config a result label was measured with; runs saved before configs were recorded: FULL's."""
    if configs and label in configs:
        return configs[label]
    section, data = label.split(":")[0], label.split(":")[1].split("-")[0]
    return next((c for c in FULL.get(section, {}).get("configs", []) if c["data"] == data), {})


def _labels(plan):
    """label -> config of every config in a plan (the labels :func:`measure` gives)."""
    return {f"{section}:{cfg['data']}" + "".join(f"-{k}" for k in ("numpy", "warm") if cfg.get(k)): cfg
            for section, spec in plan.items() for cfg in spec["configs"]}


QUICK_VERDICT = "not evidence (quick run)"


def evaluate_targets(results, configs=None, quick=False):
    """Target rows. ``configs``: label -> config (descriptions say the sizes really run);
    ``quick``: a smoke run, whose rows get ``met`` None and a note instead of a verdict."""
    rows = []
    for desc, prefix, stem, peer, kind, bound in TARGETS:
        for label, res in results.items():
            if not label.startswith(prefix) or peer not in res:
                continue
            cfg = _config(configs, label)
            desc_run = desc.format(folds=cfg.get("folds", 5), trials=cfg.get("trials", 20))
            for klw in _kl_contenders(res):
                for clock, metric in (("cpu", f"{stem}_cpu"), ("wall", f"{stem}_s")):
                    a, b = res[klw]["median"].get(metric), res[peer]["median"].get(metric)
                    if a is None or b is None:
                        continue
                    ok = a / b <= bound if kind == "max_ratio" else b / a >= bound
                    shown = f"{a / b:.2f}x" if kind == "max_ratio" else f"{b / a:.2f}x faster"
                    rows.append({"target": desc_run, "data": label, "keraslearn": klw, "clock": clock,
                                 "value": shown, "met": bool(ok)})
    for label, res in results.items():
        if label.startswith("predict:") and "keraslearn" in res:
            m = res["keraslearn"]["median"]
            n_big = _config(configs, label).get("n_big", 10_000)
            big = f"{n_big // 1000}k" if n_big % 1000 == 0 else str(n_big)
            for kind in ("frame", "numpy"):
                for clock, lat, thr in (("cpu", "one_row_cpu_ms", "rows_per_cpu_s"), ("wall", "one_row_ms", "rows_per_s")):
                    if f"{lat}_{kind}" not in m:
                        continue
                    v = m[f"{lat}_{kind}"]
                    rows.append({"target": "one-row predict p50 <= 1 ms", "data": f"{label} ({kind})",
                                 "keraslearn": "keraslearn", "clock": clock, "value": f"{v:.3f} ms", "met": v <= 1.0})
                    v = m[f"{thr}_{kind}"]
                    rows.append({"target": f"{big}-row predict >= 1M rows/s", "data": f"{label} ({kind})",
                                 "keraslearn": "keraslearn", "clock": clock, "value": f"{v / 1e6:.2f} M rows/s",
                                 "met": v >= 1e6})
        if label.startswith("rss:") and "keraslearn" in res:
            m = res["keraslearn"]["median"]
            mib = {k: m[k] / 2**20 for k in ("fit_peak_delta", "raw_bytes", "code_pages") if k in m}
            value = f"{m['ratio']:.2f}x ({mib['fit_peak_delta']:.0f} MiB over {mib['raw_bytes']:.0f} MiB raw"
            if "code_pages" in m:  # results from before the ninth session lack the split
                value += f"; {mib['code_pages']:.0f} MiB of it library code, anonymous {m['anon_ratio']:.2f}x"
            rows.append({"target": "peak RSS during fit <= 3x raw data", "data": label, "keraslearn": "keraslearn",
                         "clock": "-", "value": value + ")", "met": m["ratio"] <= 3.0})
    if quick:
        for row in rows:
            row.update(met=None, note=QUICK_VERDICT)
    return rows


METRICS = {
    # samples_per_s: training rows per steady-state wall second (the figure to compare across machines)
    "epoch": ["epoch_cpu", "epoch_s", "first_epoch_cpu", "fit_cpu", "fit_s", "final_loss", "samples_per_s"],
    "spe": ["epoch_cpu", "epoch_s", "first_epoch_cpu", "fit_cpu", "fit_s", "final_loss", "samples_per_s"],
    "cv": ["cv_cpu", "cv_s", "cv_again_cpu", "cv_again_s", "r2"],
    "tune": ["tune_cpu", "tune_s", "best_r2"],
    # keraslearn times DataFrame ("frame") and NumPy input; the peers their own encoded matrix
    "predict": ["one_row_cpu_ms_frame", "one_row_cpu_ms_numpy", "one_row_cpu_ms_encoded",
                "rows_per_cpu_s_frame", "rows_per_cpu_s_numpy", "rows_per_cpu_s_encoded",
                "one_row_ms_frame", "one_row_ms_numpy", "one_row_ms_encoded",
                "rows_per_s_frame", "rows_per_s_numpy", "rows_per_s_encoded"],
    "tabnet": ["epoch_cpu", "epoch_s", "first_epoch_cpu", "fit_cpu", "fit_s", "accuracy", "ROC_AUC", "samples_per_s"],
    "rss": ["raw_bytes", "fit_peak_delta", "ratio", "code_pages", "anon_ratio", "fit_cpu", "fit_s"],
}


# Sections whose first metric is the same measurement for every contender, so that a ratio
# between contenders means something. predict's contenders time different inputs (keraslearn a
# DataFrame and NumPy rows, the peers their encoded matrix) and rss has a single contender.
RATIO_SECTIONS = ("epoch", "spe", "cv", "tune", "tabnet")


def format_tables(results, targets, configs=None):
    lines = []
    for label, res in results.items():
        section = label.split(":")[0]
        metrics = METRICS.get(section) or sorted({k for r in res.values() for k in r["median"]})
        metrics = [k for k in metrics if any(k in r["median"] for r in res.values())]
        base = "keraslearn" if "keraslearn" in res else next(iter(res))
        with_ratio = section in RATIO_SECTIONS and len(res) > 1
        note = "; ratio = contender / keraslearn" if with_ratio else ""
        cfg = (configs or {}).get(label, {})
        sizes = ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("data", "threads", "who"))
        sizes = f"; {sizes}" if sizes else ""
        lines.append(f"\n### {label}  (median of {len(res[base]['runs'])} runs{sizes}{note})")
        lines.append("| contender | " + " | ".join(metrics) + " |" + (f" ratio ({metrics[0]}) |" if with_ratio else ""))
        lines.append("|---" * (len(metrics) + 1 + with_ratio) + "|")
        for who, r in res.items():
            m = r["median"]
            cells = [f"{m[k]:.4g}" if k in m else "-" for k in metrics]
            line = f"| {who} | " + " | ".join(cells) + " |"
            if with_ratio:
                b = res[base]["median"].get(metrics[0])
                line += f" {m[metrics[0]] / b:.2f} |" if metrics[0] in m and b else " - |"
            lines.append(line)
    lines.append("\n### Targets")
    lines.append("| target | data | keraslearn run | clock | measured | met |")
    lines.append("|---|---|---|---|---|---|")
    for t in targets:
        met = t.get("note", QUICK_VERDICT) if t["met"] is None else ("yes" if t["met"] else "NO")
        lines.append(f"| {t['target']} | {t['data']} | {t['keraslearn']} | {t['clock']} | {t['value']} | {met} |")
    return "\n".join(lines)


def chart(results, path):
    """Bar charts of the headline CPU seconds per section (a bare matplotlib Figure, no pyplot)."""
    from matplotlib.figure import Figure

    panels = [(lbl, METRICS[lbl.split(":")[0]][0]) for lbl in results
              if lbl.split(":")[0] in ("epoch", "spe", "cv", "tune", "tabnet")]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.6 * cols, 2.6 * rows), layout="constrained")
    for i, (label, metric) in enumerate(panels, 1):
        ax = fig.add_subplot(rows, cols, i)
        res = results[label]
        names = list(res)
        vals = [res[w]["median"][metric] for w in names]
        base = res["keraslearn"]["median"][metric] if "keraslearn" in res else vals[0]
        colors = ["tab:blue" if w.startswith("keraslearn") else "tab:gray" for w in names]
        bars = ax.barh(range(len(names)), vals, color=colors)
        ax.bar_label(bars, labels=[f"{v:.3g}s ({v / base:.2g}x)" for v in vals], fontsize=7, padding=2)
        ax.set_yticks(range(len(names)), [n.replace("keraslearn_", "kl ").replace("_", " ") for n in names],
                      fontsize=8)
        ax.set_xlim(0, max(vals) * 1.45)
        ax.invert_yaxis()
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel(f"{metric}: CPU seconds (lower is better; ratio to keraslearn)", fontsize=7)
        ax.set_title(label, fontsize=9)
    fig.savefig(path, dpi=110)
    return path


def write_outputs(results, out, stamp, suffix, meta):
    """Targets, tables (printed), JSON (timestamped and ``-latest``) and the PNG chart."""
    targets = evaluate_targets(results, meta.get("configs"), quick=bool(meta.get("quick")))
    payload = dict(meta, versions=_versions(), results=results, targets=targets)
    out.mkdir(parents=True, exist_ok=True)
    for name in (f"speed-{stamp}{suffix}.json", f"speed-latest{suffix}.json"):
        (out / name).write_text(json.dumps(payload, indent=1))
    png = chart(results, out / f"speed-latest{suffix}.png")
    return targets, png


def results_from_logs(paths):
    """Results rebuilt from the progress lines ``label round r/R contender 12.3s key=value ...``."""
    per: dict = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) < 5 or parts[1] != "round" or ":" not in parts[0]:
                continue
            label, who = parts[0], parts[3]
            values = dict(kv.split("=", 1) for kv in parts[5:] if "=" in kv)
            per.setdefault(label, {}).setdefault(who, []).append({k: float(v) for k, v in values.items()})
    return {label: {who: {"median": _median_dict(runs), "runs": runs} for who, runs in res.items()}
            for label, res in per.items()}


def _values(items):
    """The distinct values of a field over runs; a merged run's field is already a list."""
    flat = [x for v in items for x in (v if isinstance(v, list) else [v])]
    return sorted(set(flat), key=repr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run, in this process")
    ap.add_argument("--sections", nargs="+", choices=list(FULL), default=None)
    ap.add_argument("--rounds", type=int, default=None, help="repeats per contender (default 3, quick 1)")
    ap.add_argument("--data", nargs="+", default=None, help="only the configs on these datasets")
    ap.add_argument("--who", nargs="+", default=None,
                    help="only these contenders (e.g. keraslearn jax_loop: a short run of the epoch section)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per framework (default 1: the machine is shared; 0 = framework defaults)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not bind each worker to --threads cores (JAX then uses every core it sees)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--tag", default="", help="suffix for the result file names")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="combine the results of earlier runs (e.g. sections run in parallel) into one report")
    ap.add_argument("--render", metavar="JSON",
                    help="print the tables and targets of a saved run (writes nothing)")
    ap.add_argument("--from-log", nargs="+", metavar="LOG",
                    help="rebuild results from the per-run lines of interrupted runs' output (4 digits)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker_main(args.worker, json.loads(args.config))

    if args.render:
        run = json.loads(Path(args.render).read_text())
        targets = evaluate_targets(run["results"], run.get("configs"), quick=bool(run.get("quick")))
        print(format_tables(run["results"], targets, run.get("configs")))
        return 0

    out = Path(args.out)
    started = _dt.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    suffix = ("-quick" if args.quick else "") + (f"-{args.tag}" if args.tag else "")
    if args.from_log:
        results = results_from_logs(args.from_log)
        meta = {"from_logs": [str(p) for p in args.from_log], "started": started.isoformat(timespec="seconds"),
                "rounds": None, "threads": args.threads, "cpus": os.cpu_count(), "quick": False}
        targets, png = write_outputs(results, out, stamp, suffix, meta)
        print(format_tables(results, targets, meta.get("configs")))
        return 0
    if args.merge:
        runs = [json.loads(Path(p).read_text()) for p in args.merge]
        results = {label: res for run in runs for label, res in run["results"].items()}
        meta = {"merged": [str(p) for p in args.merge], "started": min(r["started"] for r in runs),
                "rounds": _values(r["rounds"] for r in runs), "threads": _values(r["threads"] for r in runs),
                "loadavg": [r.get("loadavg_start") for r in runs], "cpus": os.cpu_count(),
                "quick": any(r.get("quick") for r in runs), "accelerator": _values(r.get("accelerator") for r in runs),
                "configs": {k: v for r in runs for k, v in (r.get("configs") or {}).items()}}
        targets, png = write_outputs(results, out, stamp, suffix, meta)
        print(format_tables(results, targets, meta.get("configs")))
        print(f"\nwrote {out / f'speed-{stamp}{suffix}.json'} and {png}")
        return 0

    plan = QUICK if args.quick else FULL
    mode = "--quick" if args.quick else "a full run"
    if args.sections:
        missing = [s for s in args.sections if s not in plan]
        if missing:
            ap.error(f"{mode} has no section {', '.join(missing)}: its sections are {', '.join(plan)}"
                     + (f" (the others need a full run: {', '.join(k for k in FULL if k not in QUICK)})"
                        if args.quick else ""))
        plan = {k: v for k, v in plan.items() if k in args.sections}
    if args.data:
        plan = {k: dict(v, configs=[c for c in v["configs"] if c["data"] in args.data]) for k, v in plan.items()}
    if args.who:
        plan = {k: dict(v, who=[w for w in v["who"] if w in args.who]) for k, v in plan.items()}
    plan = {k: v for k, v in plan.items() if v["configs"] and v["who"]}
    if not plan:
        offered = sorted({f"{k}: {c['data']}" for k, v in (QUICK if args.quick else FULL).items()
                          for c in v["configs"]})
        ap.error(f"nothing to measure in {mode} with these --sections/--data/--who; its configs are "
                 + ", ".join(offered))
    rounds = args.rounds or (1 if args.quick else 3)
    quick_cache = None
    if args.quick:
        sys.path.insert(0, str(HERE))
        # keraslearn first: it selects JAX before any peer imports keras
        from keraslearn.training import compiled

        if not compiled._cache_state["done"]:
            # A fresh temporary cache, so that the run does not depend on ~/.cache/keraslearn/jax.
            quick_cache = tempfile.mkdtemp(prefix="kl-bench-quick-cache-")
            os.environ[compiled.CACHE_ENV] = quick_cache
    load0 = os.getloadavg()
    accelerator = None if args.quick else _accelerator()  # a quick run is a smoke run: not worth the seconds
    if accelerator:
        print(f"Training on: {accelerator}", flush=True)

    def meta():
        return {"started": started.isoformat(timespec="seconds"),
                "seconds": (_dt.datetime.now() - started).total_seconds(), "quick": args.quick, "rounds": rounds,
                "threads": args.threads, "pinned": bool(args.threads) and not args.no_pin,
                "loadavg_start": load0, "loadavg_end": os.getloadavg(), "cpus": os.cpu_count(),
                "configs": _labels(plan), "compilation_cache": _quick_cache_note(args.quick, quick_cache),
                "accelerator": accelerator}

    try:
        results = measure(plan, rounds, args.threads, args.quick, pin=not args.no_pin,
                          on_section=lambda res: write_outputs(res, out, stamp, suffix, meta()))
    finally:
        if quick_cache:
            shutil.rmtree(quick_cache, ignore_errors=True)
    targets, png = write_outputs(results, out, stamp, suffix, meta())
    print(format_tables(results, targets, _labels(plan)))
    print(f"\nwrote {out / f'speed-{stamp}{suffix}.json'}" + (f" and {png}" if png else ""))
    return 0


def _accelerator():
    """What JAX and torch train on here (asked in a fresh process: this one imports neither)."""
    probes = {"jax": "import jax; d = jax.devices()[0]; print(f'{d.platform} ({d.device_kind})')",
              "torch": "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"}
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", TF_CPP_MIN_LOG_LEVEL="2")
    found = []
    for name, code in probes.items():
        try:
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
            lines = (proc.stdout.strip() or proc.stderr.strip() or "no answer").splitlines()
            found.append(f"{name} {lines[-1] if proc.returncode == 0 else 'unknown: ' + lines[-1]}")
        except subprocess.TimeoutExpired:
            found.append(f"{name} unknown: the query timed out")
    return "; ".join(found)


def _quick_cache_note(quick, quick_cache):
    if not quick:
        return "a fresh folder per worker (keraslearn_warm_disk_cache: one filled before it)"
    if quick_cache:
        return "a temporary folder, empty at the start"
    from keraslearn.training import compiled

    return f"the process' own ({compiled._cache_state['dir']}): enabled before this run started"


def _versions():
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("keras", "jax", "torch", "skorch", "numpy", "pandas", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
