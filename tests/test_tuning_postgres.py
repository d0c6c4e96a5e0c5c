"""Scale-out: two `keraslearn tune` workers share one study through a real PostgreSQL server.

The fixture starts a throwaway PostgreSQL cluster (initdb + pg_ctl from Debian's
``postgresql`` package, which ``.ci/run`` installs) in a temporary directory on a free
127.0.0.1 port, as the ``postgres`` user when the tests run as root.
"""

import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _pg_bin_dir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd):
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2", reason="pip install psycopg2-binary")
    bindir = _pg_bin_dir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found; install them: apt-get install -y postgresql"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (.ci/run does this)")
        pytest.skip(message)
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the 'postgres' user (created by Debian's postgresql package)")
    root = tempfile.mkdtemp(prefix="keraslearn-pg-")  # directly in /tmp, so the postgres user can reach it
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        os.chown(root, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    log = os.path.join(root, "server.log")
    env = dict(os.environ, LC_ALL="C", LANG="C")
    run = dict(check=True, capture_output=True, text=True, env=env, timeout=120)
    try:
        subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", data, "-U", "keraslearn", "-A", "trust",
                                     "-E", "UTF8", "--no-sync"]), **run)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start"]), **run)
    except subprocess.CalledProcessError as err:
        tail = Path(log).read_text()[-2000:] if os.path.exists(log) else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start a PostgreSQL server: {err.stderr or err.stdout}\n{tail}")
    try:
        yield f"postgresql://keraslearn@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]),
                       capture_output=True, env=env, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_study(postgres_url, tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    data = tmp_path / "iris.csv"
    X.assign(species=y).to_csv(data, index=False)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("KERAS_BACKEND", "jax")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    n_trials = 6
    cmd = [sys.executable, "-m", "keraslearn", "tune", str(data), "--target", "species", "--learner", "ff",
           "--storage", postgres_url, "--study", "shared", "--n-trials", str(n_trials), "--epochs", "3",
           "--validation-fraction", "0.3", "--param", "validation_fraction=0.0", "--quiet"]
    # Both start at once on an empty database: they also race to create Optuna's tables.
    workers = [subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]

    from keraslearn.tuning.storage import open_storage

    study = optuna.load_study(study_name="shared", storage=open_storage(postgres_url))
    trials = study.get_trials(deepcopy=False)
    # Every trial recorded once, numbered without gaps, all finished; none lost or left running.
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len({t._trial_id for t in trials}) == len(trials)
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), [t.state for t in trials]
    # The study stops at n_trials; a worker may finish the one trial it had started.
    assert n_trials <= len(trials) <= n_trials + 1
    # Both workers took part, and each trial names the worker that ran it.
    pids = {f"{socket.gethostname()}:{w.pid}" for w in workers}
    ran_by = [t.user_attrs.get("keraslearn_worker") for t in trials]
    assert set(ran_by) == pids, ran_by
    assert study.best_value > 0.5


def test_a_server_that_never_answers_is_an_error_not_a_hang(monkeypatch):
    """A host that accepts the connection and says nothing (a wedged server, a proxy to nowhere): libpq
    waits for ever without a timeout, and the tune command hung silently."""
    pytest.importorskip("psycopg2", reason="pip install psycopg2-binary")
    import threading

    from keraslearn.tuning import storage

    monkeypatch.setattr(storage, "CONNECT_TIMEOUT", 2)
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        held = []
        threading.Thread(target=lambda: held.extend(mute.accept() for _ in range(16)), daemon=True).start()
        url = f"postgresql://keraslearn@127.0.0.1:{mute.getsockname()[1]}/postgres"
        with pytest.raises(ValueError, match=r"cannot open the study storage .*timeout expired"):
            storage.open_storage(url)
    # Tried once: a timeout, like a wrong password or database, is not mended by the retries (5 would
    # have taken 5 timeouts), which are for servers starting up and workers racing to create tables.
    assert len(held) == 1


def test_a_missing_database_and_a_driver_named_in_the_url(postgres_url):
    from keraslearn.tuning.storage import open_storage

    with pytest.raises(ValueError, match=r'database "nosuchdb" does not exist'):
        open_storage(postgres_url.rsplit("/", 1)[0] + "/nosuchdb")
    # asyncpg: not a driver Optuna's storage can use, and installing psycopg2 would not make the URL work
    with pytest.raises(ImportError, match=r"its driver, which does not load .*or use psycopg2"):
        open_storage(postgres_url.replace("postgresql://", "postgresql+asyncpg://"))


def test_what_a_retry_cannot_mend_is_not_retried(postgres_url, monkeypatch):
    """SSL required of a server without it (or a missing password) fails at once; a refused connection (a
    server starting up) is retried. A URL that names psycopg 3 is not told to install psycopg2."""
    import importlib.util
    import types

    from keraslearn.tuning import storage

    slept = []
    monkeypatch.setattr(storage, "time", types.SimpleNamespace(sleep=slept.append))
    with pytest.raises(ValueError, match=r"cannot open the study storage .*server does not support SSL"):
        storage.open_storage(postgres_url + "?sslmode=require")
    assert slept == []
    with pytest.raises(ValueError, match=r"cannot open the study storage .*refused"):
        storage.open_storage(postgres_url.replace(postgres_url.rsplit(":", 1)[1].split("/")[0], str(_free_port())))
    assert len(slept) == 4
    if importlib.util.find_spec("psycopg") is None:
        with pytest.raises(ImportError, match=r"its driver, which does not load .*or use psycopg2") as err:
            storage.open_storage(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        assert "psycopg2-binary" not in str(err.value)
