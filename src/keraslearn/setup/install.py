"""``keraslearn install`` and :func:`install_keras`: print the plan, run it, verify the result.

The plan (:func:`~keraslearn.setup.plan.plan_install`) is pure data; this module runs it:
each command in turn, stopping at the first failure, then a fresh interpreter of the target
environment imports each backend with ``KERAS_BACKEND`` set and runs one Keras op.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections import deque
from dataclasses import dataclass, field

from keraslearn.setup.findings import command_line
from keraslearn.setup.plan import TORCH_VERSION, InstallPlan, Step, plan_install
from keraslearn.setup.system import SystemInfo, detect_system, finish_probe, probe_env

__all__ = ["InstallError", "InstallPlan", "InstallResult", "install_keras", "plan_install"]


class InstallError(RuntimeError):
    """A command of the plan failed, or the installed backend does not work."""

    def __init__(self, message: str, result: InstallResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class InstallResult:
    """What :func:`install_keras` did: the plan, and what it resolved or verified."""

    plan: InstallPlan
    ran: bool = False
    resolved: dict[str, str] = field(default_factory=dict)
    verified: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def install_keras(
    backend="jax",
    *,
    gpu="auto",
    version=None,
    extras=(),
    method="pip",
    env=None,
    cuda=None,
    dry_run=False,
    resolve_only=False,
    reinstall=False,
    verbose=True,
    system: SystemInfo | None = None,
) -> InstallResult:
    """Install Keras and one or more backends, CPU or CUDA builds, then check they work.

    Parameters
    ----------
    backend : str or sequence of str
        ``"jax"`` (default), ``"torch"``, ``"tensorflow"``; several allowed.
    gpu : {"auto", "yes", "no"}
        CUDA builds when ``nvidia-smi`` lists a GPU (``auto``), always, or never.
    version : str, optional
        Keras version (``"3.15.1"``) or specifier (``">=3.13,<4"``, the default).
    extras : sequence of str
        More packages for the same pip command, e.g. ``["scikit-learn", "optuna"]``.
    method : {"pip", "venv", "conda"}
        Install into the current (or ``env``'s) Python, create a virtual environment, or
        use a conda environment (only where conda is installed).
    env : str, optional
        Environment folder, interpreter, or conda environment name (see ``plan_install``).
    cuda : {12, 13}, optional
        Force the CUDA major of GPU builds (default: the newest the driver and the
        backends share).
    dry_run : bool
        Print the plan and run nothing.
    resolve_only : bool
        Create the environment, then let pip resolve every requirement
        (``pip install --dry-run --report``) without installing; returns the versions in
        ``result.resolved``.
    reinstall : bool
        ``pip install --force-reinstall``: repairs a broken backend, or replaces a CPU build
        with the CUDA build of the same version.
    verbose : bool
        Print the plan and the commands' output.
    system : SystemInfo, optional
        The machine to plan for (default: detected).

    Returns
    -------
    InstallResult

    Raises
    ------
    ValueError
        A bad argument, or conda asked for where there is none; the message says the fix.
    InstallError
        A command failed, or a backend does not import or run after installing.
    """
    if dry_run and resolve_only:
        raise ValueError("dry_run and resolve_only: choose one (--dry-run prints the plan; --resolve-only also "
                         "creates the environment and lets pip resolve it)")
    say = print if verbose else (lambda *a, **k: None)
    system = system or detect_system()
    create_env = _needs_creating(method, env, system)

    def make_plan(system):
        return plan_install(
            backend,
            gpu=gpu,
            version=version,
            extras=tuple(extras or ()),
            method=method,
            env=env,
            cuda=cuda,
            system=system,
            create_env=create_env,
            reinstall=reinstall,
        )

    plan = make_plan(system)
    if method == "pip" and env is not None and not os.path.exists(plan.python[0]):
        raise ValueError(f"no Python at {plan.python[0]}: create the environment with --method venv --env {env}")
    if (method == "pip" or not create_env) and plan.python != (system.python,):
        # An existing environment may run another Python than this one: the wheels (torch's
        # local CPU wheel) and the minimum version are its own.
        found = _python_version(plan.python)
        if found is not None and found != tuple(system.python_version):
            system = dataclasses.replace(system, python_version=found)
            plan = make_plan(system)
    _check_cpu_torch_kept(plan, reinstall or (method != "pip" and create_env))
    say(str(plan))
    result = InstallResult(plan)
    if dry_run:
        say("dry run: nothing was run")
        return result
    result.ran = True
    for number, step in enumerate(plan.steps, 1):
        if resolve_only and step.kind in ("setup", "pip"):
            result.resolved.update(_resolve(step, plan, say))
            continue
        say(f"[{number}/{len(plan.steps)}] {step.description}")
        _run(step, say)
    if resolve_only:
        main = ("keras", "jax", "jaxlib", "torch", "tensorflow", "tensorflow-cpu")
        named = sorted(result.resolved, key=lambda name: (name not in main, name))
        say("pip would install (nothing was installed or verified): "
            + (", ".join(f"{name} {result.resolved[name]}" for name in named) or "nothing new"))
        return result
    _verify(plan, result, say, gpu_seen=system.gpu.present)
    if not result.ok:
        where = "" if plan.method == "conda" else f" --env {plan.python[0]}"
        raise InstallError(
            "installed, but the check failed:\n  "
            + "\n  ".join(result.problems)
            + f"\nrun `keraslearn doctor{where}` for the cause and the fix",
            result,
        )
    if plan.python == (sys.executable,) and "keras" in sys.modules:
        say("note: this Python already imported keras; restart it to use what was installed")
    return result


def _answer(python: tuple[str, ...], code: str) -> str | None:
    """What ``code`` prints in an environment's interpreter; None when it does not answer."""
    try:
        out = subprocess.run([*python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _python_version(python: tuple[str, ...]) -> tuple[int, int] | None:
    """The (major, minor) version of an environment's interpreter; None when it does not answer."""
    parts = (_answer(python, "import sys; print(*sys.version_info[:2])") or "").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _check_cpu_torch_kept(plan: InstallPlan, replaced: bool) -> None:
    """Refuse a CUDA torch plan over an installed CPU build of torch (``2.13.0+cpu``): pip keeps an
    installed torch of the pinned version, so nothing would change, and the install would end "ok" on
    the CPU build. ``replaced``: the environment is new or ``--reinstall`` forces the wheel."""
    if replaced or not plan.gpu or "torch" not in plan.backends:
        return
    code = "import importlib.metadata as m; print(m.version('torch'))"
    version = _answer(plan.python, code)
    if version == f"{TORCH_VERSION}+cpu":  # another version pip replaces with the pinned one
        raise ValueError(
            f"torch {version}, the CPU build, is installed in that environment, and pip keeps an installed torch "
            "of the pinned version: the CUDA build would not be installed. Add --reinstall to replace it.")


def _needs_creating(method: str, env, system: SystemInfo) -> bool:
    if method == "venv":
        from keraslearn.setup.plan import DEFAULT_VENV

        path = os.path.expanduser(env or DEFAULT_VENV)
        if os.path.isfile(path):
            raise ValueError(
                f"{path} is a file, not a folder for a new environment: to install into that Python, "
                f"use --method pip --env {path}"
            )
        if os.path.exists(os.path.join(path, "pyvenv.cfg")):
            return False
        if os.path.isdir(path) and os.listdir(path):
            raise ValueError(f"{path} exists and is not a virtual environment: choose another --env")
        return True
    if method == "conda" and system.conda:
        try:
            out = subprocess.run(
                [system.conda, "env", "list", "--json"], capture_output=True, text=True, timeout=120
            ).stdout
            known = json.loads(out).get("envs", [])
        except (OSError, subprocess.SubprocessError, ValueError):
            return True
        from keraslearn.setup.plan import DEFAULT_CONDA_ENV

        name = env or DEFAULT_CONDA_ENV
        wanted = os.path.abspath(os.path.expanduser(name)) if ("/" in name or "\\" in name) else None
        return not any(
            (os.path.abspath(path) == wanted) if wanted else os.path.basename(path) == name for path in known
        )
    return True


def _run(step: Step, say) -> None:
    """Run one command, echoing its output live; raise InstallError on failure."""
    tail: deque[str] = deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            list(step.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env={**os.environ, **dict(step.env)},
        )
    except OSError as err:
        raise InstallError(f"cannot run {step.argv[0]}: {err}") from None
    for line in proc.stdout:
        tail.append(line.rstrip())
        say("    " + line.rstrip())
    code = proc.wait()
    if code != 0:
        if any("No module named pip" in line for line in tail):  # a venv made --without-pip, or by uv
            ensurepip = command_line((step.argv[0], "-m", "ensurepip", "--upgrade"), step.os_name)
            fix = f"that Python has no pip: run `{ensurepip}`, then"
        else:
            fix = f"fix the cause {'pip names' if step.kind in ('pip', 'setup') else 'named'} above, then"
        raise InstallError(
            f"`{step.command()}` failed with exit code {code}.\n" + "\n".join(tail)
            + f"\n{fix} run `keraslearn install` again (or `keraslearn doctor` to see what is there now)"
        )


def _resolve(step: Step, plan: InstallPlan, say) -> dict[str, str]:
    """Run a pip step as ``pip install --dry-run --report``; return {name: version}."""
    argv = list(step.argv)
    torch_from_index = any("--index-url" in s.argv and any(a.startswith("torch==") for a in s.argv) for s in plan.steps)
    if torch_from_index and "--index-url" not in argv:
        # torch comes from its own index in the step before; here it would resolve PyPI's build.
        argv = [a for a in argv if not a.startswith("torch==")]
    with tempfile.TemporaryDirectory(prefix="keraslearn-resolve-") as tmp:
        report = os.path.join(tmp, "report.json")
        dry = Step(step.description + " (resolve only)", (*argv, "--dry-run", "--quiet", "--report", report))
        say(f"resolve: {dry.command()}")
        _run(dry, say)
        with open(report, encoding="utf-8") as fh:
            data = json.load(fh)
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in data.get("install", [])}


def _verify(plan: InstallPlan, result: InstallResult, say, gpu_seen: bool = True) -> None:
    """Import and run each backend in the environment; ``gpu_seen``: nvidia-smi found a GPU here, so a
    CUDA build that sees none is a problem (with --gpu yes on a machine without one, it is expected)."""
    with tempfile.TemporaryDirectory(prefix="keraslearn-verify-") as home:
        for step in plan.verify:
            name = dict(step.env)["KERAS_BACKEND"]
            say(f"verify: {step.command()}")
            proc = subprocess.Popen(
                list(step.argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=probe_env(home, name),
            )
            facts = finish_probe(proc, timeout=600)
            result.verified[name] = facts
            if not facts.get("ok"):
                err = facts.get("error") or {}
                detail = f"{err.get('stage', '?')}: {err.get('type', '')}: {err.get('message', '')}"
                result.problems.append(f"{name}: {detail}")
                continue
            devices = facts.get("devices", [])
            say(f"  ok: {name} {facts.get('version')} with keras {facts.get('keras')}; devices: {', '.join(devices)}")
            if plan.gpu and not any(d.split(":")[0].lower() in ("gpu", "cuda") for d in devices):
                if gpu_seen:
                    result.problems.append(f"{name} was installed with CUDA but sees no GPU ({', '.join(devices)})")
                else:
                    say(f"  note: {name}'s CUDA build sees no GPU here, as nvidia-smi found none (--gpu yes): "
                        "it will use the GPU of a machine that has one")
