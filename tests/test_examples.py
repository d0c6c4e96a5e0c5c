"""Each script in examples/ runs at reduced size and asserts its own results."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_every_seed_workflow_has_an_example():
    names = {p.stem for p in EXAMPLES}
    assert {
        "kerasr_boston_housing",
        "mnist_mlp",
        "two_input_functional",
        "optimizers_and_losses",
        "callbacks",
        "metrics_and_predictions",
        "custom_training_loop",
        "custom_layers_and_fit",
        "transfer_learning",
        "save_load_export",
        "mlr3keras_learner",
        "text_and_sequences",
        "preprocessing_layers",
        "distribution",
    } <= names


def _run(script, tmp_path, backend=None):
    env = dict(
        os.environ,
        KERASLEARN_EXAMPLES_SMALL="1",
        KERASLEARN_OFFLINE="1",  # never download a dataset during tests
        KERAS_HOME=str(tmp_path / "keras_home"),  # no cached Keras datasets: the same data everywhere
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    if backend:
        env["KERAS_BACKEND"] = backend
    env.setdefault("KERAS_BACKEND", "jax")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert proc.stdout.rstrip().endswith("OK"), proc.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_its_assertions_hold(script, tmp_path):
    _run(script, tmp_path)


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("name", ["custom_training_loop", "custom_layers_and_fit"])
def test_the_custom_loop_examples_run_on_torch(name, tmp_path):
    """The README: a custom loop on every backend; the torch smoke subset (-m torch) runs them there."""
    _run(ROOT / "examples" / f"{name}.py", tmp_path, backend="torch")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["save_load_export", "custom_training_loop", "custom_layers_and_fit",
                                  "preprocessing_layers"])
def test_export_and_custom_loop_examples_run_on_tensorflow(name, tmp_path):
    """docs/examples.md: the examples run on any backend; TensorFlow exports ONNX with tf2onnx (the export extra),
    and only there does one saved model take raw strings (preprocessing_layers)."""
    _run(ROOT / "examples" / f"{name}.py", tmp_path, backend="tensorflow")
