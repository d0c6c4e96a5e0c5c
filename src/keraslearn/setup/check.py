"""``available()`` and ``check()``: can keraslearn run here? (kerasR's ``keras_available`` / ``keras_init``).

``available()`` answers at once, without importing anything. ``check()`` imports the
backend and Keras in this process, runs one op, and either returns a summary or raises
:class:`BackendUnavailableError` whose message says the fix.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from keraslearn._user_warnings import warn_user
from keraslearn._backend import BACKENDS, DEFAULT_BACKEND, BackendUnavailableError, meant_backend
from keraslearn.setup import _probe


@dataclass(frozen=True)
class KerasStatus:
    """What :func:`check` found: versions and the devices the backend sees."""

    keras_version: str
    backend: str
    backend_version: str
    devices: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"keras {self.keras_version} on {self.backend} {self.backend_version} "
            f"(devices: {', '.join(self.devices) or '?'})"
        )


def _wanted(backend) -> str:
    return (backend or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND).strip().lower()


def available(backend: str | None = None) -> bool:
    """True when Keras and ``backend`` (default: ``KERAS_BACKEND``, else JAX) can be found.

    Imports nothing, so it is instant; it cannot tell a broken install from a working one
    (:func:`check` can). Once Keras is imported, only its active backend is available.

    Parameters
    ----------
    backend : {"jax", "tensorflow", "torch"} or None, default=None
        The backend to look for; None: ``KERAS_BACKEND``, else JAX.
    """
    name = _wanted(backend)
    if name not in BACKENDS:
        if backend is not None:  # a typo in the argument: False, and why
            warn_user(f"backend={backend!r} is not a backend keraslearn trains on ({', '.join(BACKENDS)}); did you "
                      f"mean {meant_backend(name)!r}?")
        return False
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            return keras.backend.backend() == name
        except Exception:  # a half-imported keras
            return False
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("keras", _probe.MODULES[name]))
    except (ImportError, ValueError):
        return False


def check(backend: str | None = None) -> KerasStatus:
    """Import ``backend`` and Keras here, run one op, and describe the result.

    Parameters
    ----------
    backend : str, optional
        ``"jax"``, ``"torch"`` or ``"tensorflow"``; default ``KERAS_BACKEND``, else JAX.
        Naming a backend selects it, as long as Keras is not imported yet.

    Returns
    -------
    KerasStatus

    Raises
    ------
    BackendUnavailableError
        With the fix: an unknown backend, Keras already running another backend, or a
        backend or Keras that is missing or does not import.
    """
    name = _wanted(backend)
    raw = os.environ.get("KERAS_BACKEND")
    if backend is None and raw is not None and raw != name and name in BACKENDS:
        raise BackendUnavailableError(  # Keras reads the variable as it is: "JAX" is no backend to it
            f"KERAS_BACKEND={raw!r} is not a name Keras reads (it wants lower case, no spaces). "
            f"Fix: set KERAS_BACKEND={name} before starting Python."
        )
    if name not in BACKENDS:
        alias = meant_backend(name)
        if backend is not None:  # the argument, not the environment
            raise BackendUnavailableError(
                f"backend={backend!r} is not a backend keraslearn trains on ({', '.join(BACKENDS)}); "
                f"did you mean {alias!r}?"
            )
        raise BackendUnavailableError(
            f"KERAS_BACKEND={name!r} is not a backend keraslearn trains on ({', '.join(BACKENDS)}). "
            f"Fix: set KERAS_BACKEND={alias} (or unset it for {DEFAULT_BACKEND}) before starting Python."
        )
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            active = keras.backend.backend()
        except Exception:
            active = None
        if active != name:
            raise BackendUnavailableError(
                f"keras is already running on {active!r} in this process; a backend is fixed when "
                f"keras is first imported. Fix: restart Python with KERAS_BACKEND={name} set before "
                "importing keras or keraslearn."
            )
    facts = _probe.backend_facts(name)
    if not facts.get("ok"):
        raise BackendUnavailableError(_explain(name, facts))
    return KerasStatus(
        keras_version=facts["keras"],
        backend=name,
        backend_version=str(facts.get("version")),
        devices=tuple(facts.get("devices", ())),
    )


def _explain(name: str, facts: dict) -> str:
    err = facts.get("error") or {}
    module = _probe.MODULES[name]
    detail = f"{err.get('type')}: {str(err.get('message', '')).strip()}"
    if err.get("type") == BackendUnavailableError.__name__:  # the import hook's message: it has the fix
        return str(err.get("message", "")).strip()
    if err.get("type") == "ModuleNotFoundError" and err.get("name") == module:
        return f"the {name} backend is not installed ({detail}). Fix: keraslearn install --backend {name}"
    if err.get("type") == "ModuleNotFoundError" and err.get("name") == "keras":
        return f"keras is not installed ({detail}). Fix: keraslearn install --backend {name}"
    stage = "keras does not run on it" if err.get("stage") == "keras" else f"{module} does not import"
    return (
        f"the {name} backend is installed but {stage}: {detail}. "
        f"Fix: run `keraslearn doctor` for the cause and the command that repairs it."
    )
