"""The doctor's rules: facts about an environment in, findings (each with its fix) out.

:func:`diagnose` is pure. The facts are what :mod:`keraslearn.setup.doctor` gathers: the
target interpreter's installed distributions, one probe per backend (run in a fresh
interpreter), ``nvidia-smi``, ``keras.json``, the environment variables and, when the
doctor runs inside the program it diagnoses, whether Keras is already imported.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import asdict, dataclass

from keraslearn._backend import BACKENDS, DEFAULT_BACKEND
from keraslearn.setup._probe import MODULES

SEVERITIES = ("error", "warning", "info")
KERAS_MIN = (3, 13)
# Words NumPy and extension modules print when they were built against another NumPy ABI.
NUMPY_ABI = (
    "numpy.core.multiarray failed to import",
    "_ARRAY_API not found",
    "compiled using NumPy 1.x cannot be run in",
    "numpy.dtype size changed, may indicate binary incompatibility",
    "module compiled against ABI version",
    "module compiled against API version",
)
CUDA_OWNERS = {
    "torch": "torch",
    "jax-cuda12-plugin": "jax",
    "jax-cuda13-plugin": "jax",
    "jax-cuda12-pjrt": "jax",
    "jax-cuda13-pjrt": "jax",
    "tensorflow": "tensorflow",
}


@dataclass(frozen=True)
class Finding:
    """One problem (or note): what is wrong, why it matters, and the command that fixes it."""

    code: str
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict:
        return asdict(self)


def version_tuple(text) -> tuple[int, ...]:
    """``"3.15.1"`` → ``(3, 15, 1)``; ``"2.13.0+cpu"`` → ``(2, 13, 0)``; stops at the first non-number."""
    out = []
    for part in re.split(r"[.+-]", str(text or "")):
        match = re.match(r"\d+", part)
        if not match:
            break
        out.append(int(match.group()))
        if match.group() != part:
            break
    return tuple(out)


def _first_line(text, limit=300) -> str:
    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _export(name, value, system) -> str:
    if system == "Windows":
        return f"set {name}={value}"
    return f"export {name}={shlex.quote(str(value))}"


def _unset(name, system) -> str:
    return f"set {name}=" if system == "Windows" else f"unset {name}"


def _req_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return match.group(1).lower().replace("_", "-").replace(".", "-") if match else ""


def cuda_wants(dists: dict) -> dict[str, dict[int, list[str]]]:
    """Which CUDA majors each backend's installed CUDA wheels are built for.

    Read from package metadata: a backend dist (torch, a jax CUDA plugin, tensorflow)
    that requires ``nvidia-*-cuNN`` or ``cuda-toolkit`` distributions which are installed.
    Returns ``{backend: {major: [evidence, ...]}}``.
    """
    wants: dict[str, dict[int, list[str]]] = {}
    for owner, backend in CUDA_OWNERS.items():
        dist = dists.get(owner)
        if dist is None:
            continue
        found = wants.setdefault(backend, {})
        plugin = re.match(r"jax-cuda(\d+)-", owner)
        if plugin:
            found.setdefault(int(plugin.group(1)), []).append(owner)
        for req in dist.get("requires", []):
            name = _req_name(req)
            if name not in dists:
                continue
            cu = re.search(r"-cu(\d+)$", name)
            if cu:
                found.setdefault(int(cu.group(1)), []).append(name)
            elif name == "cuda-toolkit":
                major = version_tuple(dists[name]["version"])[:1]
                if major:
                    found.setdefault(major[0], []).append(f"cuda-toolkit {dists[name]['version']}")
        if not found:
            del wants[backend]
    return wants


def _installed(result: dict | None) -> bool:
    """False when the probe says the backend's top-level module does not exist."""
    if result is None:
        return False
    err = result.get("error") or {}
    return not (
        err.get("type") == "ModuleNotFoundError"
        and str(err.get("stage", "")).startswith("import ")
        and err.get("name") == err.get("stage", "")[len("import ") :]
    )


def _shadow(origin: str | None) -> bool:
    """A module found outside any installed-packages folder (PYTHONPATH, the working folder)."""
    if not origin:
        return False
    parts = origin.replace("\\", "/").split("/")
    return "site-packages" not in parts and "dist-packages" not in parts


def _inside(origin: str | None, folder: str | None) -> bool:
    """``origin`` is a file directly in ``folder`` (``./keras.py``) or its package (``./keras/``)."""
    if not origin or not folder:
        return False
    parent = os.path.dirname(os.path.abspath(origin))
    folder = os.path.abspath(folder)
    return parent == folder or os.path.dirname(parent) == folder


