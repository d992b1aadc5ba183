"""Celery tasks: dispatch a run, make one (probe, model, sample) call, try one probe live."""

from __future__ import annotations

import functools
import json
import logging
import time
from decimal import Decimal

from celery import current_app, shared_task
from celery.signals import worker_ready
from django.db import connection
from django.utils import timezone

from planning.live import notify as live_notify

from . import graders, live
from .client import CallError, Cancelled, ask, call, get_redis, warm_up
from .models import AuditRun, Grade, Idea, Model, Price, Probe, Result, RunStatus
from .runs import finalize_if_stopped, missing_calls, record_result, stop_key

log = logging.getLogger(__name__)

CLAIM_TTL = 15 * 60  # longer than any single call with its retries


@worker_ready.connect
def _warm_up(**kwargs) -> None:
    """A worker builds the SDK's validators before its first audit call (client.warm_up)."""
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - an optimisation: the first calls build them instead
        log.warning("could not warm up the model client", exc_info=True)


@shared_task(acks_late=True)
def dispatch_run(run_id: int, epoch: int) -> int:
    """Fan out one task per missing call; a stale epoch (a newer resume) does nothing."""
    run = AuditRun.objects.filter(pk=run_id, epoch=epoch, status=RunStatus.RUNNING).first()
    if run is None:
        return 0
    writer = live.claim(run.live_session_id, task_id=dispatch_run.request.id or "")
    calls = missing_calls(run)
    writer.emit(
        "progress",
        {"done": run.done_calls, "errors": run.error_calls, "total": run.expected_calls,
         "queued": len(calls), "label": "queued"},
    )  # fmt: skip
    session = str(run.live_session_id) if run.live_session_id else None
    publish_calls(
        (run_id, epoch, probe_id, model_id, sample, writer.epoch, session)
        for probe_id, model_id, sample in calls
    )
    return len(calls)


PUBLISH_CHUNK = 100  # messages per Redis round trip: the first calls start while the rest queue


def publish_calls(calls) -> None:
    """Queue one run_call per argument tuple: one producer, and the messages pipelined to
    Redis a chunk at a time (kombu's publish batch), not one round trip each."""
    with current_app.producer_or_acquire() as producer, producer.batch(PUBLISH_CHUNK):
        for args in calls:
            run_call.apply_async(args, producer=producer)


class StopCheck:
    """Should an audit call stop? The run's stop flag (stop control, budget) or the live
    session's (its own stop control): one Redis EXISTS on both, at most every 50 ms; the live
    session's row (ended, or taken over by a newer epoch) at most every 2 s."""

    def __init__(self, run_id: int, session_id, live_epoch: int | None, *,
                 stopped: bool = False, checked: bool = False) -> None:  # fmt: skip
        """`checked`: the caller has just looked at both flags (`stopped` is what it saw)."""
        self.session_id = session_id if live_epoch is not None else None
        self.live_epoch = live_epoch
        self.keys = stop_keys(run_id, self.session_id)
        self.stopped = stopped
        now = time.monotonic()
        self._next_check = now + 0.05 if checked else now
        self._next_db_check = now + 2.0

    def __call__(self) -> bool:
        if self.stopped:
            return True
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + 0.05
            self.stopped = bool(get_redis().exists(*self.keys))
            if not self.stopped and self.session_id and now >= self._next_db_check:
                self._next_db_check = now + 2.0
                self.stopped = live.session_moved_on(self.session_id, self.live_epoch)
                release_connection()
        return self.stopped


def release_connection() -> None:
    """With a connection pool (settings DB_POOL), hand this thread's connection back: an
    audit call holds none while the model answers."""
    if connection.settings_dict["OPTIONS"].get("pool") and not connection.in_atomic_block:
        connection.close()


def stop_keys(run_id: int, session_id) -> list[str]:
    keys = [stop_key(run_id)]
    if session_id:
        keys.append(live_notify.stop_key(session_id))
    return keys


PRICE_FIELDS = ("model_id", "input_per_mtok", "output_per_mtok", "cache_write_per_mtok",
                "cache_read_per_mtok")  # fmt: skip


def _prices(rows) -> list[Price]:
    if isinstance(rows, str):
        rows = json.loads(rows)
    return [
        Price(**{k: v if k == "model_id" else Decimal(v) for k, v in row.items()})
        for row in rows or ()
    ]


