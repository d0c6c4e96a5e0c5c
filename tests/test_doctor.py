"""keraslearn doctor / available() / check(): healthy and deliberately broken environments.

Broken environments are real: a ``PYTHONPATH`` folder whose ``torch`` fails to import (as a
NumPy ABI mismatch does), a ``sitecustomize`` that makes TensorFlow missing, fake
distribution metadata with clashing CUDA wheels, keras imported before KERAS_BACKEND is set.
Every probe runs in a fresh interpreter, as the doctor does for users.
"""

import importlib.metadata as md
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import keraslearn
from keraslearn.setup.check import BackendUnavailableError, available, check
from keraslearn.setup.diagnose import SHADOW_FIX, cuda_wants, diagnose
from keraslearn.setup.doctor import doctor

SRC = str(Path(keraslearn.__file__).resolve().parents[1])


def _env(tmp_path, pythonpath=(), **overrides):
    """A clean environment: keraslearn importable, Keras' home empty, no GPU variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS", "XLA_", "JAX_", "CUDA_"))}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), SRC])
    env["KERAS_HOME"] = str(tmp_path / "keras-home")
    (tmp_path / "keras-home").mkdir(exist_ok=True)
    env.update(overrides)
    return env


def _run(args, env, cwd):
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _doctor_json(tmp_path, *backends, pythonpath=(), **env):
    proc = _run(["-m", "keraslearn", "doctor", "--json", "--backend", *backends], _env(tmp_path, pythonpath, **env), tmp_path)
    assert proc.stdout.lstrip().startswith("{"), proc.stderr[-2000:]
    return proc.returncode, json.loads(proc.stdout)


def _codes(report):
    return {f["code"]: f for f in report["findings"]}


@pytest.fixture(scope="module")
def numpy_abi_torch(tmp_path_factory):
    """A folder on PYTHONPATH whose ``torch`` fails the way a NumPy-1.x build fails under NumPy 2."""
    root = tmp_path_factory.mktemp("abi")
    (root / "torch").mkdir()
    (root / "torch" / "__init__.py").write_text(
        "import sys\n"
        "sys.stderr.write('A module that was compiled using NumPy 1.x cannot be run in\\nNumPy 2.4 as it may crash.\\n')\n"
        "raise ImportError('numpy.core.multiarray failed to import')\n"
    )
    return root


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory):
    """A sitecustomize that makes ``import tensorflow`` find nothing, as if it were not installed."""
    root = tmp_path_factory.mktemp("notf")
    (root / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Hide())\n"
    )
    return root


def test_healthy_environment(tmp_path):
    code, report = _doctor_json(tmp_path, "jax", KERAS_BACKEND="jax")
    if report["facts"]["gpu"]["names"]:  # a GPU machine with CPU jax: only GPU notes are allowed
        assert {f["code"] for f in report["findings"]} <= {"gpu-unused", "jax-preallocation"}
    else:
        assert report["healthy"] is True and code == 0, report["findings"]
    jax = report["facts"]["backends"]["jax"]
    assert jax["ok"] and jax["version"] == md.version("jax") and jax["keras"] == md.version("keras")
    assert jax["active"] == "jax" and jax["op_result"] == 12.0
    assert "cpu:0" in jax["devices"]
    assert report["facts"]["python"]["executable"] == sys.executable
    assert report["facts"]["keras_backend"] == {"requested": "jax", "selected": "jax", "asked": ["jax"]}


def test_unknown_backend_does_not_stop_keraslearn_or_the_doctor(tmp_path):
    # `import keras` fails on this backend; keraslearn and its doctor must still run.
    script = (
        "import json, sys, keraslearn\n"
        "report = keraslearn.doctor(backend=[])\n"
        "print(json.dumps({'keras': 'keras' in sys.modules, 'code': report.exit_code,"
        " 'findings': [f.to_dict() for f in report.findings], 'text': str(report)}))\n"
    )
    proc = _run(["-c", script], _env(tmp_path, KERAS_BACKEND="bogus"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["keras"] is False and out["code"] == 1
    finding = _codes(out)["unknown-backend"]
    assert finding["severity"] == "error" and "'bogus'" in finding["message"]
    assert finding["fix"].startswith("export KERAS_BACKEND=jax")
    assert "fix: export KERAS_BACKEND=jax" in out["text"]


def test_backend_missing(tmp_path, no_tensorflow):
    code, report = _doctor_json(tmp_path, "tensorflow", pythonpath=[no_tensorflow], KERAS_BACKEND="tensorflow")
    assert code == 1 and report["facts"]["python"]["modules"]["tensorflow"] is None
    finding = _codes(report)["backend-missing"]
    assert finding["severity"] == "error" and finding["fix"] == "keraslearn install --backend tensorflow"


def test_numpy_abi_break_and_keras_json_naming_it(tmp_path, numpy_abi_torch):
    # KERAS_BACKEND unset: keraslearn uses JAX, but plain `import keras` follows keras.json.
    (tmp_path / "keras-home").mkdir()
    (tmp_path / "keras-home" / "keras.json").write_text(json.dumps({"backend": "torch", "floatx": "float32"}))
    code, report = _doctor_json(tmp_path, "torch", pythonpath=[numpy_abi_torch])
    assert code == 1
    found = _codes(report)
    assert found["numpy-abi"]["severity"] == "warning"  # torch is not the backend keraslearn selects
    assert "keraslearn install --backend torch --reinstall" in found["numpy-abi"]["fix"]
    assert "numpy<2" not in found["numpy-abi"]["fix"]  # would break jax, jaxlib and pandas, which need numpy 2
    assert found["keras-json-backend"]["severity"] == "warning"
    assert "keras.json selects torch, which does not work" in found["keras-json-backend"]["message"]
    # The suggested command really repairs keras.json.
    fix = found["keras-json-backend"]["fix"].split("   (or")[0]
    assert fix.startswith(f"{shlex.quote(sys.executable)} -c ")  # the diagnosed Python: `python` may not exist
    subprocess.run(fix, shell=True, check=True, cwd=tmp_path)
    assert json.loads((tmp_path / "keras-home" / "keras.json").read_text()) == {"backend": "jax", "floatx": "float32"}


def test_selected_backend_shadowed_by_a_broken_module(tmp_path):
    shim = tmp_path / "shim"
    (shim / "torch").mkdir(parents=True)
    (shim / "torch" / "__init__.py").write_text("raise ImportError('libtorch_cpu.so: cannot open shared object file')\n")
    proc = _run(["-m", "keraslearn", "doctor", "--backend", "torch"], _env(tmp_path, [shim], KERAS_BACKEND="torch"), tmp_path)
    assert proc.returncode == 1
    assert "ERROR   backend-shadowed: torch does not work: import torch: ImportError: libtorch_cpu.so" in proc.stdout
    assert str(shim / "torch" / "__init__.py") in proc.stdout
    assert "fix: rename that file or folder (or, if PYTHONPATH names its folder, take that folder off " in proc.stdout


@pytest.fixture(scope="module")
def keras_first(tmp_path_factory):
    """One fresh process: keraslearn's setup without Keras, then Keras, then KERAS_BACKEND changed."""
    tmp = tmp_path_factory.mktemp("first")
    script = (
        "import importlib, json, os, sys, warnings\n"
        "import keraslearn\n"
        "keraslearn.install_keras('jax', dry_run=True, verbose=False)\n"
        "keraslearn.doctor(backend=[])\n"
        "out = {'before': sorted(m for m in ('keras', 'jax', 'torch', 'tensorflow') if m in sys.modules)}\n"
        "out['default'] = os.environ['KERAS_BACKEND']\n"
        "out['backend'] = keraslearn.BACKEND\n"
        "out['keras_json'] = os.path.exists(os.path.expanduser('~/.keras/keras.json'))\n"
        "os.environ['KERAS_BACKEND'] = 'torch'  # too late: keras runs on jax\n"
        "out['findings'] = [f.to_dict() for f in keraslearn.doctor(backend=[]).findings]\n"
        "from keraslearn import _backend\n"
        "importlib.reload(_backend)  # as if keraslearn were imported now, after keras\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    _backend.prepare()\n"
        "out['warned'] = [str(w.message) for w in caught]\n"
        "print(json.dumps(out))\n"
    )
    env = _env(tmp, HOME=str(tmp))
    del env["KERAS_HOME"]
    proc = _run(["-c", script], env, tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_setup_runs_without_importing_keras(keras_first):
    # keraslearn, its doctor and a dry-run install import no backend: they work where one is broken.
    assert keras_first["before"] == [] and keras_first["default"] == "jax"
    # keraslearn.BACKEND imports Keras, on JAX, and leaves no keras.json behind.
    assert keras_first["backend"] == "jax" and keras_first["keras_json"] is False


def test_keras_imported_before_the_backend_was_set(keras_first):
    finding = _codes(keras_first)["backend-set-after-import"]
    assert finding["severity"] == "error" and "'jax' before KERAS_BACKEND was set to 'torch'" in finding["message"]
    assert "KERAS_BACKEND=torch python" in finding["fix"]
    assert any("imported before keraslearn and runs on the 'jax' backend, not 'torch'" in w for w in keras_first["warned"])


def _fake_dist(root, name, version, requires=()):
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_cuda_wheels_of_two_backends_clash(tmp_path, monkeypatch):
    # jax[cuda13] and tensorflow[and-cuda] (CUDA 12) in one environment, as their metadata says.
    fake = tmp_path / "site"
    _fake_dist(fake, "jax-cuda13-plugin", "0.10.2", ['nvidia-cudnn-cu13<10.0,>=9.8; extra == "with-cuda"'])
    _fake_dist(fake, "nvidia-cudnn-cu13", "9.10.2.21")
    _fake_dist(fake, "tensorflow", "2.21.0", ['nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"', "numpy>=1.26"])
    _fake_dist(fake, "nvidia-cudnn-cu12", "9.1.0.70")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake), SRC]))
    report = doctor(backend=[])
    assert cuda_wants(report.facts["python"]["dists"]) == {
        "jax": {13: ["jax-cuda13-plugin", "nvidia-cudnn-cu13"]},
        "tensorflow": {12: ["nvidia-cudnn-cu12"]},
    }
    found = {f.code: f for f in report.findings}
    assert "jax uses CUDA 13 wheels" in found["cuda-conflict"].message
    assert "tensorflow uses CUDA 12 wheels" in found["cuda-conflict"].message
    assert "--cuda 12" in found["cuda-conflict"].fix
    assert "nvidia-cudnn-cu12 9.1.0.70 is installed" in found["cuda-wheel-version"].message
    assert not report.healthy and report.exit_code == 1


