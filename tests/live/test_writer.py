"""The writer API on real PostgreSQL and Redis: ordering, coalescing, fencing, terminal
events, cancel bookkeeping, the reaper and compaction."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from planning.live import notify, services
from planning.live.models import LiveEvent, LiveSession, Status
from planning.live.writer import Fenced, LiveWriter, end_session, run

from .fixtures import subscribe


@pytest.fixture
def session(team, owner):
    return services.create_session(team, kind="test", title="Writer test", user=owner)


def log_of(session):
    events = LiveEvent.objects.filter(session=session).order_by("seq")
    return list(events.values_list("seq", "type"))


@pytest.mark.django_db
def test_emit_allocates_consecutive_seqs_and_finish_ends_once(session):
    w = LiveWriter.claim(session.pk)
    assert w.emit("progress", {"done": 1}) == 2
    assert w.emit("result", {"ok": True}) == 3
    assert w.finish() is True
    assert w.finish() is False  # exactly one terminal event
    assert log_of(session) == [(1, "started"), (2, "progress"), (3, "result"), (4, "completed")]
    session.refresh_from_db()
    assert (session.status, session.last_seq, session.epoch) == (Status.COMPLETED, 4, 1)
    assert session.finished_at is not None
    with pytest.raises(Fenced):
        w.emit("progress", {})


@pytest.mark.django_db
def test_tokens_are_coalesced_into_few_events(session, settings):
    settings.LIVE_FLUSH_INTERVAL = 60  # only size or an explicit flush writes
    settings.LIVE_FLUSH_CHARS = 100
    w = LiveWriter.claim(session.pk)
    for _ in range(250):
        w.token("abcd")  # 1000 characters
    w.token("x", stream="other")
    w.emit("progress", {"done": 1})  # flushes what is buffered first
    w.finish()
    tokens = LiveEvent.objects.filter(session=session, type="token").order_by("seq")
    text = "".join(e.data["text"] for e in tokens if "stream" not in e.data)
    assert text == "abcd" * 250
    assert 9 <= tokens.count() <= 12  # ~100 characters per event, not one per token
    assert [e.data for e in tokens if "stream" in e.data] == [{"text": "x", "stream": "other"}]
    assert [t for _, t in log_of(session)][-2:] == ["progress", "completed"]


@pytest.mark.django_db
def test_a_new_claim_fences_the_old_writer(session):
    old = LiveWriter.claim(session.pk)
    old.emit("progress", {"from": "old"})
    new = LiveWriter.claim(session.pk)  # a redelivered task
    with pytest.raises(Fenced):
        old.emit("progress", {"from": "zombie"})
    assert old.should_stop() is True
    new.emit("progress", {"from": "new"})
    assert old.finish() is False
    new.finish()
    froms = [e.data.get("from") for e in LiveEvent.objects.filter(session=session, type="progress")]
    assert froms == ["old", "new"]
    started = LiveEvent.objects.filter(session=session, type="started").order_by("seq")
    assert [e.data["epoch"] for e in started] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_threads_never_gap_or_duplicate(session):
    epoch = LiveWriter.claim(session.pk).epoch
    errors = []

    def write(label):
        try:
            w = LiveWriter.join(session.pk, epoch)
            for i in range(60):
                w.emit("progress", {"writer": label, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = [s for s, _ in log_of(session)]
    assert seqs == list(range(1, 242))
    per_writer = {}
    for e in LiveEvent.objects.filter(session=session, type="progress").order_by("seq"):
        per_writer.setdefault(e.data["writer"], []).append(e.data["i"])
    assert all(v == list(range(60)) for v in per_writer.values())


@pytest.mark.django_db
def test_run_finishes_completed_cancelled_or_failed(team):
    ok = services.create_session(team, kind="t")
    with run(ok.pk) as w:
        w.token("hello")
    stopped = services.create_session(team, kind="t")
    with run(stopped.pk) as w:
        w.token("partial")
        services.request_cancel(stopped.pk)
        notify.client().delete(notify.stop_key(stopped.pk))  # the DB check must also see it
        w._next_db_check = 0
        assert w.should_stop()
    broken = services.create_session(team, kind="t")
    with pytest.raises(RuntimeError), run(broken.pk):
        raise RuntimeError("model API exploded")
    statuses = {s.pk: s.status for s in LiveSession.objects.all()}
    assert statuses[ok.pk] == Status.COMPLETED
    assert statuses[stopped.pk] == Status.CANCELLED
    assert statuses[broken.pk] == Status.FAILED
    cancelled = LiveEvent.objects.get(session=stopped, type="cancelled")
    assert cancelled.data == {"chars": len("partial")}
    failed = LiveEvent.objects.get(session=broken, type="failed")
    assert failed.data["error"] == "model API exploded"


@pytest.mark.django_db
def test_run_on_an_ended_session_writes_nothing(team):
    session = services.create_session(team, kind="t")
    end_session(session.pk, Status.CANCELLED)
    with run(session.pk) as w:
        assert w.should_stop()
        w.emit("progress", {})  # Fenced, swallowed by run()
    assert log_of(session) == [(1, "cancelled")]


@pytest.mark.django_db
def test_cancel_is_idempotent_sets_flag_and_appends_one_stopping_event(
    session, editor, django_capture_on_commit_callbacks
):
    w = LiveWriter.claim(session.pk)
    assert w.should_stop() is False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.request_cancel(session.pk, editor) is True
        assert services.request_cancel(session.pk, editor) is False
    assert len(callbacks) == 3  # publish, stop flag, watchdog — once
    assert notify.stop_flag_set(session.pk)
    w._next_flag_check = 0
    assert w.should_stop() is True
    assert [t for _, t in log_of(session)] == ["started", "stopping"]
    session.refresh_from_db()
    assert session.cancel_requested_by == editor


@pytest.mark.django_db
def test_reaper_fails_only_silent_sessions(team):
    silent = services.create_session(team, kind="t")
    busy = services.create_session(team, kind="t")
    LiveWriter.claim(silent.pk)
    LiveWriter.claim(busy.pk)
    LiveSession.objects.filter(pk=silent.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    assert services.reap_stale_sessions(max_silence=60) == 1
    assert services.reap_stale_sessions(max_silence=60) == 0
    silent.refresh_from_db()
    busy.refresh_from_db()
    assert silent.status == Status.FAILED and busy.status == Status.ACTIVE
    assert log_of(silent)[-1] == (2, "failed")


@pytest.mark.django_db
def test_compaction_keeps_lifecycle_events_and_final_text(session, settings):
    settings.LIVE_FLUSH_CHARS = 1
    w = LiveWriter.claim(session.pk)
    for word in ["one ", "two ", "three"]:
        w.token(word)
    w.emit("result", {"n": 3})
    w.finish()
    assert services.compact_finished_sessions(older_than_days=1) == 0  # too recent
    LiveSession.objects.filter(pk=session.pk).update(finished_at=timezone.now() - timedelta(days=9))
    assert services.compact_finished_sessions(older_than_days=7) == 1
    assert services.compact_finished_sessions(older_than_days=7) == 0
    assert log_of(session) == [(1, "started"), (4, "text"), (5, "result"), (6, "completed")]
    assert LiveEvent.objects.get(session=session, type="text").data == {"text": "one two three"}
    session.refresh_from_db()
    assert session.compacted_through == 4
    snap = services.snapshot(session)
    assert snap.text == "one two three" and snap.seq == 6


@pytest.mark.django_db
def test_nul_and_lone_surrogates_in_event_data_do_not_fail_the_write(team):
    """jsonb cannot store \\u0000: a NUL in model output must not end the generation as failed."""
    session = services.create_session(team, kind="t")
    with run(session.pk) as w:
        w.token("before\x00after")
        w.emit("result", {"text": "a\x00b", "key\x00": ["x\x00", 1, None], "bad": "\ud800!"})
        w.token("more")
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    token = LiveEvent.objects.filter(session=session, type="token").order_by("seq").first()
    assert token.data == {"text": "before\ufffdafter"}
    result = LiveEvent.objects.get(session=session, type="result")
    assert result.data == {"text": "a\ufffdb", "key\ufffd": ["x\ufffd", 1, None], "bad": "\ufffd!"}
    assert [t for _, t in log_of(session)] == ["started", "token", "result", "token", "completed"]


@pytest.mark.django_db
def test_a_surrogate_pair_is_stored_as_its_character_not_two_replacements(team, settings):
    """Text that arrives as UTF-16 halves (a pair of surrogates, even split across two
    deltas of one flush) is the character they encode; only a lone half becomes U+FFFD."""
    settings.LIVE_FLUSH_INTERVAL = 3600  # the deltas are written together, by emit()
    session = services.create_session(team, kind="t")
    with run(session.pk) as w:
        w.token("smile \ud83d")
        w.token("\ude00 half \ud83d")
        w.emit("result", {"text": "\ud83d\ude00\x00"})
    token = LiveEvent.objects.get(session=session, type="token")
    assert token.data == {"text": "smile \U0001f600 half \ufffd"}
    result = LiveEvent.objects.get(session=session, type="result")
    assert result.data == {"text": "\U0001f600\ufffd"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_nul_in_model_output_reaches_tabs_as_u_fffd_live_and_on_replay(
    team, editor, http_for, settings
):
    """Through the real stream (uvicorn): a tab tailing while the writer runs (the Redis
    wake-up path), a tab opened afterwards (the log) and the /log JSON all read the same
    text, with U+FFFD where the NUL was and everything around it intact."""
    settings.LIVE_FLUSH_INTERVAL = 3600  # the deltas are written together, by emit()
    session = services.create_session(team, kind="t")
    client = http_for(editor)
    with subscribe(client, session.pk) as tail:
        with run(session.pk) as w:
            w.token("before\x00")
            w.token("after \ud83d")
            w.token("\ude00")
            w.emit("result", {"text": "a\x00b", "key\x00": ["x\x00"]})
        live = tail.until_end()
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    expected = [
        ("started", None),
        ("token", {"text": "before\ufffdafter \U0001f600"}),
        ("result", {"text": "a\ufffdb", "key\ufffd": ["x\ufffd"]}),
        ("completed", None),
    ]

    TEXT = ("token", "result")

    def texts(frames):
        events = [f.json for f in frames if f.id is not None]
        return [(e["type"], e["data"] if e["type"] in TEXT else None) for e in events]

    assert texts(live) == expected
    with subscribe(client, session.pk) as late:
        assert texts(late.until_end()) == expected
    logged = client.get(f"/live/{session.pk}/log").json()["events"]
    assert [(e["type"], e["data"]) for e in logged][1:3] == expected[1:3]