@functools.cache
def _load_call_sql() -> str:
    """The SQL of `load_call`, built once from the models (Django's query compiler costs more
    CPU than the whole rest of a call's database work)."""
    q = connection.ops.quote_name
    probe, idea, run = Probe._meta, Idea._meta, AuditRun._meta
    columns = ", ".join(f"p.{q(f.column)}" for f in probe.concrete_fields)
    prices = ", ".join(f"'{name}', {q(name)}::text" for name in PRICE_FIELDS)
    return f"""
        SELECT {columns}, i.{q("title")} AS idea_title, r.status AS run_status,
               r.epoch AS run_epoch, r.team_id AS run_team, r.live_session_id AS run_session,
               m.model_id AS model_name,
               EXISTS (SELECT 1 FROM {q(Result._meta.db_table)} x
                       WHERE x.run_id = r.id AND x.probe_id = p.id AND x.model_id = m.id
                         AND x.sample = %s AND x.grade <> %s) AS recorded,
               (SELECT json_agg(json_build_object({prices}))
                FROM {q(Price._meta.db_table)}) AS price_rows
        FROM {q(probe.db_table)} p
        JOIN {q(idea.db_table)} i ON i.id = p.idea_id
        LEFT JOIN {q(run.db_table)} r ON r.id = %s
        LEFT JOIN {q(Model._meta.db_table)} m ON m.id = %s
        WHERE p.id = %s
    """  # noqa: S608 - identifiers come from the models, values are parameters


def load_call(run_id: int, probe_id: int, model_id: int, sample: int) -> Probe | None:
    """Everything one call needs, in one query: the probe, annotated with its idea's title
    (`idea_title`), the run's state (`run_status`, `run_epoch`, `run_team`, `run_session`:
    None when the run is gone), the model's id (`model_name`), whether the call already has
    an answer (`recorded`: errors do not count) and the Price table (`price_rows`)."""
    params = [sample, Grade.ERROR, run_id, model_id, probe_id]
    return next(iter(Probe.objects.raw(_load_call_sql(), params)), None)


@shared_task(acks_late=True)
def run_call(run_id: int, epoch: int, probe_id: int, model_id: int, sample: int,
             live_epoch: int | None = None, session: str | None = None) -> str:  # fmt: skip
    """Make one call and record it. Safe to run twice: the second run changes nothing.

    Routed to the audits queue (settings.AUDITS_QUEUE), whose worker runs many at once in
    threads. Per call: one Redis round trip (the call's claim and the stop flags), one query
    for everything the call needs, the model call, and one statement that records the result
    and moves the run's counters (see runs.record_result); tokens and the result event go to
    the live session through the batching FEED. A thread-pool worker with a connection pool
    (settings DB_POOL) hands its connection back during the model call. `session` is the
    run's live session as the fan-out saw it (its stop flag is read with the claim).
    """
    claim_key = f"audits:claim:{run_id}:{probe_id}:{model_id}:{sample}"
    flags = stop_keys(run_id, session if live_epoch is not None else None)
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.set(claim_key, "1", nx=True, ex=CLAIM_TTL)
        pipe.exists(*flags)
        claimed, stopped = pipe.execute()
    if not claimed:
        return "skipped: another delivery holds this call"
    try:
        # after the claim: a delivery that finished before it has its row committed
        probe = load_call(run_id, probe_id, model_id, sample)
        if (
            probe is None
            or probe.model_name is None
            or probe.run_epoch != epoch
            or probe.run_status != RunStatus.RUNNING
        ):
            return "skipped: run not running"
        session_id = probe.run_session
        checked = len(flags) == 1 or str(session_id) == session
        should_stop = StopCheck(run_id, session_id, live_epoch, stopped=bool(stopped),
                                checked=checked)  # fmt: skip
        if stopped:
            finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
            return "skipped: stopped"
        if probe.recorded:
            return "skipped: already recorded"
        release_connection()  # pooled: back to the pool while the model answers
        model = Model(pk=model_id, model_id=probe.model_name)
        stream = f"{probe_id}-{model_id}-{sample}"
        try:
            fields = execute(
                probe, model, probe.run_team, should_stop=should_stop,
                on_text=lambda t: live.FEED.token(session_id, live_epoch, stream, t),
                prices=_prices(probe.price_rows),
            )  # fmt: skip
        except Cancelled:
            finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
            return "cancelled"

        def announce(res: Result, r: dict) -> None:
            live.FEED.emit(
                session_id, live_epoch, "result",
                {"probe": probe_id, "model": model_id, "sample": sample, "stream": stream,
                 "idea": probe.idea_title, "probe_name": probe.name, "model_name": model.model_id,
                 "grade": res.grade, "error_kind": res.error_kind,
                 "tokens": res.input_tokens + res.output_tokens, "cost_usd": str(res.cost_usd),
                 "done": r["done_calls"], "errors": r["error_calls"],
                 "total": r["expected_calls"], "run_cost_usd": str(r["cost_usd"]),
                 "run_status": r["status"]},
                stream=stream,
            )  # fmt: skip

        record_result(run_id, probe_id, model_id, sample, announce=announce, **fields)
        return fields["grade"]
    finally:
        get_redis().delete(claim_key)


