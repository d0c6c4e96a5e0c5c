"""keraslearn install / install_keras: plans (pure, no network) and one real venv resolve."""

import itertools
import os
import shlex
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keraslearn.cli import main
from keraslearn.setup.install import InstallError, install_keras
from keraslearn.setup.choices import keras_requirement, normalize_backends
from keraslearn.setup.plan import TORCH_VERSION, plan_install
from keraslearn.setup.system import GPUInfo, SystemInfo, parse_nvidia_smi, pip_find_links_wheels

H100 = GPUInfo(names=("NVIDIA H100 80GB HBM3",), driver="580.65.06", cuda=(13, 0))
LINUX_GPU = SystemInfo("Linux", "x86_64", "/usr/bin/python3", (3, 11), H100, "/opt/conda/bin/conda")
LINUX_CPU = SystemInfo("Linux", "x86_64", "/usr/bin/python3", (3, 11), GPUInfo(), "/opt/conda/bin/conda")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _pip_steps(plan):
    return [s for s in plan.steps if s.kind == "pip"]


def _index_of(plan, requirement):
    """The --index-url of the pip step that installs ``requirement`` first (None: default index)."""
    for step in _pip_steps(plan):
        if requirement in step.argv:
            argv = list(step.argv)
            return argv[argv.index("--index-url") + 1] if "--index-url" in argv else None
    raise AssertionError(f"{requirement} is not installed by {plan.commands()}")


@pytest.mark.parametrize("system", [LINUX_GPU, LINUX_CPU], ids=["gpu-machine", "cpu-machine"])
@pytest.mark.parametrize(
    "backend,gpu,method", list(itertools.product(("jax", "torch", "tensorflow"), ("auto", "yes", "no"), ("pip", "venv", "conda")))
)
def test_plan_matrix(system, backend, gpu, method, tmp_path):
    env = str(tmp_path / "env") if method == "venv" else None
    plan = plan_install(backend, gpu=gpu, method=method, env=env, system=system)
    use_gpu = gpu == "yes" or (gpu == "auto" and system.gpu.present)
    assert plan.gpu is use_gpu
    # CUDA 13 on a driver that supports it, unless TensorFlow (CUDA 12 wheels only) is in the plan.
    assert plan.cuda == ((12 if backend == "tensorflow" or not system.gpu.present else 13) if use_gpu else None)
    reqs = plan.requirements()
    assert "keras>=3.13,<4" in plan.steps[-1].argv and reqs.count("keras>=3.13,<4") == 1
    if backend == "jax":
        assert f"jax[cuda{plan.cuda}]" in reqs if use_gpu else "jax[cpu]" in reqs
        assert not any(r.startswith(("torch", "tensorflow")) for r in reqs)
    elif backend == "torch":
        assert f"torch=={TORCH_VERSION}" in reqs and not any(r.startswith("torch") and r != f"torch=={TORCH_VERSION}" for r in reqs)
        tag = {12: "cu126", 13: "cu130"}.get(plan.cuda, "cpu")
        assert _index_of(plan, f"torch=={TORCH_VERSION}") == f"https://download.pytorch.org/whl/{tag}"
    else:
        assert ("tensorflow[and-cuda]" if use_gpu else "tensorflow-cpu") in reqs
    # Where the commands run.
    first = plan.steps[0].argv
    if method == "pip":
        assert plan.python == ("/usr/bin/python3",) and first[:4] == ("/usr/bin/python3", "-m", "pip", "install")
    elif method == "venv":
        assert first == ("/usr/bin/python3", "-m", "venv", env)
        assert plan.python == (os.path.join(env, "bin", "python"),)
    else:
        assert first == ("/opt/conda/bin/conda", "create", "-y", "-n", "keraslearn", "python=3.11", "pip")
        assert plan.python == ("/opt/conda/bin/conda", "run", "--no-capture-output", "-n", "keraslearn", "python")
    assert all(step.argv[: len(plan.python)] == plan.python for step in plan.steps if step.kind == "pip")
    # The shell lines are the argv, quoted; the verification probes each backend with KERAS_BACKEND set.
    assert [shlex.split(c) for c in plan.commands()] == [list(s.argv) for s in plan.steps]
    assert [dict(v.env)["KERAS_BACKEND"] for v in plan.verify] == [backend]
    assert plan.verify[0].argv[-2:] == ("backend", backend)
    text = str(plan)
    assert all(c in text for c in plan.commands())