def _has_gpu(result: dict) -> bool:
    return any(str(d).split(":")[0].lower() in ("gpu", "cuda") for d in result.get("devices", []))


def diagnose(facts: dict) -> list[Finding]:
    """All findings for ``facts``, errors first."""
    found: list[Finding] = []
    add = lambda *args: found.append(Finding(*args))  # noqa: E731
    py = facts.get("python") or {}
    system = py.get("system") or facts.get("system") or "Linux"
    exe = py.get("executable") or "python"
    pip = f"{shlex.quote(exe)} -m pip"
    target = "" if facts.get("current", True) else f" --env {shlex.quote(exe)}"

    def install(name, *flags):
        return f"keraslearn install --backend {name}" + "".join(f" {f}" for f in flags) + target

    if py.get("error"):
        err = py["error"]
        add("python-broken", "error", f"{exe} does not run: {err.get('message')}", "check the path, or create an environment: keraslearn install --method venv")
        return found
    if version_tuple(py.get("python")) < (3, 10):
        add("python-too-old", "error", f"Python {py.get('python')}: keraslearn and Keras 3 need Python 3.10 or newer", "keraslearn install --method venv --env ~/.virtualenvs/keraslearn (run it with Python 3.10+)")

    dists = py.get("dists", {})
    modules = py.get("modules", {})
    requested = facts.get("keras_backend", {}).get("requested")
    selected = requested or DEFAULT_BACKEND
    backends = facts.get("backends", {})

    keras = dists.get("keras")
    if keras is None and not modules.get("keras"):
        add("keras-missing", "error", "keras is not installed", install(selected if selected in BACKENDS else DEFAULT_BACKEND))
    elif keras is not None and version_tuple(keras["version"])[:2] < KERAS_MIN:
        add("keras-too-old", "error", f"keras {keras['version']} is installed; keraslearn needs Keras 3.13 or newer", f'{pip} install --upgrade "keras>=3.13,<4"')
    keras_fails = any(_installed(r) and not r.get("ok") and (r.get("error") or {}).get("stage") == "keras" for r in facts.get("backends", {}).values())
    if keras is not None and _shadow(modules.get("keras")) and (keras_fails or _inside(modules.get("keras"), py.get("cwd"))):
        add("keras-shadowed", "error", f"`import keras` finds {modules['keras']}, not the installed keras {keras['version']}", "rename that file or folder, or remove its folder from PYTHONPATH")

    if requested and requested not in BACKENDS:
        why = "Keras' numpy and openvino backends cannot train" if requested in ("numpy", "openvino") else "`import keras` fails with 'Unable to import backend'"
        add("unknown-backend", "error", f"KERAS_BACKEND={requested!r} is not a backend keraslearn trains on ({', '.join(BACKENDS)}); {why}", f"{_export('KERAS_BACKEND', DEFAULT_BACKEND, system)}   (or {_unset('KERAS_BACKEND', system)}: keraslearn's default is {DEFAULT_BACKEND})")

    for name, result in backends.items():
        module = MODULES[name]
        severity = "error" if name == selected else "warning"
        if not _installed(result):
            if name == selected:
                add("backend-missing", "error", f"KERAS_BACKEND selects {name}, which is not installed", install(name))
            continue
        text = " ".join(str(x) for x in ((result.get("error") or {}).get("message"), (result.get("error") or {}).get("traceback"), result.get("stderr")))
        if any(marker in text for marker in NUMPY_ABI):
            numpy = dists.get("numpy", {}).get("version", "?")
            add("numpy-abi", severity, f"{name} was built against another NumPy than the installed numpy {numpy} (binary ABI mismatch)", f"{_upgrade(name, dists, pip, install)}   (or keep the old build: {pip} install \"numpy<2\")")
            continue
        if result.get("ok"):
            continue
        err = result.get("error") or {}
        if err.get("stage") == "keras" and err.get("name") == "keras":
            continue  # keras-missing says it
        where = modules.get(module)
        message = f"{name} does not work: {err.get('stage')}: {err.get('type')}: {_first_line(err.get('message'))}"
        if _shadow(where):
            add("backend-shadowed", severity, message + f" -- `import {module}` finds {where}, not an installed package", "rename that file or folder, or remove its folder from PYTHONPATH")
        else:
            add("backend-broken", severity, message, install(name, "--reinstall"))

    kj = facts.get("keras_json") or {}
    if kj.get("backend"):
        kb = kj["backend"]
        severity = "warning" if requested is None else "info"
        rewrite = _keras_json_fix(kj["path"], selected if selected in BACKENDS else DEFAULT_BACKEND)
        if kb not in BACKENDS + ("numpy", "openvino"):
            add("keras-json-backend", severity, f"{kj['path']} names the backend {kb!r}, which Keras does not know; `import keras` fails where KERAS_BACKEND is unset", rewrite)
        elif kb in BACKENDS:
            result = backends.get(kb)
            missing = not modules.get(MODULES[kb]) if result is None else not _installed(result)
            broken = result is not None and not missing and not result.get("ok")
            if missing or broken:
                state = "is not installed" if missing else "does not work"
                add("keras-json-backend", severity, f"{kj['path']} selects {kb}, which {state}: programs that `import keras` without KERAS_BACKEND fail", rewrite + f"   (or: {install(kb)})")

    proc = facts.get("in_process") or {}
    if proc.get("keras_imported") and proc.get("env_backend") and proc.get("active") != proc.get("env_backend"):
        add("backend-set-after-import", "error", f"keras was imported on {proc['active']!r} before KERAS_BACKEND was set to {proc['env_backend']!r}; this process keeps running {proc['active']!r}", f"restart Python with the variable set first: KERAS_BACKEND={proc['env_backend']} python your_script.py (in a notebook: restart the kernel and set os.environ['KERAS_BACKEND'] before importing keras or keraslearn)")

    found += _gpu_findings(facts, selected, system, install)
    found += _cuda_findings(dists, pip, install)
    found.sort(key=lambda f: SEVERITIES.index(f.severity))
    return found


