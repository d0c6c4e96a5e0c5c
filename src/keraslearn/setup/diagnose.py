"""The doctor's rules: facts about an environment in, findings (each with its fix) out.

:func:`diagnose` is pure. The facts are what :mod:`keraslearn.setup.doctor` gathers: the
target interpreter's installed distributions, one probe per backend (run in a fresh
interpreter), ``nvidia-smi``, ``keras.json``, the environment variables and, when the
doctor runs inside the program it diagnoses, whether Keras is already imported. The GPU
and CUDA rules are in :mod:`keraslearn.setup.gpu_rules`.
"""

from __future__ import annotations

import dataclasses
import json
import os

from keraslearn._backend import BACKENDS, DEFAULT_BACKEND, meant_backend
from keraslearn.setup._probe import MODULES
from keraslearn.setup.choices import KERAS_MIN, PYTHON_MIN
from keraslearn.setup.findings import (
    SEVERITIES,
    Context,
    Finding,
    command_line,
    first_line,
    inside,
    installed,
    shadowed,
    version_tuple,
)
from keraslearn.setup.gpu_rules import cuda_rules, cuda_wants, gpu_rules

__all__ = ["Finding", "cuda_wants", "diagnose", "installed"]

# What NumPy and extension modules print when they were built against another NumPy ABI.
NUMPY_ABI = (
    "numpy.core.multiarray failed to import",
    "_ARRAY_API not found",
    "compiled using NumPy 1.x cannot be run in",
    "numpy.dtype size changed, may indicate binary incompatibility",
    "module compiled against ABI version",
    "module compiled against API version",
)
LIBRARY_MODULES = ("numpy", "pandas", "sklearn")
# Variables that change how a backend starts: set wrongly, it fails as a broken install does.
STARTUP_VARIABLES = {"jax": ("XLA_FLAGS", "JAX_PLATFORMS"), "tensorflow": ("XLA_FLAGS", "TF_XLA_FLAGS")}
SHADOW_FIX = "rename that file or folder (or, if PYTHONPATH names its folder, take that folder off PYTHONPATH)"


def diagnose(facts: dict) -> list[Finding]:
    """Every finding for ``facts``, errors first."""
    ctx = Context(facts)
    if (ctx.py.get("error") or {}).get("stage") == "timeout":  # slow to start (a cold disk), not broken
        return [
            Finding(
                "python-timeout", "warning", f"{ctx.exe} gave no answer in time: {ctx.py['error'].get('message')}",
                "keraslearn doctor --timeout 600   (a larger --timeout)",
            )
        ]
    if ctx.py.get("error"):
        return [
            Finding(
                "python-broken", "error", f"{ctx.exe} does not run: {ctx.py['error'].get('message')}",
                "check the path, or create an environment: keraslearn install --method venv",
            )
        ]
    if version_tuple(ctx.py.get("python")) < PYTHON_MIN:
        return _python(ctx)  # the other fixes install into this Python, which install refuses
    found: list[Finding] = []
    for rule in (_python, _shadowed_libraries, _libraries, _keras, _backend_variable, _backends, _keras_json,
                 _in_process, gpu_rules, cuda_rules):
        found += rule(ctx)
    if found and "pip" in ctx.modules and not ctx.modules["pip"]:  # a venv made --without-pip, or by uv
        found.append(Finding("pip-missing", "warning", f"{ctx.exe} has no pip, which the other fixes need",
                             command_line([ctx.exe, "-m", "ensurepip", "--upgrade"], ctx.os)))
    found.sort(key=lambda f: SEVERITIES.index(f.severity))
    return found


def _python(ctx: Context) -> list[Finding]:
    if version_tuple(ctx.py.get("python")) >= PYTHON_MIN:
        return []
    return [
        Finding(
            "python-too-old", "error",
            f"Python {ctx.py.get('python')}: keraslearn and Keras 3.13+ need Python 3.11 or newer",
            "keraslearn install --method venv   (run with Python 3.11 or newer)",
        )
    ]


def _failures(ctx: Context) -> dict:
    """{name: error text} of every library and installed backend that fails: where a shadowing file shows."""
    errors = {m: err for m, err in (ctx.py.get("libraries") or {}).items() if err}
    errors.update({name: {**(r.get("error") or {}), "stderr": r.get("stderr")}
                   for name, r in ctx.backends.items() if installed(r) and not r.get("ok")})
    return {name: " ".join(str(err.get(k) or "") for k in ("message", "traceback", "stderr"))
            for name, err in errors.items()}


def _caused_by(text: str, module: str, origin: str) -> bool:
    """Whether a failure's text shows a shadowing ``module`` (its file, or "module 'numpy' has no ...")."""
    return any(words in text for words in (origin, f"module '{module}'", f"from '{module}'",
                                           f"'{module}' is not a package"))


