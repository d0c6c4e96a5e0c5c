"""The ``install`` and ``doctor`` sub-commands (registered by :mod:`keraslearn.cli`).

Nothing here imports Keras: both commands work where a backend is broken, and answer fast.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    install = subparsers.add_parser(
        "install",
        help="install Keras and a backend (CPU or CUDA build), then check it works",
        description=(
            "Plan the exact pip (or conda) commands for this machine, print them, run them, "
            "then import each backend in the target environment and run one Keras op. "
            "CUDA builds when nvidia-smi finds a GPU (--gpu auto) or with --gpu yes."
        ),
    )
    install.add_argument(
        "--backend", action="extend", nargs="+", metavar="NAME",
        help="jax, torch or tensorflow (tf); several allowed, spaced or comma-separated (default: jax)",
    )
    install.add_argument("--gpu", choices=("auto", "yes", "no"), default="auto", help="CUDA builds (default: auto)")
    install.add_argument("--cuda", type=int, choices=(12, 13), help="force the CUDA major of GPU builds")
    install.add_argument("--version", metavar="SPEC", help="Keras version or specifier (default: >=3.13,<4)")
    install.add_argument(
        "--extra", action="extend", nargs="+", default=[], metavar="PKG", help="more packages to install"
    )
    install.add_argument(
        "--method", choices=("pip", "venv", "conda"), default="pip",
        help="where to install (default: pip, into this Python)",
    )
    install.add_argument(
        "--env", metavar="PATH_OR_NAME",
        help="pip: an environment folder or python; venv: the folder to create (default "
        "~/.virtualenvs/keraslearn); conda: an environment name or path (default keraslearn)",
    )
    install.add_argument(
        "--reinstall", action="store_true",
        help="force-reinstall (repairs a broken backend, swaps a CPU build for the CUDA one)",
    )
    install.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    install.add_argument(
        "--resolve-only", action="store_true",
        help="create the environment, then only let pip resolve the packages (pip install --dry-run --report)",
    )
    install.set_defaults(func=run_install)

    doctor = subparsers.add_parser(
        "doctor",
        help="diagnose the Keras setup: versions, devices, problems and their fixes",
        description=(
            "Probe each backend in a fresh interpreter and report versions, devices and "
            "problems (missing or broken backend, GPU unused, CUDA conflicts, keras.json, ...), "
            "each with the command that fixes it. Exit code 0 when healthy, 1 otherwise."
        ),
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument(
        "--backend", action="extend", nargs="+", metavar="NAME",
        help="probe only these backends (default: all three)",
    )
    doctor.add_argument("--env", metavar="PATH", help="diagnose another environment (folder or python executable)")
    doctor.add_argument("--timeout", type=float, default=240, help="seconds each probe may take (default: 240)")
    doctor.set_defaults(func=run_doctor)


def run_install(args: argparse.Namespace) -> int:
    from keraslearn.cli import UsageError
    from keraslearn.setup.install import InstallError, install_keras

    try:
        install_keras(
            args.backend or ["jax"],
            gpu=args.gpu,
            version=args.version,
            extras=args.extra,
            method=args.method,
            env=args.env,
            cuda=args.cuda,
            dry_run=args.dry_run,
            resolve_only=args.resolve_only,
            reinstall=args.reinstall,
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    except InstallError as err:
        print(f"keraslearn install: {err}", file=sys.stderr)
        return 1
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from keraslearn.cli import UsageError
    from keraslearn.setup.doctor import doctor

    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    try:
        report = doctor(args.backend, env=args.env, timeout=args.timeout)
    except ValueError as err:
        raise UsageError(str(err)) from None
    from keraslearn.console import write_stdout  # UTF-8: a cp1252 stdout cannot hold every folder's name

    write_stdout(f"{report.to_json() if args.json else report}\n")
    return report.exit_code
