"""Finding Keras' dataset files offline-first, and downloading them without ever hanging.

A file is looked for, in order, in ``$KERASLEARN_DATA`` (a folder laid out like Keras'
cache) and in Keras' own cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``).
Only then is it downloaded (never with ``KERASLEARN_OFFLINE=1``), by ``keras.utils.get_file``
with Keras' origin and hash into Keras' cache. Before downloading, the origin (or the
proxy) is asked for an answer for a few seconds, so a machine without network gets a
:class:`DatasetUnavailableError` saying where to put the file, instead of a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass

import numpy as np

DATA_ENV = "KERASLEARN_DATA"
OFFLINE_ENV = "KERASLEARN_OFFLINE"  # "1": never download, fail at once (tests, air-gapped machines)
TIMEOUT_ENV = "KERASLEARN_NET_TIMEOUT"
DEFAULT_TIMEOUT = 3.0
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


class DatasetUnavailableError(OSError):
    """A dataset is not on this machine and cannot be downloaded (e.g. no network)."""


class Unreachable(OSError):
    """The origin of a download (or the proxy) gave no answer within a few seconds."""


class DatasetFileError(DatasetUnavailableError, ValueError):
    """The dataset's cached file is not the right one (a download cut short).

    The dataset is unavailable until the file is deleted, so the offline fallback
    ``except DatasetUnavailableError`` catches it too.
    """


@dataclass(frozen=True)
class Source:
    """One file of a Keras dataset: its name in Keras' cache, origin and hash."""

    fname: str
    url: str
    file_hash: str | None = None
    subdir: str = ""  # folder inside the cache (fashion-mnist keeps its files in one)
    archive: str | None = None  # for archives Keras extracts: the file name at the origin
    extracted: str | None = None  # and the folder the archive holds


def _keras_home() -> str:
    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # pragma: no cover - older or newer Keras layouts
        home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return os.path.expanduser(home)  # KERAS_HOME="~/kh", as Keras' get_file reads it


def keras_cache_dir() -> str:
    """Keras' dataset cache: ``$KERAS_HOME/datasets`` (``~/.keras/datasets`` by default)."""
    return os.path.join(_keras_home(), "datasets")


def search_dirs() -> list[str]:
    """Folders searched for dataset files, first match wins."""
    dirs = []
    if os.environ.get(DATA_ENV):
        dirs.append(os.path.expanduser(os.environ[DATA_ENV]))
    dirs.append(keras_cache_dir())
    return dirs


def _candidates(source: Source) -> list[str]:
    """Paths under one folder that hold the file, in Keras' layout or as downloaded."""
    if source.archive is None:
        return [os.path.join(source.subdir, source.fname)]
    # Keras keeps the archive as "<fname>_archive" and extracts it into "<fname>/".
    return [
        os.path.join(source.fname, source.extracted),
        source.extracted,
        source.archive,
        f"{source.fname}_archive",
    ]


def find_local(source: Source) -> str | None:
    """The first existing local copy of ``source``, or None."""
    for folder in search_dirs():
        for rel in _candidates(source):
            path = os.path.join(folder, rel)
            if os.path.exists(path):
                return path
    return None


def net_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds > 0; unset it for {DEFAULT_TIMEOUT:g} s.")
    return seconds


def check_reachable(url: str, timeout: float | None = None) -> None:
    """Raise OSError unless the server of ``url`` (or the proxy) answers within ``timeout`` s.

    Any HTTP answer counts, even an error status: the download then reports it. Name
    resolution is not bounded by socket timeouts, so the request runs in a daemon thread
    that is abandoned when the time is up.
    """
    timeout = net_timeout() if timeout is None else timeout
    result: dict = {}

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            result["ok"] = True
        except urllib.error.HTTPError:
            result["ok"] = True
        except Exception as err:  # URLError, timeouts, SSL errors: all mean "not reachable"
            result["error"] = getattr(err, "reason", err)

    thread = threading.Thread(target=probe, daemon=True, name="keraslearn-net-probe")
    thread.start()
    thread.join(timeout)
    if not result.get("ok"):
        host = urllib.parse.urlsplit(url).netloc
        raise OSError(result.get("error") or f"no answer from {host} within {timeout:g} s")


@contextlib.contextmanager
def _stall_timeout(seconds: float):
    """A socket timeout for Keras' download (urlretrieve has none), so a stalled one ends."""
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        if previous is None:
            socket.setdefaulttimeout(None)


def _where_to_put(source: Source) -> str:
    name = source.archive or source.fname
    target = os.path.join(keras_cache_dir(), source.subdir, source.fname if source.archive is None else "")
    data = os.environ.get(DATA_ENV)
    absent = data and not os.path.isdir(os.path.expanduser(data))
    return (
        f"Download {source.url} on a machine with network access and put {name!r} "
        f"{'at ' + target if source.archive is None else 'in ' + target.rstrip(os.sep)}, "
        + (f"or in {DATA_ENV}'s folder {data}" if data else
           f"or in the folder named by the {DATA_ENV} environment variable")
        + f"{' (inside ' + source.subdir + '/)' if source.subdir else ''}."
        + (f" ({DATA_ENV}={data!r} is not a folder that exists here: check its spelling.)" if absent else "")
    )


