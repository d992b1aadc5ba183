"""Shared fixtures: users, teams with members in each role, and a real Celery worker process."""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from planning.teams.models import Role
from tests.audits import fake  # sets ANTHROPIC_BASE_URL to its port before any worker starts
from tests.factories import PASSWORD, MembershipFactory, TeamFactory
from tests.processes import start_worker, stop, wait_until_answering, worker_env

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
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    # Loopback allowed: the test sources (tests/predictions/sourceserver.py) listen on it.
    env = worker_env(NETGUARD_ALLOW_LOOPBACK="1")
    proc = start_worker(queue, f"pytest-{uuid.uuid4().hex[:8]}@%h", log_path, env)
    wait_until_answering([proc])
    yield proc
    stop(proc)


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


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with empty rate-limit counters (this process's keys in Redis only)."""
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        _clear_prefixed(cache)
    else:
        cache.clear()
    yield


def _clear_prefixed(cache) -> None:
    client = cache._cache.get_client(write=True)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def health_client(settings):
    """A client that sees /healthz's detail (HEALTHZ_TOKEN as a bearer token)."""
    settings.HEALTHZ_TOKEN = "test-health-token"
    return Client(headers={"Authorization": "Bearer test-health-token"})


# --------------------------------------------------------------------------- fake models
@pytest.fixture(scope="session")
def fake_api():
    """The project's fake Messages API (devtools/fakeapi.py) on tests.audits.fake's port: one
    server for the whole session, shared by the audits, facilitator, hostile and browser tests."""
    proc = fake.start()
    yield fake.URL
    proc.terminate()
    proc.wait(10)
