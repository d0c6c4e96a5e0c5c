"""What the doctor's rules share: the :class:`Finding` they return and the :class:`Context`
that turns facts into the commands a fix names."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import asdict, dataclass

from keraslearn._backend import DEFAULT_BACKEND

SEVERITIES = ("error", "warning", "info")


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


def first_line(text, limit=300) -> str:
    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def req_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return match.group(1).lower().replace("_", "-").replace(".", "-") if match else ""


def installed(result: dict | None) -> bool:
    """False when a backend probe says the backend's top-level module does not exist."""
    if result is None:
        return False
    err = result.get("error") or {}
    stage = str(err.get("stage", ""))
    return not (
        err.get("type") == "ModuleNotFoundError"
        and stage.startswith("import ")
        and err.get("name") == stage[len("import ") :]
    )


def shadowed(origin: str | None) -> bool:
    """A module found outside any installed-packages folder (PYTHONPATH, the working folder)."""
    if not origin:
        return False
    parts = origin.replace("\\", "/").split("/")
    return "site-packages" not in parts and "dist-packages" not in parts


def inside(origin: str | None, folder: str | None) -> bool:
    """``origin`` is a file directly in ``folder`` (``./keras.py``) or its package (``./keras/``)."""
    if not origin or not folder:
        return False
    parent = os.path.dirname(os.path.abspath(origin))
    folder = os.path.abspath(folder)
    return parent == folder or os.path.dirname(parent) == folder


def has_gpu(result: dict) -> bool:
    return any(str(d).split(":")[0].lower() in ("gpu", "cuda") for d in result.get("devices", []))


def command_line(argv, os_name: str = "Linux") -> str:
    """``argv`` as the line a user types: cmd.exe's quoting on Windows (a single quote is no quote there,
    and an unquoted ``>`` in ``keras>=3.13`` redirects), POSIX shell quoting elsewhere."""
    return " ".join(map(_cmd_arg, argv)) if os_name == "Windows" else shlex.join(argv)


def _cmd_arg(arg: str) -> str:
    if arg and not re.search(r'[\s"&|<>^()%!,;=]', arg):
        return arg
    # The C runtime's rules: backslashes are literal except before a quote, where they are doubled.
    escaped = re.sub(r'(\\*)"', r'\1\1\\"', arg)
    return '"' + re.sub(r"(\\+)$", r"\1\1", escaped) + '"'


class Context:
    """The facts, plus the commands a fix names (for this environment and this OS)."""

    def __init__(self, facts: dict):
        self.facts = facts
        self.py = facts.get("python") or {}
        self.os = self.py.get("system") or "Linux"
        self.exe = self.py.get("executable") or "python"
        self.pip = command_line([self.exe, "-m", "pip"], self.os)
        self.target = "" if facts.get("current", True) else f" --env {command_line([self.exe], self.os)}"
        self.dists = self.py.get("dists") or {}
        self.modules = self.py.get("modules") or {}
        self.requested = (facts.get("keras_backend") or {}).get("requested")
        self.selected = self.requested or DEFAULT_BACKEND
        self.asked = (facts.get("keras_backend") or {}).get("asked") or ()  # backends named to the doctor
        self.backends = facts.get("backends") or {}
        self.env = facts.get("env") or {}

    def install(self, backend: str, *flags: str) -> str:
        return f"keraslearn install --backend {backend}" + "".join(f" {f}" for f in flags) + self.target

    def export(self, name: str, value) -> str:
        return f"set {name}={value}" if self.os == "Windows" else f"export {name}={shlex.quote(str(value))}"

    def unset(self, name: str) -> str:
        return f"set {name}=" if self.os == "Windows" else f"unset {name}"
