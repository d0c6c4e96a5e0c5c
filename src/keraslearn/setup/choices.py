"""What ``keraslearn install`` is asked for, checked: backends, the Keras version, GPU builds, CUDA major."""

from __future__ import annotations

from keraslearn.setup.system import SystemInfo

BACKENDS = ("jax", "torch", "tensorflow")
KERAS_SPEC = ">=3.13,<4"
KERAS_MIN = (3, 13)
PYTHON_MIN = (3, 11)  # Keras 3.13 and newer require it
CUDA_MAJORS = (12, 13)


def normalize_backends(backend) -> tuple[str, ...]:
    """``"jax"``, ``["jax", "torch"]`` or ``"jax,torch"`` → a checked tuple, order kept."""
    names = [backend] if isinstance(backend, str) else list(backend or ["jax"])
    out: list[str] = []
    for name in names:
        for part in str(name).split(","):
            part = part.strip().lower()
            if part == "tf":
                part = "tensorflow"
            if part not in BACKENDS:
                raise ValueError(f"unknown backend {part!r}: choose from {', '.join(BACKENDS)}")
            if part not in out:
                out.append(part)
    if not out:
        raise ValueError(f"no backend given: choose from {', '.join(BACKENDS)}")
    return tuple(out)


def keras_requirement(version: str | None) -> str:
    """``None`` → ``keras>=3.13,<4``; ``"3.15.1"`` → ``keras==3.15.1``; ``">=3.14"`` → ``keras>=3.14``.

    A version below 3.13, a specifier that admits none of 3.13 … 3.x, or one pip cannot read,
    is refused here rather than by pip (or, worse, installed).
    """
    if version is None or str(version).strip() == "":
        return "keras" + KERAS_SPEC
    spec = str(version).strip()
    if spec.startswith("keras"):
        spec = spec[len("keras") :].strip()
    usage = f"version={version!r}: use a Keras 3 version or specifier, e.g. '3.15.1' or '>=3.13,<4'"
    too_old = f"version={version!r}: keraslearn needs Keras 3.13 or newer (3.x), e.g. '3.15.1' or '>=3.13,<4'"
    exact = spec[:1].isdigit()
    if not exact and spec[:1] not in tuple("<>=!~"):
        raise ValueError(usage)
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:  # nothing to check with: pip will
        return "keras" + ("==" if exact else "") + spec
    try:
        if exact:
            release = Version(spec).release
            if release[0] != 3 or release[:2] < KERAS_MIN:
                raise ValueError(too_old)
            return "keras==" + spec
        admitted = SpecifierSet(spec)
    except (InvalidSpecifier, InvalidVersion):
        raise ValueError(usage) from None
    keras3 = [f"3.{minor}.{patch}" for minor in range(KERAS_MIN[1], 40) for patch in range(4)]
    if not any(admitted.contains(v, prereleases=True) for v in keras3):
        raise ValueError(too_old)
    return "keras" + spec


def resolve_gpu(gpu, system: SystemInfo) -> bool:
    """``auto`` → whether ``nvidia-smi`` lists a GPU; ``yes``/``no`` (or a bool) as given."""
    if isinstance(gpu, bool):
        return gpu
    value = str(gpu).strip().lower()
    if value in ("auto", ""):
        return system.gpu.present
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"gpu={gpu!r}: use 'auto', 'yes' or 'no'")


def choose_cuda(backends, system: SystemInfo, cuda=None) -> int:
    """One CUDA major for every backend of the plan (see the module docstring)."""
    if cuda is not None:
        given = cuda
        try:  # 13, "13" and 13.0, not 12.4 (int() would read it as 12) nor "thirteen" (int()'s own words)
            number = float("nan") if isinstance(cuda, bool) else float(cuda)
        except (TypeError, ValueError):
            number = float("nan")
        cuda = int(number) if number.is_integer() else None
        if cuda not in CUDA_MAJORS:
            raise ValueError(f"cuda={given}: keraslearn installs CUDA {' or '.join(map(str, CUDA_MAJORS))} builds")
        if cuda == 13 and "tensorflow" in backends:
            raise ValueError(
                "cuda=13: tensorflow[and-cuda] ships CUDA 12 libraries only; use --cuda 12, "
                "or install tensorflow into its own environment (--method venv --env ...)"
            )
        return cuda
    if "tensorflow" in backends:
        return 12
    if system.gpu.cuda is not None and system.gpu.cuda >= (13, 0):
        return 13
    return 12
