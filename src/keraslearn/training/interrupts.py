"""Ctrl-C during a fit stops it, even where Keras discards the KeyboardInterrupt.

Keras turns each epoch's logs into floats inside a bare ``try/except`` (``pythonify_logs``), and the fitting
thread spends most of an epoch waiting there for the compiled steps' results: a Ctrl-C (a notebook's
interrupt) usually landed there and was discarded, and the fit went on to its last epoch. While a fit runs in
the main thread, the SIGINT and SIGTERM handlers note what they raised, and a callback raises it again at the
next batch or epoch boundary. The fit then fails as any interrupted fit does: the learner is left as it was.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import keras


class _RaiseNoted(keras.callbacks.Callback):
    """Raises the interrupt a signal handler noted, at Keras' batch begins and epoch ends (called in the
    fitting thread whatever the dispatch of batch ends)."""

    async_safe = True  # it leaves Keras' asynchronous batch-end dispatch as the other callbacks decide it

    def __init__(self, noted: list):
        super().__init__()
        self.noted = noted

    def _check(self, *args, **kwargs):
        if self.noted:
            raise self.noted.pop()

    on_train_batch_begin = on_test_batch_begin = on_epoch_begin = on_epoch_end = _check


@contextlib.contextmanager
def interrupts_kept(callbacks: list):
    """Within: ``callbacks`` (the list a fit gives Keras) raises an interrupt that Keras discarded. Only in the
    main thread (signals are its own), and only over handlers that Python runs (not ignored signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted, replaced = [], {}
    try:  # from the first handler on: an interrupt while installing the second gives the first back
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if not callable(previous):  # SIG_IGN, SIG_DFL: nothing Python raises
                continue

            def handler(number, frame, previous=previous):
                try:
                    previous(number, frame)
                except BaseException as err:  # KeyboardInterrupt, or the command line's Terminated
                    noted.append(err)
                    raise

            handler.__wrapped__ = previous  # what it runs: the command line's SIGTERM handler asks which is SIGINT's
            replaced[signum] = (previous, handler)
            signal.signal(signum, handler)
        callbacks.append(_RaiseNoted(noted))
        yield
        if noted:  # discarded after the last boundary (Keras' on_train_end reads the last logs the same way)
            raise noted.pop()
    finally:
        for signum, (previous, handler) in replaced.items():
            if signal.getsignal(signum) is handler:  # not one the user's code set meanwhile
                signal.signal(signum, previous)
