"""A rich progress bar over epochs (``verbose=1``)."""

from __future__ import annotations

import contextlib
import datetime
import time

import keras


#: Seconds between the plain lines of a bar that cannot redraw itself.
PLAIN_EVERY = 10.0


def rich_bar(field: str):
    """A rich ``Progress``: description, bar, done/total, elapsed time and the task's ``field`` text.

    Where the console cannot redraw a bar (not a terminal: a log file, a pipe, CI; a notebook without
    ipywidgets, where rich shows only a warning), it prints a plain line every :data:`PLAIN_EVERY`
    seconds and one at the end instead: a long fit's log showed nothing until the fit ended.
    """
    import importlib.util

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from keraslearn.console import console as make_console

    class Bar(Progress):
        def start(self):
            if plain:
                self._last_line = time.monotonic()
            else:
                super().start()

        def stop(self):
            if not plain:
                self.refresh()  # rich skips its last refresh in a notebook: the widget kept an earlier frame
                super().stop()
            elif getattr(self, "_last_line", None) is not None:  # started, not yet stopped
                self._line()
                self._last_line = None

        def update(self, *args, **kwargs):
            super().update(*args, **kwargs)
            if plain and getattr(self, "_last_line", None) is not None \
                    and time.monotonic() - self._last_line >= PLAIN_EVERY:
                self._line()

        def _line(self):
            for task in self.tasks:
                done = f"{int(task.completed)}" + ("" if task.total is None else f"/{int(task.total)}")
                line = f"{task.description} {done} {task.fields.get(field, '')}".rstrip()
                if line != getattr(self, "_said", None):  # the end of a bar just shown: not again
                    elapsed = datetime.timedelta(seconds=int(task.elapsed or 0))
                    self.console.print(line.replace(f" {done}", f" {done} {elapsed}", 1), highlight=False)
                    self._said = line
            self._last_line = time.monotonic()

    console = make_console()  # the command line's: on stderr, as tqdm (stdout stays for results), text as written
    plain = (importlib.util.find_spec("ipywidgets") is None) if console.is_jupyter else not console.is_terminal
    return Bar(
        TextColumn("{task.description}", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn(f"{{task.fields[{field}]}}", markup=False),  # "[this worker: ...]" is text, not a style
        console=console,
    )


class RichProgress(keras.callbacks.Callback):
    """One bar for the whole fit, with the latest losses in the description."""

    def __init__(self, epochs: int, description: str = "training", stopper=None):
        super().__init__()
        self.epochs = epochs
        self.description = description
        self.stopper = stopper  # the fit's EarlyStopping: at the end, say which epoch it restored
        self._progress = None

    def on_train_begin(self, logs=None):
        self._progress = rich_bar("metrics")
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.epochs, metrics="")

    def on_epoch_end(self, epoch, logs=None):
        shown = "  ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items() if "loss" in k)
        self._progress.update(self._task, advance=1, metrics=shown)

    def close(self):
        """Stop the bar (and its refresh thread) where it is: Keras skips on_train_end when a fit fails."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_end(self, logs=None):
        if self._progress is None:
            return
        # Early stopping ends before `epochs`: show the bar as complete at the epoch reached.
        done = self._progress.tasks[0].completed
        self._progress.update(self._task, total=max(done, 1), completed=max(done, 1))
        console = self._progress.console
        self.close()
        kept = self.stopper.best_epoch + 1 if getattr(self.stopper, "best", None) is not None else done
        if kept < done:  # the bar shows the last epoch's losses, not those of the model kept
            console.print(f"kept epoch {kept} of {int(done)}: the lowest {self.stopper.monitor} "
                          f"({float(self.stopper.best):.4g}); early stopping restored its weights", soft_wrap=True,
                          highlight=False)  # plain text: a notebook's text/plain output kept the colour codes


@contextlib.contextmanager
def bars_closed_on_error(callbacks):
    """Around ``model.fit(callbacks=callbacks)``: a fit that raises leaves no bar running."""
    try:
        yield
    except BaseException:
        for cb in callbacks:
            if isinstance(cb, RichProgress):
                cb.close()
        raise
