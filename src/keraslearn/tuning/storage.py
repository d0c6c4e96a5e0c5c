"""Where studies live (a SQLite file by default, any Optuna RDB URL: PostgreSQL for many machines)
and which study a call continues.

Every storage opened here has Optuna's heartbeat on: a running trial records a heartbeat
every :data:`HEARTBEAT_INTERVAL` seconds, and a trial whose worker stopped beating for
:data:`GRACE_PERIOD` seconds (killed, machine lost) is marked FAIL by the next worker
that starts a trial. On SQLite, the file's users are on this machine, so a RUNNING trial
whose worker process no longer exists is marked FAIL at once when a study resumes.
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.parse
import warnings

import numpy as np

DEFAULT_STORAGE = "sqlite:///keraslearn_tuning.db"
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 60
WORKER_ATTR = "keraslearn_worker"
CONNECT_TIMEOUT = 20  # seconds to reach a PostgreSQL server
# What a retry cannot mend: libpq's words for a wrong or missing password, database or host, and for no
# answer. A refused connection is retried (a server starting up).
_LASTING = ("authentication failed", "does not exist", "could not translate host name", "timeout expired",
            "Name or service not known", "no password supplied", "server does not support SSL")
CONFIG_ATTR = "keraslearn"


def storage_url(storage) -> str:
    """A storage URL from None (the default SQLite file), a file path or a URL."""
    if storage is None:
        return DEFAULT_STORAGE
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(f"storage must be None (a SQLite file in the working folder), a file path, a URL such as "
                        f"'postgresql://user:password@host/db', or an optuna storage object; got {storage!r}.")
    text = os.fspath(storage)
    if not text.strip():  # --storage= : not the working folder
        raise ValueError("storage is empty; give a SQLite file path (e.g. study.db), a database URL, or leave it "
                         "out for keraslearn_tuning.db in the working folder.")
    if "://" not in text:
        if re.match(r"(sqlite|postgres(ql)?|mysql)(\+\w+)?:", text):  # 'sqlite:/x.db': not a file of that name
            raise ValueError(f"storage {text!r} looks like a URL with slashes missing: a URL is "
                             "'sqlite:///relative/path.db', 'sqlite:////absolute/path.db' or "
                             "'postgresql://user:password@host/db'; a plain path is a SQLite file.")
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            raise ValueError(f"storage {text!r} is a folder; give a SQLite file in it, e.g. "
                             f"{os.path.join(text, 'study.db')}.")
        # A URL's path is percent-decoded and ends at "?": quote it, so the file is the one named.
        _warn_if_read_before(path)
        return "sqlite:///" + urllib.parse.quote(path)
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+{_postgres_driver()}://{rest}"
    return text


def _warn_if_read_before(path: str) -> None:
    """Before 2026-11-25 a plain path was put in the URL as written, so "%20" became a space and "?" ended the
    name: if that file exists and the one named does not, its studies are there."""
    before = urllib.parse.unquote(path.split("?", 1)[0])
    if before != path and not os.path.exists(path) and os.path.isfile(before):
        from keraslearn._user_warnings import warn_user

        warn_user(f"storage {path!r} does not exist, but {before!r} does: earlier keraslearn versions read this "
                  f"storage as that file (a URL decodes '%' and ends at '?'). To resume its studies, rename it to "
                  f"{os.path.basename(path)!r} or give its name.")


def _postgres_driver() -> str:
    """The installed PostgreSQL driver: a bare ``postgresql://`` means psycopg 3 to SQLAlchemy >= 2.1
    but psycopg2 to older ones; name whichever is installed."""
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return driver
    return "psycopg2"  # none installed: open_storage says what to install


def redact(url: str) -> str:
    """The URL with its password hidden, for messages; a SQLite file as its path, as written (a URL would quote
    it, and the path read back as a URL could name another file)."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and not parsed.query:
            return f"{parsed.database} (SQLite)"
        return parsed.render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: say nothing about its parts
        return url.split("://")[0] + "://…"