def test_all_backends_on_gpu_share_cuda_12_when_tensorflow_is_there():
    plan = plan_install(["jax", "torch", "tensorflow"], gpu="yes", system=LINUX_GPU)
    assert plan.cuda == 12
    assert {"jax[cuda12]", "tensorflow[and-cuda]", f"torch=={TORCH_VERSION}"} <= set(plan.requirements())
    assert _index_of(plan, f"torch=={TORCH_VERSION}").endswith("/cu126")
    # torch comes from its index first, then is named again so pip keeps its CUDA wheels consistent.
    assert f"torch=={TORCH_VERSION}" in plan.steps[-1].argv and "--index-url" not in plan.steps[-1].argv
    assert any("CUDA 12 only" in n for n in plan.notes)
    with pytest.raises(ValueError, match="CUDA 12 libraries only"):
        plan_install(["jax", "tensorflow"], gpu="yes", cuda=13, system=LINUX_GPU)


def test_cuda_follows_the_driver():
    old = GPUInfo(names=("Tesla T4",), driver="550.54", cuda=(12, 4))
    plan = plan_install(["jax", "torch"], system=SystemInfo(gpu=old))
    assert plan.cuda == 12 and "jax[cuda12]" in plan.requirements()
    assert plan_install("jax", cuda=13, system=SystemInfo(gpu=old)).notes[-1].startswith("the driver supports CUDA 12.4 only")
    with pytest.raises(ValueError, match="CUDA 12 or 13"):
        plan_install("jax", gpu="yes", cuda=11, system=LINUX_GPU)
    # --cuda with CPU builds was silently ignored: contradicting --gpu no, or unused where no GPU is found
    with pytest.raises(ValueError, match=r"cuda=13 is for CUDA builds, but gpu='no': drop --cuda, or use --gpu yes"):
        plan_install("jax", gpu="no", cuda=13, system=LINUX_GPU)
    plan = plan_install("jax", cuda=13, system=SystemInfo())
    assert plan.cuda is None and any("cuda=13 is unused" in n for n in plan.notes)


def test_conda_only_where_conda_exists():
    no_conda = SystemInfo("Linux", "x86_64", "/usr/bin/python3", (3, 11), GPUInfo(), None)
    with pytest.raises(ValueError, match=r"conda was not found.*--method venv"):
        plan_install("jax", method="conda", system=no_conda)
    plan = plan_install("jax", method="conda", env="/data/envs/k", system=LINUX_CPU, create_env=False)
    assert plan.steps[0].argv[:6] == ("/opt/conda/bin/conda", "run", "--no-capture-output", "-p", "/data/envs/k", "python")


def test_local_cpu_wheel_on_find_links_replaces_the_cpu_index():
    wheel = f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    plan = plan_install("torch", gpu="no", system=SystemInfo(python_version=(3, 11), local_wheels=(wheel,)))
    assert _index_of(plan, f"torch=={TORCH_VERSION}") is None and len(_pip_steps(plan)) == 1
    # A wheel for another Python is no use: back to PyTorch's CPU index.
    plan = plan_install("torch", gpu="no", system=SystemInfo(python_version=(3, 12), local_wheels=(wheel,)))
    assert _index_of(plan, f"torch=={TORCH_VERSION}") == TORCH_CPU_INDEX