def execute(probe: Probe, model: Model, team_id: int, *, on_text=None, should_stop=None,
            extra_headers=None, prices=None) -> dict:  # fmt: skip
    """Call the model with a probe and grade the answer: the fields of a Result."""
    try:
        answer = call(
            team_id=team_id, model=model.model_id, system=probe.system_prompt,
            messages=probe.messages(), max_tokens=probe.max_tokens,
            temperature=probe.temperature, on_text=on_text, should_stop=should_stop,
            extra_headers=extra_headers, prices=prices,
        )  # fmt: skip
    except CallError as exc:
        usage = exc.usage
        return {
            "grade": Grade.ERROR, "auto_grade": Grade.ERROR, "error": str(exc)[:2000],
            "error_kind": exc.kind,
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "cache_creation_tokens": usage.get("cache_creation_input_tokens", 0),
            "cache_read_tokens": usage.get("cache_read_input_tokens", 0),
        }  # fmt: skip
    verdict = graders.grade(probe.grader, answer.text, probe.grader_config,
                            ask=ask(team_id), task=probe.user_message)  # fmt: skip
    return {
        "grade": verdict.grade,
        "auto_grade": verdict.grade,
        "grader_output": verdict.detail,
        "response": answer.text,
        "resolved_model": answer.model,
        "input_tokens": answer.usage.get("input_tokens", 0),
        "output_tokens": answer.usage.get("output_tokens", 0),
        "cache_creation_tokens": answer.usage.get("cache_creation_input_tokens", 0),
        "cache_read_tokens": answer.usage.get("cache_read_input_tokens", 0),
        "cost_usd": answer.cost_usd,
        "latency_ms": answer.latency_ms,
        "attempts": answer.attempts,
    }


@shared_task(acks_late=True)
def try_probe(session_id: str, probe_id: int, model_id: int) -> str:
    """Stream one probe against one model into a live session, then grade it."""
    probe = Probe.objects.select_related("idea").get(pk=probe_id)
    model = Model.objects.get(pk=model_id)
    writer = live.claim(session_id, task_id=try_probe.request.id or "")
    if writer.should_stop():
        return "stopped"
    try:
        fields = execute(probe, model, probe.idea.team_id, on_text=writer.token,
                         should_stop=writer.should_stop)  # fmt: skip
    except Cancelled:
        writer.finish("cancelled")
        return "cancelled"
    if fields.get("resolved_model"):
        Idea.objects.filter(pk=probe.idea_id).update(
            last_tried_at=timezone.now(), last_tried_model=fields["resolved_model"]
        )
    writer.flush()
    writer.emit(
        "result",
        {"grade": fields["grade"], "resolved_model": fields.get("resolved_model", ""),
         "grader_output": fields.get("grader_output", {}), "error": fields.get("error", ""),
         "reason": graders.explain(probe.grader, fields["grade"], fields.get("grader_output"),
                                   fields.get("error", "")),
         "tokens": fields["input_tokens"] + fields["output_tokens"],
         "cost_usd": str(fields.get("cost_usd", 0)), "latency_ms": fields.get("latency_ms")},
    )  # fmt: skip
    writer.finish("completed")
    return fields["grade"]
