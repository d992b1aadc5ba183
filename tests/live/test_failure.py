"""A worker killed mid-run: the redelivered task fences the old epoch and finishes, or (when
the whole worker is gone) the reaper ends the session; subscribers always get a terminal
event."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.db.models import F

from planning.celery import app
from planning.live import services
from planning.live.models import LiveEvent, LiveSession, Status
from tests.conftest import wait_for

from .fixtures import subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def pool_pid(worker) -> int:
    def find():
        active = app.control.inspect([worker.hostname], timeout=1).active() or {}
        tasks = active.get(worker.hostname) or []
        return tasks[0]["worker_pid"] if tasks else None

    pid = wait_for(find, timeout=15)
    assert pid, "the task is not running on the spare worker"
    return pid


def read_until_tokens(stream, count: int) -> list:
    frames = []
    for frame in stream.events():
        frames.append(frame)
        if sum(1 for f in frames if f.id and f.json["type"] == "token") >= count:
            return frames
    raise AssertionError("stream ended early")


def test_killed_pool_process_is_redelivered_and_fences_the_old_epoch(
    team, editor, http_for, spawn_worker
):
    worker = spawn_worker(concurrency=1)
    session = services.start_demo(team, editor, words=120, delay=0.02, queue=worker.queue)
    with subscribe(http_for(editor), session.pk) as stream:
        frames = read_until_tokens(stream, 3)
        os.kill(pool_pid(worker), signal.SIGKILL)
        frames += stream.until_end()
    events = [f.json for f in frames if f.id]
    assert [e["data"]["epoch"] for e in events if e["type"] == "started"] == [1, 2]
    assert events[-1]["type"] == "completed" and frames[-1].event == "end"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    session.refresh_from_db()
    assert (session.status, session.epoch) == (Status.COMPLETED, 2)
    # the text after the restart is the whole generation once
    restart = next(e["seq"] for e in events if e["type"] == "started" and e["data"]["epoch"] == 2)
    text = "".join(e["data"]["text"] for e in events if e["type"] == "token" and e["seq"] > restart)
    assert len(text.split()) == 120


def test_dead_worker_session_is_reaped_and_subscribers_get_failed(
    team, editor, http_for, spawn_worker
):
    worker = spawn_worker(concurrency=1)
    session = services.start_demo(team, editor, words=500, delay=0.02, queue=worker.queue)
    with subscribe(http_for(editor), session.pk) as stream:
        frames = read_until_tokens(stream, 2)
        os.killpg(worker.pid, signal.SIGKILL)  # the whole worker: nothing will redeliver soon
        worker.wait(10)
        # the worker has been silent for two seconds (its last heartbeat, moved back)
        silent = LiveSession.objects.filter(pk=session.pk)
        assert silent.update(heartbeat_at=F("heartbeat_at") - timedelta(seconds=2)) == 1
        assert LiveSession.objects.get(pk=session.pk).status == Status.ACTIVE
        assert services.reap_stale_sessions(max_silence=1.0) == 1
        frames += stream.until_end()
    last = [f for f in frames if f.id][-1].json
    assert last["type"] == "failed" and "stopped responding" in last["data"]["error"]
    assert frames[-1].event == "end" and frames[-1].json["status"] == "failed"
    assert LiveEvent.objects.filter(session=session, type="failed").count() == 1
