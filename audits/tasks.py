"""Celery tasks: dispatch a run, make one (probe, model, sample) call, try one probe live."""

from __future__ import annotations

import logging
import time

from celery import group, shared_task
from django.utils import timezone

from . import graders, live
from .client import CallError, Cancelled, ask, call, get_redis
from .models import AuditRun, Grade, Idea, Model, Probe, Result, RunStatus
from .runs import finalize_if_stopped, missing_calls, record_result, stop_requested

log = logging.getLogger(__name__)

CLAIM_TTL = 15 * 60  # longer than any single call with its retries


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
    group(
        run_call.s(run_id, epoch, probe_id, model_id, sample, writer.epoch)
        for probe_id, model_id, sample in calls
    ).apply_async()
    return len(calls)


def _claim(key: str) -> bool:
    return bool(get_redis().set(key, "1", nx=True, ex=CLAIM_TTL))


class StopCheck:
    """Should an audit call stop? The run's stop flag (stop control, budget) or the live
    session's (its own stop control, a newer epoch): Redis looks at most every 50 ms."""

    def __init__(self, run_id: int, session_id, live_epoch: int | None) -> None:
        self.run_id = run_id
        self.writer = live.join(session_id, live_epoch)
        self.stopped = False
        self._next_check = 0.0

    def __call__(self) -> bool:
        if not self.stopped:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + 0.05
                self.stopped = stop_requested(self.run_id)
            self.stopped = self.stopped or self.writer.should_stop()
        return self.stopped


@shared_task(acks_late=True)
def run_call(run_id: int, epoch: int, probe_id: int, model_id: int, sample: int,
             live_epoch: int | None = None) -> str:  # fmt: skip
    """Make one call and record it. Safe to run twice: the second run changes nothing.

    Routed to the audits queue (settings.AUDITS_QUEUE), whose worker runs many at once in
    threads. Per call the database sees one short transaction (the result row and the run's
    counters); tokens and the result event go to the live session through the batching FEED.
    """
    run = AuditRun.objects.filter(pk=run_id).only("pk", "status", "epoch", "team_id",
                                                  "live_session_id").first()  # fmt: skip
    if run is None or run.epoch != epoch or run.status != RunStatus.RUNNING:
        return "skipped: run not running"
    session_id = run.live_session_id
    should_stop = StopCheck(run_id, session_id, live_epoch)
    if should_stop():
        finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
        return "skipped: stopped"
    claim_key = f"audits:claim:{run_id}:{probe_id}:{model_id}:{sample}"
    if not _claim(claim_key):
        return "skipped: another delivery holds this call"
    try:
        if (
            Result.objects.filter(run_id=run_id, probe_id=probe_id, model_id=model_id,
                                  sample=sample).exclude(grade=Grade.ERROR).exists()
        ):  # fmt: skip
            return "skipped: already recorded"
        probe = Probe.objects.select_related("idea").get(pk=probe_id)
        model = Model.objects.get(pk=model_id)
        stream = f"{probe_id}-{model_id}-{sample}"
        try:
            fields = execute(
                probe, model, run.team_id, should_stop=should_stop,
                on_text=lambda t: live.FEED.token(session_id, live_epoch, stream, t),
            )  # fmt: skip
        except Cancelled:
            finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
            return "cancelled"

        def announce(res: Result, r: dict) -> None:
            live.FEED.emit(
                session_id, live_epoch, "result",
                {"probe": probe_id, "model": model_id, "sample": sample, "stream": stream,
                 "idea": probe.idea.title, "probe_name": probe.name, "model_name": model.model_id,
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
            extra_headers=None) -> dict:  # fmt: skip
    """Call the model with a probe and grade the answer: the fields of a Result."""
    try:
        answer = call(
            team_id=team_id, model=model.model_id, system=probe.system_prompt,
            messages=probe.messages(), max_tokens=probe.max_tokens,
            temperature=probe.temperature, on_text=on_text, should_stop=should_stop,
            extra_headers=extra_headers,
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
         "tokens": fields["input_tokens"] + fields["output_tokens"],
         "cost_usd": str(fields.get("cost_usd", 0)), "latency_ms": fields.get("latency_ms")},
    )  # fmt: skip
    writer.finish("completed")
    return fields["grade"]