def _shadowing(ctx: Context) -> dict:
    """{module: (file, [what fails through it])} for keraslearn's libraries hidden by a file outside the
    installed packages that imports (one that fails is library-broken's), when a failure shows it:
    ``./numpy.py`` breaks pandas, scikit-learn and the backends, whose reinstalls would not help. A working
    checkout that nothing fails through is not news."""
    failures, libraries, out = _failures(ctx), ctx.py.get("libraries") or {}, {}
    for module in LIBRARY_MODULES:
        origin = ctx.modules.get(module)
        if module in libraries and libraries[module] is None and shadowed(origin):
            through = [name for name, text in failures.items() if _caused_by(text, module, origin)]
            if through:
                out[module] = (origin, through)
    return out


def _shadowed_by(ctx: Context, name: str) -> bool:
    """Whether ``name``'s failure is a shadowing library's (library-shadowed says it)."""
    return any(name in through for _, through in _shadowing(ctx).values())


def _shadowed_libraries(ctx: Context) -> list[Finding]:
    return [Finding("library-shadowed", "error",
                    f"`import {module}` finds {origin}, not an installed package; {', '.join(through)} "
                    f"{'fails' if len(through) == 1 else 'fail'} through it (fix this first)",
                    SHADOW_FIX)
            for module, (origin, through) in _shadowing(ctx).items()]


def _libraries(ctx: Context) -> list[Finding]:
    """numpy, pandas or scikit-learn installed but failing to import: keraslearn's commands cannot load."""
    out, failed = [], []
    for module, err in (ctx.py.get("libraries") or {}).items():  # in import order: numpy, pandas, sklearn
        if not err or any(origin and origin in (err.get("traceback") or "") for origin in failed):
            continue  # works, or fails only because a library it imports does (sklearn on a broken pandas)
        if _shadowed_by(ctx, module):
            continue  # library-shadowed says it: a reinstall would not help
        origin = err.get("origin")
        failed.append(origin)
        dist = {"sklearn": "scikit-learn"}.get(module, module)
        text = f"{err.get('message')} {err.get('traceback')}"
        why = " (built against another NumPy)" if any(marker in text for marker in NUMPY_ABI) else ""
        where = f" ({origin})" if shadowed(origin) else ""
        out.append(Finding(
            "library-broken", "error",
            f"{module}{where} does not import{why}: {err.get('type')}: {first_line(err.get('message') or '')}; "
            "keraslearn needs it",
            SHADOW_FIX if where else f"{ctx.pip} install --upgrade --force-reinstall {dist}"))
    return out


def _keras(ctx: Context) -> list[Finding]:
    keras = ctx.dists.get("keras")
    origin = ctx.modules.get("keras")
    if keras is None and not origin:
        backend = ctx.selected if ctx.selected in BACKENDS else DEFAULT_BACKEND
        return [Finding("keras-missing", "error", "keras is not installed", ctx.install(backend))]
    out = []
    if keras is not None and version_tuple(keras["version"])[:2] < KERAS_MIN:
        out.append(
            Finding(
                "keras-too-old", "error",
                f"keras {keras['version']} is installed; keraslearn needs Keras 3.13 or newer",
                f'{ctx.pip} install --upgrade "keras>=3.13,<4"',
            )
        )
    fails = any(
        installed(r) and not r.get("ok") and (r.get("error") or {}).get("stage") == "keras"
        for r in ctx.backends.values()
    )
    if keras is not None and shadowed(origin) and (fails or inside(origin, ctx.py.get("cwd"))):
        out.append(
            Finding(
                "keras-shadowed", "error",
                f"`import keras` finds {origin}, not the installed keras {keras['version']}", SHADOW_FIX,
            )
        )
    return out


def _backend_variable(ctx: Context) -> list[Finding]:
    if not ctx.requested or ctx.requested in BACKENDS:
        return []
    if ctx.requested in ("numpy", "openvino"):
        why = "Keras' numpy and openvino backends cannot train"
    else:
        why = "`import keras` fails with 'Unable to import backend'"
    meant = meant_backend(ctx.requested)
    return [
        Finding(
            "unknown-backend", "error",
            f"KERAS_BACKEND={ctx.requested!r} is not a backend keraslearn trains on "
            f"({', '.join(BACKENDS)}); {why}",
            f"{ctx.export('KERAS_BACKEND', meant)}   "
            f"(or {ctx.unset('KERAS_BACKEND')}: keraslearn's default is {DEFAULT_BACKEND})",
        )
    ]


