"""Cadence fixtures: a cadence factory and real Celery workers/beat with a file mail outbox."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from planning.cadences import services
from planning.cadences.models import Cadence

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def make_cadence(team, now: datetime | None = None, **fields) -> Cadence:
    defaults = {
        "title": "Weekly check",
        "kind": "custom",
        "rrule": "FREQ=WEEKLY;BYDAY=MO",
        "starts_on": date(2026, 1, 1),
        "due_time": dtime(9, 0),
        "reminder_days": [1],
        "grace_days": 1,
    }
    defaults.update(fields)
    people = defaults.pop("people", None)
    cadence = Cadence.objects.create(team=team, **defaults)
    if people:
        cadence.people.set(people)
    services.reschedule(cadence, now or timezone.now())
    cadence.refresh_from_db()
    return cadence


def read_outbox(path: Path) -> list[email.message.EmailMessage]:
    """Messages written by Django's file-based email backend (one file per connection)."""
    messages = []
    for f in sorted(path.glob("*.log")):
        for chunk in f.read_bytes().split(b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def _start(args: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the process's end
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "planning", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


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
    env = os.environ.copy()
    env.pop("EXPONENT_TESTING", None)
    env.update(
        EXPONENT_TEST_DB_NAME=settings.DATABASES["default"]["NAME"],
        CELERY_QUEUE=queue,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
        SITE_URL="https://exponent.example.com",
    )
    procs, names, logs = [], [], []
    for i in range(2):
        name = f"cadences{i}-{uuid.uuid4().hex[:6]}@%h"
        log_path = root / f"worker{i}.log"
        procs.append(
            _start(
                ["worker", "-Q", queue, "-n", name, "--concurrency", "2", "-l", "info",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env, log_path,
            )
        )  # fmt: skip
        names.append(name.replace("%h", os.uname().nodename))
        logs.append(log_path)
    deadline = time.monotonic() + 60
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for proc, log_path in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        for reply in app.control.ping(destination=list(pending), timeout=0.5) or []:
            pending -= set(reply)
    if pending:
        for proc in procs:
            proc.kill()
        raise RuntimeError("cadence workers did not answer ping")

    class Stack:
        pass

    stack = Stack()
    stack.queue, stack.outbox, stack.env, stack.logs, stack.root = queue, outbox, env, logs, root
    yield stack
    for proc in procs:
        _stop(proc)
    app.control.purge()


@pytest.fixture
def beat_process(cadence_stack):
    """A real `celery beat` sending the tick every second to the cadence workers' queue."""

    def start():
        env = dict(cadence_stack.env, CADENCE_TICK_SECONDS="1")
        schedule = cadence_stack.root / f"beat-{uuid.uuid4().hex[:6]}"
        log_path = cadence_stack.root / "beat.log"
        proc = _start(["beat", "-s", str(schedule), "-l", "info"], env, log_path)
        procs.append(proc)
        return proc

    procs: list[subprocess.Popen] = []
    yield start
    for proc in procs:
        _stop(proc)