def _keras_json_fix(path, backend) -> str:
    code = (
        f"import json, pathlib; p = pathlib.Path({json.dumps(str(path))}); c = json.loads(p.read_text()); "
        f'c["backend"] = {json.dumps(backend)}; p.write_text(json.dumps(c, indent=4))'
    )
    return f"python -c {shlex.quote(code)}"


def _upgrade(name, dists, pip, install) -> str:
    """The command that replaces a backend built against another NumPy."""
    if name == "torch":  # pinned: reinstall the same version, from the right index
        return install("torch", "--reinstall")
    if name == "jax":
        return f"{pip} install --upgrade jax jaxlib"
    return f"{pip} install --upgrade {'tensorflow-cpu' if 'tensorflow-cpu' in dists else 'tensorflow'}"


def _gpu_findings(facts, selected, system, install) -> list[Finding]:
    gpu = facts.get("gpu") or {}
    env = facts.get("env") or {}
    out = []
    if not gpu.get("names"):
        if gpu.get("pci"):
            out.append(Finding("nvidia-driver-missing", "warning", f"lspci lists an NVIDIA GPU ({gpu['pci'][0]}) but nvidia-smi is missing: no NVIDIA driver, so every backend runs on the CPU", "install the NVIDIA driver (Ubuntu: sudo ubuntu-drivers install), reboot, then run keraslearn doctor again"))
        elif gpu.get("error"):
            out.append(Finding("nvidia-smi-failed", "warning", f"{gpu['error']}: the driver does not answer, so no backend can use the GPU", "reboot, or reinstall the NVIDIA driver; `nvidia-smi` must list the GPU"))
        return out
    driver_cuda = tuple(gpu.get("cuda") or ())
    dists = (facts.get("python") or {}).get("dists", {})
    for name, result in (facts.get("backends") or {}).items():
        if not result.get("ok") or _has_gpu(result):
            continue
        reason, fix = _gpu_reason(name, result, env, dists, driver_cuda, system, install)
        severity = "warning" if name == selected else "info"
        out.append(Finding("gpu-unused", severity, f"an NVIDIA GPU is present ({gpu['names'][0]}) but {name} sees only {', '.join(result.get('devices', [])) or 'the CPU'}: {reason}", fix))
    jax = (facts.get("backends") or {}).get("jax")
    if jax and jax.get("ok") and _has_gpu(jax):
        prealloc = str(env.get("XLA_PYTHON_CLIENT_PREALLOCATE") or "").lower()
        fraction = env.get("XLA_PYTHON_CLIENT_MEM_FRACTION")
        if fraction:
            try:
                bad = not 0 < float(fraction) <= 1
            except ValueError:
                bad = True
            if bad:
                out.append(Finding("jax-preallocation", "warning", f"XLA_PYTHON_CLIENT_MEM_FRACTION={fraction!r} is not a fraction in (0, 1]", _export("XLA_PYTHON_CLIENT_MEM_FRACTION", ".5", system)))
        elif prealloc not in ("false", "0"):
            out.append(Finding("jax-preallocation", "info", "JAX reserves 75% of the GPU's memory when it starts; torch, TensorFlow or a second JAX process on this GPU then run out of memory", f"{_export('XLA_PYTHON_CLIENT_PREALLOCATE', 'false', system)}   (or cap it: {_export('XLA_PYTHON_CLIENT_MEM_FRACTION', '.5', system)})"))
    return out


