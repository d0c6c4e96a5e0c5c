"""Backend selection on import: JAX by default, no keras.json written, a clear warning otherwise."""

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code, home, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    full.update({"HOME": str(home), "PYTHONPATH": SRC, **env})
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


def test_jax_by_default_and_no_keras_json(tmp_path):
    r = _run("import keraslearn, keras; print(keras.backend.backend())", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "jax"
    assert not (tmp_path / ".keras" / "keras.json").exists()


def test_tensorflow_start_up_banner_is_not_printed_but_other_stderr_is(tmp_path):
    import pytest

    pytest.importorskip("tensorflow")
    code = "import sys, keraslearn, keras; print(keras.backend.backend()); print('mine', file=sys.stderr)"
    r = _run(code, tmp_path, KERAS_BACKEND="tensorflow")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "tensorflow"
    # TensorFlow prints "All log messages before absl::InitializeLog() ..." and its oneDNN notice from C++.
    assert r.stderr.strip() == "mine", r.stderr


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


def test_a_backend_keras_cannot_load_or_train_on_is_one_clear_error_in_python_and_one_line_in_the_cli(tmp_path):
    fit = "import keraslearn\nkeraslearn.FFRegressor(epochs=1).fit([[1.0], [2.0]], [1.0, 2.0])"
    for backend, why in (("pytorch", "Unable to import backend : pytorch"), ("numpy", "it only runs inference")):
        r = _run(fit, tmp_path, KERAS_BACKEND=backend)
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("keraslearn._backend.BackendUnavailableError: Keras cannot run keraslearn on the "
                               f"{backend!r} backend") and why in last and "KERAS_BACKEND=jax" in last, r.stderr
    # Run again (a notebook cell re-run): the same error and fix, not Keras' bare "Unable to import backend".
    again = ("import keraslearn\nfor _ in range(2):\n    try:\n        keraslearn.FFRegressor(epochs=1).fit([[1.0]], [1.0])\n"
             "    except ImportError as err:\n        print(type(err).__name__)\nimport keras")
    r = _run(again, tmp_path, KERAS_BACKEND="pytorch")
    assert r.stdout.split() == ["BackendUnavailableError"] * 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("keraslearn._backend.BackendUnavailableError")
    (tmp_path / "d.csv").write_text("a,y\n1,1.5\n2,2.5\n3,3.5\n4,4.5\n5,5.5\n")
    cli = f"from keraslearn.cli import main; raise SystemExit(main(['fit', {str(tmp_path / 'd.csv')!r}, '--target', 'y']))"
    r = _run(cli, tmp_path, KERAS_BACKEND="pytorch")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("keraslearn fit: error: Keras cannot run keraslearn on")


def test_only_the_backends_failures_become_a_backend_error(tmp_path):
    """A broken backend module (here a torch.py raising a bare ImportError) is the backend's fault;
    a keras.json value Keras refuses is not: Keras' own error comes through unchanged."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "torch.py").write_text("raise ImportError()\n")
    r = _run("import keraslearn, keras", tmp_path, KERAS_BACKEND="torch", PYTHONPATH=f"{SRC}{os.pathsep}{shadow}")
    last = r.stderr.strip().splitlines()[-1]
    assert "BackendUnavailableError: Keras cannot run keraslearn on the 'torch' backend (ImportError: no message)" in last
    home = tmp_path / "kh"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"backend": "jax", "epsilon": 1, "floatx": "float32",
                                                 "image_data_format": "channels_last"}))
    r = _run("import keraslearn, keras", tmp_path, KERAS_HOME=str(home))
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode != 0 and last.startswith("ValueError") and "epsilon" in last and "keraslearn" not in last
    # Keras installed in an environment named after a backend (conda's envs/torch/...): still Keras' own error
    import keras

    env = tmp_path / "envs" / "torch" / "site-packages"
    env.mkdir(parents=True)
    (env / "keras").symlink_to(os.path.dirname(keras.__file__))
    r = _run("import keraslearn, keras", tmp_path, KERAS_HOME=str(home), PYTHONPATH=f"{SRC}{os.pathsep}{env}")
    last = r.stderr.strip().splitlines()[-1]
    assert f"{env}{os.sep}keras" in r.stderr, r.stderr  # that keras was the one imported
    assert last.startswith("ValueError") and "epsilon" in last and "keraslearn" not in last, last


def test_a_backend_package_that_fails_to_import_is_named_with_its_fix(tmp_path):
    """A jax whose jaxlib does not match raises RuntimeError from its import (not ImportError), and Keras
    imports jax on every backend where it is installed: keraslearn names jax and the reinstall that fixes it,
    in one line from the CLI; a backend that is not installed gets the install command, not a list of names."""
    shadow = tmp_path / "shadow"
    (shadow / "jax").mkdir(parents=True)
    said = "jaxlib is version 0.4.30, but this version of jax requires version >= 0.10.1."
    (shadow / "jax" / "__init__.py").write_text(f"raise RuntimeError({said!r})\n")
    (tmp_path / "d.csv").write_text("a,y\n1,1.5\n2,2.5\n3,3.5\n4,4.5\n5,5.5\n")
    data = str(tmp_path / "d.csv")
    cli = f"from keraslearn.cli import main; raise SystemExit(main(['fit', {data!r}, '--target', 'y']))"
    r = _run(cli, tmp_path, PYTHONPATH=f"{SRC}{os.pathsep}{shadow}")
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"(RuntimeError: {said}). jax is installed but does not import" in last
    assert last.endswith("Fix: keraslearn install --backend jax --reinstall; `keraslearn doctor` shows the cause.")

    (shadow / "jax" / "__init__.py").unlink()
    (shadow / "jax").rmdir()
    (shadow / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    r = _run(cli, tmp_path, KERAS_BACKEND="torch", PYTHONPATH=f"{SRC}{os.pathsep}{shadow}")
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and "torch is not installed. Fix: keraslearn install --backend torch" in last, r.stderr


def test_asking_available_first_keeps_the_clear_error_and_the_scratch_keras_home(tmp_path):
    """``keraslearn.available()`` looks keras up (importlib.util.find_spec) without importing it; the import that
    follows still gets keraslearn's error and fix, and still writes no ~/.keras/keras.json."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "torch.py").write_text("raise ImportError('a broken torch')\n")
    code = ("import keraslearn\nprint(keraslearn.available())\ntry:\n    keraslearn.FFRegressor\n"
            "except ImportError as err:\n    print(type(err).__name__)")
    r = _run(code, tmp_path, KERAS_BACKEND="torch", PYTHONPATH=f"{SRC}{os.pathsep}{shadow}")
    assert r.stdout.split() == ["True", "BackendUnavailableError"], r.stdout + r.stderr
    r = _run("import importlib.util, keraslearn\nimportlib.util.find_spec('keras')\nimport keras", tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / ".keras" / "keras.json").exists()


def test_a_jax_platform_that_does_not_start_is_one_line_naming_jax_platforms(tmp_path):
    """JAX_PLATFORMS=cuda on a machine without CUDA: jax fails at its first array with a bare AssertionError;
    fit and predict say what is at fault, in one line, and not that the saved model is damaged."""
    (tmp_path / "d.csv").write_text("a,y\n1,1.5\n2,2.5\n3,3.5\n4,4.5\n5,5.5\n")
    main = "from keraslearn.cli import main; raise SystemExit(main({}))"
    r = _run(main.format(['fit', str(tmp_path / 'd.csv'), '--target', 'y', '--epochs', '1', '--quiet',
                          '--out', str(tmp_path / 'm.keraslearn')]), tmp_path)
    assert r.returncode == 0, r.stderr
    for args in (['fit', str(tmp_path / 'd.csv'), '--target', 'y'], ['predict', str(tmp_path / 'm.keraslearn'),
                                                                       str(tmp_path / 'd.csv')]):
        r = _run(main.format(args), tmp_path, JAX_PLATFORMS="cuda")
        last = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "JAX cannot start its devices" in last and "JAX_PLATFORMS='cuda' is set" in last, last
        assert "`unset JAX_PLATFORMS`" in last
