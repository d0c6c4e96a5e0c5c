"""Writing files that are never half written: a temp file beside the target, then a rename.

The target holds its old content or the complete new one at every moment, even when the disk
fills up or the process is killed; a failed write names the target, not the temp file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the message names it and says why (``errno`` is kept)."""

    def __str__(self):
        return self.strerror


_TOKEN_BYTES = 8  # a temp file's random part: 16 hex digits


def temp_files(directory: str, prefix: str) -> list[str]:
    """The temp files ``atomic_file(..., prefix=prefix)`` made in ``directory`` (those a killed write left)."""
    named = re.compile(re.escape(prefix) + rf"[0-9a-f]{{{2 * _TOKEN_BYTES}}}\.tmp")
    names = os.listdir(directory) if os.path.isdir(directory) else ()
    return [os.path.join(directory, name) for name in names if named.fullmatch(name)]


def _temp_file(target: str, prefix: str = ".keraslearn-"):
    """A new temp file beside ``target`` with the mode ``open(target, "w")`` would give it; and its removal.

    ``tempfile.mkstemp`` creates files 0600, and the rename would keep that. Creating the file
    with mode 0666 lets the kernel apply the umask at creation, atomically: reading the umask
    (``os.umask`` sets it to read it) would race with other threads creating files. An
    existing file keeps its mode, as when ``open`` truncates it.
    """
    directory = os.path.dirname(os.path.abspath(target))
    try:
        mode = os.stat(target).st_mode & 0o777
    except OSError:
        mode = None
    for _ in range(100):
        tmp = os.path.join(directory, f"{prefix}{secrets.token_hex(_TOKEN_BYTES)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
        except FileExistsError:
            continue
        if mode is not None:
            try:
                os.chmod(tmp, mode)
            except OSError:  # not ours to change (e.g. another owner's file): the umask's mode
                pass
        return tmp, functools.partial(_remove, tmp)
    raise FileExistsError(f"could not create a temporary file in {directory}")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # already renamed over the target
        os.remove(path)


def _temp_named_like(target: str):
    """A path with ``target``'s own name in a new hidden folder beside it; and the folder's removal."""
    folder = tempfile.mkdtemp(prefix=".keraslearn-", dir=os.path.dirname(os.path.abspath(target)))
    return os.path.join(folder, os.path.basename(target)), functools.partial(shutil.rmtree, folder, ignore_errors=True)


def _target(path) -> str:
    path = os.path.expanduser(os.fspath(path))
    # Through a symlink, as open(path, "w") writes: the rename must replace the link's target, not the link.
    return os.path.realpath(path) if os.path.islink(path) else path


def _named(path, err: OSError) -> WriteError:
    parent = next((p for p in Path(os.path.abspath(path)).parents if os.path.isfile(p)), None)
    if parent is not None:  # makedirs says "File exists", open says "Not a directory": name the file
        return WriteError(err.errno, f"cannot write {path}: {parent} is a file, not a folder")
    return WriteError(err.errno, f"cannot write {path}: {err.strerror or err}")


def _refuse_folder(path) -> None:
    if os.path.isdir(_target(path)):
        raise WriteError(21, f"cannot write {path}: it is a folder; name a file in it")
    if str(os.fspath(path)).endswith(("/", os.sep)):  # "runs/", not made yet: a folder's name
        raise WriteError(21, f"cannot write {path}: it names a folder; name a file in it")


def _temp_for(path, make_temp):
    """``(target, tmp, discard)``: ``make_temp(target)`` once the target's folder exists; errors name ``path``."""
    _refuse_folder(path)
    target = _target(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        return (target, *make_temp(target))
    except OSError as err:
        raise _named(path, err) from None


@contextlib.contextmanager
def _replacing(path, make_temp):
    """Yield a temp path; once the block succeeds it replaces ``path``. It never outlives the block."""
    target, tmp, discard = _temp_for(path, make_temp)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException as err:
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise _named(path, err) from None
        raise
    finally:
        discard()


@contextlib.contextmanager
def atomic_file(path, mode: str = "wb", prefix: str = ".keraslearn-"):
    """``with atomic_file(path) as f: f.write(...)``: the data is on disk before the rename.

    The temp file is a ``{prefix}*.tmp`` beside the target; a killed process may leave one.
    """
    with _replacing(path, functools.partial(_temp_file, prefix=prefix)) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())  # the rename must never expose a file whose data is not on disk


@contextlib.contextmanager
def atomic_path(path):
    """``with atomic_path(path) as tmp: writer(tmp)``, for writers that take a file name.

    ``tmp`` has the target's own name, in a new hidden folder beside it: writers that read the
    name (``to_csv``'s compression and the name it stores in a .gz or .zip, ``savefig``'s
    format) see the target's. The file then replaces the target, which keeps its mode.
    """
    with _replacing(path, _temp_named_like) as tmp:
        yield tmp
        with contextlib.suppress(OSError):  # the target's mode, as open(path, "w") keeps it
            os.chmod(tmp, os.stat(_target(path)).st_mode & 0o777)


def check_writable(path) -> None:
    """Raise :class:`WriteError` now if ``path`` cannot be written (a folder, a read-only or missing place)."""
    _refuse_folder(path)
    made = []  # the folders the check makes: removed again, so a run that fails later leaves none behind
    folder = os.path.dirname(os.path.abspath(_target(path)))
    while folder and not os.path.exists(folder) and folder != os.path.dirname(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    _, _, discard = _temp_for(path, _temp_file)
    discard()
    for folder in made:
        with contextlib.suppress(OSError):
            os.rmdir(folder)


@contextlib.contextmanager
def interrupts_deferred(what: str):
    """Ctrl-C while a set of files is written (a model, its curve, its metrics) takes effect after
    the last one, so the set never mixes one run's files with an earlier run's; then
    ``KeyboardInterrupt`` says ``what`` was written. Only the main thread receives signals."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt(f"interrupted; {what} had been written")