# ---------------------------------------------------------------- GPU rules (no GPU here: facts by hand)
def _gpu_facts(backends, dists=None, env=None, cuda=(13, 0)):
    return {
        "current": True,
        "python": {
            "python": "3.11.7",
            "executable": "/usr/bin/python3",
            "system": "Linux",
            "dists": {"keras": {"version": "3.15.1", "requires": []}, **(dists or {})},
            "modules": {"keras": "/usr/lib/python3/site-packages/keras/__init__.py"},
        },
        "env": env or {},
        "keras_backend": {"requested": "torch", "selected": "torch"},
        "keras_json": {},
        "gpu": {"names": ["NVIDIA H100 80GB HBM3"], "driver": "580.65.06", "cuda": list(cuda)},
        "backends": backends,
    }


def test_gpu_present_but_unused():
    cpu_torch = {"ok": True, "version": "2.13.0+cpu", "cuda_build": None, "devices": ["cpu"]}
    found = {f.code: f for f in diagnose(_gpu_facts({"torch": cpu_torch}))}
    assert found["gpu-unused"].severity == "warning"
    assert "torch 2.13.0+cpu is the CPU build" in found["gpu-unused"].message
    assert found["gpu-unused"].fix == "keraslearn install --backend torch --gpu yes --reinstall"

    hidden = _gpu_facts({"torch": {**cpu_torch, "cuda_build": "13.0"}}, env={"CUDA_VISIBLE_DEVICES": ""})
    assert [(f.code, f.fix) for f in diagnose(hidden)] == [("gpu-unused", "unset CUDA_VISIBLE_DEVICES")]

    old_driver = _gpu_facts({"torch": {**cpu_torch, "cuda_build": "13.0"}}, cuda=(12, 4))
    (finding,) = diagnose(old_driver)
    assert "needs a newer driver (this one supports CUDA 12.4)" in finding.message and "--cuda 12" in finding.fix

    jax_cpu = {"ok": True, "version": "0.10.2", "devices": ["cpu:0"]}
    (finding,) = [f for f in diagnose(_gpu_facts({"jax": jax_cpu})) if f.code == "gpu-unused"]
    assert finding.severity == "info" and "no jax-cuda12-plugin" in finding.message  # jax is not the selected backend


