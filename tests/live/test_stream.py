"""Server-sent events over real HTTP from a real uvicorn process, fed by a real Celery worker
(or by writers in this process), on real PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
import itertools
import threading

import pytest

from devtools.tasks import emit_burst
from planning.live import services
from planning.live.models import LiveEvent, LiveSession, Status
from planning.live.tasks import DEMO_WORDS
from planning.live.writer import LiveWriter
from tests.conftest import wait_for

from .fixtures import seqs, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def finished_session(team, n_progress=5):
    session = services.create_session(team, kind="test")
    w = LiveWriter.claim(session.pk)
    for i in range(n_progress):
        w.emit("progress", {"done": i, "total": n_progress})
    w.finish()
    return session


def log_seqs(session):
    events = LiveEvent.objects.filter(session=session).order_by("seq")
    return list(events.values_list("seq", flat=True))


# --------------------------------------------------------------------------- 1. resume
@pytest.mark.parametrize("how", ["last-event-id", "after"])
def test_resume_after_disconnect_gets_the_rest_exactly_once(
    how, team, editor, http_for, celery_worker_process
):
    client = http_for(editor)
    session = services.start_demo(team, editor, words=80, delay=0.01)
    with subscribe(client, session.pk) as stream:
        first = []
        for frame in stream.events():
            first.append(frame)
            if len(seqs(first)) == 4:
                break
    k = seqs(first)[-1]
    assert seqs(first) == [1, 2, 3, 4]
    # more events are written while we are away
    assert wait_for(lambda: LiveSession.objects.get(pk=session.pk).last_seq > k + 1)
    resume = {"last_event_id": k} if how == "last-event-id" else {"after": k}
    with subscribe(client, session.pk, **resume) as stream:
        rest = stream.until_end()
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert seqs(rest) == list(range(k + 1, session.last_seq + 1))
    assert rest[-2].json["type"] == "completed" and rest[-1].event == "end"
    assert rest[-1].id is None  # control events carry no id


def test_cursor_is_the_larger_of_last_event_id_and_after(team, editor, http_for):
    session = finished_session(team)
    client = http_for(editor)
    with subscribe(client, session.pk, after=2, last_event_id=5) as stream:
        assert seqs(stream.until_end()) == [6, 7]
    with subscribe(client, session.pk, after=5, last_event_id=2) as stream:
        assert seqs(stream.until_end()) == [6, 7]
    with subscribe(client, session.pk, after=7) as stream:  # already at the end
        frames = stream.until_end()
    assert [f.event for f in frames] == ["end"] and frames[0].json["status"] == "completed"


# --------------------------------------------------------------------------- 2. fan-out
def test_two_subscribers_identical_and_late_joiner_gets_everything(
    team, editor, owner, http_for, celery_worker_process
):
    session = services.create_session(team, kind="demo")
    received = {}
    tailing = {"a": threading.Event(), "b": threading.Event()}

    def follow(name, user):
        with subscribe(http_for(user), session.pk) as stream:
            tailing[name].set()  # the response has begun: the server watches the session
            received[name] = [(f.id, f.event, f.data) for f in stream.until_end()]

    threads = [
        threading.Thread(target=follow, args=("a", editor)),
        threading.Thread(target=follow, args=("b", owner)),
    ]
    for t in threads:
        t.start()
    assert all(e.wait(30) for e in tailing.values())  # both are tailing before the work starts
    from planning.live.tasks import demo_generation

    services.start(session, demo_generation, str(session.pk), 60, 0.01)
    for t in threads:
        t.join(30)
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert received["a"] == received["b"]
    assert [int(i) for i, _, _ in received["a"] if i] == list(range(1, session.last_seq + 1))

    with subscribe(http_for(editor), session.pk) as stream:
        late = [(f.id, f.event, f.data) for f in stream.until_end()]
    assert late == received["a"]


# --------------------------------------------------------------------------- 3. writers
def test_concurrent_writer_tasks_are_gapless_and_a_tailing_reader_sees_all(
    team, editor, http_for, celery_worker_process
):
    session = services.create_session(team, kind="burst")
    writer = LiveWriter.claim(session.pk)
    frames = []
    tailing = threading.Event()

    def read():
        with subscribe(http_for(editor), session.pk) as stream:
            tailing.set()
            frames.extend(stream.until_end())

    reader = threading.Thread(target=read)
    reader.start()
    assert tailing.wait(30)
    results = [emit_burst.delay(str(session.pk), writer.epoch, 150, label) for label in ("a", "b")]
    assert wait_for(lambda: LiveSession.objects.get(pk=session.pk).last_seq >= 301, timeout=60), (
        "the two writer tasks did not finish"
    )
    writer.finish()
    reader.join(30)
    assert all(r.id for r in results)
    assert log_seqs(session) == list(range(1, 303))
    assert seqs(frames) == list(range(1, 303))
    by_writer = {}
    for f in frames:
        event = f.json if f.id else None
        if event and event["type"] == "progress":
            by_writer.setdefault(event["data"]["writer"], []).append(event["data"]["i"])
    assert by_writer == {"a": list(range(150)), "b": list(range(150))}


# --------------------------------------------------------------------------- 4. cancel
def test_cancel_stops_the_worker_mid_generation(team, editor, http_for, celery_worker_process):
    client = http_for(editor)
    words = 3000  # a minute of generation: only a worker that obeys the stop ends early
    session = services.start_demo(team, editor, words=words, delay=0.02)
    with subscribe(client, session.pk) as stream:
        for frame in stream.events():
            if frame.id and frame.json["type"] == "token":
                break
        response = client.post(f"/live/{session.pk}/cancel")
        assert response.status_code == 202
        types = []
        for frame in stream.events():
            if frame.id:
                types.append(frame.json["type"])
                if frame.json["type"] == "cancelled":
                    cancelled = frame.json["data"]
            if frame.event == "end":
                break
    # "stopping" first, then the worker's own "cancelled" (not the watchdog's "forced" one)
    # with what was done: part of the text (how fast it obeys is measured by bench/live.py)
    assert "stopping" in types and types[-1] == "cancelled"
    assert "forced" not in cancelled
    whole = sum(len(word) + 1 for word in itertools.islice(itertools.cycle(DEMO_WORDS), words))
    assert 0 < cancelled["chars"] < whole
    assert client.post(f"/live/{session.pk}/cancel").status_code == 202  # idempotent
    assert LiveEvent.objects.filter(session=session, type="stopping").count() == 1
    session.refresh_from_db()
    assert session.status == Status.CANCELLED


def test_closing_the_subscriber_does_not_cancel(team, editor, http_for, celery_worker_process):
    session = services.start_demo(team, editor, words=40, delay=0.02)
    with subscribe(http_for(editor), session.pk) as stream:
        assert stream.next() is not None
    assert wait_for(
        lambda: LiveSession.objects.get(pk=session.pk).status != Status.ACTIVE, timeout=30
    )
    session.refresh_from_db()
    assert session.status == Status.COMPLETED and session.cancel_requested_at is None


# --------------------------------------------------------------------------- 6. security
def test_other_teams_get_404_and_viewers_cannot_cancel(
    team, editor, viewer, outsider, http_for, base_url
):
    import httpx

    session = services.create_session(team, kind="t")
    LiveWriter.claim(session.pk)
    outsider_client = http_for(outsider)
    assert outsider_client.get(f"/live/{session.pk}/events").status_code == 404
    assert outsider_client.post(f"/live/{session.pk}/cancel").status_code == 404
    assert outsider_client.get(f"/live/{session.pk}/log").status_code == 404
    assert outsider_client.get(f"/live/{session.pk}/").status_code == 404
    assert httpx.get(f"{base_url}/live/{session.pk}/events").status_code == 404  # anonymous
    assert http_for(viewer).post(f"/live/{session.pk}/cancel").status_code == 403
    no_csrf = http_for(editor)
    no_csrf.headers.pop("X-CSRFToken")
    assert no_csrf.post(f"/live/{session.pk}/cancel").status_code == 403
    session.refresh_from_db()
    assert session.cancel_requested_at is None


def test_event_data_cannot_inject_frames(team, editor, http_for):
    session = services.create_session(team, kind="t")
    w = LiveWriter.claim(session.pk)
    evil = "line\n\nid: 999\nevent: end\ndata: {}\r\n\r\nretry: 1\n: x"
    w.token(evil)
    w.emit("result", {"text": evil, evil: 1})
    w.finish()
    with subscribe(http_for(editor), session.pk) as stream:
        frames = stream.until_end()
    assert seqs(frames) == [1, 2, 3, 4]
    assert [f.event for f in frames] == ["message"] * 4 + ["end"]
    assert frames[1].json["data"]["text"] == evil
    assert frames[2].json["data"] == {"text": evil, evil: 1}


def test_stream_headers(team, editor, http_for):
    session = finished_session(team, 1)
    with http_for(editor).stream("GET", f"/live/{session.pk}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"


def test_compacted_history_answers_reset(team, editor, http_for):
    session = finished_session(team, 2)
    LiveSession.objects.filter(pk=session.pk).update(compacted_through=3)
    with subscribe(http_for(editor), session.pk, after=2) as stream:
        frames = stream.until_end()
    assert [f.event for f in frames] == ["reset"]
    with subscribe(http_for(editor), session.pk, after=0) as stream:
        assert seqs(stream.until_end()) == [1, 2, 3, 4]


def test_idle_subscribers_hold_no_database_connection(team, editor, http_for, asgi_server):
    from django.db import connection

    from .fixtures import SERVER_APP_NAME

    def server_connections() -> int:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [SERVER_APP_NAME],
            )
            return cur.fetchone()[0]

    session = services.create_session(team, kind="t")
    LiveWriter.claim(session.pk)
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(subscribe(http_for(editor), session.pk)) for _ in range(8)]
        assert all(s.next().json["type"] == "started" for s in streams)  # replayed, now idle
        # The hub's periodic re-read (every LIVE_POLL_SECONDS, 2 s) borrows a pooled
        # connection for a moment, and the pool closes an idle one after LIVE_DB_POOL_MAX_IDLE
        # (0.5 s: every 2 s cycle has periods with no borrowing); an idle subscriber keeps none.
        assert wait_for(lambda: server_connections() == 0, timeout=15)
        assert wait_for(lambda: server_connections() > 0, timeout=15, interval=0.02)  # re-read
        assert wait_for(lambda: server_connections() == 0, timeout=15)
        LiveWriter.join(session.pk, 1).emit("progress", {"done": 1})
        assert all(s.next().json["type"] == "progress" for s in streams)  # still live
        assert wait_for(lambda: server_connections() == 0, timeout=15)


def test_a_closed_stream_is_forgotten_by_the_hub(team, editor, http_for):
    from planning.live import notify

    session = services.create_session(team, kind="t")
    LiveWriter.claim(session.pk)
    channel = notify.channel(session.pk)

    def subscribers() -> int:
        return dict(notify.client().pubsub_numsub(channel))[channel.encode()]

    with subscribe(http_for(editor), session.pk) as stream:
        assert stream.next().json["type"] == "started"
        assert subscribers() == 1
    assert wait_for(lambda: subscribers() == 0, timeout=5), "the hub still watches the session"