def _sqlite_folder(url: str) -> str:
    """The folder of a SQLite URL's file ("" for the working folder or an in-memory database)."""
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database or ""
    except Exception:  # SQLAlchemy says what is wrong when the storage opens it
        return ""
    return "" if database in ("", ":memory:") or database.startswith("file:") else os.path.dirname(database)


def open_storage(storage=None, *, heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD):
    """An Optuna storage for ``storage``: None, a path, a URL, or an Optuna storage (returned as is).

    Parameters
    ----------
    storage : None, str, path or optuna.storages.BaseStorage
        None is ``sqlite:///keraslearn_tuning.db`` in the current directory; a path without
        ``://`` is a SQLite file; a URL is any SQLAlchemy URL Optuna supports, e.g.
        ``postgresql://user:password@host:5432/db``.
    heartbeat_interval, grace_period : int
        Seconds between a running trial's heartbeats, and without one before it counts as dead.
    """
    from keraslearn.tuning.spaces import import_optuna

    import_optuna()
    import optuna

    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    url = storage_url(storage)
    if url.startswith("sqlite:"):
        folder = _sqlite_folder(url)
        if folder and not os.path.isdir(folder):  # SQLite would fail only after the retries below
            raise ValueError(f"cannot open the study storage {redact(url)}: the folder {folder!r} does not exist; "
                             "create it or give a file in an existing folder.")
        # Heartbeats write from a second thread; wait for the file lock instead of failing.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
        if url.startswith("postgresql+psycopg"):  # libpq waits for ever on a server that never answers
            engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    last = None
    # Workers starting together on a fresh database race to create Optuna's tables; retry.
    attempts = 5
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                )
        except ImportError as err:
            if url.startswith("postgresql+psycopg2:"):
                hint = "a PostgreSQL driver: pip install 'keraslearn[postgres]' (psycopg2-binary)"
            elif url.startswith("postgres"):  # a driver named in the URL: psycopg2 would not help
                hint = (f"its driver, which does not load ({err}): install it (Optuna's storage needs a synchronous "
                        "driver), or use psycopg2, which pip install 'keraslearn[postgres]' installs: "
                        "postgresql://user:password@host/db")
            else:
                hint = f"its database driver ({err})"
            raise ImportError(f"storage {redact(url)} needs {hint}") from err
        except Exception as err:
            last = err
            # Retry only the database's own errors (server starting, table-creation race).
            if not type(err).__module__.startswith("sqlalchemy") or type(err).__name__ in (
                "ArgumentError", "NoSuchModuleError"
            ) or any(words in str(err) for words in _LASTING):
                break
            if attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
    first_line = str(last).strip().splitlines()[0] if str(last).strip() else type(last).__name__
    raise ValueError(f"cannot open the study storage {redact(url)}: {first_line}") from last


def worker_id() -> str:
    """``host:pid`` of this process, recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a killed child not yet reaped by its parent is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def fail_dead_trials(study) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker is gone: silent past the grace period (any storage:
    Optuna does it only when a trial starts, so a study resumed with nothing left to run, or reported,
    kept a dead trial RUNNING for good), or, in a SQLite study, whose process on this host is gone.

    Returns the numbers of the trials marked by the process check.
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return _fail_dead_local_trials(study)


def _fail_dead_local_trials(study) -> list[int]:
    """Mark FAIL the RUNNING trials of a SQLite study whose worker process on this host is gone.

    Returns the numbers of the trials marked. Other storages rely on the heartbeat, since
    their workers may be on other machines.
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    # Optuna wraps an RDBStorage in a cache that does not expose its URL.
    url = getattr(getattr(storage, "_backend", storage), "url", "")
    if not str(url).startswith("sqlite:"):
        return []
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get(WORKER_ATTR, ""))
        name, _, pid = worker.rpartition(":")
        if name != host or not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # its worker finished it after all
    return failed


