"""The doctor's GPU rules: a GPU left unused (and why), JAX's memory preallocation, and
backends whose CUDA wheels clash (read from package metadata)."""

from __future__ import annotations

import re

from keraslearn.setup.findings import Context, Finding, first_line, has_gpu, req_name, version_tuple

# Distributions whose requirements name the CUDA wheels of a backend.
CUDA_OWNERS = {
    "torch": "torch",
    "jax-cuda12-plugin": "jax",
    "jax-cuda13-plugin": "jax",
    "jax-cuda12-pjrt": "jax",
    "jax-cuda13-pjrt": "jax",
    "tensorflow": "tensorflow",
}

def cuda_wants(dists: dict) -> dict[str, dict[int, list[str]]]:
    """Which CUDA majors each backend's installed CUDA wheels are built for.

    Read from package metadata: a backend distribution (torch, a JAX CUDA plugin,
    tensorflow) requiring ``nvidia-*-cuNN`` or ``cuda-toolkit`` distributions that are
    installed. Returns ``{backend: {major: [evidence, ...]}}``.
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
        for req in _installed_requirements(dist.get("requires", []), dists):
            name = req_name(req)
            cu = re.search(r"-cu(\d+)$", name)
            if cu:
                found.setdefault(int(cu.group(1)), []).append(name)
            elif name == "cuda-toolkit" and version_tuple(dists[name]["version"]):
                major = version_tuple(dists[name]["version"])[0]
                found.setdefault(major, []).append(f"cuda-toolkit {dists[name]['version']}")
        if not found:
            del wants[backend]
    return wants


def _installed_requirements(requires, dists) -> list[str]:
    """The requirements that are installed, counting an extra's (``extra == "and-cuda"``) only when all of
    them are: one CUDA wheel another package brought (xgboost's nvidia-nccl-cu12) is not tensorflow[and-cuda]."""
    extras: dict[str, list[str]] = {}
    for req in requires:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        extras.setdefault(extra.group(1) if extra else "", []).append(req)
    return [req for extra, reqs in extras.items()
            if not extra or all(req_name(r) in dists for r in reqs)
            for req in reqs if req_name(req) in dists]


def gpu_rules(ctx: Context) -> list[Finding]:
    gpu = ctx.facts.get("gpu") or {}
    if not gpu.get("names"):
        if gpu.get("pci"):
            return [
                Finding(
                    "nvidia-driver-missing", "warning",
                    f"lspci lists an NVIDIA GPU ({gpu['pci'][0]}) but nvidia-smi is missing: there is no "
                    "NVIDIA driver, so every backend runs on the CPU",
                    "install the NVIDIA driver (Ubuntu: sudo ubuntu-drivers install), reboot, "
                    "then run keraslearn doctor again",
                )
            ]
        if gpu.get("error"):
            return [
                Finding(
                    "nvidia-smi-failed", "warning",
                    f"{gpu['error']}: the driver does not answer, so no backend can use the GPU",
                    "reboot, or reinstall the NVIDIA driver; `nvidia-smi` must list the GPU",
                )
            ]
        return []
    out = []
    for name, result in ctx.backends.items():
        if not result.get("ok") or has_gpu(result):
            continue
        reason, fix = _gpu_reason(ctx, name, result, tuple(gpu.get("cuda") or ()))
        sees = ", ".join(result.get("devices", [])) or "the CPU"
        message = f"an NVIDIA GPU is present ({gpu['names'][0]}) but {name} sees only {sees}: {reason}"
        out.append(Finding("gpu-unused", "warning" if name == ctx.selected else "info", message, fix))
    jax = ctx.backends.get("jax")
    if jax and jax.get("ok") and has_gpu(jax):
        out += _jax_memory(ctx)
    return out


def _gpu_reason(ctx: Context, name: str, result: dict, driver_cuda: tuple) -> tuple[str, str]:
    visible = ctx.env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "NoDevFiles"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU", ctx.unset("CUDA_VISIBLE_DEVICES")
    need = None
    if name == "jax":
        platforms = ctx.env.get("JAX_PLATFORMS") or ""
        if platforms and "cuda" not in platforms and "gpu" not in platforms:
            return f"JAX_PLATFORMS={platforms!r} keeps JAX off the GPU", ctx.unset("JAX_PLATFORMS")
        plugins = sorted(d for d in ctx.dists if re.match(r"jax-cuda\d+-plugin$", d))
        if not plugins:
            reason = "jaxlib is the CPU build (no jax-cuda12-plugin / jax-cuda13-plugin installed)"
            return reason, ctx.install("jax", "--gpu yes")
        need = int(re.match(r"jax-cuda(\d+)", plugins[-1]).group(1))
    elif name == "torch":
        if not result.get("cuda_build"):
            return f"torch {result.get('version')} is the CPU build", ctx.install("torch", "--gpu yes", "--reinstall")
        need = version_tuple(result["cuda_build"])[0]
    elif name == "tensorflow":
        if not result.get("cuda_build"):
            reason = "TensorFlow is the CPU build (tensorflow-cpu, or a platform without CUDA builds)"
            fix = f"{ctx.pip} uninstall -y tensorflow-cpu tensorflow && {ctx.install('tensorflow', '--gpu yes')}"
            return reason, fix
        if not any(d.startswith("nvidia-cudnn") for d in ctx.dists):
            reason = "TensorFlow is a CUDA build but its CUDA libraries are missing"
            return reason, f'{ctx.pip} install "tensorflow[and-cuda]"'
        need = version_tuple(result["cuda_build"])[0]
    if need and driver_cuda and driver_cuda[0] < need:
        supported = ".".join(map(str, driver_cuda))
        reason = f"its CUDA {need} build needs a newer driver (this one supports CUDA {supported})"
        fix = ctx.install(name, "--gpu yes", "--cuda 12", "--reinstall")
        return reason, f"update the NVIDIA driver, or: {fix}"
    lines = str(result.get("stderr", "")).splitlines()
    hint = first_line(next((ln for ln in lines if "cuda" in ln.lower() or "gpu" in ln.lower()), ""))
    reason = f"the CUDA build did not start ({hint})" if hint else "the CUDA build did not start"
    return reason, ctx.install(name, "--gpu yes", "--reinstall")


def _jax_memory(ctx: Context) -> list[Finding]:
    """JAX grabs 75% of the GPU at start unless told otherwise."""
    fraction = ctx.env.get("XLA_PYTHON_CLIENT_MEM_FRACTION")
    if fraction:
        try:
            bad = not 0 < float(fraction) <= 1
        except ValueError:
            bad = True
        if not bad:
            return []
        message = f"XLA_PYTHON_CLIENT_MEM_FRACTION={fraction!r} is not a fraction in (0, 1]"
        fix = ctx.export("XLA_PYTHON_CLIENT_MEM_FRACTION", ".5")
        return [Finding("jax-preallocation", "warning", message, fix)]
    if str(ctx.env.get("XLA_PYTHON_CLIENT_PREALLOCATE") or "").lower() in ("false", "0"):
        return []
    return [
        Finding(
            "jax-preallocation", "info",
            "JAX reserves 75% of the GPU's memory when it starts; torch, TensorFlow or a second "
            "JAX process on this GPU then run out of memory",
            f"{ctx.export('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')}   "
            f"(or cap it: {ctx.export('XLA_PYTHON_CLIENT_MEM_FRACTION', '.5')})",
        )
    ]


def cuda_rules(ctx: Context) -> list[Finding]:
    out = []
    wants = cuda_wants(ctx.dists)
    if len({major for found in wants.values() for major in found}) > 1:
        parts = [
            f"{backend} uses CUDA {major} wheels ({', '.join(sorted(set(evidence))[:3])})"
            for backend, found in sorted(wants.items())
            for major, evidence in sorted(found.items())
        ]
        names = sorted(wants)
        out.append(
            Finding(
                "cuda-conflict", "warning",
                "backends in this environment want different CUDA versions: " + "; ".join(parts)
                + ". Loaded in one process they clash (cuDNN, cuBLAS) and one falls back to the CPU",
                "keraslearn install " + " ".join(f"--backend {b}" for b in names)
                + " --gpu yes --cuda 12 --reinstall   (one CUDA for all; or one environment per backend: "
                f"keraslearn install --method venv --env ~/.virtualenvs/keras-{names[-1]} --backend {names[-1]})",
            )
        )
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # packaging is optional; the CUDA-major check above still runs
        return out
    for owner in CUDA_OWNERS:
        for req in (ctx.dists.get(owner) or {}).get("requires", []):
            name = req_name(req)
            if not (name.startswith("nvidia-") or name == "cuda-toolkit") or name not in ctx.dists:
                continue
            try:
                spec = Requirement(req.split(";")[0]).specifier
            except InvalidRequirement:
                continue
            have = ctx.dists[name]["version"]
            if spec and not spec.contains(have, prereleases=True):
                out.append(
                    Finding(
                        "cuda-wheel-version", "warning",
                        f"{owner} requires {name}{spec} but {name} {have} is installed "
                        "(another backend's install changed it)",
                        f'{ctx.pip} install "{name}{spec}"   (or give each backend its own environment)',
                    )
                )
    return out
