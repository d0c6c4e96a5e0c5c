"""The ``keraslearn`` command: fit, predict, evaluate, demo, and the commands of other packages."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from keraslearn._backend import BackendUnavailableError

# Modules that add sub-commands through ``register(subparsers)``; absent ones are skipped.
_COMMAND_MODULES = (
    "keraslearn.commands",
    "keraslearn.tuning.commands",
    "keraslearn.setup.commands",
)


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keraslearn",
        description="Train, evaluate and tune Keras learners on tabular data from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and (name == err.name or name.startswith(err.name + ".")):
                continue  # the module (or its package) is not in this build
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    shown = warnings.formatwarning
    # A warning for the user (a column that looks like an ID, numbers stored as text) reads as one
    # line, not as a source location and a line of keraslearn's code.
    warnings.formatwarning = lambda message, category, *_, **__: f"warning: {message}\n"
    try:
        return int(args.func(args) or 0)
    # A user's mistake; a backend that is not installed or cannot train; the file system saying no
    # (an output path that is a directory, a full disk).
    except (UsageError, BackendUnavailableError, OSError) as err:
        print(f"keraslearn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = shown

