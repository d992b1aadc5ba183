"""Audit runs on a real Celery worker against the real fake server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits import live, runs
from audits.models import AuditRun, Grade, Result, RunStatus
from audits.tasks import run_call
from planning.live.models import LiveEvent
from tests.audits import fake
from tests.conftest import wait_for
from tests.factories import IdeaFactory
from tests.processes import worker_idle


def _run(team, models, ideas, **kw):
    return runs.create_run(team, None, models=models, ideas=ideas, **kw)


@pytest.mark.django_db
def test_run_call_is_idempotent_under_retry(fake_api, team, sim_models):
    newer, older = sim_models
    idea = IdeaFactory(
        team=team, probe__user_message="LATER-PASSES", probe__grader_config={"expected": "yes"}
    )
    run = _run(team, [newer], [idea])
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1, expected_calls=1)
    probe = idea.probes.get()
    before = fake.requests_seen()
    assert run_call.apply(args=(run.pk, 1, probe.pk, newer.pk, 1)).get() == "pass"
    # the same task again (a retry, or a second delivery after it finished)
    assert run_call.apply(args=(run.pk, 1, probe.pk, newer.pk, 1)).get().startswith("skipped")
    # and a direct second record of the same call
    again = runs.record_result(run.pk, probe.pk, newer.pk, 1, grade=Grade.PASS,
                               cost_usd=Decimal(5), input_tokens=999)  # fmt: skip
    assert not again.created
    run.refresh_from_db()
    result = Result.objects.get()
    assert run.cost_usd == result.cost_usd > 0
    assert run.tokens_in == result.input_tokens and run.done_calls == 1
    assert run.status == RunStatus.COMPLETED
    assert fake.requests_seen() - before == 1  # one upstream call, one charge


@pytest.mark.django_db
def test_error_result_is_replaced_once_without_double_counting(team, sim_models):
    newer, _ = sim_models
    idea = IdeaFactory(team=team)
    run = _run(team, [newer], [idea])
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1, expected_calls=2)
    probe = idea.probes.get()
    runs.record_result(run.pk, probe.pk, newer.pk, 1, grade=Grade.ERROR, error_kind="overloaded",
                       input_tokens=10)  # fmt: skip
    runs.record_result(run.pk, probe.pk, newer.pk, 1, grade=Grade.PASS, input_tokens=10,
                       cost_usd=Decimal("0.01"))  # fmt: skip
    run.refresh_from_db()
    assert (run.done_calls, run.error_calls, run.tokens_in) == (1, 0, 20)
    assert Result.objects.get().attempts == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_duplicate_delivery_calls_once(fake_api, celery_worker_process, team, sim_models):
    newer, _ = sim_models
    idea = IdeaFactory(team=team, probe__user_message="SLOW-PROBE say yes")
    run = _run(team, [newer], [idea])
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1, expected_calls=1)
    probe = idea.probes.get()
    before = fake.requests_seen()
    task_id = str(uuid.uuid4())
    args = (run.pk, 1, probe.pk, newer.pk, 1)
    run_call.apply_async(args=args, task_id=task_id)
    run_call.apply_async(args=args, task_id=task_id)  # the broker delivers it twice
    assert wait_for(lambda: Result.objects.filter(run=run).exists(), 20)
    run.refresh_from_db()
    assert run.done_calls == 1 and Result.objects.filter(run=run).count() == 1
    assert fake.requests_seen() - before == 1


def _audit(team, sim_models, n_ideas=3, prompt="say yes", **kw):
    newer, older = sim_models
    ideas = [
        IdeaFactory(team=team, title=f"Idea {i}", probe__user_message=f"{prompt} #{i}")
        for i in range(n_ideas)
    ]
    return _run(team, [newer, older], ideas, **kw)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_run_completes_and_marks_cadence(fake_api, celery_worker_process, team, sim_models):
    run = _audit(team, sim_models)
    runs.start_run(run)
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 30)
    run.refresh_from_db()
    assert run.done_calls == run.expected_calls == 6
    assert Result.objects.filter(run=run, grade=Grade.PASS).count() == 6
    assert all(r.resolved_model for r in Result.objects.filter(run=run))
    assert run.cost_usd == sum(r.cost_usd for r in run.results.all())


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_cancel_mid_run_then_resume_runs_only_missing(fake_api, gate, celery_worker_process,
                                                       team, sim_models):  # fmt: skip
    run = _audit(team, sim_models, n_ideas=4)
    first_request = fake.requests_seen()
    runs.start_run(run)
    # the worker's two processes each wait for an answer; one answer arrives
    assert wait_for(lambda: gate.waiting() == 2, 30)
    gate.release(1)
    assert wait_for(lambda: Result.objects.filter(run=run).count() == 1, 30)
    assert wait_for(lambda: gate.waiting() == 2, 30)  # the freed process took the next call
    runs.cancel_run(run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and "Stopped" in run.stop_reason
    # the calls in flight get their answers; the queued ones are skipped without calling
    gate.open()
    assert wait_for(lambda: worker_idle(celery_worker_process), 30)
    settled = Result.objects.filter(run=run).count()
    assert 1 <= settled <= 3  # the released answer, and at most the two in flight
    assert fake.requests_seen() - first_request == 3  # nothing queued reached the model
    before = fake.requests_seen()
    runs.start_run(run)  # resume
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 60)
    run.refresh_from_db()
    assert run.done_calls == 8 and run.epoch == 2
    assert fake.requests_seen() - before == 8 - settled  # only the missing calls ran
    assert Result.objects.filter(run=run).count() == 8


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_budget_stop(fake_api, celery_worker_process, team, sim_models):
    run = _audit(team, sim_models, n_ideas=5, prompt="LONG-ANSWER", budget_tokens=150)
    runs.start_run(run)
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.BUDGET, 30)
    assert wait_for(lambda: worker_idle(celery_worker_process), 30)  # in-flight calls landed
    run.refresh_from_db()
    assert run.total_tokens >= 150
    assert run.done_calls < 10
    assert "Budget reached" in run.stop_reason and "Raise the budget" in run.stop_reason
    with pytest.raises(runs.RunError):
        runs.start_run(run)
    AuditRun.objects.filter(pk=run.pk).update(budget_tokens=None)
    runs.start_run(AuditRun.objects.get(pk=run.pk))
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 30)


@pytest.mark.django_db
def test_stop_is_announced_before_a_worker_can_end_the_session(
    team, sim_models, owner, monkeypatch, django_capture_on_commit_callbacks
):
    """A worker that sees a stop flag ends the run and its live session at once. The
    "stopping" event must be in the log by then: it used to be written after the run's flag
    was raised, and a quick worker made the write fail, silently (every tab missed it)."""
    newer, _ = sim_models
    run = runs.start_run(_run(team, [newer], [IdeaFactory(team=team)]))
    real_redis = runs.get_redis()

    def fastest_worker() -> None:  # what run_call does when it finds a flag raised
        with django_capture_on_commit_callbacks(execute=True):
            runs.finalize_if_stopped(run.pk, RunStatus.CANCELLED, "Stopped.")

    class Flags:
        def set(self, *args, **kwargs):
            real_redis.set(*args, **kwargs)
            fastest_worker()

        def __getattr__(self, name):
            return getattr(real_redis, name)

    real_live_flag = live.live_notify.set_stop_flag

    def set_live_flag(session_id) -> None:
        real_live_flag(session_id)
        fastest_worker()

    monkeypatch.setattr(runs, "get_redis", Flags)
    monkeypatch.setattr(live.live_notify, "set_stop_flag", set_live_flag)
    runs.cancel_run(run, owner)
    log = LiveEvent.objects.filter(session_id=run.live_session_id).order_by("seq")
    assert [e.type for e in log] == ["stopping", "cancelled"]
    assert log[0].data == {"by": owner.display_name}
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


# ----------------------------------------------------------------------------- fewer writes
def test_run_calls_go_to_the_audits_queue():
    from django.conf import settings

    from planning.celery import app

    def queue_of(task):
        return app.amqp.router.route({}, task)["queue"].name

    assert queue_of("audits.tasks.run_call") == settings.AUDITS_QUEUE
    assert queue_of("audits.tasks.dispatch_run") == settings.CELERY_TASK_DEFAULT_QUEUE
    # under tests the private queue carries both, so the test worker runs the calls
    assert settings.AUDITS_QUEUE == settings.CELERY_TASK_DEFAULT_QUEUE


def test_outside_tests_calls_have_their_own_queue():
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "from planning.celery import app; r = app.amqp.router.route;"
        "print(settings.AUDITS_QUEUE, r({}, 'audits.tasks.run_call')['queue'].name,"
        " r({}, 'audits.tasks.dispatch_run')['queue'].name)"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("CELERY_QUEUE", "AUDITS_QUEUE", "EXPONENT_TESTING")}  # fmt: skip
    env["DJANGO_SETTINGS_MODULE"] = "planning.settings"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=fake.BASE_DIR,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.split() == ["audits", "audits", "celery"]


@pytest.mark.django_db
def test_a_call_is_two_queries_and_one_redis_round_trip_before_the_model(fake_api, team,
                                                                          sim_models):  # fmt: skip
    newer, _ = sim_models
    idea = IdeaFactory(
        team=team, probe__user_message="LATER-PASSES", probe__grader_config={"expected": "yes"}
    )
    run = _run(team, [newer], [idea])
    session_id = live.create_session(team, None, "audit_run", "test")
    AuditRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, epoch=1, expected_calls=2, live_session_id=session_id
    )
    probe = idea.probes.get()
    with CaptureQueriesContext(connection) as ctx:
        args = (run.pk, 1, probe.pk, newer.pk, 1, 0, str(session_id))
        assert run_call.apply(args=args).get() == "pass"
    # (the feed's own thread cannot see this test's transaction: flush here)
    # tokens and the result event waited in the feed; one flush writes them together
    assert not LiveEvent.objects.filter(session_id=session_id).exists()
    live.FEED.flush(session_id)
    events = list(LiveEvent.objects.filter(session_id=session_id).order_by("seq"))
    assert [e.type for e in events] == ["token", "result"]
    assert events[0].data == {"text": "YES, it works now.", "stream": f"{probe.pk}-{newer.pk}-1"}
    assert events[1].data["grade"] == "pass" and events[1].data["done"] == 1
    # one SELECT for everything the call needs (run state, probe, model, answered?, prices),
    # then one statement that inserts the result and moves the run's counters
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 2, sqls
    assert sqls[0].lstrip().startswith("SELECT") and '"audits_price"' in sqls[0]
    assert sqls[1].lstrip().startswith("WITH ins AS (") and "ON CONFLICT DO NOTHING" in sqls[1]
    assert not any("FOR UPDATE" in sql for sql in sqls)  # no lock across a round trip
    run.refresh_from_db()
    result = Result.objects.get()
    assert (run.done_calls, run.error_calls, run.status) == (1, 0, RunStatus.RUNNING)
    assert run.cost_usd == result.cost_usd > 0 and run.tokens_out == result.output_tokens > 0
    assert run.tokens_in == result.input_tokens > 0
    # the same call again: answered already, so one query and no model request
    before = fake.requests_seen()
    with CaptureQueriesContext(connection) as ctx:
        assert run_call.apply(args=args).get() == "skipped: already recorded"
    assert len(ctx.captured_queries) == 1 and fake.requests_seen() == before


@pytest.mark.django_db
def test_queries_per_call_do_not_grow_with_the_run(fake_api, team, sim_models):
    newer, older = sim_models
    ideas = [
        IdeaFactory(team=team, title=f"Idea {i}", probe__user_message=f"say yes {i}")
        for i in range(6)
    ]
    run = _run(team, [newer, older], ideas)
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1,
                                              expected_calls=13)  # fmt: skip
    counts = []
    for idea in ideas:
        probe = idea.probes.get()
        for model in (newer, older):
            with CaptureQueriesContext(connection) as ctx:
                run_call.apply(args=(run.pk, 1, probe.pk, model.pk, 1, 0)).get()
            counts.append(len(ctx.captured_queries))
    assert counts == [2] * 12
    run.refresh_from_db()
    assert run.done_calls == 12 and run.cost_usd == sum(r.cost_usd for r in run.results.all())


@pytest.mark.django_db
def test_feed_keeps_order_coalesces_tokens_and_drops_stale_epochs(team):
    session_id = live.create_session(team, None, "audit_run", "test")
    feed = live.Feed(interval=3600)  # flushed by hand only
    feed.token(session_id, 0, "a", "Hel")
    feed.token(session_id, 0, "b", "X")
    feed.token(session_id, 0, "a", "lo")
    feed.emit(session_id, 0, "result", {"n": 1}, stream="a")
    feed.token(session_id, 0, "a", "again")
    feed.emit(session_id, 7, "result", {"n": 2}, stream="b")  # a stale epoch: fenced
    feed.flush()
    events = LiveEvent.objects.filter(session_id=session_id).order_by("seq")
    assert [(e.type, e.data) for e in events] == [
        ("token", {"text": "Hello", "stream": "a"}),
        ("token", {"text": "X", "stream": "b"}),
        ("result", {"n": 1}),
        ("token", {"text": "again", "stream": "a"}),
    ]
    feed.flush()  # nothing left
    assert events.count() == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_run_streams_every_result_live_and_records_last_tried(fake_api, celery_worker_process,
                                                              team, sim_models):  # fmt: skip
    run = _audit(team, sim_models, n_ideas=3)
    runs.start_run(run)
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 30)
    run.refresh_from_db()
    assert wait_for(lambda: live.session_status(run.live_session_id) == "completed", 5)
    events = list(LiveEvent.objects.filter(session_id=run.live_session_id).order_by("seq"))
    results = [e for e in events if e.type == "result"]
    assert sorted(e.data["stream"] for e in results) == sorted(
        f"{r.probe_id}-{r.model_id}-{r.sample}" for r in run.results.all()
    )  # one result event per call, none lost at the end, none twice
    assert events[-1].type == "completed"
    for result in results:  # a call's tokens come before its result
        before = events[: events.index(result)]
        assert any(e.type == "token" and e.data.get("stream") == result.data["stream"]
                   for e in before)  # fmt: skip
    for idea in run.ideas.all():  # logging it was the failure: the first audit lights it up
        assert idea.status == "lit_up"
        assert [c.to_status for c in idea.status_changes.all()] == ["lit_up", "retesting"]
        lit = idea.status_changes.first()
        assert lit.run_id == run.pk and lit.reason.startswith(
            "Newly passing since it failed on a model before "
        )
        assert (
            "sim-claude-4-20260115 (1 of 1 sample passed)" in lit.reason and str(run) in lit.reason
        )
        assert idea.last_tried_at is not None
        assert idea.last_tried_model in {"sim-claude-4-20260115", "sim-claude-3-20250610"}


# ----------------------------------------------------------------------------- thread worker
@pytest.fixture
def pooled_thread_worker(django_db_setup, django_db_blocker, tmp_path):
    """An audits worker as `make run` starts it: threads sharing a psycopg pool (DB_POOL),
    here with fewer connections (3) than threads (8), on a queue of its own."""
    from tests.processes import start_worker, stop, wait_until_answering, worker_env

    queue = f"audits-pool-{uuid.uuid4().hex[:8]}"
    env = worker_env(CELERY_QUEUE=queue, AUDITS_QUEUE=queue, DB_POOL="3")
    proc = start_worker(queue, f"{queue}@%h", tmp_path / "worker.log", env, concurrency=8,
                        extra=["-P", "threads"])  # fmt: skip
    wait_until_answering([proc])
    yield proc
    stop(proc)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_pooled_thread_worker_calls_each_sample_once_when_every_message_comes_twice(
    fake_api, pooled_thread_worker, team, sim_models
):
    newer, older = sim_models
    ideas = [
        IdeaFactory(team=team, title=f"Idea {i}", probe__user_message=f"SLOW-PROBE say yes #{i}")
        for i in range(5)
    ]
    run = _run(team, [newer, older], ideas)
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1,
                                              expected_calls=10)  # fmt: skip
    before = fake.requests_seen()
    calls = runs.missing_calls(run)
    for _ in range(2):  # every message delivered twice, the copies in flight together
        for probe_id, model_id, sample in calls:
            run_call.apply_async(
                args=(run.pk, 1, probe_id, model_id, sample), queue=pooled_thread_worker.queue,
                task_id=f"{run.pk}-{probe_id}-{model_id}-{sample}",
            )  # fmt: skip
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 60)
    run.refresh_from_db()
    assert (run.done_calls, run.error_calls) == (10, 0)
    assert Result.objects.filter(run=run).count() == 10
    assert fake.requests_seen() - before == 10  # one model request per (probe, model, sample)
    assert run.cost_usd == sum(r.cost_usd for r in run.results.all()) > 0
    assert run.tokens_out == sum(r.output_tokens for r in run.results.all())


def test_the_fan_out_is_pipelined_to_redis(monkeypatch):
    """dispatch_run's messages reach Redis a chunk at a time, not one round trip each."""
    from redis.client import Pipeline

    from audits import tasks
    from planning.celery import app

    queue = f"h-fanout-{uuid.uuid4().hex[:6]}"
    executed = []
    real = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **k: executed.append(
        len(self.command_stack)) or real(self, *a, **k))  # fmt: skip
    monkeypatch.setattr(tasks, "PUBLISH_CHUNK", 10)
    monkeypatch.setattr(tasks, "FIRST_FLUSH", 4)  # the first few go before the rest are built
    monkeypatch.setattr(tasks.run_call, "apply_async", lambda args, producer: producer.publish(
        {"args": args}, routing_key=queue, exchange="", serializer="json"))  # fmt: skip
    tasks.publish_calls((1, 1, probe, 1, 1, None, None) for probe in range(25))
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        assert client.llen(queue) == 25
        client.delete(queue)
    assert executed == [4, 10, 10, 1]


