"""A deploy under load, over real HTTP against real uvicorn processes: new subscribers share a
few pooled database connections, and SIGTERM closes open streams with their cursor intact so
the server exits and every client resumes exactly where it was on the next one."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from django.conf import settings
from django.db import connection

from planning.live import services
from planning.live.writer import LiveWriter
from tests.conftest import wait_for

from .fixtures import BASE_DIR, _free_port, seqs, server_env, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def sessions_opened() -> int:
    """Connections ever opened to the test database (PostgreSQL counts them)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s",
            [settings.DATABASES["default"]["NAME"]],
        )
        return cur.fetchone()[0]


def test_new_subscribers_share_a_few_pooled_connections(team, editor, http_for, asgi_server):
    session = services.create_session(team, kind="t")
    writer = LiveWriter.claim(session.pk)
    writer.emit("progress", {"done": 1})
    client = http_for(editor)
    opened = sessions_opened()
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(subscribe(client, session.pk)) for _ in range(12)]
        assert all(seqs([s.next(), s.next()]) == [1, 2] for s in streams)
        # Before: two fresh connections per subscriber (authorise, then the first read).
        assert sessions_opened() - opened <= 4  # LIVE_DB_POOL_SIZE


def start_uvicorn(log_path) -> subprocess.Popen:
    """A server of its own (this test stops it); no --timeout-graceful-shutdown, so before the
    fix it waited for its open streams for ever."""
    port = _free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "planning.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        cwd=BASE_DIR, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    proc.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]  # notes kept on the Popen

    def up() -> bool:
        assert proc.poll() is None, log_path.read_text()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(proc.base_url + "/accounts/login/", timeout=1).status_code == 200
        return False

    # the first request imports every view: ~20 s or more on a loaded 2-core box
    if not wait_for(up, timeout=120):
        proc.kill()  # not left running after the test
        proc.wait(10)
        pytest.fail(f"uvicorn did not answer:\n{log_path.read_text()}")
    return proc


def test_sigterm_closes_open_streams_with_their_cursor_and_the_next_server_resumes(
    team, editor, http_for, tmp_path
):
    session = services.create_session(team, kind="t")
    writer = LiveWriter.claim(session.pk)
    writer.emit("progress", {"done": 1})
    old = start_uvicorn(tmp_path / "old.log")
    results: dict[int, list] = {}
    ready = threading.Barrier(6)

    def follow(i: int) -> None:
        client = http_for(editor)
        client.base_url = old.base_url
        frames = []
        with subscribe(client, session.pk) as stream:
            frames.append(stream.next())
            frames.append(stream.next())
            ready.wait(30)
            frames.extend(stream.events())  # ends cleanly (no error) when the server closes it
        results[i] = frames

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(5)]
    try:
        for t in threads:
            t.start()
        ready.wait(30)  # every stream is open and idle at seq 2
        old.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down gracefully
        assert old.wait(timeout=20) in (0, -signal.SIGTERM), (tmp_path / "old.log").read_text()
    finally:
        if old.poll() is None:
            old.kill()
            old.wait(10)
    for t in threads:
        t.join(10)
    assert sorted(results) == list(range(5))
    assert all(seqs(frames) == [1, 2] for frames in results.values())
    assert all(f.event == "message" for frames in results.values() for f in frames)  # no "end"

    writer.emit("progress", {"done": 2})  # written while the clients were away
    new = start_uvicorn(tmp_path / "new.log")
    try:
        client = http_for(editor)
        client.base_url = new.base_url
        with contextlib.ExitStack() as stack:
            streams = {
                i: stack.enter_context(subscribe(client, session.pk, last_event_id=f[-1].id))
                for i, f in results.items()
            }
            for i, stream in streams.items():
                results[i].append(stream.next())
            writer.emit("progress", {"done": 3})  # while they are all tailing
            for i, stream in streams.items():
                results[i].append(stream.next())
        assert all(seqs(frames) == [1, 2, 3, 4] for frames in results.values())
    finally:
        new.terminate()
        try:
            new.wait(20)
        except subprocess.TimeoutExpired:
            new.kill()
            new.wait(10)
            raise