def test_macos_and_windows():
    mac = SystemInfo("Darwin", "arm64", "/usr/local/bin/python3", (3, 12))
    plan = plan_install(["jax", "torch", "tensorflow"], system=mac)
    assert {"jax[cpu]", "tensorflow", f"torch=={TORCH_VERSION}"} <= set(plan.requirements())
    assert _index_of(plan, f"torch=={TORCH_VERSION}") is None  # PyPI's macOS wheel is the CPU/MPS build
    with pytest.raises(ValueError, match="no CUDA builds for macOS"):
        plan_install("torch", gpu="yes", system=mac)
    intel = SystemInfo("Darwin", "x86_64", "/usr/local/bin/python3", (3, 11))  # pip found no torch==2.13.0
    with pytest.raises(ValueError, match=r"backend='torch' on an Intel Mac: PyTorch publishes no macOS x86-64 "
                                         r"wheels after 2.2"):
        plan_install(["jax", "torch"], gpu="no", system=intel)
    assert "jax[cpu]" in plan_install("jax", system=intel).requirements()

    win = SystemInfo("Windows", "AMD64", r"C:\Python312\python.exe", (3, 12), H100)
    plan = plan_install(["torch", "jax"], method="venv", env=r"C:\envs\k", system=win)
    assert _index_of(plan, f"torch=={TORCH_VERSION}").endswith("/cu130") and "jax[cpu]" in plan.requirements()
    assert plan.python[0].endswith(os.path.join("Scripts", "python.exe"))
    assert any("WSL2" in n for n in plan.notes)
    # Printed for cmd.exe: a single quote is no quote there, and an unquoted > redirects.
    assert all("'" not in c for c in plan.commands())
    assert '"keras>=3.13,<4"' in plan.commands()[-1] and any(
        'set "KERAS_BACKEND=jax" && ' in step.command() for step in plan.verify)
    with pytest.raises(ValueError, match="WSL2"):
        plan_install("jax", gpu="yes", system=win)


def test_reinstall_swaps_a_cpu_torch_for_the_cuda_build():
    plan = plan_install("torch", gpu="yes", reinstall=True, system=LINUX_GPU)
    torch_step, main_step = _pip_steps(plan)
    assert "--force-reinstall" in torch_step.argv and torch_step.argv[-1].endswith("/cu130")
    # A forced reinstall of torch==2.13.0 from PyPI would undo the index's build.
    assert not any(a.startswith("torch") for a in main_step.argv) and "--force-reinstall" not in main_step.argv


def test_reinstall_of_several_backends_resolves_torch_with_them():
    """A forced reinstall ignores what is installed: torch must be in the same resolution as jax, or pip
    picks CUDA libraries for jax alone, and its build pinned by its local tag to PyTorch's index."""
    plan = plan_install(["jax", "torch"], gpu="yes", cuda=12, reinstall=True, system=LINUX_GPU)
    (step,) = _pip_steps(plan)
    assert "--force-reinstall" in step.argv and f"torch=={TORCH_VERSION}+cu126" in step.argv
    assert step.argv[-2:] == ("--extra-index-url", "https://download.pytorch.org/whl/cu126")


def test_a_plan_shows_short_in_a_notebook():
    """A REPL shows install_keras(dry_run=True)'s result: the probe's source made it 7,700 characters."""
    plan = plan_install(["jax", "torch"], system=LINUX_CPU)
    assert len(repr(plan)) < 1000 and "<keraslearn probe>" in repr(plan)


def test_an_extra_naming_torch_is_refused():
    for extra in ("torch", "Torch==2.5.0", "torch>=2"):
        with pytest.raises(ValueError, match="torch comes with --backend torch"):
            plan_install("jax", extras=[extra], system=LINUX_CPU)
    # A package that requires torch is resolved with the pinned torch, or pip takes PyPI's latest CUDA build.
    for extra in ("torchvision", "pytorch_tabnet>=4", "torchmetrics"):
        with pytest.raises(ValueError, match=f"extras={extra!r} requires torch.*Add --backend torch"):
            plan_install("jax", extras=[extra], system=LINUX_CPU)
    plan = plan_install(["jax", "torch"], extras=["torchvision"], system=LINUX_CPU)
    (step,) = [s for s in _pip_steps(plan) if "torchvision" in s.argv]
    assert f"torch=={TORCH_VERSION}" in step.argv  # one resolution: the pinned torch with it
    assert plan_install("jax", extras=["torchdata-free"], system=LINUX_CPU).requirements()[-1] == "torchdata-free"


