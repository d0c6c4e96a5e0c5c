"""Install plans: the exact pip (or conda) commands for a backend on a platform, as data.

:func:`plan_install` is pure: it reads a :class:`~keraslearn.setup.system.SystemInfo`
(OS, Python, NVIDIA driver, conda, local wheels) and returns an :class:`InstallPlan`,
so every backend × GPU × method combination is testable without a network.

Choices (checked against PyPI metadata, November 2026):

- JAX: ``jax[cpu]``; on an NVIDIA GPU ``jax[cuda12]`` or ``jax[cuda13]`` (both extras pull
  the CUDA libraries as pip wheels).
- PyTorch: always ``torch==2.13.0``. PyPI's Linux wheel is the CUDA 13 build (GBs), so on
  Linux the CPU build comes from PyTorch's CPU index, unless a local CPU wheel sits on pip's
  ``find-links``; GPU builds come from PyTorch's ``cu126`` / ``cu130`` indexes. On macOS and
  Windows PyPI's wheel is the CPU (and Apple MPS) build.
- TensorFlow: ``tensorflow-cpu`` on Linux x86-64, ``tensorflow`` elsewhere, and
  ``tensorflow[and-cuda]`` on an NVIDIA GPU. Its CUDA wheels are CUDA 12 only, so a plan
  with TensorFlow on the GPU puts every backend on CUDA 12; otherwise CUDA 13 is used when
  the driver supports it. One CUDA major per environment avoids the cuDNN/cuBLAS clashes
  that make one backend fall back to the CPU (jax #18032, keras-hub #1257).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from dataclasses import dataclass, field

from keraslearn.setup.findings import command_line, req_name
from keraslearn.setup.choices import PYTHON_MIN, choose_cuda, keras_requirement, normalize_backends, resolve_gpu
from keraslearn.setup.system import SystemInfo, probe_source

METHODS = ("pip", "venv", "conda")
TORCH_VERSION = "2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_CUDA_TAGS = {12: "cu126", 13: "cu130"}
DEFAULT_VENV = os.path.join("~", ".virtualenvs", "keraslearn")
DEFAULT_CONDA_ENV = "keraslearn"


@dataclass(frozen=True)
class Step:
    """One command of a plan. ``env`` holds extra environment variables for it."""

    description: str
    argv: tuple[str, ...]
    kind: str = "pip"  # create | setup (pip itself) | pip | verify
    env: tuple[tuple[str, str], ...] = ()
    display: str | None = None
    os_name: str = "Linux"  # whose shell the line is written for (cmd.exe on Windows)

    def command(self) -> str:
        """The command as one shell line (what the user would type)."""
        if self.display is not None:
            return self.display
        if self.os_name == "Windows":
            prefix = "".join(f'set "{k}={v}" && ' for k, v in self.env)
        else:
            prefix = "".join(f"{k}={shlex.quote(v)} " for k, v in self.env)
        return prefix + command_line(self.argv, self.os_name)

    def __repr__(self) -> str:  # the shell line: a verify step's argv holds the probe's whole source
        return f"Step({self.description!r}, {self.command()!r})"


@dataclass(frozen=True)
class InstallPlan:
    """What ``keraslearn install`` will run, in order, then how it checks the result."""

    backends: tuple[str, ...]
    gpu: bool
    cuda: int | None
    method: str
    env: str | None
    python: tuple[str, ...]
    steps: tuple[Step, ...]
    verify: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())

    def commands(self) -> list[str]:
        """The install commands as shell lines."""
        return [step.command() for step in self.steps]

    def requirements(self) -> list[str]:
        """Every requirement the plan installs (from all pip steps)."""
        reqs: list[str] = []
        for step in self.steps:
            if step.kind == "pip":
                for arg in _pip_requirements(step.argv):
                    if arg not in reqs:
                        reqs.append(arg)
        return reqs

    def __str__(self) -> str:
        build = f"CUDA {self.cuda} builds" if self.gpu else "CPU builds"
        where = {"pip": "the environment" if self.env else "this environment", "venv": "a virtual environment",
                 "conda": "a conda environment"}
        lines = [
            f"keraslearn install plan: {', '.join(self.backends)} ({build}) into "
            f"{where[self.method]}{': ' + self.env if self.env else ''}"
        ]
        for i, step in enumerate(self.steps, 1):
            lines.append(f"  {i}. {step.description}")
            lines.append(f"       {step.command()}")
        lines.append("  then verify: " + "; ".join(step.description for step in self.verify))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _pip_requirements(argv) -> list[str]:
    args = list(argv[argv.index("install") + 1 :])
    reqs, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--index-url", "--extra-index-url", "--report", "-i"):
            skip = True
        elif not arg.startswith("-"):
            reqs.append(arg)
    return reqs


def _env_python(env: str, os_name: str, folder: bool = False) -> str:
    """The interpreter of ``env``: ``env`` itself when it names one (a file, or ``python3.12`` and the
    like), else the environment folder's own; ``folder=True`` (a venv to create) always takes the folder's."""
    base = os.path.basename(env.rstrip("/\\")).lower()
    named = re.fullmatch(r"python[\d.]*(\.exe)?", base) is not None
    if not folder and (os.path.isfile(env) or (named and not os.path.isdir(env))):
        return env
    if os_name == "Windows":
        return os.path.join(env, "Scripts", "python.exe")
    return os.path.join(env, "bin", "python")


def _local_torch_cpu_wheel(system: SystemInfo) -> str | None:
    """A wheel on pip's find-links that ``pip install torch==2.13.0`` would take as the CPU build."""
    tag = f"cp{system.python_version[0]}{system.python_version[1]}"
    for name in system.local_wheels:
        parts = name[: -len(".whl")].split("-")
        if len(parts) < 5 or parts[0] != "torch":
            continue
        version, python_tag, plat = parts[1], parts[2], parts[-1]
        if version != TORCH_VERSION + "+cpu":
            continue
        if python_tag == tag and system.machine.lower() in plat.lower() and "linux" in plat.lower():
            return name
    return None


