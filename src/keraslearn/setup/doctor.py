"""``keraslearn doctor`` and :func:`doctor`: what this environment runs, and what is wrong.

The doctor never imports a backend itself: every backend is probed in a fresh interpreter
(so a crashing backend cannot take the doctor down, and the answer is what a new program
would see). The rules live in :mod:`keraslearn.setup.diagnose`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field

from keraslearn import _backend
from keraslearn._backend import BACKENDS, DEFAULT_BACKEND
from keraslearn.setup.choices import normalize_backends
from keraslearn.setup.diagnose import Finding, diagnose, installed
from keraslearn.setup.system import detect_gpus, run_probes

# Environment variables that change what the backends do on this machine.
WATCHED_ENV = (
    "KERAS_BACKEND",
    "KERAS_HOME",
    "CUDA_VISIBLE_DEVICES",
    "JAX_PLATFORMS",
    "XLA_FLAGS",
    "TF_XLA_FLAGS",
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
    "TF_FORCE_GPU_ALLOW_GROWTH",
    "PYTHONPATH",
)


@dataclass
class DoctorReport:
    """The facts the doctor gathered and its findings; ``healthy`` when none is a problem."""

    facts: dict
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in ("error", "warning")]

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1

    def to_dict(self) -> dict:
        return {
            "healthy": self.healthy,
            "findings": [f.to_dict() for f in self.findings],
            "facts": self.facts,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def __str__(self) -> str:
        return format_report(self)


def requested_backend() -> str | None:
    """The user's KERAS_BACKEND, not the default keraslearn filled in for itself."""
    value = os.environ.get("KERAS_BACKEND") or None
    if _backend.DEFAULTED and value == DEFAULT_BACKEND:
        return _backend.REQUESTED_BACKEND
    return value


def _keras_json() -> dict:
    path = _backend.keras_config_path()
    out = {"path": path, "exists": os.path.exists(path), "backend": None}
    if not out["exists"]:
        return out
    # "ignored": Keras skips a file it cannot parse; one it cannot open, or JSON that is not an
    # object, makes `import keras` fail.
    try:
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except ValueError as err:
        out.update(error=f"{type(err).__name__}: {err}", ignored=True)
    except OSError as err:
        out.update(error=f"{type(err).__name__}: {err}", ignored=False)
    else:
        if isinstance(config, dict):
            out["backend"] = config.get("backend")
        else:
            out.update(error=f"a JSON {type(config).__name__}, not an object", ignored=False)
    return out


def _in_process() -> dict:
    """Whether this process already runs Keras, and on which backend."""
    keras = sys.modules.get("keras")
    if keras is None:
        return {"keras_imported": False}
    try:
        active = keras.backend.backend()
    except Exception:  # a half-imported keras
        active = None
    return {"keras_imported": True, "active": active, "env_backend": os.environ.get("KERAS_BACKEND")}


def _target_python(env) -> tuple[list[str], bool]:
    if env is None:
        return [sys.executable], True
    path = os.path.expanduser(str(env))
    if os.path.isdir(path):
        for candidate in (os.path.join(path, "bin", "python"), os.path.join(path, "Scripts", "python.exe")):
            if os.path.exists(candidate):
                return [candidate], os.path.abspath(candidate) == os.path.abspath(sys.executable)
        raise ValueError(f"no Python in {path}: pass the environment folder or its python executable")
    found = shutil.which(path)
    if found is None:
        raise ValueError(f"env={env!r}: no such environment folder or Python executable")
    # Not realpath: every venv's python links to the same base interpreter.
    return [found], os.path.abspath(found) == os.path.abspath(sys.executable)


def gather(backends=None, *, env=None, timeout: float = 240) -> dict:
    """Collect the facts :func:`~keraslearn.setup.diagnose.diagnose` reads.

    ``backends``: which backends to probe (default: jax, torch and tensorflow; one that
    is not installed answers at once).
    """
    python, current = _target_python(env)
    requested = requested_backend()
    asked = None if backends is None else list(dict.fromkeys(backends))
    if asked:  # as install reads them: "tf", "jax,torch"; an unknown name is refused, named
        asked = list(normalize_backends(asked))
    # The backend Keras will run on is always probed: the report's verdict depends on it.
    selected = requested if requested in BACKENDS else DEFAULT_BACKEND
    names = list(BACKENDS) if asked is None else list(dict.fromkeys([*asked, selected]))
    py, probes = run_probes(python, names, timeout=timeout)
    return {
        "current": current,
        "python": py,
        "env": {k: os.environ.get(k) for k in WATCHED_ENV},
        "keras_backend": {"requested": requested, "selected": requested or DEFAULT_BACKEND, "asked": asked},
        "keras_json": _keras_json(),
        "gpu": asdict(detect_gpus()),
        "backends": probes,
        "in_process": _in_process() if current else None,
    }


