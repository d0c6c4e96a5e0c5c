"""Filter what native (C++) code prints: it writes to file descriptors 1 and 2 directly, where
``sys.stdout``/``sys.stderr`` redirection and Python's warning filters never see it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_output_filtered(fd: int, keep=lambda line: False):
    """Capture file descriptor ``fd`` (1 or 2) in this block; write back the lines ``keep`` accepts.

    Without ``keep``, everything printed to ``fd`` in the block is discarded.
    """
    stream = sys.stdout if fd == 1 else sys.stderr
    try:
        if stream is not None:
            stream.flush()
        saved = os.dup(fd)
    except (OSError, ValueError):  # no such descriptor (a windowless process), or a closed stream
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            if stream is not None:
                stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(True) if keep(line)]
            if kept:
                os.write(fd, "".join(kept).encode())