def test_arguments_are_checked():
    assert normalize_backends("jax,torch") == ("jax", "torch")
    assert normalize_backends(["tf", "jax", "tf"]) == ("tensorflow", "jax")
    with pytest.raises(ValueError, match="unknown backend 'theano'"):
        plan_install("theano", system=LINUX_CPU)
    with pytest.raises(ValueError, match="'auto', 'yes' or 'no'"):
        plan_install("jax", gpu="maybe", system=LINUX_CPU)
    with pytest.raises(ValueError, match="pip, venv, conda"):
        plan_install("jax", method="poetry", system=LINUX_CPU)
    assert plan_install("jax", gpu="yes", cuda="13.0", system=LINUX_GPU).cuda == 13
    for cuda in ("thirteen", 11, True, 12.4):  # not int()'s own error, nor 12.4 read as 12
        with pytest.raises(ValueError, match=f"cuda={cuda}: keraslearn installs CUDA 12 or 13 builds"):
            plan_install("jax", gpu="yes", cuda=cuda, system=LINUX_GPU)
    with pytest.raises(ValueError, match="dry_run and resolve_only: choose one"):
        install_keras("jax", dry_run=True, resolve_only=True, system=LINUX_CPU)
    assert keras_requirement("3.15.1") == "keras==3.15.1"
    assert keras_requirement(">=3.14,<3.16") == "keras>=3.14,<3.16"
    assert keras_requirement("~=3.14") == "keras~=3.14"
    for bad in ("latest", "3.x", ">=3.13 <4", "!3"):  # pip cannot read them
        with pytest.raises(ValueError, match="use a Keras 3 version or specifier"):
            keras_requirement(bad)
    for old in ("2.15", "3.12.1", "<3.13", "4.0"):  # readable, but not a Keras keraslearn runs on
        with pytest.raises(ValueError, match="needs Keras 3.13 or newer"):
            keras_requirement(old)
    plan = plan_install("jax", version="3.15.1", extras=["scikit-learn"], system=LINUX_CPU)
    assert plan.requirements() == ["keras==3.15.1", "jax[cpu]", "scikit-learn"]


def test_parse_nvidia_smi():
    header = (
        "+-----------------------------------------------------------------------------------------+\n"
        "| NVIDIA-SMI 580.65.06              Driver Version: 580.65.06      CUDA Version: 13.0     |\n"
    )
    listing = (
        "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5f3c0e7a-1111-2222-3333-444455556666)\n"
        "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-5f3c0e7a-1111-2222-3333-444455556667)\n"
    )
    info = parse_nvidia_smi(header, listing)
    assert info.names == ("NVIDIA H100 80GB HBM3",) * 2 and info.driver == "580.65.06" and info.cuda == (13, 0)
    assert info.present and not parse_nvidia_smi("", "").present


def test_find_links_wheels_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    assert f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" in pip_find_links_wheels()