def test_jax_preallocation_note_is_not_a_problem():
    jax_gpu = {"ok": True, "version": "0.10.2", "devices": ["cuda:0"]}
    findings = diagnose(_gpu_facts({"jax": jax_gpu}, dists={"jax-cuda13-plugin": {"version": "0.10.2", "requires": []}}))
    assert [(f.code, f.severity) for f in findings] == [("jax-preallocation", "info")]
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in findings[0].fix
    assert diagnose(_gpu_facts({"jax": jax_gpu}, env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})) == []
    bad = diagnose(_gpu_facts({"jax": jax_gpu}, env={"XLA_PYTHON_CLIENT_MEM_FRACTION": "75"}))
    assert [(f.code, f.severity) for f in bad] == [("jax-preallocation", "warning")]


# ---------------------------------------------------------------- available() / check()
def test_check_in_this_process():
    status = check()
    import keras

    assert status.backend == keras.backend.backend() and status.keras_version == keras.__version__
    assert status.devices and str(status).startswith(f"keras {keras.__version__} on {status.backend}")
    assert available()
    with pytest.warns(UserWarning, match=r"backend='pytorch' is not a backend keraslearn trains on .*did you mean "
                                         r"'torch'"):  # False, as for a missing one, but a typo says so
        assert not available("pytorch")
    other = next(b for b in ("jax", "torch") if b != status.backend)
    assert not available(other)  # the backend is fixed once keras is imported
    with pytest.raises(BackendUnavailableError, match=f"already running on '{status.backend}'.*KERAS_BACKEND={other}"):
        check(other)


