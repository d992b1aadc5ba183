"""Fixtures for live sessions, shared with tests/browser/test_live.py: a real uvicorn (ASGI)
server on loopback writing to the test database, an SSE client over real HTTP (httpx),
logged-in cookies, spare worker processes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string

from tests.processes import start_worker, wait_until_answering, wait_until_serving, worker_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent


SERVER_APP_NAME = "exponent-live-test-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    env = os.environ.copy()
    env["EXPONENT_TEST_DB_NAME"] = settings.DATABASES["default"]["NAME"]
    env["CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["EXPONENT_TESTING"] = "1"  # plain HTTP, test password hasher, static files via finders
    env["REDIS_URL"] = settings.REDIS_URL
    env["PGAPPNAME"] = SERVER_APP_NAME  # libpq tags the server's database connections
    return env


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """`uvicorn planning.asgi:application` on a free loopback port; yields its base URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "planning.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "2"],
        cwd=BASE_DIR, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    proc.base_url = base  # type: ignore[attr-defined]  # notes kept on the Popen
    proc.log_path = log_path  # type: ignore[attr-defined]  # notes kept on the Popen
    # the first request imports every view (anthropic, numpy…): ~20 s on a loaded 2-core box
    wait_until_serving(proc, base + "/accounts/login/", 120, "uvicorn")
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def base_url(asgi_server) -> str:
    return asgi_server.base_url


@pytest.fixture
def http_for(base_url):
    """An httpx client logged in as `user` (session cookie + CSRF cookie/header)."""
    clients = []

    def make(user) -> httpx.Client:
        django_client = Client()
        django_client.force_login(user)
        csrf = get_random_string(32)
        client = httpx.Client(
            base_url=base_url,
            cookies={"sessionid": django_client.cookies["sessionid"].value, "csrftoken": csrf},
            headers={"X-CSRFToken": csrf},
            timeout=httpx.Timeout(10.0, read=20.0),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --------------------------------------------------------------------------- SSE parsing
@dataclass
class SSE:
    id: str | None = None
    event: str = "message"
    data: str = ""
    raw: str = ""

    @property
    def json(self):
        return json.loads(self.data)


@dataclass
class Stream:
    """Reads frames from an open httpx streaming response."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    _lines: object = None

    def __post_init__(self):
        self._lines = self.response.iter_lines()

    def next(self) -> SSE | None:
        frame = SSE()
        raw = []
        has_data = False
        for line in self._lines:
            if line == "":
                if has_data:  # as in browsers: a block without data dispatches nothing
                    frame.raw = "\n".join(raw)
                    return frame
                frame, raw = SSE(), []
                continue
            raw.append(line)
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
            elif name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                has_data = True
                frame.data = (frame.data + "\n" + value) if frame.data else value
        return None

    def events(self):
        while (frame := self.next()) is not None:
            yield frame

    def until_end(self) -> list[SSE]:
        out = []
        for frame in self.events():
            out.append(frame)
            if frame.event == "end":
                break
        return out


@contextlib.contextmanager
def subscribe(client: httpx.Client, session_id, *, after=None, last_event_id=None):
    params = {} if after is None else {"after": after}
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    with client.stream(
        "GET", f"/live/{session_id}/events", params=params, headers=headers
    ) as response:
        assert response.status_code == 200, response.read()
        yield Stream(response)


def seqs(frames: list[SSE]) -> list[int]:
    return [int(f.id) for f in frames if f.id is not None]


# --------------------------------------------------------------------------- spare workers
@pytest.fixture
def spawn_worker(django_db_setup, tmp_path):
    """Start an extra `celery worker` on its own queue (for tests that kill it)."""
    procs = []

    def start(concurrency: int = 1):
        queue = f"live-kill-{uuid.uuid4().hex[:8]}"
        env = worker_env(CELERY_QUEUE=queue, REDIS_URL=settings.REDIS_URL)
        proc = start_worker(
            queue, f"{queue}@%h", tmp_path / f"{queue}.log", env,
            concurrency=concurrency, new_session=True,
        )  # fmt: skip
        wait_until_answering([proc])
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(10)