def test_the_sdk_is_warmed_up_in_memory():
    """A worker builds the SDK's validators at start, without a request (client.warm_up)."""
    from audits.client import warm_up

    assert warm_up() == "ok"


def test_the_broker_channel_keeps_one_redis_client():
    """kombu's Redis channel would build a redis.Redis per publish, take and ack; it keeps
    one per channel (planning/celery.py), a new one after its pool is replaced."""
    from planning.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        with channel.conn_or_acquire() as client:
            assert client is first and client.ping()
        channel._pool = None  # as after a reconnection
        assert channel._create_client() is not first


def test_a_big_run_is_fanned_out_several_calls_a_task():
    calls = [(1, 1, probe, 1, 1, 0, None) for probe in range(400)]
    chunks = runs.chunk_calls(calls, concurrency=20)
    assert [len(c) for c in chunks] == [10] * 40  # every thread gets two tasks
    assert [c for chunk in chunks for c in chunk] == calls
    assert [len(c) for c in runs.chunk_calls(calls, concurrency=50)] == [4] * 100
    assert [len(c) for c in runs.chunk_calls(calls[:7], concurrency=8)] == [1] * 7  # small run
    assert len(runs.chunk_calls(calls * 10, concurrency=2)) == 400  # at most ten a task


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_task_of_several_calls_delivered_twice_calls_each_once(fake_api, celery_worker_process,
                                                                 team, sim_models):  # fmt: skip
    from audits.tasks import run_calls

    newer, older = sim_models
    ideas = [IdeaFactory(team=team, probe__user_message=f"say yes {i}") for i in range(2)]
    run = _run(team, [newer, older], ideas)
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, epoch=1, expected_calls=4)
    calls = [[run.pk, 1, idea.probes.get().pk, model.pk, 1] for idea in ideas
             for model in (newer, older)]  # fmt: skip
    before = fake.requests_seen()
    task_id = str(uuid.uuid4())
    run_calls.apply_async(args=(calls,), task_id=task_id)
    run_calls.apply_async(args=(calls,), task_id=task_id)  # the broker delivers it twice
    assert wait_for(lambda: AuditRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED, 30)
    run.refresh_from_db()
    assert run.done_calls == 4 and Result.objects.filter(run=run).count() == 4
    assert fake.requests_seen() - before == 4
    # and a third delivery after both finished changes nothing
    assert all(o.startswith("skipped") for o in run_calls.apply(args=(calls,)).get())
    assert fake.requests_seen() - before == 4