def is_own_path(fname) -> bool:
    """Whether a loader's ``path=`` names the user's own file (absolute, or with a folder), not a
    file name in the cache."""
    return os.path.isabs(fname) or os.path.dirname(fname) != ""


_CHECKED: dict = {}  # (path, size, mtime) -> the file's hash, once per process


def _check_hash(path: str, source: Source, dataset: str) -> None:
    """Refuse a cached file that is not Keras' (a download cut short, an error page saved under its
    name): Keras would download it again; offline-first, keraslearn names it instead."""
    if not source.file_hash or not os.path.isfile(path):
        return  # no hash known, or an extracted folder (the hash is the archive's)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _CHECKED:
        digest = hashlib.sha256() if len(source.file_hash) == 64 else hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _CHECKED[key] = digest.hexdigest()
    if _CHECKED[key] != source.file_hash:
        raise DatasetFileError(f"{path} is not Keras' {dataset} file (its checksum differs: a download cut short, or "
                         "another file saved under its name); delete it and load again.")


def fetch(source: Source, dataset: str) -> str:
    """Local path of ``source``: found locally (checked against Keras' checksum), else downloaded by
    Keras into its cache; a ``path=`` of the user's own must exist."""
    if is_own_path(source.fname):
        path = os.path.expanduser(source.fname)
        if not os.path.exists(path):
            raise DatasetUnavailableError(f"Cannot load {dataset}: no file at {source.fname} (path= names your own "
                                          "copy; leave it out to use Keras' cache, or download there).")
        return path
    local = find_local(source)
    if local is not None:
        _check_hash(local, source, dataset)
        return local
    try:
        path = download(source)
    except OSError as err:
        raise DatasetUnavailableError(
            f"Cannot load {dataset}: {source.archive or source.fname} is not on this machine and {err}. "
            f"{_where_to_put(source)}"
        ) from err.__cause__
    if source.archive is not None:
        path = os.path.join(path, source.extracted)
    return path


def offline() -> bool:
    """Whether ``KERASLEARN_OFFLINE`` says never to download."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def download(source: Source, cache_subdir: str = "datasets", cache_dir: str | None = None) -> str:
    """Download ``source`` with ``keras.utils.get_file`` into Keras' cache (``cache_dir``, Keras' home by
    default; ``cache_subdir``: "datasets", or "models" for application weights); its path. An OSError says
    why not, in words that follow "is not on this machine and": ``KERASLEARN_OFFLINE`` set, no answer from the
    origin within a few seconds (never a hang), or a failed download (a file that fails its checksum is not left
    behind, nor are empty folders)."""
    if offline():
        raise OSError(f"{OFFLINE_ENV} is set, so nothing is downloaded")
    try:
        check_reachable(source.url)
    except OSError as err:
        raise Unreachable(f"{urllib.parse.urlsplit(source.url).netloc} cannot be reached ({err})") from None
    import keras

    cache_dir = cache_dir or _keras_home()
    cache = os.path.join(cache_dir, cache_subdir)
    folders = dict.fromkeys(os.path.normpath(d) for d in (cache_dir, cache, os.path.join(cache, source.subdir)))
    made = [d for d in folders if not os.path.exists(d)]  # once each: a source without a subfolder is the cache
    with contextlib.suppress(OSError):  # else Keras writes to /tmp/.keras: it takes a folder it cannot write so
        os.makedirs(os.path.join(cache, source.subdir), exist_ok=True)
    try:
        with _stall_timeout(max(30.0, 10 * net_timeout())):
            return keras.utils.get_file(
                fname=source.fname,
                origin=source.url,
                file_hash=source.file_hash,
                cache_dir=cache_dir,
                cache_subdir=os.path.join(cache_subdir, source.subdir) if source.subdir else cache_subdir,
                extract=source.archive is not None,
            )
    except Exception as err:  # Keras raises a bare Exception for URL failures
        target = os.path.join(cache, source.subdir, source.fname)
        for left in (target, f"{target}_archive"):  # Keras keeps an archive as "<fname>_archive"
            if os.path.isfile(left):  # a download that failed its checksum: not left to be found next time
                os.remove(left)
        for d in reversed(made):  # leave no empty cache folders behind
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)
        detail = re.sub(r"^URL fetch failure on \S+: ", "", str(err))  # Keras' own words name the URL again
        raise OSError(f"downloading {source.url} failed ({detail})") from err


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: a tampered file cannot run code."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def safe_unpickle(data: bytes, encoding: str = "ASCII"):
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()


def load_npz(path: str) -> dict:
    """Arrays of an ``.npz``; ragged object arrays (IMDB, Reuters) through the safe unpickler."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            buf = io.BytesIO(z.read(member))
            key = member[:-4] if member.endswith(".npy") else member
            try:
                out[key] = np.lib.format.read_array(buf, allow_pickle=False)
                continue
            except ValueError:
                pass
            # An object array: the header, then the pickled array itself.
            buf.seek(0)
            if np.lib.format.read_magic(buf) == (1, 0):
                np.lib.format.read_array_header_1_0(buf)
            else:
                np.lib.format.read_array_header_2_0(buf)
            out[key] = _NumpyOnlyUnpickler(buf, encoding="latin1").load()
    return out