def test_find_links_from_config_files_are_ignored_when_pip_ignores_them(tmp_path, monkeypatch):
    """PIP_CONFIG_FILE=/dev/null: pip loads no config file, so their find-links do not count (a CPU torch wheel
    named there would not be used, and the plan must not rely on it)."""
    (tmp_path / f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (tmp_path / "xdg" / "pip").mkdir(parents=True)  # a global config file (as /etc/xdg/pip/pip.conf)
    (tmp_path / "xdg" / "pip" / "pip.conf").write_text(f"[global]\nfind-links = {tmp_path}\n")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_CONFIG_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    assert f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" in pip_find_links_wheels()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert pip_find_links_wheels() == ()


def test_cli_dry_run_prints_the_plan_and_runs_nothing(capsys, tmp_path):
    env = tmp_path / "never-created"
    code = main(["install", "--backend", "jax", "torch", "--gpu", "no", "--method", "venv", "--env", str(env), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{sys.executable} -m venv {env}" in out and "'jax[cpu]'" in out and f"torch=={TORCH_VERSION}" in out
    assert "dry run: nothing was run" in out and not env.exists()


def test_cli_bad_arguments_exit_2(capsys):
    assert main(["install", "--version", "latest", "--dry-run"]) == 2
    assert "use a Keras 3 version or specifier" in capsys.readouterr().err
    assert main(["install", "--backend", "theano", "--dry-run"]) == 2
    assert "unknown backend 'theano'" in capsys.readouterr().err


def test_cli_backends_are_spelled_as_in_python():
    """The CLI refused "tf" and "jax,torch", which install_keras accepts."""
    assert main(["install", "--backend", "tf", "jax,torch", "--gpu", "no", "--dry-run"]) == 0


@pytest.fixture
def offline_pip(monkeypatch):
    """pip may use only what is installed (or local wheels): these tests never change the environment."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")


@pytest.mark.slow
def test_install_into_this_python_then_verify(offline_pip, capsys):
    # keras and jax are already installed here: pip has nothing to do, then the check really runs.
    result = install_keras("jax", gpu="no", method="pip")
    out = capsys.readouterr().out
    assert result.ran and result.ok and "Requirement already satisfied: jax[cpu]" in out
    jax = result.verified["jax"]
    assert jax["ok"] and jax["active"] == "jax" and jax["op_result"] == 12.0 and "cpu:0" in jax["devices"]
    assert f"ok: jax {jax['version']} with keras {jax['keras']}" in out


def test_a_failing_command_stops_the_install(offline_pip, capsys):
    with pytest.raises(InstallError, match=r"(?s)failed with exit code 1.*keraslearn install` again") as err:
        install_keras("jax", gpu="no", extras=["keraslearn-no-such-package"])
    assert "keraslearn-no-such-package" in str(err.value)
    assert "\nverify:" not in capsys.readouterr().out  # nothing runs after the failed step


@pytest.mark.slow
def test_real_venv_resolved_by_pip(tmp_path):
    """Creates a real virtual environment and lets its pip resolve keras + jax against the registry."""
    env = tmp_path / "venv"
    result = install_keras("jax", gpu="no", method="venv", env=str(env), resolve_only=True, verbose=False)
    python = Path(result.plan.python[0])
    assert python.exists() and (env / "pyvenv.cfg").exists()
    assert {"keras", "jax", "jaxlib", "numpy"} <= set(result.resolved), result.resolved
    assert tuple(int(p) for p in result.resolved["keras"].split(".")[:2]) >= (3, 13)
    assert result.resolved["jax"] == result.resolved["jaxlib"]  # jax[cpu] pins its jaxlib
    assert not list(env.glob("lib/python*/site-packages/keras"))  # resolved, not installed


def _fake_env(root: Path, version: str) -> Path:
    """An environment folder whose ``bin/python`` answers as Python ``version`` does."""
    (root / "bin").mkdir(parents=True)
    python = root / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho {version}\n")
    python.chmod(0o755)
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in interpreter is a shell script")
def test_an_existing_environment_is_planned_for_its_own_python(tmp_path, capsys):
    wheel = f"torch-{TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    here = SystemInfo(python=sys.executable, python_version=(3, 11), local_wheels=(wheel,))
    # This Python could use the local cp311 wheel; an environment on Python 3.12 cannot.
    env312 = _fake_env(tmp_path / "py312", "3 12")
    result = install_keras("torch", gpu="no", env=str(env312), dry_run=True, system=here)
    assert _index_of(result.plan, f"torch=={TORCH_VERSION}") == TORCH_CPU_INDEX
    assert "into the environment: " in capsys.readouterr().out
    # Keras 3.13 and newer need Python 3.11: say so before pip does.
    env310 = _fake_env(tmp_path / "py310", "3 10")
    with pytest.raises(ValueError, match=r"is Python 3\.10: Keras 3\.13 and newer need Python 3\.11"):
        install_keras("jax", gpu="no", env=str(env310), dry_run=True, system=here)
    # A Python executable is not a folder to create a virtual environment in.
    with pytest.raises(ValueError, match="is a file.*use --method pip --env"):
        install_keras("jax", gpu="no", method="venv", env=str(env312 / "bin" / "python"), dry_run=True, system=here)


def test_cli_output_into_a_closed_pipe_stops_quietly(tmp_path):
    import subprocess

    # `true` reads nothing and exits: every write keraslearn makes meets a closed pipe.
    command = f"{shlex.quote(sys.executable)} -m keraslearn install --dry-run | true; echo ${{PIPESTATUS[0]}}"
    proc = subprocess.run(
        ["bash", "-c", command],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
    )
    assert proc.stdout.strip() == "141" and proc.stderr == ""


def test_an_environment_folder_named_like_python_is_still_a_folder(tmp_path):
    """--method venv --env python-keras: the venv's own interpreter runs pip, not the folder (or python3 on PATH)."""
    for name in ("python-keras", "python3"):
        env = str(tmp_path / name)
        plan = plan_install("jax", gpu="no", method="venv", env=env, system=LINUX_CPU)
        assert plan.python == (os.path.join(env, "bin", "python"),)
    interpreter = tmp_path / "bin" / "python3.12"  # --method pip --env: an interpreter is used as given
    assert plan_install("jax", gpu="no", method="pip", env=str(interpreter), system=LINUX_CPU).python == (
        str(interpreter),)
    folder = tmp_path / "python-env"  # ... and an existing folder gives its interpreter, whatever its name
    folder.mkdir()
    assert plan_install("jax", gpu="no", method="pip", env=str(folder), system=LINUX_CPU).python == (
        os.path.join(folder, "bin", "python"),)


@pytest.mark.slow
def test_a_cuda_build_forced_on_a_machine_without_gpu_verifies_with_a_note(capsys):
    """--gpu yes where nvidia-smi finds no GPU (a Docker build): no GPU device is expected, not a failure."""
    from keraslearn.setup.install import InstallResult, _verify

    here = SystemInfo("Linux", "x86_64", sys.executable, tuple(sys.version_info[:2]), GPUInfo(), None)
    plan = plan_install("jax", gpu="yes", method="pip", system=here)  # jax here is the CPU build: no GPU device
    result = InstallResult(plan)
    _verify(plan, result, print, gpu_seen=False)
    assert result.ok and "CUDA build sees no GPU here, as nvidia-smi found none" in capsys.readouterr().out
    _verify(plan, result, print, gpu_seen=True)  # a GPU was found but the build does not see it: a problem
    assert result.problems == ["jax was installed with CUDA but sees no GPU (cpu:0)"]


def test_an_environment_without_pip_is_told_to_run_ensurepip(tmp_path, offline_pip):
    """A venv made --without-pip (or by uv) has no pip: the fix names ensurepip, not 'the cause pip names'."""
    env = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    with pytest.raises(InstallError, match=rf"that Python has no pip: run `{re.escape(str(python))} -m ensurepip "
                                           r"--upgrade`, then run `keraslearn install` again"):
        install_keras("jax", gpu="no", method="pip", env=str(python), verbose=False)


def test_a_cuda_torch_over_an_installed_cpu_build_needs_reinstall(tmp_path):
    """pip keeps an installed ``torch 2.13.0+cpu`` when asked for ``torch==2.13.0`` from the CUDA index:
    the install changed nothing and its check then called the CPU wheel "torch's CUDA build"."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    info = Path(site) / f"torch-{TORCH_VERSION}+cpu.dist-info"  # what pip leaves of the CPU wheel
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {TORCH_VERSION}+cpu\n")
    here = SystemInfo(python=sys.executable, python_version=sys.version_info[:2], gpu=H100)
    with pytest.raises(ValueError, match=r"torch 2\.13\.0\+cpu, the CPU build, is installed.*Add --reinstall"):
        install_keras("torch", gpu="auto", env=str(python), dry_run=True, system=here)
    # Another version is replaced by the pinned one: no refusal.
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.0+cpu\n")
    assert install_keras("torch", gpu="yes", env=str(python), dry_run=True, verbose=False, system=here).plan.gpu
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {TORCH_VERSION}+cpu\n")
    # --reinstall replaces it; a CPU plan keeps it; another backend's GPU plan does not touch it.
    for args in ({"backend": "torch", "gpu": "yes", "reinstall": True}, {"backend": "torch", "gpu": "no"},
                 {"backend": "jax", "gpu": "yes"}):
        assert install_keras(env=str(python), dry_run=True, verbose=False, system=here, **args).plan
