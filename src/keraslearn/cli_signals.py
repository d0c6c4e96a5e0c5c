"""Ctrl-C and SIGTERM over a command's life: one line and an exit code (130, 143), never a traceback or a
crash, and the same cleanup for both (see :class:`Signals`)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time


def _send_again(signum) -> threading.Timer:
    """Send ``signum`` to this process again in a moment (a Timer, to cancel if the command ends first)."""
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


@contextlib.contextmanager
def interruptible():
    """Ctrl-C (and SIGTERM) stops the command even when it lands in a callback whose exceptions Python discards.

    Python reports an exception raised inside a ``gc`` callback, a weakref callback or a
    ``__del__`` to ``sys.unraisablehook`` and goes on: JAX runs a gc callback at every
    collection (jax-ml/jax#18246) and weakref callbacks as arrays die, so a KeyboardInterrupt
    raised there was lost and the command went on to the end. Such a Ctrl-C (or SIGTERM) is
    sent again a moment later, to land outside the callback.
    """
    pending = []

    def on_discarded(unraisable):
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            signum = signal.SIGTERM if issubclass(unraisable.exc_type, Terminated) else signal.SIGINT
            pending.append(_send_again(signum))
            return
        previous(unraisable)

    # Not the main thread (signals are the main thread's), or Ctrl-C ignored on purpose (`trap '' INT`) and
    # SIGTERM not handled by Python.
    if threading.current_thread() is not threading.main_thread() or (
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            and signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, signal.SIG_DFL, None)):
        yield
        return
    previous, sys.unraisablehook = sys.unraisablehook, on_discarded
    try:
        yield
    finally:
        sys.unraisablehook = previous
        for timer in pending:  # the command has ended: a Ctrl-C still on its way is moot
            timer.cancel()


class Terminated(KeyboardInterrupt):
    """SIGTERM (``docker stop``, Slurm, Kubernetes, ``timeout``) while a command runs: it stops the command as
    Ctrl-C does, so the same cleanup runs and the same line is printed (a fit says that no model was written;
    tune marks the running Optuna trial FAIL and says how to resume; temporary files are removed), and the
    exit code is 143."""


def end_now(line: str, code: int) -> None:
    """End the process at once: no unwinding, no Python shutdown."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # None (`2>&-`), a closed pipe, a write the signal interrupted
            stream.flush()
    if line:
        with contextlib.suppress(OSError):
            os.write(2, line.encode())
    os._exit(code)


def _importing(frame) -> bool:
    """Whether ``frame`` runs inside an ``import`` (its own module's code or the import machinery's)."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib._bootstrap") or name.endswith(
                (f"importlib{os.sep}_bootstrap.py", f"importlib{os.sep}_bootstrap_external.py")):
            return True
        frame = frame.f_back
    return False


#: A KeyboardInterrupt raised in a Keras loop whose frames still run this long after is lost (see Signals._watch);
#: the signal is then sent again, up to this many times.
_LOST_AFTER_S = 1.5
_RESENDS = 12


class Signals:
    """SIGINT and SIGTERM over one command's life.

    - Starting (importing the commands' modules, parsing the arguments), in :func:`run` only: nothing is
      written yet, so either signal prints "interrupted" and ends the process at once, 130 (143 for SIGTERM).
      A KeyboardInterrupt raised there printed a traceback, and one unwinding through a half-imported jaxlib
      crashed Python's shutdown (exit 139). (:func:`main` called from Python leaves its caller's handlers.)
    - Running (the command's own handled region, :meth:`running`): Ctrl-C raises KeyboardInterrupt, which the
      commands catch to clean up and say what they kept. SIGTERM does what Ctrl-C would do there (calls the
      Ctrl-C handler in place, such as the one deferring it while a model set is written, else raises
      :class:`Terminated`) and makes the exit code 143. Either signal landing inside an ``import`` (a command
      imports Keras, JAX, Optuna when it needs them) is sent again a moment later, until it lands outside:
      modules on the way catch and drop it or turn it into an ImportError (Keras, checking for optree), and
      unwinding through a half-imported extension module could crash the process.
    - Ended (:meth:`ended`, :func:`run` only): the command has its exit code, and either signal ends the
      process at once with that code. Python's shutdown takes over half a second once JAX is loaded, and a
      Ctrl-C there printed tracebacks or killed a finished command (exit 130, nothing on stderr).

    Handlers are set in the main thread only (signals are delivered there); a signal the process was started
    with ignored (`trap '' INT`, `nohup`) stays ignored. :meth:`restore` gives back the handlers found.
    """

    def __init__(self, exiting: bool):
        self.exiting = exiting
        self.terminated = False  # a SIGTERM arrived: exit code 143, not 130
        self.code = None  # the exit code, once ended
        self.previous = {}
        self._resends = []
        self._since = None  # when a signal was first deferred, landing in an import
        self._watcher = None  # see _watch
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if handler is not signal.SIG_IGN and handler is not None:  # None: a handler set outside Python
                self.previous[signum] = signal.signal(signum, self._starting) if exiting else handler

    @staticmethod
    def _starting(signum, frame):
        end_now("interrupted\n", 143 if signum == signal.SIGTERM else 130)

    def running(self):
        if self.previous.get(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._interrupt)
        elif signal.SIGINT in self.previous:  # a Python caller's own handler
            signal.signal(signal.SIGINT, self.previous[signal.SIGINT])
        if self.previous.get(signal.SIGTERM) is signal.SIG_DFL:  # a Python caller's own handler stays
            signal.signal(signal.SIGTERM, self._terminate)

    def _deferred(self, signum, frame) -> bool:
        """A signal inside an import: sent again in a moment (True), for up to 5 s; an import that takes longer
        (a hung one) is interrupted after all: by ending the process at once under :func:`run`."""
        if not _importing(frame):
            self._since = None
            return False
        self._since = self._since or time.monotonic()
        if time.monotonic() - self._since > 5:
            if self.exiting:
                end_now("interrupted\n", 143 if self.terminated else 130)
            return False
        self._resends.append(_send_again(signum))
        return True

    def _interrupt(self, signum, frame):
        if not self._deferred(signum, frame):
            self._watch(signum, frame)
            raise KeyboardInterrupt

    def _watch(self, signum, frame):
        """Send the signal again if the KeyboardInterrupt raised at ``frame`` is lost inside Keras' loops.

        A signal landing while a Keras loop converts a JAX array to NumPy (``np.array(x)`` in
        ``convert_to_numpy``) raised there, was dropped on the way, and the loop went on, to wait for its
        asynchronous callbacks for ever (QA: 3 of 10 SIGTERMs 2 s into a fit on busy cores; the process had
        to be killed). Keras' loops never catch a KeyboardInterrupt: one that has ended them is no longer
        inside their frames, so while any loop frame found above ``frame`` is still running a few seconds
        later, the signal was lost, and it is sent again (it then lands elsewhere, in that wait too)."""
        loops = []
        while frame is not None:
            if f"{os.sep}keras{os.sep}src{os.sep}" in frame.f_code.co_filename:
                loops.append(frame)
            frame = frame.f_back
        if not loops or self._watcher is not None:
            return
        main = threading.main_thread().ident

        def watch():
            for _ in range(_RESENDS):
                time.sleep(_LOST_AFTER_S)
                running, current = set(), sys._current_frames().get(main)
                while current is not None:
                    running.add(id(current))
                    current = current.f_back
                if not any(id(f) in running for f in loops):
                    return
                os.kill(os.getpid(), signum)

        self._watcher = threading.Thread(target=watch, name="keraslearn-signal-watch", daemon=True)
        self._watcher.start()

    def _terminate(self, signum, frame):
        self.terminated = True
        ctrl_c = signal.getsignal(signal.SIGINT)
        inner = getattr(ctrl_c, "__wrapped__", ctrl_c)  # under a fit's training.interrupts handler
        if callable(ctrl_c) and inner not in (signal.default_int_handler, self._interrupt):
            ctrl_c(signal.SIGINT, frame)  # e.g. interrupts_deferred's: takes effect once the model set is written
            return
        if not self._deferred(signum, frame):
            self._watch(signum, frame)
            raise Terminated

    def ended(self, code: int):
        self.code = code
        self._cancel_resends()  # a signal deferred in an import of a command that has ended anyway
        for signum in self.previous:
            signal.signal(signum, self._ended)

    def _ended(self, signum, frame):
        end_now("", self.code)

    def _cancel_resends(self):
        for timer in self._resends:
            timer.cancel()

    def restore(self):
        self._cancel_resends()  # main has returned: a signal still on its way is moot
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


@atexit.register  # at import, before JAX registers its own: so it runs after theirs
def _ignore_signals_at_exit():
    """After the exit functions, Python gives its signals back to the system's default action (killing the
    process) and frees what XLA holds, which takes a while: a command :func:`run` has ended keeps its exit code
    through it, whatever signal lands there."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if getattr(signal.getsignal(signum), "__func__", None) is Signals._ended:
            signal.signal(signum, signal.SIG_IGN)