# ------------------------------------------------------- study identity
def data_fingerprint(X, y, sample_weight=None) -> str:
    """A hash of the data's values, columns and dtypes (and the row weights, if any); equal in every process
    reading the same data.

    X is a table, or (for the CNN learner) an array of images or a list of image paths.
    """
    import hashlib

    import pandas as pd

    from keraslearn.preprocessing.validation import to_frame

    digest = hashlib.sha1()
    images = _images_or_paths(X)
    if images is not None:
        digest.update(repr((images.dtype.str, images.shape)).encode())
        digest.update(np.ascontiguousarray(images).tobytes())
        parts = ()
    else:
        parts = (to_frame(X, estimator_name="tune")[0],)
    target = y.to_frame() if isinstance(y, pd.Series) else pd.DataFrame(np.asarray(y).reshape(len(y), -1))
    for part in (*parts, target):
        digest.update(repr([(str(c), str(t)) for c, t in part.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    if sample_weight is not None:  # without weights the digest is the one studies were named by before
        digest.update(b"sample_weight")
        digest.update(np.ascontiguousarray(sample_weight, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _images_or_paths(X):
    """X as one array when it is not a table: images (n, height, width[, channels]) or paths (n,)."""
    if hasattr(X, "columns"):
        return None
    try:
        arr = np.asarray(X)
    except ValueError:  # a ragged list: not a table either; to_frame says what is wrong
        return None
    if arr.ndim == 2:
        return None
    if arr.dtype == object:
        arr = np.asarray([os.fspath(p) if isinstance(p, os.PathLike) else str(p) for p in arr.ravel()])
    return arr


def _no_address(text: str) -> str:
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # object addresses differ between processes


def _lambda_digest(scoring) -> str:
    """For a lambda, ``#`` and a hash of its code: every lambda has the same name."""
    import hashlib

    code = getattr(scoring, "__code__", None)
    if code is None or "<lambda>" not in getattr(scoring, "__qualname__", ""):
        return ""
    text = repr((code.co_code, code.co_names, _no_address(repr(code.co_consts))))
    return "#" + hashlib.sha1(text.encode()).hexdigest()[:8]


def default_study_name(learner, data: str, space, evaluation, scoring) -> str:
    """A name fixed by the learner, the data's fingerprint and the settings, so the same call resumes."""
    import hashlib

    # Without the free parameters: rerun with another --random-state, an interrupted study resumed
    # under another name and started anew, where the docs say workers may seed apart.
    params = {k: v for k, v in learner.get_params(deep=False).items() if k not in _FREE_PARAMS}
    key = repr((type(learner).__name__, sorted(params.items(), key=lambda kv: kv[0]), sorted(space.items()),
                evaluation, repr(scoring) + _lambda_digest(scoring), data))
    return f"{type(learner).__name__}-{hashlib.sha1(_no_address(key).encode()).hexdigest()[:12]}"


def scoring_name(scoring):
    """``scoring`` as stored in a study: names stay, a function is ``module.qualname``; never an address."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    qualname = getattr(scoring, "__qualname__", None)
    if qualname is not None:
        return f"{getattr(scoring, '__module__', None) or ''}.{qualname}".lstrip(".") + _lambda_digest(scoring)
    return _no_address(repr(scoring))  # a scorer object, a functools.partial, ...


#: Learner parameters that may differ between the calls and workers of one study: they change
#: neither the data nor the model a trial is scored on (``random_state``: workers may seed apart).
_FREE_PARAMS = ("callbacks", "verbose", "devices", "random_state")


def study_config(learner, scoring, evaluation, space, data=None) -> dict:
    """The settings a study records and checks on resume: equal in every process making the same call.

    ``data`` is the fingerprint of X and y (:func:`data_fingerprint`); the learner's parameters
    that the space does not set are recorded by their repr.
    """
    from keraslearn.tuning.spaces import tuned_params

    tuned = tuned_params(space)
    fixed = {k: _no_address(repr(v)) for k, v in sorted(learner.get_params(deep=False).items())
             if k not in tuned and k not in _FREE_PARAMS}
    config = {
        "learner": type(learner).__name__,
        "scoring": scoring_name(scoring),
        "evaluation": evaluation,
        "space": sorted(space),
        # Each name's distribution (its range or choices): a study on other ranges is another study. Its own key,
        # so a study recorded before it (names only) still resumes.
        "ranges": {k: _no_address(repr(v)) for k, v in sorted(space.items())},
        "fixed": fixed,
    }
    if data is not None:
        config["data"] = data
    return config


# A fixed value a study recorded that was a default keraslearn has since changed: how to resume it.
_OLD_DEFAULTS = {
    ("batch_size", "256", "'auto'"): " (256 was the tabular learners' default before \"auto\": pass batch_size=256, "
                                     "or --param batch_size=256, to resume it)",
}


def _differences(key, stored, new, spaces=((), ())) -> list[str]:
    if key == "ranges":  # names the space has in one and not the other are said under "space"
        return [f"range of {k}: study has {stored[k]}, this call {new[k]}"
                for k in sorted(set(stored) & set(new)) if stored[k] != new[k]]
    if isinstance(stored, dict) and isinstance(new, dict):
        def shown(d, k, space):  # fixed values are recorded as their repr: "None" is a value; absent is not
            return d[k] if k in d else "(tuned)" if k in space else "(no such parameter)"

        return [f"{key} {k}: study has {shown(stored, k, spaces[0])}, this call {shown(new, k, spaces[1])}"
                + _OLD_DEFAULTS.get((k, stored.get(k), new.get(k)), "")
                for k in sorted(set(stored) | set(new)) if stored.get(k) != new.get(k)]
    if key == "data":
        return ["data: the study was scored on other data (values, columns, dtypes or row weights differ)"]
    return [f"{key}: study has {stored!r}, this call {new!r}"]


def same_task_studies(storage, study_name, config) -> list[tuple[str, list[str]]]:
    """Other studies in ``storage`` of the same learner class, data, evaluation, space and scoring, with how
    their fixed parameters differ: a study a call with another name would resume but for those (one written
    by an earlier keraslearn, whose learners had other parameters, derived its name from them)."""
    import optuna

    found = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        stored = summary.user_attrs.get(CONFIG_ATTR)
        if summary.study_name == study_name or not isinstance(stored, dict) or summary.n_trials == 0:
            continue
        if all(stored.get(k) == config.get(k) for k in ("learner", "data", "evaluation", "space", "scoring")) \
                and stored.get("ranges", config["ranges"]) == config["ranges"]:
            found.append((summary.study_name, _differences("fixed", stored.get("fixed"), config["fixed"])))
    return found


def earlier_studies(storage, config) -> list[tuple[str, int]]:
    """Studies of the same learner class in ``storage`` recorded by a keraslearn before studies recorded their
    data (2026-11-22), with their trial counts: they cannot be resumed (their folds were drawn otherwise)."""
    import optuna

    return [(s.study_name, s.n_trials) for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
            if isinstance(stored := s.user_attrs.get(CONFIG_ATTR), dict) and "data" not in stored
            and stored.get("learner") == config.get("learner") and s.n_trials]


_EARLIER = ("made by a keraslearn before 2026-11-22, which drew its folds otherwise, so this one cannot resume it; "
            "its trials stay in the storage (optuna.load_study(study_name=..., storage=...) reads them)")


def check_config(study, config):
    """Record the settings of a new study; refuse to continue one created with other settings.

    A setting that the stored record lacks (a study from an earlier keraslearn) is not checked.
    """
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        study.set_user_attr(CONFIG_ATTR, config)
        return
    from keraslearn.tuning.spaces import tuned_params

    spaces = (tuned_params(stored.get("space") or ()), tuned_params(config["space"]))
    diff = [line for k, v in config.items() if k in stored and stored[k] != v
            for line in _differences(k, stored[k], v, spaces)]
    if diff:
        fix = (f"It was {_EARLIER}. Use another study_name." if "data" not in stored
               else "Use another study_name, or the study's own settings.")
        raise ValueError(f"study {study.study_name!r} was created with other settings ({'; '.join(diff)}). {fix}")
