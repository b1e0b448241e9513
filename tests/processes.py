"""Helpers for tests that start other processes (Celery workers, ``manage.py``) on the test
settings and the test database."""

import os
import signal
import socket
import subprocess

from django.db import connection

TEST_SETTINGS = "pushadmin.settings.test"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a process a test starts: this one's, with the settings module named
    explicitly (the test settings, not the default of ``manage.py`` or the Celery app), and
    ``extra`` laid over it."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": TEST_SETTINGS, **extra}


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points another process at the database of the running test."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def free_port() -> int:
    """A TCP port nobody listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, *, warm: bool = False) -> str:
    """Stop a process a test started in a session of its own (SIGTERM to its group, SIGKILL after
    30 s) and return what it printed. ``warm``: SIGTERM to the process alone, which lets a Celery
    worker finish the tasks it is running (its warm shutdown) before it stops its pool."""
    if proc.poll() is None:
        (os.kill if warm else os.killpg)(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""
