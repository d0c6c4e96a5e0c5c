"""Backend selection on import: JAX by default, no keras.json written, a clear warning otherwise."""

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code, home, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    full.update(HOME=str(home), PYTHONPATH=SRC, **env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


def test_jax_by_default_and_no_keras_json(tmp_path):
    r = _run("import keraslearn, keras; print(keras.backend.backend())", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "jax"
    assert not (tmp_path / ".keras" / "keras.json").exists()


def test_existing_keras_json_is_left_alone(tmp_path):
    (tmp_path / ".keras").mkdir()
    cfg = {"floatx": "float32", "epsilon": 1e-07, "backend": "torch", "image_data_format": "channels_last"}
    (tmp_path / ".keras" / "keras.json").write_text(json.dumps(cfg))
    r = _run("import keraslearn; print(keraslearn.BACKEND)", tmp_path)
    assert r.returncode == 0, r.stderr
    # KERAS_BACKEND unset → keraslearn asks for JAX, which overrides the file for this process only
    assert r.stdout.strip() == "jax"
    assert json.loads((tmp_path / ".keras" / "keras.json").read_text()) == cfg


def test_keras_imported_first_with_another_backend_warns(tmp_path):
    code = "import keras\nimport keraslearn\nprint(keraslearn.BACKEND)"
    r = _run(code, tmp_path, KERAS_BACKEND="torch")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "torch" and "Warning" not in r.stderr  # asked for torch, got torch
    code = "import os\nos.environ['KERAS_BACKEND']='torch'\nimport keras\ndel os.environ['KERAS_BACKEND']\nimport keraslearn"
    r = _run(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "keras was imported before keraslearn" in r.stderr and "KERAS_BACKEND=jax" in r.stderr