def _backend_requirements(backends, gpu, cuda, system: SystemInfo):
    """(requirements from the default index, torch index or None, notes)."""
    linux = system.os == "Linux"
    reqs, notes, torch_index = [], [], None
    for name in backends:
        if name == "jax":
            reqs.append(f"jax[cuda{cuda}]" if gpu and linux else "jax[cpu]")
            if gpu and not linux:
                notes.append("JAX's CUDA builds are Linux-only (use WSL2 on Windows): installing the CPU build")
        elif name == "tensorflow":
            if gpu and linux:
                reqs.append("tensorflow[and-cuda]")
            else:
                x86 = system.machine.lower() in ("x86_64", "amd64")
                reqs.append("tensorflow-cpu" if linux and x86 else "tensorflow")
                if gpu:
                    notes.append(
                        "TensorFlow's GPU builds are Linux-only (use WSL2 on Windows): installing the CPU build"
                    )
        elif name == "torch":
            reqs.append(f"torch=={TORCH_VERSION}")
            if gpu and system.os in ("Linux", "Windows"):
                torch_index = f"{TORCH_INDEX}/{TORCH_CUDA_TAGS[cuda]}"
            elif linux:
                wheel = _local_torch_cpu_wheel(system)
                if wheel is None:
                    torch_index = f"{TORCH_INDEX}/cpu"
                else:
                    notes.append(f"torch's CPU wheel comes from pip's find-links: {wheel}")
            elif system.os == "Darwin":
                notes.append("torch's macOS wheel uses the Apple GPU (MPS) when there is one")
    return reqs, torch_index, notes


# Packages that require torch: alone, pip resolves them with PyPI's latest torch, a multi-GB CUDA build.
NEEDS_TORCH = ("torchvision", "torchaudio", "torchtext", "torchmetrics", "skorch", "pytorch-tabnet", "lightning",
               "pytorch-lightning", "timm")


def _extra_requirement(extra: str, backends) -> str:
    """An ``extras`` requirement, refused when it names torch (its build and pin come with ``--backend torch``),
    or a package that requires torch while the plan has no torch to pin it to."""
    name = req_name(str(extra))
    if name == "torch":
        raise ValueError(
            f"extras={extra!r}: torch comes with --backend torch, which installs torch=={TORCH_VERSION} in the "
            "build for this machine (an extra 'torch' from PyPI is its latest multi-GB CUDA build); drop it from "
            "--extra and add --backend torch"
        )
    if name in NEEDS_TORCH and "torch" not in backends:
        raise ValueError(
            f"extras={extra!r} requires torch, which pip would take from PyPI: its latest multi-GB CUDA build. "
            f"Add --backend torch, so that it is resolved with torch=={TORCH_VERSION} in the build for this machine"
        )
    return extra


