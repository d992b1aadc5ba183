"""Shared fixtures: users, teams with members in each role, and a real Celery worker process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from planning.teams.models import Role
from tests.factories import PASSWORD, MembershipFactory, TeamFactory

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Rivals", slug="rivals")


def _member(team, role):
    return MembershipFactory(team=team, role=role).user


@pytest.fixture
def owner(team):
    return _member(team, Role.OWNER)


@pytest.fixture
def editor(team):
    return _member(team, Role.EDITOR)


@pytest.fixture
def viewer(team):
    return _member(team, Role.VIEWER)


@pytest.fixture
def outsider(other_team):
    """A member of another team only."""
    return _member(other_team, Role.OWNER)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def editor_client(editor):
    return _client_for(editor)


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def client_for():
    return _client_for


# --------------------------------------------------------------------------- Celery worker
@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the real broker, writing to the test database.

    Tests that use it need `@pytest.mark.django_db(transaction=True)` so the worker sees
    committed rows.
    """
    from planning.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    name = f"pytest-{uuid.uuid4().hex[:8]}@%h"
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = os.environ.copy()
    env["EXPONENT_TEST_DB_NAME"] = settings.DATABASES["default"]["NAME"]
    env["CELERY_QUEUE"] = queue
    env.pop("EXPONENT_TESTING", None)
    log = open(log_path, "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "planning", "worker", "-Q", queue, "-n", name,
         "--concurrency", "2", "-l", "info", "--without-gossip", "--without-mingle"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    hostname = name.replace("%h", os.uname().nodename)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        if app.control.ping(destination=[hostname], timeout=0.5):
            break
    else:
        proc.kill()
        raise RuntimeError(f"celery worker did not answer ping:\n{log_path.read_text()}")
    proc.hostname = hostname  # type: ignore[attr-defined]
    proc.log_path = log_path  # type: ignore[attr-defined]
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):
    """Poll `predicate` until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session", autouse=True)
def _purge_test_queue():
    yield
    from planning.celery import app

    with contextlib.suppress(Exception):  # best-effort cleanup
        app.control.purge()