def _gpu_reason(name, result, env, dists, driver_cuda, system, install):
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "NoDevFiles"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU", _unset("CUDA_VISIBLE_DEVICES", system)
    need = None
    if name == "jax":
        platforms = env.get("JAX_PLATFORMS") or ""
        if platforms and "cuda" not in platforms and "gpu" not in platforms:
            return f"JAX_PLATFORMS={platforms!r} keeps JAX off the GPU", _unset("JAX_PLATFORMS", system)
        plugins = [d for d in dists if re.match(r"jax-cuda\d+-plugin$", d)]
        if not plugins:
            return "jaxlib is the CPU build (no jax-cuda12-plugin / jax-cuda13-plugin installed)", install("jax", "--gpu yes")
        need = int(re.match(r"jax-cuda(\d+)", plugins[0]).group(1))
    elif name == "torch":
        build = result.get("cuda_build")
        if not build:
            return f"torch {result.get('version')} is the CPU build", install("torch", "--gpu yes", "--reinstall")
        need = version_tuple(build)[0]
    elif name == "tensorflow":
        if not result.get("cuda_build"):
            return "TensorFlow is the CPU build (tensorflow-cpu, or a platform without CUDA builds)", "python -m pip uninstall -y tensorflow-cpu tensorflow && " + install("tensorflow", "--gpu yes")
        if not any(d.startswith("nvidia-cudnn") for d in dists):
            return "TensorFlow is a CUDA build but its CUDA libraries are missing", 'python -m pip install "tensorflow[and-cuda]"'
        need = version_tuple(result["cuda_build"])[0]
    if need and driver_cuda and driver_cuda[0] < need:
        return (
            f"its CUDA {need} build needs a newer driver (this one supports CUDA {'.'.join(map(str, driver_cuda))})",
            f"update the NVIDIA driver, or: {install(name, '--gpu yes', '--cuda 12', '--reinstall')}",
        )
    hint = _first_line(next((ln for ln in str(result.get("stderr", "")).splitlines() if "cuda" in ln.lower() or "gpu" in ln.lower()), ""))
    return (f"the CUDA build did not start ({hint})" if hint else "the CUDA build did not start"), install(name, "--gpu yes", "--reinstall")


def _cuda_findings(dists, pip, install) -> list[Finding]:
    out = []
    wants = cuda_wants(dists)
    majors = {major for found in wants.values() for major in found}
    if len(majors) > 1:
        parts = [f"{b} uses CUDA {m} wheels ({', '.join(sorted(set(ev))[:3])})" for b, found in sorted(wants.items()) for m, ev in sorted(found.items())]
        names = sorted(wants)
        one = " ".join(f"--backend {b}" for b in names)
        out.append(Finding("cuda-conflict", "warning", "backends in this environment want different CUDA versions: " + "; ".join(parts) + ". Loaded in one process they clash (cuDNN/cuBLAS), and one falls back to the CPU", f"keraslearn install {one} --gpu yes --cuda 12 --reinstall   (one CUDA for all; or one environment per backend: keraslearn install --method venv --env ~/.virtualenvs/keras-{names[-1]} --backend {names[-1]})"))
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # packaging is optional; the major-version check above still runs
        return out
    for owner in CUDA_OWNERS:
        for req in (dists.get(owner) or {}).get("requires", []):
            name = _req_name(req)
            if not (name.startswith("nvidia-") or name == "cuda-toolkit") or name not in dists:
                continue
            try:
                spec = Requirement(req.split(";")[0]).specifier
            except InvalidRequirement:
                continue
            have = dists[name]["version"]
            if spec and not spec.contains(have, prereleases=True):
                out.append(Finding("cuda-wheel-version", "warning", f"{owner} requires {name}{spec} but {name} {have} is installed (another backend's install changed it)", f"{pip} install \"{name}{spec}\"   (or give each backend its own environment)"))
    return out