def plan_install(
    backend="jax",
    *,
    gpu="auto",
    version=None,
    extras=(),
    method="pip",
    env=None,
    cuda=None,
    system: SystemInfo | None = None,
    create_env=True,
    reinstall=False,
) -> InstallPlan:
    """Plan the commands that install Keras and ``backend`` (one or several).

    Parameters
    ----------
    backend : str or sequence of str
        ``"jax"``, ``"torch"``, ``"tensorflow"`` (several allowed).
    gpu : {"auto", "yes", "no"} or bool
        CUDA builds when ``nvidia-smi`` finds a GPU (``auto``) or always (``yes``).
    version : str, optional
        Keras version or specifier (default ``>=3.13,<4``).
    extras : sequence of str
        More requirements for the same pip command (e.g. ``"scikit-learn"``).
    method : {"pip", "venv", "conda"}
        Install into an existing interpreter (``pip``), a new virtual environment, or a
        conda environment.
    env : str, optional
        ``pip``: an environment folder or interpreter (default: the current Python).
        ``venv``: the folder to create (default ``~/.virtualenvs/keraslearn``).
        ``conda``: an environment name or path (default ``keraslearn``).
    cuda : {12, 13}, optional
        Force the CUDA major of GPU builds.
    system : SystemInfo
        The machine to plan for (:func:`keraslearn.setup.system.detect_system`).
    create_env : bool
        Whether the plan creates the environment (``venv``/``conda``); False when it exists.
    reinstall : bool
        Add ``--force-reinstall`` to the install commands: replaces a broken backend, or a
        CPU build with a CUDA build of the same version (pip keeps ``torch 2.13.0+cpu`` for
        ``torch==2.13.0`` otherwise).
    """
    system = system or SystemInfo()
    backends = normalize_backends(backend)
    if method not in METHODS:
        raise ValueError(f"method={method!r}: use one of {', '.join(METHODS)}")
    use_gpu = resolve_gpu(gpu, system)
    explicit = use_gpu and str(gpu).strip().lower() != "auto"
    notes: list[str] = []
    if use_gpu and system.os == "Darwin":
        if explicit:
            raise ValueError(
                "gpu='yes': there are no CUDA builds for macOS; torch's standard wheel uses the "
                "Apple GPU (MPS): keraslearn install --backend torch --gpu no"
            )
        use_gpu = False
    if "torch" in backends and system.os == "Darwin" and system.machine.lower() in ("x86_64", "amd64"):
        raise ValueError(  # PyTorch's last Intel-Mac wheels are 2.2: pip would find no torch==2.13.0
            f"backend='torch' on an Intel Mac: PyTorch publishes no macOS x86-64 wheels after 2.2, so "
            f"torch=={TORCH_VERSION} cannot be installed there; use --backend jax or tensorflow, or an Apple "
            "silicon Mac or Linux for torch"
        )
    if use_gpu and system.os == "Windows" and explicit and set(backends) - {"torch"}:
        raise ValueError(
            "gpu='yes': JAX and TensorFlow have no CUDA builds for native Windows; use WSL2, "
            "or --backend torch (PyTorch has Windows CUDA wheels)"
        )
    if cuda is not None and not use_gpu:
        if str(gpu).strip().lower() not in ("auto", ""):
            raise ValueError(f"cuda={cuda} is for CUDA builds, but gpu={gpu!r}: drop --cuda, or use --gpu yes")
        notes.append(f"no GPU found by nvidia-smi, so CPU builds: cuda={cuda} is unused (--gpu yes installs CUDA "
                     "builds all the same)")
    cuda_major = choose_cuda(backends, system, cuda) if use_gpu else None
    if use_gpu:
        if system.gpu.present:
            notes.append(f"NVIDIA GPU: {system.gpu.describe()}")
        else:
            notes.append("no GPU found by nvidia-smi; installing CUDA builds because gpu='yes'")
        if system.gpu.cuda is not None and system.gpu.cuda < (cuda_major, 0):
            notes.append(
                f"the driver supports CUDA {system.gpu.cuda[0]}.{system.gpu.cuda[1]} only: CUDA {cuda_major} "
                "wheels need a newer NVIDIA driver" + (" (or pass --cuda 12)" if cuda_major > 12 else "")
            )
        if cuda_major == 12 and "tensorflow" in backends and len(backends) > 1:
            notes.append("tensorflow[and-cuda] is CUDA 12 only, so every backend gets its CUDA 12 build")

    main_reqs, torch_index, backend_notes = _backend_requirements(backends, use_gpu, cuda_major, system)
    notes += backend_notes

    steps: list[Step] = []
    if method == "pip":
        target = env or system.python
        python = (_env_python(os.path.expanduser(target), system.os) if env else target,)
    elif method == "venv":
        target = os.path.expanduser(env or DEFAULT_VENV)
        python = (_env_python(target, system.os, folder=True),)
        if create_env:
            steps.append(Step("create the virtual environment", (system.python, "-m", "venv", target), "create"))
        steps.append(Step("upgrade pip in it", (*python, "-m", "pip", "install", "--upgrade", "pip"), "setup"))
    else:
        if system.conda is None:
            raise ValueError(
                "method='conda' but conda was not found (looked at $CONDA_EXE, conda, mamba and "
                "micromamba on PATH): install Miniforge (https://conda-forge.org/download/), or use "
                "--method venv"
            )
        target = env or DEFAULT_CONDA_ENV
        where = ("-p", os.path.expanduser(target)) if ("/" in target or "\\" in target) else ("-n", target)
        python = (system.conda, "run", "--no-capture-output", *where, "python")
        if create_env:
            major, minor = system.python_version
            steps.append(
                Step(
                    "create the conda environment",
                    (system.conda, "create", "-y", *where, f"python={major}.{minor}", "pip"),
                    "create",
                )
            )
        steps.append(Step("upgrade pip in it", (*python, "-m", "pip", "install", "--upgrade", "pip"), "setup"))

    if system.python_version < PYTHON_MIN:
        version_text = ".".join(map(str, system.python_version))
        raise ValueError(
            f"{command_line(python, system.os)} is Python {version_text}: Keras 3.13 and newer need Python 3.11 or "
            "newer; create an environment with a newer Python (python3.12 -m venv ENV), then pass --env ENV"
        )
    pip = (*python, "-m", "pip", "install")
    force = ("--force-reinstall",) if reinstall else ()
    index = ()
    if torch_index is not None and reinstall and backends != ("torch",):
        # One forced resolution of every backend, so the CUDA libraries suit them all; torch's
        # local version tag (+cu126) is on PyTorch's index only, so PyPI's build cannot replace it.
        tag = torch_index.rsplit("/", 1)[1]
        main_reqs = [f"{r}+{tag}" if r.startswith("torch==") else r for r in main_reqs]
        index = ("--extra-index-url", torch_index)
    elif torch_index is not None:
        label = f"CUDA {cuda_major}" if use_gpu else "CPU"
        steps.append(
            Step(
                f"install torch {TORCH_VERSION} ({label}) from PyTorch's index",
                (*pip, *force, f"torch=={TORCH_VERSION}", "--index-url", torch_index),
            )
        )
        # Named again below so pip keeps the CUDA libraries consistent with the other
        # backends (installed, it stays); a forced reinstall would fetch PyPI's build instead.
        if reinstall:
            main_reqs, force = [r for r in main_reqs if not r.startswith("torch==")], ()
    requirements = [keras_requirement(version), *main_reqs, *(_extra_requirement(e, backends) for e in extras)]
    steps.append(Step("install keras" + "".join(f", {r}" for r in main_reqs), (*pip, *force, *requirements, *index)))

    source = probe_source()
    verify = tuple(
        Step(
            f"import {name} and keras in the target environment and run one op",
            (*python, "-c", source, "backend", name),
            "verify",
            env=(("KERAS_BACKEND", name),),
            display=Step("", (*python, "-c", "PROBE", "backend", name), env=(("KERAS_BACKEND", name),),
                         os_name=system.os).command().replace("PROBE", "<keraslearn probe>"),  # its source is long
            os_name=system.os,
        )
        for name in backends
    )
    steps = [dataclasses.replace(step, os_name=system.os) for step in steps]
    return InstallPlan(
        backends=backends,
        gpu=use_gpu,
        cuda=cuda_major,
        method=method,
        env=None if method == "pip" and env is None else target,
        python=python,
        steps=tuple(steps),
        verify=verify,
        notes=tuple(notes),
    )
