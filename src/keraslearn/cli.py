"""The ``keraslearn`` command: fit, predict, evaluate, demo, and the commands of other packages."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import importlib
import os
import re
import shlex
import sys
import warnings

from keraslearn._backend import BackendUnavailableError
from keraslearn.cli_signals import Signals, end_now, interruptible

# Modules that add sub-commands through ``register(subparsers)``; absent ones are skipped.
_COMMAND_MODULES = (
    "keraslearn.commands",
    "keraslearn.tuning.commands",
    "keraslearn.setup.commands",
)


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


class Once(argparse.Action):
    """An option that may be given once: argparse keeps the last of repeated values, so ``--target a
    --target b`` would train on ``b`` and learn from ``a`` as a feature."""

    def __call__(self, parser, namespace, values, option_string=None):
        before = getattr(namespace, self.dest, None)
        if before is not None and before != self.default:
            parser.error(f"argument {option_string}: given twice ({before!r} and {values!r}); "
                         f"it names one column")
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse, plus why commands are missing when a module of them could not load."""

    unloaded: tuple[str, ...] = ()

    def error(self, message):
        wrong = re.search(r"argument COMMAND: invalid choice: '([^']*)'", message)
        close = difflib.get_close_matches(wrong.group(1), list(getattr(self, "commands", ())), n=1) if wrong else []
        if close:  # `keraslearn fti`: as a mistyped option gets
            message += f"; did you mean {close[0]}?"
        if self.unloaded:
            message += (
                "\nsome commands could not load (" + "; ".join(self.unloaded) + "): "
                "run `keraslearn doctor` to diagnose this environment"
            )
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="keraslearn",
        description="Train, evaluate and tune Keras learners on tabular data from the command line.",
        epilog="The Keras backend is JAX unless the environment says otherwise: KERAS_BACKEND=torch keraslearn fit ...",
    )
    from keraslearn import __version__

    parser.add_argument("--version", action="version", version=f"keraslearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    unloaded = []
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and (name == err.name or name.startswith(err.name + ".")):
                continue  # the module (or its package) is not in this build
            unloaded.append(f"{name}: {type(err).__name__}: {err}")
        # A broken environment (pandas built against another NumPy) must not take `doctor` and
        # `install` down with the commands that need it.
        except Exception as err:
            unloaded.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        else:
            module.register(sub)
    parser.unloaded = tuple(unloaded)
    parser.commands = sub.choices
    return parser


def _parse(parser, argv):
    """``parse_args``, but an unknown option is reported by its command's parser (its usage, not the
    top level's), with the closest option it has: ``tune --trials 2`` → did you mean --n-trials?"""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].split("=")[0] == "--backend":  # argparse would take its value for the command
        parser.error("--backend before the command: install and doctor take --backend after theirs; the other "
                     "commands run on the environment's backend: KERAS_BACKEND=torch keraslearn fit ... (JAX when "
                     "unset)")
    _dash_file_names(parser, argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = parser.commands[args.command]
        if extra[0] in argv and argv.index(extra[0]) < argv.index(args.command):
            command = parser  # `keraslearn --foo fit ...`: the top level's option, not fit's
        flags = [flag for action in command._actions for flag in action.option_strings if flag.startswith("--")]
        first = next((e.split("=")[0] for e in extra if e.startswith("-")), "")
        close = difflib.get_close_matches(first, flags, n=1, cutoff=0.7)
        hint = f"; did you mean {close[0]}?" if close else ""
        if first in flags:  # given after "--", which makes the rest file names
            hint = f"; {first} comes after --, which makes what follows file names: give options before --"
        if "--param" in flags and (param := _learner_parameter(first, flags, getattr(args, "learner", None))):
            hint = param  # --dropout 0.1: not "did you mean --drop?"
        if first == "--backend":  # install and doctor take one; the others run on the environment's
            hint = (f"; the backend comes from the environment: KERAS_BACKEND=torch keraslearn {args.command} ... "
                    "(JAX when unset)")
        command.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    return args


def _dash_file_names(parser, argv) -> None:
    """Refuse an existing file whose name begins with "-" given before any "--": argparse reads it as an
    option and says only that the data argument is missing."""
    before = argv[:argv.index("--")] if "--" in argv else argv
    flags = {flag for command in (parser, *parser.commands.values()) for action in command._actions
             for flag in action.option_strings}
    for arg in before:
        if len(arg) > 1 and arg.startswith("-") and arg.split("=")[0] not in flags and os.path.exists(arg):
            parser.error(f"{arg} is read as an option: write ./{arg}, or give it after --")


def _learner_parameter(flag: str, flags: list, learner=None) -> str:
    """For ``--dropout`` or ``--learning-rate``, a parameter of ``learner`` (a --learner name; any
    learner the command line trains where it names none it knows) typed as an option: how to give it
    (``--param dropout=...``); "" for other names."""
    name = flag.lstrip("-").replace("-", "_")
    if not name or flag in flags:
        return ""
    if "--" + name.replace("_", "-") in flags:  # --random_state: the command's own option, spelled with "_"
        return f"; did you mean --{name.replace('_', '-')}?"
    meant = {"seed": "--random-state", "model": "--learner"}.get(name)
    if meant in flags:
        return f"; did you mean {meant}?"
    try:
        from keraslearn.learners.registry import _FAMILIES, _aliases, _family_named, family_classes

        key = str(learner or "").strip().lower()
        family = _aliases().get(key, (None,))[0] or _family_named(key)  # "classif.tabnet", "tabnet", "kerasff"
        families = [family] if family else [fam for fam in _FAMILIES if fam != "keras"]  # keras: Python only
        classes = [cls for fam in families for cls in family_classes(fam)]
        known = {p for cls in classes for p in cls().get_params(deep=False)}
    except Exception:  # noqa: BLE001 - a broken environment: no hint rather than a second error
        return ""
    return f"; {name} is a learner parameter: give it as --param {name}=VALUE" if name in known else ""


class _QuietOnceClosed:
    """``sys.stderr`` that goes quiet once its reader has gone (``keraslearn fit ... 2>&1 | head``):
    the progress and the messages are lost, not the fit."""

    def __init__(self, stream):
        self._stream = stream

    def _gone(self):
        self._stream = open(os.devnull, "w")  # lives as long as the command
        with contextlib.suppress(OSError):  # Python's own flush of stderr at exit, and C code writing to fd 2
            os.dup2(self._stream.fileno(), 2)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _stderr_until_closed():
    if sys.stderr is None:  # `2>&-`: nothing to write to, nothing to wrap
        yield
        return
    previous, sys.stderr = sys.stderr, _QuietOnceClosed(sys.stderr)
    try:
        yield
    finally:
        sys.stderr = previous


def run() -> None:
    """The ``keraslearn`` command: :func:`main`, then exit with its code.

    After Ctrl-C (code 130) or SIGTERM (143) the process ends without Python's shutdown: every
    file is written or removed by then, and tearing down the threads XLA and Optuna left mid-work
    crashed at times (a segmentation fault, exit 139, after the "interrupted" line).
    """
    code = _command(None, exiting=True)
    if code in (130, 143):
        end_now("", code)
    sys.exit(code)


def _format_warning(command, message, category, *_, **__) -> str:
    """A warning for the user (a column that looks like an ID, numbers stored as text) as one line,
    not a source location and a line of keraslearn's code; a column's Python fixes followed by the
    command's own (a command-line user has no ``X`` to convert)."""
    column = getattr(message, "column", None)
    if command in ("fit", "tune") and "early stopping watches a val_loss that does not see them" in str(message):
        weigh = "--param class_weight=balanced weighs them up; " if "class_weight='balanced'" in str(message) else ""
        return (f"warning: {message} On the command line: {weigh}--param validation_fraction=0.3 holds out more "
                "rows; --param early_stopping=false trains every epoch.\n")
    if column is None or command not in ("fit", "tune"):
        return f"warning: {message}\n"
    pool = "; --param min_frequency=N pools levels rarer than N rows" if "min_frequency" in str(message) else ""
    drop = shlex.quote(str(column))
    drop = f"--drop={drop}" if drop.startswith("-") else f"--drop {drop}"  # argparse reads "--drop -id" as two options
    return f"warning: {message} On the command line: {drop} leaves the column out{pool}.\n"


def main(argv=None) -> int:
    """Run the command ``argv`` (``sys.argv[1:]`` when None) and return its exit code: 0, 2 for a user's
    mistake, 130 after Ctrl-C, 143 after SIGTERM, 141 when the reader of its output has gone. The
    signal handlers it sets are given back when it returns."""
    return _command(argv, exiting=False)


def _command(argv, *, exiting: bool) -> int:
    """:func:`main`; ``exiting`` (:func:`run`): the process ends with the code, so a signal after the
    command has ended ends it at once with that code (see :class:`~keraslearn.cli_signals.Signals`)."""
    signals = Signals(exiting)  # first: a Ctrl-C while the commands' modules import is one line, exit 130
    try:
        try:
            parser = build_parser()
            args = _parse(parser, argv)
        except SystemExit as done:  # --help, --version, a usage error: the code argparse gives
            if exiting:
                signals.ended(done.code if isinstance(done.code, int) else int(done.code is not None))
            raise
        shown = warnings.formatwarning
        warnings.formatwarning = functools.partial(_format_warning, args.command)
        line = ""
        try:
            signals.running()
            with interruptible(), _stderr_until_closed():
                code = int(args.func(args) or 0)
        except BrokenPipeError:  # `keraslearn ... | head`: the reader has gone, so stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 141
        # A user's mistake; a backend that is not installed or cannot train; the file system saying no
        # (an output path that is a directory, a full disk).
        except (UsageError, BackendUnavailableError, OSError) as err:
            code, line = 2, f"keraslearn {args.command}: error: {err}"
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (Terminated, or a message a command gave it)
            code, line = (143 if signals.terminated else 130), str(err) or "interrupted"
        finally:
            warnings.formatwarning = shown
        if exiting:  # from here a signal ends the process with this code, not with a traceback
            signals.ended(code)
        if line:
            print(line, file=sys.stderr)
        return code
    finally:
        if signals.code is None:
            signals.restore()


if __name__ == "__main__":  # python -m keraslearn.cli, as python -m keraslearn
    # keraslearn.cli's run, not this copy's (__main__): the commands raise keraslearn.cli's UsageError, which
    # this copy's main did not catch (a traceback, not the one-line error, exit 1)
    from keraslearn.cli import run as _run

    _run()