def _upgrade(ctx: Context, name: str) -> str:
    """The command that replaces a backend built against another NumPy."""
    if name == "torch" or any(d.startswith("jax-cuda") for d in ctx.dists):
        # torch is pinned (the same version from the right index); a CUDA plugin must match jaxlib's version
        return ctx.install(name, "--reinstall")
    if name == "jax":
        return f"{ctx.pip} install --upgrade jax jaxlib"
    return f"{ctx.pip} install --upgrade {'tensorflow-cpu' if 'tensorflow-cpu' in ctx.dists else 'tensorflow'}"


def _backends(ctx: Context) -> list[Finding]:
    out = []
    broken_by = {name: _broken_by(ctx, name) for name in ctx.backends}
    for name, result in ctx.backends.items():
        breaks = [other for other, culprit in broken_by.items() if culprit == name]
        severity = "error" if name == ctx.selected or ctx.selected in breaks else "warning"
        before = len(out)
        if not installed(result):
            if name == ctx.selected or name in ctx.asked:
                if name != ctx.selected:
                    message = f"{name} is not installed"
                elif ctx.requested:
                    message = f"KERAS_BACKEND selects {name}, which is not installed"
                else:
                    message = f"{name}, keraslearn's default backend (KERAS_BACKEND is unset), is not installed"
                out.append(Finding("backend-missing", "error", message, ctx.install(name)))
            continue
        err = result.get("error") or {}
        text = " ".join(str(x) for x in (err.get("message"), err.get("traceback"), result.get("stderr")))
        if any(marker in text for marker in NUMPY_ABI):
            numpy = ctx.dists.get("numpy", {}).get("version", "?")
            out.append(
                Finding(
                    "numpy-abi", severity,
                    f"{name} was built against another NumPy than the installed numpy {numpy} "
                    "(binary ABI mismatch)",
                    _upgrade(ctx, name),  # not "numpy<2": jax, jaxlib and pandas now require numpy 2
                )
            )
        elif result.get("ok") or (err.get("stage") == "keras" and err.get("name") == "keras"):
            continue  # working, or keras-missing says it
        elif err.get("stage") == "keras" and "keras" in ctx.dists and shadowed(ctx.modules.get("keras")):
            continue  # keras-shadowed says it: reinstalling the backend would not help
        elif err.get("stage") == "timeout":  # slow (a first TensorFlow import can take a minute), not broken
            message = f"{name} did not answer the probe in time ({first_line(err.get('message'))})"
            fix = "keraslearn doctor --timeout 600   (a larger --timeout)"
            out.append(Finding("backend-timeout", "warning", message, fix))
        elif _shadowed_by(ctx, name):
            continue  # library-shadowed says it: reinstalling the backend would not help
        elif broken_by[name]:
            continue  # that backend's own finding says it: reinstalling this one would not help
        else:
            said = first_line(err.get("message")) if err.get("stage") != "crash" else ""
            said = said or _last_line(result.get("stderr")) or first_line(err.get("message"))
            detail = f"{err.get('stage')}: {err.get('type')}: {said}"
            message = f"{name} does not work: {detail}"
            where = ctx.modules.get(MODULES[name])
            variables = [v for v in STARTUP_VARIABLES.get(name, ()) if ctx.env.get(v)]
            # Named by the error, or set while the backend imported but did not run (JAX_PLATFORMS=cuda on a
            # CPU machine fails with a bare AssertionError); not blamed for a broken install's import error.
            named = [v for v in variables if v in text] or (variables if err.get("stage") == "keras" else [])
            if named and not shadowed(where):
                settings = ", ".join(f"{v}={ctx.env[v]!r}" for v in named)
                verb = "is set, and changes" if len(named) == 1 else "are set, and change"
                message += f" -- {settings} {verb} how {name} starts"
                unset = "; ".join(ctx.unset(v) for v in named)
                reinstall = ctx.install(name, "--reinstall")
                fix = f"{unset}   (then run keraslearn doctor again; if {name} still fails: {reinstall})"
                out.append(Finding("backend-variable", severity, message, fix))
            elif shadowed(where):
                message += f" -- `import {MODULES[name]}` finds {where}, not an installed package"
                out.append(Finding("backend-shadowed", severity, message, SHADOW_FIX))
            else:
                out.append(Finding("backend-broken", severity, message, ctx.install(name, "--reinstall")))
        if breaks and len(out) > before:  # Keras (and TensorFlow) import it: those fail with it
            said = f" -- and so {' and '.join(breaks)} fail too, as Keras imports {name} where it is installed"
            out[-1] = dataclasses.replace(out[-1], message=out[-1].message + said)
    return out


def _broken_by(ctx: Context, name: str) -> str | None:
    """Another backend whose own import failed with the error Keras met on ``name``: Keras imports jax on
    every backend where it is installed, so a jax that does not import breaks torch and TensorFlow too."""
    err = (ctx.backends.get(name) or {}).get("error") or {}
    said = str(err.get("message") or "").strip()
    if not said:
        return None
    for other, result in ctx.backends.items():
        theirs = (result or {}).get("error") or {}
        if (other != name and theirs.get("stage") == f"import {MODULES[other]}"
                and str(theirs.get("message") or "").strip() == said
                and f"{os.sep}{MODULES[other]}{os.sep}" in str(err.get("traceback") or "")):
            return other  # (TensorFlow imports jax itself where it is installed)
    return None


