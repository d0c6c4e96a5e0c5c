"""Facts about a Python environment, gathered inside it.

This file runs in *another* interpreter (``python -c <this source> MODE [BACKEND]``), one
that may not have keraslearn, so it imports only the standard library and prints one JSON
line. Modes:

``env``
    Python version, the installed distributions that matter (keras, backends, CUDA wheels,
    with their requirements), which modules can be found (without importing them).
``backend NAME``
    Import the backend, list its devices and build, then import Keras on it and run one
    small op. Each stage reports its error instead of raising.

keraslearn also imports it directly (``keraslearn.check()``) to describe the current process.
"""

import json
import os
import sys
import time
import traceback

MODULES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}
# Distributions whose requirements reveal which CUDA build a backend wants.
BACKEND_DISTS = (
    "keras",
    "jax",
    "jaxlib",
    "jax-cuda12-plugin",
    "jax-cuda13-plugin",
    "jax-cuda12-pjrt",
    "jax-cuda13-pjrt",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "tf-nightly",
    "numpy",
    "cuda-toolkit",
)


def _norm(name):
    return (name or "").lower().replace("_", "-").replace(".", "-")


def env_facts():
    import importlib.metadata as md
    import importlib.util
    import platform

    dists = {}
    for dist in md.distributions():
        name = _norm(dist.metadata["Name"])
        if name in dists:  # the first on sys.path wins, as for imports
            continue
        if name in BACKEND_DISTS or name.startswith("nvidia-"):
            dists[name] = {"version": dist.version, "requires": list(dist.requires or [])}
    modules = {}
    for mod in ("keras", "jax", "jaxlib", "torch", "tensorflow", "numpy", "pandas", "sklearn", "pip"):
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            spec = None
        modules[mod] = None if spec is None else (spec.origin or "")
    return {
        "libraries": _libraries(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "platform": platform.platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cwd": os.getcwd(),
        "dists": dists,
        "modules": modules,
    }


# keraslearn's own dependencies: imported (not only found), since a broken one (pandas built
# against another NumPy) keeps keraslearn's commands from loading.
LIBRARIES = ("numpy", "pandas", "sklearn")


def _libraries():
    """For each of LIBRARIES that is installed: None if it imports, else the error."""
    import importlib
    import importlib.util

    out = {}
    for name in LIBRARIES:
        spec = None
        try:
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            importlib.import_module(name)
            out[name] = None
        except Exception as err:  # anything an import can raise: it is the finding
            out[name] = {**_error("import", err), "origin": getattr(spec, "origin", None) or ""}
    return out


def _error(stage, err):
    lines = traceback.format_exception(type(err), err, err.__traceback__)
    return {
        "stage": stage,
        "type": type(err).__name__,
        "message": str(err),
        "name": getattr(err, "name", None),
        "traceback": "".join(lines)[-3000:],
    }


def devices(name, module):
    """Devices the backend sees and whether it is a GPU build."""
    if name == "jax":
        out = {"devices": [f"{d.platform}:{d.id}" for d in module.devices()]}
        out["default"] = module.default_backend()
        return out
    if name == "torch":
        cuda = getattr(module.version, "cuda", None)
        out = {"devices": ["cpu"], "cuda_build": cuda}
        if module.cuda.is_available():
            count = module.cuda.device_count()
            out["devices"] += [f"cuda:{i} {module.cuda.get_device_name(i)}" for i in range(count)]
        mps = getattr(module.backends, "mps", None)
        if mps is not None and mps.is_available():
            out["devices"].append("mps")
        return out
    if name == "tensorflow":
        found = module.config.list_physical_devices()
        out = {"devices": [f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in found]}
        info = dict(module.sysconfig.get_build_info())
        out["cuda_build"] = info.get("cuda_version") if info.get("is_cuda_build") else None
        out["cudnn"] = info.get("cudnn_version")
        return out
    return {"devices": []}


def backend_facts(name, import_keras=True):
    """Import backend ``name``, then Keras on it, then run ``ones(2, 3) @ ones(3, 2)``."""
    out = {"backend": name, "ok": False}
    module_name = MODULES.get(name)
    if module_name is None:
        out["error"] = {"stage": "select", "type": "ValueError", "message": f"unknown backend {name!r}"}
        return out
    os.environ["KERAS_BACKEND"] = name
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    try:
        module = __import__(module_name)
    except (Exception, SystemExit) as err:  # SystemExit too: some broken builds call exit()
        out["error"] = _error(f"import {module_name}", err)
        return out
    out["version"] = getattr(module, "__version__", None)
    out["file"] = getattr(module, "__file__", None)
    out["import_s"] = round(time.perf_counter() - start, 3)
    try:
        out.update(devices(name, module))
    except (Exception, SystemExit) as err:
        out["device_error"] = _error("devices", err)
    if not import_keras:
        out["ok"] = True
        return out
    try:
        import keras

        out["keras"] = keras.__version__
        out["keras_file"] = keras.__file__
        out["active"] = keras.backend.backend()
        ops = keras.ops
        value = ops.sum(ops.matmul(ops.ones((2, 3)), ops.ones((3, 2))))
        out["op_result"] = float(ops.convert_to_numpy(value))
    except (Exception, SystemExit) as err:
        out["error"] = _error("keras", err)
        return out
    out["ok"] = out["active"] == name and out["op_result"] == 12.0
    return out


def main(argv):
    mode = argv[0] if argv else "env"
    if mode == "env":
        result = env_facts()
    else:
        result = backend_facts(argv[1])
    sys.stdout.flush()
    # The marker keeps the JSON apart from anything a library printed on import.
    print("\n@@keraslearn-probe@@" + json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