@pytest.mark.django_db
def test_finishing_a_run_notes_each_ideas_latest_answer_in_one_statement(team, sim_models):
    """last_tried_at / last_tried_model: the latest answer of the run per idea (an error is
    not an answer), set for every idea at once however many ideas the run has."""
    import datetime

    from audits.models import Idea

    newer, older = sim_models
    ideas = [IdeaFactory(team=team, title=f"Idea {i}") for i in range(3)]
    run = _run(team, [newer, older], ideas)
    t = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)

    def result(idea, model, minutes, grade, resolved):
        Result.objects.create(run=run, probe=idea.probes.get(), model=model, sample=minutes,
                              grade=grade, resolved_model=resolved,
                              created_at=t + datetime.timedelta(minutes=minutes))  # fmt: skip

    result(ideas[0], newer, 1, Grade.PASS, "sim-claude-4-20260115")
    result(ideas[0], older, 2, Grade.FAIL, "sim-claude-3-20250610")  # the latest answer
    result(ideas[0], newer, 3, Grade.ERROR, "")  # later, but an error
    result(ideas[1], older, 4, Grade.ERROR, "")  # only an error: never tried
    with CaptureQueriesContext(connection) as ctx:
        runs._note_last_tried(run)
    assert len(ctx.captured_queries) == 1
    tried = {i.pk: (i.last_tried_at, i.last_tried_model) for i in Idea.objects.all()}
    assert tried[ideas[0].pk] == (t + datetime.timedelta(minutes=2), "sim-claude-3-20250610")
    assert tried[ideas[1].pk] == (None, "") and tried[ideas[2].pk] == (None, "")


def test_stop_flags_are_read_once_an_interval_by_all_the_calls_of_a_process(monkeypatch):
    """A hundred calls of one run in one worker share one reading of the stop flags per
    STOP_CHECK_INTERVAL; a flag raised is seen by the first reading after it."""
    from audits.client import get_redis

    keys = [f"test:stop:{uuid.uuid4().hex}", f"test:stop:{uuid.uuid4().hex}"]
    reads = []
    real = type(get_redis()).exists
    monkeypatch.setattr(type(get_redis()), "exists",
                        lambda self, *names: reads.append(names) or real(self, *names))  # fmt: skip
    now, step = 1000.0, runs.STOP_CHECK_INTERVAL
    assert [runs._flags_raised(keys, now + i * step / 200) for i in range(100)] == [False] * 100
    assert len(reads) == 1  # one reading for the hundred checks within the interval
    get_redis().set(keys[1], "1", ex=60)
    try:
        assert runs._flags_raised(keys, now + step / 2) is False  # the reading is still fresh
        assert runs._flags_raised(keys, now + step * 1.1) is True  # the next reading sees it
        assert runs._flags_raised(keys[:1], now + step * 1.1) is False  # other keys: read apart
        assert len(reads) == 3
    finally:
        get_redis().delete(*keys)