def doctor(backend=None, *, env=None, timeout: float = 240, verbose: bool = False) -> DoctorReport:
    """Diagnose the Keras setup: versions, devices, and every problem with its fix.

    Parameters
    ----------
    backend : str or sequence of str, optional
        Backends to probe (default: all three; those not installed cost nothing).
    env : str, optional
        Another environment (folder or Python executable); default: this interpreter.
    timeout : float
        Seconds each probe may take (a first TensorFlow import can take tens of seconds).
    verbose : bool
        Print the report.

    Returns
    -------
    DoctorReport
        ``report.healthy``, ``report.findings`` (each with ``fix``), ``report.facts``;
        ``print(report)`` shows it, ``report.to_json()`` serializes it.
    """
    names = [backend] if isinstance(backend, str) else backend
    report = DoctorReport(facts=gather(names, env=env, timeout=timeout))
    report.findings = diagnose(report.facts)
    if verbose:
        print(report)
    return report


def _backend_line(name: str, result: dict) -> str:
    err = result.get("error") or {}
    if not installed(result):
        return f"  {name:<11} not installed"
    version = result.get("version") or "?"
    if result.get("ok"):
        extra = f"cuda {result['cuda_build']}  " if result.get("cuda_build") else ""
        return f"  {name:<11} {version:<13} ok      {extra}devices: {', '.join(result.get('devices', [])) or '?'}"
    message = str(err.get("message", "")).strip().splitlines()
    state = "SLOW  " if err.get("stage") == "timeout" else "BROKEN"
    return f"  {name:<11} {version:<13} {state}  {err.get('type', '')}: {message[0][:100] if message else ''}"


def format_report(report: DoctorReport) -> str:
    """The human-readable report."""
    facts = report.facts
    py = facts.get("python") or {}
    keras = (py.get("dists") or {}).get("keras")
    requested = facts["keras_backend"]["requested"]
    backend = requested or f"{DEFAULT_BACKEND} (KERAS_BACKEND is unset: keraslearn's default)"
    kj = facts["keras_json"]
    kj_text = f"{kj['path']}: backend {kj['backend']!r}" if kj.get("backend") else f"{kj['path']}: none"
    if kj.get("error"):
        kj_text = f"{kj['path']}: unreadable ({kj['error'].split(':')[0]})"
    # A Python probe that failed (or timed out) says nothing about what is installed.
    keras_text = "?" if py.get("error") else keras["version"] if keras else "not installed"
    gpu = facts["gpu"]
    gpu_text = ", ".join(gpu["names"]) if gpu.get("names") else (gpu.get("error") or "none found")
    if gpu.get("names") and gpu.get("cuda"):
        gpu_text += f" (driver {gpu.get('driver')}, CUDA {gpu['cuda'][0]}.{gpu['cuda'][1]})"
    lines = [
        "keraslearn doctor",
        f"  Python      {py.get('python', '?')} {py.get('executable', '')} ({py.get('platform', '?')})",
        f"  keras       {keras_text}",
        f"  backend     {backend}",
        f"  keras.json  {kj_text}",
        f"  NVIDIA GPU  {gpu_text}",
    ]
    lines += [_backend_line(name, result) for name, result in facts["backends"].items()]
    lines.append("")
    if not report.findings:
        lines.append("No problems found.")
    else:
        count = len(report.problems)
        lines.append(f"{count} problem{'s' if count != 1 else ''} found." if count else "No problems found; notes:")
        for f in report.findings:
            lines.append(f"  {f.severity.upper():<8}{f.code}: {f.message}")
            lines.append(f"  {'':<8}fix: {f.fix}")
    return "\n".join(lines)