def _last_line(text) -> str:
    """The last line a crashing interpreter wrote (its fatal error), without a logger's prefix."""
    line = next((ln.strip() for ln in reversed(str(text or "").splitlines()) if ln.strip()), "")
    return first_line(line.split("] ", 1)[-1] if line[:1] in "FEW" and "] " in line else line)


def _keras_json_fix(ctx, path, backend) -> str:
    code = (
        f"import json, pathlib; p = pathlib.Path({json.dumps(str(path))}); c = json.loads(p.read_text()); "
        f'c["backend"] = {json.dumps(backend)}; p.write_text(json.dumps(c, indent=4))'
    )
    return command_line([ctx.exe, "-c", code], ctx.os)  # that Python: a bare `python` may not exist


def _works(ctx: Context, name: str) -> bool:
    result = ctx.backends.get(name)
    return bool(ctx.modules.get(MODULES[name])) if result is None else installed(result) and bool(result.get("ok"))


def _backend_to_name(ctx: Context, instead_of: str | None) -> str:
    """The backend a fix should write into keras.json: the one asked for, else the default, that works."""
    for name in dict.fromkeys((ctx.selected, DEFAULT_BACKEND, *BACKENDS)):
        if name in BACKENDS and name != instead_of and _works(ctx, name):
            return name
    return ctx.selected if ctx.selected in BACKENDS else DEFAULT_BACKEND


def _keras_json(ctx: Context) -> list[Finding]:
    """keras.json decides the backend of programs that import keras without KERAS_BACKEND."""
    kj = ctx.facts.get("keras_json") or {}
    if kj.get("error"):
        config = {"backend": _backend_to_name(ctx, instead_of=None), "floatx": "float32", "epsilon": 1e-07,
                  "image_data_format": "channels_last"}
        code = f"import pathlib; pathlib.Path({json.dumps(str(kj['path']))}).write_text({json.dumps(json.dumps(config))})"
        if kj.get("ignored"):
            severity, then = "warning", ("Keras ignores it, so programs that `import keras` without KERAS_BACKEND "
                                         "run on TensorFlow, whatever it says")
        else:
            severity, then = "error", "`import keras` fails on it"
        message = f"{kj['path']} is not a Keras config ({kj['error']}); {then}"
        fix = command_line([ctx.exe, "-c", code], ctx.os)
        return [Finding("keras-json-unreadable", severity, message, fix)]
    name = kj.get("backend")
    if not name:
        return []
    severity = "warning" if ctx.requested is None else "info"
    fix = _keras_json_fix(ctx, kj["path"], _backend_to_name(ctx, instead_of=name))
    if name not in BACKENDS + ("numpy", "openvino"):
        message = (
            f"{kj['path']} names the backend {name!r}, which Keras does not know; "
            "`import keras` fails where KERAS_BACKEND is unset"
        )
        return [Finding("keras-json-backend", severity, message, fix)]
    if name not in BACKENDS:
        return []
    result = ctx.backends.get(name)
    if _works(ctx, name) or (result and (result.get("error") or {}).get("stage") == "timeout"):
        return []  # working, or slow (backend-timeout says it): not a reason to change the file
    if _broken_by(ctx, name):
        return []  # broken by another backend, whose finding has the fix
    missing = not ctx.modules.get(MODULES[name]) if result is None else not installed(result)
    state = "is not installed" if missing else "does not work"
    message = f"{kj['path']} selects {name}, which {state}: programs that `import keras` without KERAS_BACKEND fail"
    if not any(_works(ctx, other) for other in BACKENDS):  # no backend to name instead: install this one
        return [Finding("keras-json-backend", severity, message, ctx.install(name))]
    return [Finding("keras-json-backend", severity, message, f"{fix}   (or: {ctx.install(name)})")]


def _in_process(ctx: Context) -> list[Finding]:
    proc = ctx.facts.get("in_process") or {}
    active, wanted = proc.get("active"), proc.get("env_backend")
    if not (proc.get("keras_imported") and wanted and active != wanted):
        return []
    return [
        Finding(
            "backend-set-after-import", "error",
            f"keras was imported on {active!r} before KERAS_BACKEND was set to {wanted!r}; "
            f"this process keeps running {active!r}",
            f"restart Python with the variable set first: KERAS_BACKEND={wanted} python your_script.py "
            "(in a notebook: restart the kernel, then set os.environ['KERAS_BACKEND'] before "
            "importing keras or keraslearn)",
        )
    ]
