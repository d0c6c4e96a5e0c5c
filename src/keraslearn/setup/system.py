"""What the installer and the doctor learn about this machine, without importing Keras.

NVIDIA GPUs (``nvidia-smi``), conda, wheels on pip's ``find-links``, and probes that run
:mod:`keraslearn.setup._probe` in a fresh interpreter of the target environment.
"""

from __future__ import annotations

import configparser
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from keraslearn.setup import _probe

PROBE_MARKER = "@@keraslearn-probe@@"


@dataclass(frozen=True)
class GPUInfo:
    """NVIDIA GPUs as ``nvidia-smi`` reports them.

    ``cuda`` is the newest CUDA version the driver supports (``CUDA Version`` in the
    ``nvidia-smi`` header); ``pci`` lists NVIDIA devices ``lspci`` sees, which tells a
    missing driver apart from a missing GPU.
    """

    names: tuple[str, ...] = ()
    driver: str | None = None
    cuda: tuple[int, int] | None = None
    error: str | None = None
    pci: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.names)

    def describe(self) -> str:
        if self.names:
            extra = f" (driver {self.driver}, CUDA {self.cuda[0]}.{self.cuda[1]})" if self.cuda else ""
            return ", ".join(self.names) + extra
        if self.error:
            return f"none usable: {self.error}"
        if self.pci:
            return "an NVIDIA device is on the PCI bus but nvidia-smi is missing (no driver)"
        return "none found"


@dataclass(frozen=True)
class SystemInfo:
    """The facts an install plan depends on; build one by hand to plan for another machine."""

    os: str = "Linux"
    machine: str = "x86_64"
    python: str = "python3"
    python_version: tuple[int, int] = (3, 11)
    gpu: GPUInfo = field(default_factory=GPUInfo)
    conda: str | None = None
    local_wheels: tuple[str, ...] = ()


def parse_nvidia_smi(header: str, listing: str = "") -> GPUInfo:
    """Read ``nvidia-smi`` (header table) and ``nvidia-smi -L`` output."""
    driver = re.search(r"Driver Version:\s*([\d.]+)", header)
    cuda = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", header)
    names = tuple(m.group(1).strip() for m in re.finditer(r"^GPU \d+:\s*(.+?)\s*(?:\(UUID:.*)?$", listing, re.M))
    return GPUInfo(
        names=names,
        driver=driver.group(1) if driver else None,
        cuda=(int(cuda.group(1)), int(cuda.group(2))) if cuda else None,
    )


def _lspci_nvidia(timeout: float) -> tuple[str, ...]:
    exe = shutil.which("lspci")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(
        line.strip() for line in out.splitlines() if "NVIDIA" in line and ("VGA" in line or "3D controller" in line)
    )