def test_check_and_available_in_broken_processes(tmp_path, numpy_abi_torch, no_tensorflow):
    script = (
        "import json, keraslearn\n"
        "out = {'available': keraslearn.available(), 'tf': keraslearn.available('tensorflow')}\n"
        "for name in ('torch', 'tensorflow'):\n"
        "    try:\n"
        "        keraslearn.check(name)\n"
        "    except ImportError as err:\n"
        "        out[name] = f'{type(err).__name__}: {err}'\n"
        "print(json.dumps(out))\n"
    )
    proc = _run(["-c", script], _env(tmp_path, [numpy_abi_torch, no_tensorflow], KERAS_BACKEND="torch"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    # available() only looks: the broken torch is found, the hidden TensorFlow is not.
    assert out["available"] is True and out["tf"] is False
    assert out["torch"].startswith("BackendUnavailableError: the torch backend is installed but torch does not import")
    assert "run `keraslearn doctor`" in out["torch"]
    assert out["tensorflow"].startswith("BackendUnavailableError: the tensorflow backend is not installed")
    assert out["tensorflow"].endswith("Fix: keraslearn install --backend tensorflow")


def test_keras_json_fix_names_a_backend_that_works():
    """keras.json and KERAS_BACKEND both name a missing TensorFlow: the fix must not write it back."""
    facts = _gpu_facts({"jax": {"ok": True, "version": "0.10.2", "devices": ["cpu:0"]},
                        "tensorflow": {"ok": False, "error": {"type": "ModuleNotFoundError",
                                                              "stage": "import tensorflow"}}})
    facts["keras_backend"] = {"requested": "tensorflow", "selected": "tensorflow"}
    facts["keras_json"] = {"path": "/home/u/.keras/keras.json", "backend": "tensorflow"}
    (finding,) = [f for f in diagnose(facts) if f.code == "keras-json-backend"]
    assert "selects tensorflow" in finding.message
    assert 'c["backend"] = "jax"' in finding.fix
    # No backend works: rewriting the file (shared by every environment) to another missing one cannot help.
    facts["backends"] = {"tensorflow": facts["backends"]["tensorflow"]}
    facts["python"]["modules"]["jax"] = None
    (finding,) = [f for f in diagnose(facts) if f.code == "keras-json-backend"]
    assert finding.fix == "keraslearn install --backend tensorflow"


def test_a_python_too_old_gets_only_the_fix_install_accepts():
    """Installing Keras into Python 3.9 is refused by `keraslearn install`: offering it sent users in a circle."""
    facts = _gpu_facts({"jax": {"ok": False, "error": {"type": "ModuleNotFoundError", "stage": "import jax",
                                                       "name": "jax"}}})
    facts["python"]["python"] = "3.9.18"
    facts["python"]["dists"], facts["python"]["modules"] = {}, {}
    facts["keras_backend"] = {"requested": "jax", "selected": "jax"}
    assert [(f.code, f.fix) for f in diagnose(facts)] == [
        ("python-too-old", "keraslearn install --method venv   (run with Python 3.11 or newer)")]


def test_check_names_a_backend_written_in_capitals(monkeypatch):
    """KERAS_BACKEND=JAX: Keras cannot import a backend 'JAX', and the fix is the spelling, not a reinstall."""
    monkeypatch.setenv("KERAS_BACKEND", "JAX")
    with pytest.raises(BackendUnavailableError, match=r"KERAS_BACKEND='JAX' is not a name Keras reads.*=jax"):
        check()
    # A name passed to check() is the argument's mistake, not the environment's (it blamed KERAS_BACKEND).
    with pytest.raises(BackendUnavailableError, match=r"^backend='pytorch' is not a backend .*did you mean 'torch'\?"):
        check("pytorch")
    monkeypatch.setenv("KERAS_BACKEND", "pytorch")
    with pytest.raises(BackendUnavailableError, match=r"KERAS_BACKEND='pytorch' .*Fix: set KERAS_BACKEND=torch"):
        check()


def test_a_probe_that_times_out_is_slow_not_broken():
    late = {"ok": False, "error": {"stage": "timeout", "type": "TimeoutError", "message": "no answer after 0.5 s"}}
    found = {f.code: f for f in diagnose(_gpu_facts({"torch": late}))}
    assert "backend-broken" not in found  # no reinstall advised for a slow import
    assert found["backend-timeout"].severity == "warning" and "--timeout" in found["backend-timeout"].fix
    assert "no answer after 0.5 s" in found["backend-timeout"].message


def test_a_python_that_times_out_is_slow_and_an_unreadable_keras_json_is_a_warning():
    facts = _gpu_facts({"jax": {"ok": True, "version": "0.10.2", "devices": ["cpu:0"]}})
    facts["python"] = {"error": {"stage": "timeout", "type": "TimeoutError", "message": "no answer after 0.3 s"}}
    (finding,) = diagnose(facts)
    assert finding.code == "python-timeout" and finding.severity == "warning" and "--timeout" in finding.fix
    facts = _gpu_facts({"jax": {"ok": True, "version": "0.10.2", "devices": ["cpu:0"]}})
    facts["keras_json"] = {"path": "/home/u/.keras/keras.json", "exists": True, "backend": None,
                           "error": "JSONDecodeError: Expecting property name", "ignored": True}
    found = {f.code: f for f in diagnose(facts)}
    unreadable = found["keras-json-unreadable"]
    assert unreadable.severity == "warning" and "Keras ignores it" in unreadable.message
    facts["keras_json"].update(error="a JSON list, not an object", ignored=False)  # Keras' import fails on it
    (broken,) = [f for f in diagnose(facts) if f.code == "keras-json-unreadable"]
    assert broken.severity == "error" and "`import keras` fails on it" in broken.message
    assert '/home/u/.keras/keras.json' in unreadable.fix and '\\"backend\\": \\"jax\\"' in unreadable.fix


def test_the_selected_backend_is_probed_and_a_named_missing_backend_is_an_error(tmp_path, no_tensorflow):
    # `--backend jax` with KERAS_BACKEND=tensorflow: the backend Keras will run on is probed too.
    code, report = _doctor_json(tmp_path, "jax", pythonpath=[no_tensorflow], KERAS_BACKEND="tensorflow")
    assert code == 1 and set(report["facts"]["backends"]) == {"jax", "tensorflow"}
    assert "KERAS_BACKEND selects tensorflow" in _codes(report)["backend-missing"]["message"]
    # A backend the user names, not installed, is a problem even when it is not the selected one.
    missing = {"ok": False,
               "error": {"type": "ModuleNotFoundError", "stage": "import tensorflow", "name": "tensorflow"}}
    facts = _gpu_facts({"torch": {"ok": True, "version": "2.13.0", "devices": ["cpu"]}, "tensorflow": missing})
    facts["gpu"]["names"] = []
    facts["keras_backend"]["asked"] = ["tensorflow"]
    (finding,) = [f for f in diagnose(facts) if f.code == "backend-missing"]
    assert finding.message == "tensorflow is not installed" and finding.fix == "keraslearn install --backend tensorflow"


def test_a_slow_backend_named_in_keras_json_is_not_called_broken():
    late = {"ok": False, "error": {"stage": "timeout", "type": "TimeoutError", "message": "no answer after 2 s"}}
    facts = _gpu_facts({"torch": {"ok": True, "version": "2.13.0", "devices": ["cpu"]}, "tensorflow": late})
    facts["keras_json"] = {"path": "/home/u/.keras/keras.json", "backend": "tensorflow"}
    codes = [f.code for f in diagnose(facts)]
    assert "backend-timeout" in codes and "keras-json-backend" not in codes


def test_a_shadowed_keras_is_not_blamed_on_the_backend(tmp_path):
    (tmp_path / "keras.py").write_text("x = 1\n")  # a user's script named keras.py, in the working folder
    proc = _run(["-m", "keraslearn", "doctor", "--backend", "jax"], _env(tmp_path, KERAS_BACKEND="jax"), tmp_path)
    assert proc.returncode == 1
    assert "ERROR   keras-shadowed" in proc.stdout and str(tmp_path / "keras.py") in proc.stdout
    assert "backend-broken" not in proc.stdout  # reinstalling jax would not help
    # The other commands, and a learner in a script, say so in one line (a traceback into keraslearn before).
    proc = _run(["-m", "keraslearn", "fit", "iris", "--target", "species", "--epochs", "1"],
                _env(tmp_path, KERAS_BACKEND="jax"), tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"error: `import keras` finds '{tmp_path / 'keras.py'}', not the Keras package" in proc.stderr


def test_unknown_backend_fix_names_the_backend_meant():
    facts = _gpu_facts({})
    facts["keras_backend"] = {"requested": "pytorch", "selected": "pytorch"}
    (finding,) = [f for f in diagnose(facts) if f.code == "unknown-backend"]
    assert finding.fix.startswith("export KERAS_BACKEND=torch")


def test_doctor_and_install_run_where_the_other_commands_cannot_load(tmp_path):
    # pandas broken as a NumPy ABI mismatch breaks it: `doctor` must still answer.
    shim = tmp_path / "shim"
    (shim / "pandas").mkdir(parents=True)
    (shim / "pandas" / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility')\n"
    )
    env = _env(tmp_path, [shim], KERAS_BACKEND="jax")
    proc = _run(["-m", "keraslearn", "install", "--dry-run"], env, tmp_path)
    assert proc.returncode == 0 and "keraslearn install plan: jax" in proc.stdout, proc.stderr[-2000:]
    proc = _run(["-m", "keraslearn", "fit", "data.csv", "--target", "y"], env, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "keraslearn.commands: ValueError: numpy.dtype size changed" in proc.stderr
    assert "run `keraslearn doctor`" in proc.stderr


def test_a_broken_pandas_or_scikit_learn_is_found(tmp_path):
    """The CLI sends a user whose pandas fails to import to `keraslearn doctor`: the doctor must see it too."""
    installed = tmp_path / "lib" / "site-packages"  # as pip installs it: reinstalling is the fix
    (installed / "pandas").mkdir(parents=True)
    (installed / "pandas" / "__init__.py").write_text("raise ImportError('numpy.core.multiarray failed to import')\n")
    stray = tmp_path / "stray"  # a folder named like the library, earlier on the path: renaming it is the fix
    (stray / "sklearn").mkdir(parents=True)
    (stray / "sklearn" / "__init__.py").write_text("import pandas\n")  # fails with pandas: not blamed
    code, report = _doctor_json(tmp_path, "jax", pythonpath=[installed, stray])
    assert [f["message"].split(" ")[0] for f in report["findings"] if f["code"] == "library-broken"] == ["pandas"]
    (stray / "sklearn" / "__init__.py").write_text("raise RuntimeError('half a package')\n")
    code, report = _doctor_json(tmp_path, "jax", pythonpath=[installed, stray])
    assert code == 1
    broken = [f for f in report["findings"] if f["code"] == "library-broken"]
    assert [f["message"].split(" ")[0] for f in broken] == ["pandas", "sklearn"]
    pandas, sklearn = broken
    assert "pandas does not import (built against another NumPy): ImportError" in pandas["message"]
    assert pandas["fix"].endswith("-m pip install --upgrade --force-reinstall pandas")
    assert f"sklearn ({stray / 'sklearn' / '__init__.py'}) does not import: RuntimeError: half a package" in \
        sklearn["message"]
    assert sklearn["fix"] == SHADOW_FIX


def test_an_environment_without_pip_is_told_to_run_ensurepip_first(tmp_path):
    """The fixes run `python -m pip`: in a venv made --without-pip (or by uv) the doctor says to add pip first."""
    env = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    proc = _run(["-m", "keraslearn", "doctor", "--json", "--env", str(env)], _env(tmp_path), tmp_path)
    found = _codes(json.loads(proc.stdout))
    assert "keras-missing" in found
    assert found["pip-missing"]["fix"] == f"{env / 'bin' / 'python'} -m ensurepip --upgrade"


def test_fixes_for_windows_are_written_for_cmd():
    """cmd.exe takes no single quotes: an interpreter path with a space is double-quoted, and so is code."""
    from keraslearn.setup.findings import Context, command_line

    exe = r"C:\Users\me\keras env\Scripts\python.exe"
    ctx = Context({"python": {"system": "Windows", "executable": exe}, "current": False})
    assert ctx.pip == f'"{exe}" -m pip' and ctx.target == f' --env "{exe}"'
    assert command_line([exe, "-c", 'print("a b")'], "Windows") == f'"{exe}" -c "print(\\"a b\\")"'
    assert command_line(["/usr/bin/python3", "-c", 'print("a b")']) == "/usr/bin/python3 -c 'print(\"a b\")'"


def test_one_cuda_wheel_from_another_package_is_not_an_extra_installed():
    """xgboost brings nvidia-nccl-cu12; plain tensorflow lists it under [and-cuda] only: no CUDA 12 claim."""
    tensorflow = {"version": "2.21.0", "requires": ['nvidia-nccl-cu12>=2.25; extra == "and-cuda"',
                                                    'nvidia-cublas-cu12>=12.5; extra == "and-cuda"', "numpy>=1.26"]}
    dists = {"tensorflow": tensorflow, "nvidia-nccl-cu12": {"version": "2.27.3"}, "numpy": {"version": "2.4.6"}}
    assert cuda_wants(dists) == {}
    dists["nvidia-cublas-cu12"] = {"version": "12.9.1"}  # every wheel of the extra: tensorflow[and-cuda]
    assert cuda_wants(dists) == {"tensorflow": {12: ["nvidia-nccl-cu12", "nvidia-cublas-cu12"]}}


def test_a_gpu_jax_built_for_another_numpy_is_reinstalled_with_its_plugin():
    """``pip install --upgrade jax jaxlib`` leaves jax-cuda12-plugin at its old version, which must match jaxlib."""
    from keraslearn.setup.diagnose import _upgrade
    from keraslearn.setup.findings import Context

    jax = {"version": "0.7.0", "requires": []}
    cpu = Context({"python": {"executable": "/env/bin/python", "dists": {"jax": jax, "jaxlib": jax}}})
    assert _upgrade(cpu, "jax") == "/env/bin/python -m pip install --upgrade jax jaxlib"
    gpu = Context({"python": {"executable": "/env/bin/python",
                              "dists": {"jax": jax, "jaxlib": jax, "jax-cuda12-plugin": jax}}, "current": False})
    assert _upgrade(gpu, "jax") == "keraslearn install --backend jax --reinstall --env /env/bin/python"


def test_a_library_hidden_by_a_file_in_the_working_folder_is_named_alone(tmp_path):
    """A user's numpy.py in the working folder breaks pandas, scikit-learn and jax: the doctor told to
    force-reinstall all three, which leaves the cause in place."""
    (tmp_path / "numpy.py").write_text("x = 1\n")
    code, report = _doctor_json(tmp_path, "jax", KERAS_BACKEND="jax")
    assert code == 1
    assert [f["code"] for f in report["findings"]] == ["library-shadowed"], report["findings"]
    (finding,) = report["findings"]
    assert f"`import numpy` finds {tmp_path / 'numpy.py'}, not an installed package" in finding["message"]
    assert "pandas" in finding["message"] and finding["fix"] == SHADOW_FIX


@pytest.mark.parametrize("variable,value,said", [
    ("XLA_FLAGS", "--xla_bogus_flag=1", "Unknown flag in XLA_FLAGS: --xla_bogus_flag=1"),  # jax crashes at start
    ("JAX_PLATFORMS", "tpu", "Unable to initialize backend 'tpu'"),
])
def test_a_variable_that_breaks_the_backend_is_named_with_unset_as_the_fix(tmp_path, variable, value, said):
    """Not "reinstall jax" (a GB that cannot help), and the crash's own last line, not "exited with code 1"."""
    code, report = _doctor_json(tmp_path, "jax", KERAS_BACKEND="jax", **{variable: value})
    found = _codes(report)
    assert code == 1 and "backend-broken" not in found
    finding = found["backend-variable"]
    assert said in finding["message"]
    assert f"{variable}={value!r} is set, and changes how jax starts" in finding["message"]
    assert finding["fix"].startswith(f"unset {variable}   (then run keraslearn doctor again")


def test_a_working_checkout_and_a_harmless_variable_are_not_blamed():
    """A dev checkout of pandas in the working folder that imports, while TensorFlow is not installed: no
    finding; a broken jax install with JAX_PLATFORMS=cpu set: the reinstall, not `unset JAX_PLATFORMS`."""
    jax_ok = {"ok": True, "version": "0.10.2", "devices": ["cpu:0"]}
    no_tf = {"ok": False, "error": {"type": "ModuleNotFoundError", "stage": "import tensorflow", "name": "tensorflow"}}
    facts = _gpu_facts({"jax": jax_ok, "tensorflow": no_tf})
    facts["keras_backend"] = {"requested": "jax", "selected": "jax"}
    facts["python"].update(cwd="/home/u/pandas", libraries={"numpy": None, "pandas": None, "sklearn": None})
    facts["python"]["modules"]["pandas"] = "/home/u/pandas/pandas/__init__.py"
    facts["gpu"] = {}
    assert [f.code for f in diagnose(facts)] == []

    broken = {"ok": False, "error": {"type": "ImportError", "stage": "import jax",
                                     "message": "jaxlib version 0.4.20 is installed but jax requires jaxlib>=0.7.0"}}
    facts["backends"], facts["env"] = {"jax": broken}, {"JAX_PLATFORMS": "cpu"}
    (finding,) = diagnose(facts)
    assert (finding.code, finding.fix) == ("backend-broken", "keraslearn install --backend jax --reinstall")


def test_a_jax_that_does_not_import_is_not_blamed_on_torch_or_tensorflow():
    """Keras imports jax on every backend where it is installed, and TensorFlow imports it too: a jaxlib that
    does not match jax breaks all three, and the one finding is jax's (reinstalling torch cannot help)."""
    said = "jaxlib is version 0.4.30, but this version of jax requires version >= 0.10.1."
    trace = f'  File "/venv/site-packages/jax/_src/lib/__init__.py", line 68\nRuntimeError: {said}'
    jax = {"ok": False, "error": {"type": "RuntimeError", "stage": "import jax", "message": said, "traceback": trace}}
    torch = {"ok": False, "version": "2.13.0+cpu",
             "error": {"type": "RuntimeError", "stage": "keras", "message": said, "traceback": trace}}
    tf = {"ok": False, "error": {"type": "RuntimeError", "stage": "import tensorflow", "message": said,
                                 "traceback": '  File "/venv/site-packages/tensorflow/__init__.py"\n' + trace}}
    facts = _gpu_facts({"jax": jax, "torch": torch, "tensorflow": tf})
    facts["gpu"], facts["keras_backend"] = {}, {"requested": None, "selected": "jax"}
    facts["keras_json"] = {"path": "/home/u/.keras/keras.json", "backend": "tensorflow"}
    found = [(f.code, f.severity, f.fix) for f in diagnose(facts)]
    assert found == [("backend-broken", "error", "keraslearn install --backend jax --reinstall")], found
    # torch selected: jax's finding is the error that keeps it from running, and says so
    facts["keras_backend"] = {"requested": "torch", "selected": "torch"}
    (finding,) = diagnose(facts)
    assert finding.severity == "error" and "and so torch and tensorflow fail too" in finding.message, finding
    # torch failing on its own (its message, not jax's) is still torch's finding
    facts["backends"]["torch"] = {**torch, "error": {**torch["error"], "message": "torch is broken"}}
    assert "torch does not work" in " ".join(f.message for f in diagnose(facts))
