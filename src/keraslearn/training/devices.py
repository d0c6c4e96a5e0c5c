"""Data-parallel training over several accelerators through ``keras.distribution``.

A learner's ``devices`` parameter picks where it trains:

* ``None`` (default) or ``1``: Keras' default single device;
* an int ``n``: a JAX ``keras.distribution.DataParallel`` over the first ``n`` devices;
* ``"all"``: every device of the default kind (all GPUs, else all TPUs, else all CPUs).

Data parallelism copies the weights to every device and splits each batch between them,
so the result matches single-device training up to float rounding. It needs the JAX
backend. On a CPU-only machine, several XLA host devices can be simulated by setting
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX starts (useful to test,
not faster).
"""

from __future__ import annotations

import contextlib
import numbers

import keras

from keraslearn.training.padding import pad_rows


def _available() -> list[str]:
    return keras.distribution.list_devices()


def resolve_devices(devices) -> list[str] | None:
    """The device names ``devices`` asks for, or None for Keras' default single device."""
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices.strip().lower() != "all":
            raise ValueError(f"devices must be None, a positive int or 'all'; got {devices!r}.")
        n = None
    elif isinstance(devices, numbers.Integral) and not isinstance(devices, bool) and devices >= 1:
        n = int(devices)
    else:
        raise ValueError(f"devices must be None, a positive int or 'all'; got {devices!r}.")
    if n == 1:
        return None
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"devices={devices!r} trains data-parallel through keras.distribution, which needs the JAX "
            f"backend; Keras runs on {backend!r}. Set KERAS_BACKEND=jax, or use devices=None."
        )
    available = _available()
    if n is None:
        n = len(available)
    if n > len(available):
        hint = (
            " On a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N (set before JAX starts) "
            "simulates N devices."
            if available and available[0].startswith("cpu")
            else ""
        )
        raise ValueError(f"devices={devices!r} asks for {n} devices but only {len(available)} are visible: "
                         f"{', '.join(available)}.{hint}")
    return None if n == 1 else available[:n]


@contextlib.contextmanager
def device_scope(devices):
    """Build, compile and fit inside this scope to train on ``devices`` (see the module docstring).

    Enter it *after* ``keras.backend.clear_session()``: clearing the session also clears
    the active distribution.
    """
    names = resolve_devices(devices)
    if names is None:
        yield None
        return
    distribution = keras.distribution.DataParallel(devices=names)
    with distribution.scope():
        yield distribution


def active_device_count() -> int:
    """How many devices the active ``keras.distribution`` splits each batch over (1 if none)."""
    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    return int(distribution.device_mesh.devices.size)


def device_batch_size(batch_size: int, n_devices: int) -> int:
    """``batch_size`` rounded up to a multiple of ``n_devices`` (each device gets an equal share)."""
    return int(-(-batch_size // n_devices) * n_devices)


def prepare_for_devices(x, y, sample_weight, validation_data, batch_size: int):
    """Pad training and validation data and round the batch size for the active distribution.

    A no-op without a multi-device ``keras.distribution``; :func:`keraslearn.training.fit_model`
    calls it just before ``model.fit``.
    """
    n_devices = active_device_count()
    if n_devices == 1:
        return x, y, sample_weight, validation_data, batch_size
    x, y, sample_weight = pad_rows(x, y, sample_weight, n_devices)
    if validation_data is not None:
        vx, vy, *vw = validation_data
        validation_data = pad_rows(vx, vy, vw[0] if vw else None, n_devices)
    return x, y, sample_weight, validation_data, device_batch_size(batch_size, n_devices)
