"""Real Celery processes for tests: they run the project's code against the test database.

Every fixture that needs a worker or beat process (tests/conftest.py, tests/cadences,
tests/live) starts it through here, so they all see the same database and broker.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent


def worker_env(**overrides: str) -> dict[str, str]:
    """The environment of a process that should write to the test database pytest created."""
    env = os.environ.copy()
    env.pop("EXPONENT_TESTING", None)
    env["EXPONENT_TEST_DB_NAME"] = settings.DATABASES["default"]["NAME"]
    env["CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["CACHE_KEY_PREFIX"] = settings.CACHES["default"].get("KEY_PREFIX", "")
    env["EXPONENT_DEV_TASK_MODULES"] = "devtools.tasks"  # test-only tasks (emit_burst)
    env.update(overrides)
    return env


def start_celery(
    args: Sequence[str], env: dict[str, str], log_path: Path, *, new_session: bool = False
) -> subprocess.Popen:
    """`celery -A planning <args>` with its output in `log_path`."""
    log = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "planning", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=new_session,
    )
    proc.log_path = log_path  # type: ignore[attr-defined]  # notes kept on the Popen
    return proc


def start_worker(
    queue: str,
    name: str,
    log_path: Path,
    env: dict[str, str],
    *,
    concurrency: int = 2,
    extra: Sequence[str] = (),
    new_session: bool = False,
) -> subprocess.Popen:
    """A `celery worker` on `queue`; `.hostname` is what it answers pings as."""
    proc = start_celery(
        ["worker", "-Q", queue, "-n", name, "--concurrency", str(concurrency), "-l", "info",
         "--without-gossip", "--without-mingle", *extra],
        env, log_path, new_session=new_session,
    )  # fmt: skip
    proc.hostname = name.replace("%h", os.uname().nodename)  # type: ignore[attr-defined]  # notes kept on the Popen
    proc.queue = queue  # type: ignore[attr-defined]  # notes kept on the Popen
    return proc


def wait_until_answering(procs: Sequence[subprocess.Popen], timeout: float = 60) -> None:
    """Block until every worker answers a ping; kill them all and fail with their log if not."""
    from planning.celery import app

    pending = {p.hostname for p in procs}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{proc.log_path.read_text()}")
        for reply in app.control.ping(destination=list(pending), timeout=0.5) or []:
            pending -= set(reply)
    if pending:
        for proc in procs:
            proc.kill()
        logs = "\n".join(p.log_path.read_text() for p in procs)
        raise RuntimeError(f"celery worker did not answer ping:\n{logs}")


def wait_until_serving(proc: subprocess.Popen, url: str, timeout: float, name: str) -> None:
    """Block until `url` answers 200 (the server `proc` is up), pacing the retries by waiting
    on the process itself (it ends the wait early if the server dies). Kills it and fails with
    its log (when it keeps one) if it exits or does not answer in time."""
    import httpx

    def log() -> str:
        path = getattr(proc, "log_path", None)
        return path.read_text() if path else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"{name} exited early:\n{log()}")
    proc.kill()
    raise RuntimeError(f"{name} did not start:\n{log()}")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def worker_idle(proc: subprocess.Popen) -> bool:
    """Nothing waits in the worker's queue and it runs or holds no task (asks the worker)."""
    from planning.celery import app

    with app.connection_for_read() as conn:
        try:
            if conn.default_channel.queue_declare(proc.queue, passive=True).message_count:
                return False
        except conn.channel_errors:
            pass  # (Redis) an empty queue is no key at all
    inspect = app.control.inspect([proc.hostname], timeout=5)
    active = (inspect.active() or {}).get(proc.hostname)
    reserved = (inspect.reserved() or {}).get(proc.hostname)
    return active == [] and reserved == []