def detect_gpus(timeout: float = 20) -> GPUInfo:
    """NVIDIA GPUs on this machine; an empty :class:`GPUInfo` when there are none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return GPUInfo(pci=_lspci_nvidia(timeout) if platform.system() == "Linux" else ())
    try:
        header = subprocess.run([exe], capture_output=True, text=True, timeout=timeout)
        listing = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as err:
        return GPUInfo(error=f"nvidia-smi failed: {err}")
    if header.returncode != 0:
        message = (header.stdout + header.stderr).strip().splitlines()
        return GPUInfo(error="nvidia-smi: " + (message[0] if message else f"exit code {header.returncode}"))
    return parse_nvidia_smi(header.stdout, listing.stdout)


def find_conda() -> str | None:
    """The conda (or mamba) executable, or None."""
    exe = os.environ.get("CONDA_EXE")
    if exe and os.path.exists(exe):
        return exe
    return shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba")


def _pip_config_files() -> list[str]:
    """pip's configuration files, in pip's order (global, user, site, then $PIP_CONFIG_FILE)."""
    if os.environ.get("PIP_CONFIG_FILE") == os.devnull:
        return []  # pip's documented switch: it then loads no configuration file at all
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        files = [
            os.path.join(os.environ.get("PROGRAMDATA", "C:\\ProgramData"), "pip", "pip.ini"),
            os.path.join(home, "pip", "pip.ini"),
            os.path.join(os.environ.get("APPDATA", home), "pip", "pip.ini"),
            os.path.join(sys.prefix, "pip.ini"),
        ]
    else:
        xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
        xdg_home = os.environ.get("XDG_CONFIG_HOME", os.path.join(home, ".config"))
        files = [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs] + ["/etc/pip.conf"]
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(xdg_home, "pip", "pip.conf")]
        if sys.platform == "darwin":
            files.append(os.path.join(home, "Library", "Application Support", "pip", "pip.conf"))
        files.append(os.path.join(sys.prefix, "pip.conf"))
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(os.environ["PIP_CONFIG_FILE"])
    return files


def pip_find_links_wheels() -> tuple[str, ...]:
    """Wheel file names in the local folders of pip's ``find-links`` (config files or environment).

    Read directly (not with ``pip config list``, which costs a second) from the same files
    and variable pip reads.
    """
    places: list[str] = []
    for path in _pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue
        for section in ("global", "install", "download"):
            if parser.has_option(section, "find-links"):
                places += parser.get(section, "find-links").split()
    places += os.environ.get("PIP_FIND_LINKS", "").split()
    wheels: list[str] = []
    for place in dict.fromkeys(places):
        folder = place[len("file://") :] if place.startswith("file://") else place
        if "://" not in folder and os.path.isdir(folder):
            wheels += sorted(p.name for p in Path(folder).glob("*.whl"))
    return tuple(dict.fromkeys(wheels))


def detect_system(python: str | None = None) -> SystemInfo:
    """This machine's :class:`SystemInfo` (runs ``nvidia-smi`` and ``pip config``)."""
    return SystemInfo(
        os=platform.system(),
        machine=platform.machine(),
        python=python or sys.executable,
        python_version=sys.version_info[:2],
        gpu=detect_gpus(),
        conda=find_conda(),
        local_wheels=pip_find_links_wheels(),
    )


# ------------------------------------------------------------------ probes
def probe_source() -> str:
    """The probe script, sent with ``-c`` so the target needs nothing but Python."""
    return inspect.getsource(_probe)


def probe_env(keras_home: str, backend: str | None = None) -> dict:
    """The environment a probe runs in: Keras' home in a scratch folder, the backend set."""
    env = dict(os.environ)
    env["KERAS_HOME"] = keras_home
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONIOENCODING"] = "utf-8"
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return env


def start_probe(python: list[str], mode: str, keras_home: str, backend: str | None = None, cwd=None):
    argv = [*python, "-c", probe_source(), mode] + ([backend] if backend else [])
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=probe_env(keras_home, backend),
        cwd=cwd,
    )


def finish_probe(proc: subprocess.Popen, timeout: float) -> dict:
    """Wait for a probe; a crash or a timeout becomes an ``error`` entry, never an exception."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        return {
            "ok": False,
            "error": {"stage": "timeout", "type": "TimeoutError", "message": f"no answer after {timeout:g} s"},
            "stderr": stderr[-3000:],
        }
    head, marker, payload = stdout.rpartition(PROBE_MARKER)
    if not marker:
        return {
            "ok": False,
            "error": {
                "stage": "crash",
                "type": "Crash",
                "message": f"the interpreter exited with code {proc.returncode} before answering",
            },
            "stderr": (stdout + stderr)[-3000:],
        }
    result = json.loads(payload)
    result["stderr"] = stderr[-3000:]
    result["stdout"] = head[-1000:]
    return result


def run_probes(python: list[str], backends=(), timeout: float = 240, cwd=None) -> tuple[dict, dict]:
    """Environment facts and one probe per backend, all started at once."""
    with tempfile.TemporaryDirectory(prefix="keraslearn-probe-") as home:
        env_proc = start_probe(python, "env", home, cwd=cwd)
        procs = {name: start_probe(python, "backend", home, name, cwd=cwd) for name in backends}
        facts = finish_probe(env_proc, timeout)
        return facts, {name: finish_probe(proc, timeout) for name, proc in procs.items()}
