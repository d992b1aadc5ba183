"""Cadence fixtures: real Celery workers/beat with a file mail outbox (cadences come from
tests.factories.CadenceFactory)."""

from __future__ import annotations

import email
import email.policy
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import start_celery, start_worker, stop, wait_until_answering, worker_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def read_outbox(path: Path) -> list[email.message.EmailMessage]:
    """Messages written by Django's file-based email backend (one file per connection)."""
    messages = []
    for f in sorted(path.glob("*.log")):
        for chunk in f.read_bytes().split(b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


@pytest.fixture(scope="module")
def cadence_stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two real `celery worker` processes on their own queue, mail written to a directory.

    Yields an object with .queue, .outbox (Path), .env (for a beat process) and .logs.
    """
    from planning.celery import app

    root = tmp_path_factory.mktemp("cadences")
    outbox = root / "mail"
    outbox.mkdir()
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-cadences-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        CELERY_QUEUE=queue,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
        SITE_URL="https://exponent.example.com",
    )
    procs = [
        start_worker(queue, f"cadences{i}-{uuid.uuid4().hex[:6]}@%h", root / f"worker{i}.log",
                     env, extra=["--without-heartbeat"])
        for i in range(2)
    ]  # fmt: skip
    logs = [p.log_path for p in procs]
    wait_until_answering(procs)

    class Stack:
        pass

    stack = Stack()
    stack.queue, stack.outbox, stack.env, stack.logs, stack.root = queue, outbox, env, logs, root
    yield stack
    for proc in procs:
        stop(proc)
    app.control.purge()


@pytest.fixture
def beat_process(cadence_stack):
    """A real `celery beat` sending the tick every second to the cadence workers' queue."""

    def start():
        env = dict(cadence_stack.env, CADENCE_TICK_SECONDS="1")
        schedule = cadence_stack.root / f"beat-{uuid.uuid4().hex[:6]}"
        log_path = cadence_stack.root / "beat.log"
        proc = start_celery(["beat", "-s", str(schedule), "-l", "info"], env, log_path)
        procs.append(proc)
        return proc

    procs: list[subprocess.Popen] = []
    yield start
    for proc in procs:
        stop(proc)
