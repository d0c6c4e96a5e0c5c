"""What the command line prints: rich consoles on stderr, one-line notes, metric tables, strict JSON."""

from __future__ import annotations

import errno
import json
import math
import sys


def console(quiet=False, stderr=True):
    """A rich console: on stderr (stdout stays for results), silent when ``quiet``."""
    from rich.console import Console

    # soft_wrap: a note or a study name piped to a log stays one line, not cut at 80 columns
    # markup=False: text is shown as written; a file, column, label or study named "run[/2]" or "a[b]" was read
    # as rich markup (a crash, or the bracketed part gone). Styles are given as style=.
    return Console(stderr=stderr, quiet=quiet, soft_wrap=True, markup=False)


def say(out, text, always=False, style=None):
    """Print ``text`` on the console ``out``, in ``style`` (e.g. "yellow"); ``always``: even when quiet (rows
    dropped from the user's data)."""
    if out is not None:
        (console() if always and out.quiet else out).print(text, style=style)


def write_stdout(text: str) -> None:
    """``text`` on stdout in UTF-8, as ``--out`` writes a file: a console or a redirect in another
    encoding (Windows' cp1252) could not hold every level (a traceback), or wrote the file in it."""
    if sys.stdout is None or getattr(sys.stdout, "closed", False):  # `>&-`: Python has no stdout
        raise OSError(errno.EBADF, "standard output is closed; redirect it to a file (> FILE)")
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text stream with no bytes under it (a StringIO)
        sys.stdout.write(text)
        return
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def to_json(value, indent=None) -> str:
    """JSON that every parser reads: an undefined metric (NaN, e.g. R² of one row) is null."""

    def finite(v):
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json.dumps(finite(value), indent=indent, allow_nan=False)


def score(value: float) -> str:
    """A score for a table: four decimals (0.9833), or four significant digits where those would
    read 0.0000 (an RMSE of 1.147e-05 on a target measured in small units)."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 or not math.isfinite(value) else f"{value:.4g}"


def print_metrics(console, rows: dict[str, dict], title="Metrics"):
    """A table with one column per data split and one row per metric."""
    from rich.table import Table

    console.print(title, style="bold")  # its own line: a table title wraps at the table's width
    table = Table()
    table.add_column("metric")
    names = list(dict.fromkeys(k for scores in rows.values() for k in scores))
    for split in rows:
        table.add_column(split, justify="right")
    for name in names:
        table.add_row(name, *(score(rows[s][name]) if name in rows[s] else "" for s in rows))
    console.print(table)
