"""Memory stays flat across many tuning trials in one process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("optuna")

SRC = str(Path(__file__).resolve().parents[1] / "src")

# Runs in a fresh process so the RSS measured is the tuning's own, not pytest's or other tests'.
CHILD = textwrap.dedent(
    """
    import json, os
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from sklearn.datasets import load_iris
    import keraslearn

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    X, y = load_iris(return_X_y=True)
    rss = []
    # Every trial builds a network of another shape, so nothing compiled can be reused:
    # without releasing JAX's caches RSS grows by ~15 MB a trial (~400 MB over 30).
    space = {"units": IntDistribution(4, 64), "n_layers": IntDistribution(1, 3),
             "learning_rate": FloatDistribution(1e-3, 1e-2, log=True)}
    _, study = keraslearn.tune(
        keraslearn.FFClassifier(epochs=2, batch_size=64, validation_fraction=0.0), X, y, space=space,
        n_trials=30, validation_fraction=0.3, storage=optuna.storages.InMemoryStorage(), pruner="none",
        refit=False, random_state=0, callbacks=[lambda study, trial: rss.append(rss_mb())],
    )
    print(json.dumps({"rss": rss, "complete": len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc (Linux)")
def test_thirty_trials_do_not_grow_memory():
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("KERAS_BACKEND", "jax")
    # Less XLA optimisation: compiling dominates these tiny fits; memory behaviour is the same.
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rss = result["rss"]
    assert result["complete"] == 30 and len(rss) == 30
    growth = rss[-1] - rss[4]
    assert growth < 100, f"RSS grew {growth:.0f} MB from trial 5 to 30: {[round(r) for r in rss]}"
