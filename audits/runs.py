"""Audit runs: start, resume, cancel, and the idempotent recording of every call's result.

The fan-out is one Celery task per (probe, model, sample) (tasks.py only wraps the functions
here: `prepare_dispatch`, `make_call`, `try_once`). Everything that
changes a run's counters happens in `record_result`, in one transaction: the Result is inserted
only if that call has no result yet (the unique constraint decides; an earlier error row is
replaced under the run's row lock), and the run's tokens, cost and counts move by exactly that
row's numbers. So a task retried after a crash, the same message delivered twice or two
workers racing never double-count or double-charge.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from planning.live import notify as live_notify
from planning.quarters import current_quarter

from . import graders, live
from .client import CallError, Cancelled, ask, call, claim_call, get_redis, release_slot
from .models import (
    ACTIVE_RUN_STATUSES,
    AuditRun,
    Grade,
    Idea,
    IdeaStatus,
    IdeaStatusChange,
    Model,
    Price,
    Probe,
    Result,
    RunStatus,
)

if TYPE_CHECKING:
    from uuid import UUID

    class LoadedProbe(Probe):
        """A Probe as `load_call` reads it, with what the call needs beside it."""

        idea_title: str
        run_status: str | None
        run_epoch: int | None
        run_team: int | None
        run_session: UUID | None
        model_name: str | None
        recorded: bool
        price_rows: Any


log = logging.getLogger(__name__)


class RunError(Exception):
    pass


class AlreadyComplete(RunError):
    """Resuming a run that has every result: nothing to do (not an error)."""


def stop_key(run_id: int) -> str:
    return f"audits:stop:{run_id}"


def stop_requested(run_id: int) -> bool:
    return bool(get_redis().exists(stop_key(run_id)))


# ----------------------------------------------------------------------------- planning
def planned_calls(run: AuditRun) -> list[tuple[int, int, int]]:
    """Every (probe, model, sample) the run covers."""
    probes = Probe.objects.filter(idea__in=run.ideas.all()).values_list("pk", "samples")
    model_ids = list(run.models.values_list("pk", flat=True))
    return [
        (probe_id, model_id, sample)
        for probe_id, samples in probes
        for model_id in model_ids
        for sample in range(1, samples + 1)
    ]


def missing_calls(run: AuditRun) -> list[tuple[int, int, int]]:
    """Calls without a result (errors count as missing: resuming retries them)."""
    done = set(run.results.exclude(grade=Grade.ERROR).values_list("probe_id", "model_id", "sample"))
    return [call for call in planned_calls(run) if call not in done]


def create_run(team, user, *, models, ideas=None, budget_tokens=None, budget_usd=None):
    """A new pending run for this quarter (ideas default to every dormant or retesting one)."""
    if ideas is None:
        ideas = Idea.objects.for_team(team).filter(
            status__in=[IdeaStatus.DORMANT, IdeaStatus.RETESTING]
        )
    with transaction.atomic():
        run = AuditRun.objects.create(
            team=team,
            quarter=str(current_quarter(team)),
            budget_tokens=budget_tokens,
            budget_usd=budget_usd,
            started_by=user,
        )
        run.models.set(models)
        run.ideas.set(ideas)
    return run


def start_run(run: AuditRun, user=None) -> AuditRun:
    """Start (or resume) a run: only calls without a result are dispatched."""
    from .tasks import dispatch_run

    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        if run.status in ACTIVE_RUN_STATUSES and run.epoch:
            raise RunError("This audit is already running.")
        if run.status == RunStatus.COMPLETED:
            # a stale Resume button, a double click: nothing happens, ideas keep their status
            raise AlreadyComplete("This audit is already complete: there is nothing to resume.")
        missing = missing_calls(run)
        total = len(planned_calls(run))
        if not total:
            raise RunError("Nothing to run: choose at least one idea with probes and one model.")
        if run.status == RunStatus.BUDGET and run.over_budget():
            raise RunError("The budget is spent: raise it before resuming.")
        if not missing and run.epoch:
            # stopped after its last call: it is complete; no idea is retested again
            _finalize_locked(run, RunStatus.COMPLETED, "")
            return run
        run.epoch += 1
        run.expected_calls = total
        run.status = RunStatus.RUNNING
        run.stop_reason = ""
        run.started_at = run.started_at or timezone.now()
        run.finished_at = None
        run.live_session_id = live.create_session(
            run.team, user, "audit_run", f"Audit {run.quarter} #{run.pk}"
        )
        run.save()
        # locked and re-read, so two runs starting at once flip each idea once
        dormant = list(
            Idea.objects.select_for_update()
            .filter(pk__in=run.ideas.values("pk"), status=IdeaStatus.DORMANT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        IdeaStatusChange.objects.bulk_create(
            IdeaStatusChange(
                idea_id=pk,
                from_status=IdeaStatus.DORMANT,
                to_status=IdeaStatus.RETESTING,
                changed_by=user,
                reason=f"Retested in {run}.",
                run=run,
            )
            for pk in dormant
        )
        Idea.objects.filter(pk__in=dormant).update(status=IdeaStatus.RETESTING)
        get_redis().delete(stop_key(run.pk))
        epoch = run.epoch
        transaction.on_commit(lambda: dispatch_run.delay(run.pk, epoch))
    return run


def cancel_run(run: AuditRun, user=None) -> AuditRun:
    """Stop a run now: queued calls are skipped, in-flight calls end at their next token."""
    if run.status in ACTIVE_RUN_STATUSES:
        # every tab hears "stopping" first, then the run's final state: the event is written
        # before any stop flag, since a worker that sees a flag ends the session at once
        live.note_stopping(run.live_session_id, user)
    get_redis().set(stop_key(run.pk), "1", ex=24 * 3600)
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        if run.status in ACTIVE_RUN_STATUSES:
            who = getattr(user, "display_name", "") or "someone"
            _finalize_locked(run, RunStatus.CANCELLED, f"Stopped by {who}.")
    return run


def _summary(run: AuditRun) -> dict:
    return {
        "run_status": run.status,
        "done": run.done_calls,
        "errors": run.error_calls,
        "expected": run.expected_calls,
        "cost_usd": str(run.cost_usd),
        "tokens": run.total_tokens,
        "reason": run.stop_reason,
    }


def _finalize_locked(run: AuditRun, status: str, reason: str) -> None:
    """Give a locked, active run its final state (inside the caller's transaction)."""
    run.status = status
    run.stop_reason = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "stop_reason", "finished_at"])
    _apply_outcome(run)
    live_status = {"completed": "completed", "cancelled": "cancelled"}.get(status, "cancelled")
    if status == RunStatus.FAILED:
        live_status = "failed"
    session_id, summary = run.live_session_id, _summary(run)
    # a run that finished by itself lets the other processes' last results reach the log
    grace = 0.0 if status == RunStatus.CANCELLED else live.FEED.interval + 0.1
    transaction.on_commit(lambda: live.end(session_id, live_status, summary, grace=grace))
    if status == RunStatus.COMPLETED:
        team = run.team
        transaction.on_commit(lambda: _cadence_done(team))


def _apply_outcome(run: AuditRun) -> None:
    """Ideas that newly pass on a model in this run light up ("newly passing since" their
    recorded failure), with a status change naming the models, the run and the evidence;
    the other ideas this run was retesting go back to dormant. The ideas are locked and
    read again, so a retried finalisation changes nothing twice."""
    from .matrix import build

    ideas = list(run.ideas.all())
    matrix = build(run.team, ideas=ideas, upto_run=run)
    lit = {
        idea_id: [m for m in models if matrix.cells[(idea_id, m.pk)].run_id == run.pk]
        for idea_id, models in matrix.lit_up().items()
    }
    lit = {idea_id: models for idea_id, models in lit.items() if models}
    current = {
        idea.pk: idea
        for idea in Idea.objects.select_for_update()
        .filter(pk__in=[i.pk for i in ideas])
        .order_by("pk")
        .only("pk", "status", "failed_model", "failed_at")
    }
    changes = []  # in bulk: a run may retest hundreds of ideas
    for idea in current.values():
        if idea.pk in lit and idea.status in (IdeaStatus.DORMANT, IdeaStatus.RETESTING):
            changes.append(
                (idea, IdeaStatus.LIT_UP, lit_up_reason(idea, lit[idea.pk], run, matrix))
            )
        elif idea.status == IdeaStatus.RETESTING:
            changes.append((idea, IdeaStatus.DORMANT, f"Still not passing in {run}."))
    IdeaStatusChange.objects.bulk_create(
        IdeaStatusChange(
            idea=idea, from_status=idea.status, to_status=status, reason=reason, run=run
        )
        for idea, status, reason in changes
    )
    now = timezone.now()
    for status in (IdeaStatus.LIT_UP, IdeaStatus.DORMANT):
        pks = [idea.pk for idea, to, _ in changes if to == status]
        if pks:
            Idea.objects.filter(pk__in=pks).update(status=status, updated_at=now)
    _note_last_tried(run)


def _note_last_tried(run: AuditRun) -> None:
    """When and on what each of the run's ideas was last tried: its latest answer (errors do
    not count) in this run. One set-based UPDATE per run (the latest answer per idea found
    by DISTINCT ON in one pass over the run's results), not one per call or per idea."""
    q = connection.ops.quote_name
    result, probe, idea = Result._meta, Probe._meta, Idea._meta
    sql = f"""
        UPDATE {q(idea.db_table)} AS idea
        SET last_tried_at = latest.created_at, last_tried_model = latest.resolved_model
        FROM (
            SELECT DISTINCT ON (p.idea_id) p.idea_id, r.created_at, r.resolved_model
            FROM {q(result.db_table)} r JOIN {q(probe.db_table)} p ON p.id = r.probe_id
            WHERE r.run_id = %s AND r.grade <> %s
            ORDER BY p.idea_id, r.created_at DESC, r.id DESC
        ) AS latest
        WHERE idea.id = latest.idea_id
    """  # noqa: S608 - identifiers come from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.pk, Grade.ERROR])


def lit_up_reason(idea: Idea, models, run: AuditRun, matrix) -> str:
    """The status-history sentence for an idea that lit up: since when, where, the evidence."""
    evidence = ", ".join(
        f"{m.model_id} ({cell.passes} of {cell.n} sample{'s' if cell.n != 1 else ''} passed)"
        for m in models
        for cell in [matrix.cells[(idea.pk, m.pk)]]
    )
    return f"Newly passing since it failed on {idea.failed_on}: passed on {evidence} in {run}."


def _cadence_done(team) -> None:
    from planning.cadences.services import complete_activity

    try:
        complete_activity(team, "capability_audit")
    except DatabaseError:  # a cadence hiccup must not fail the audit
        log.warning("could not mark the capability audit cadence done", exc_info=True)


def finalize_if_stopped(run_id: int, status: str, reason: str) -> None:
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run_id)
        if run.status in ACTIVE_RUN_STATUSES:
            _finalize_locked(run, status, reason)


# ----------------------------------------------------------------------------- recording
@dataclass
class Recorded:
    created: bool  # False: the call already had a result; nothing changed
    result: Result | None
    run: AuditRun


COUNTERS = (
    "status",
    "done_calls",
    "error_calls",
    "expected_calls",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "budget_tokens",
    "budget_usd",
)


def record_result(
    run_id: int, probe_id: int, model_id: int, sample: int, *, announce=None, **fields
) -> Recorded:
    """Write one call's result exactly once and move the run's counters by it.

    The common case is one statement (see `_insert_counted`): insert the row unless the call
    has one (the unique constraint on (run, probe, model, sample) decides) and bump the run's
    counters by what was inserted, atomically, so the run's row lock is held only inside the
    server, never across a round trip to a busy worker. A call that already has a row (a
    duplicate delivery, or a retry of an earlier error) takes the careful path under the
    run's lock. `announce(result, counters)` is called once the row is committed, before the
    run is settled (completed or stopped for budget).
    """
    result = Result(run_id=run_id, probe_id=probe_id, model_id=model_id, sample=sample, **fields)
    inserted, counters = _insert_counted(result)
    if not inserted:
        return _record_again(run_id, probe_id, model_id, sample, announce, **fields)
    if announce:
        announce(result, counters)
    run = _settle(run_id, counters)
    return Recorded(True, result, run)


def _insert_counted(result: Result) -> tuple[bool, dict]:
    """INSERT … ON CONFLICT DO NOTHING and the run's UPDATE in one statement; the run's
    counters after it, and whether the row was inserted."""
    fields = [f for f in Result._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    params = [f.get_db_prep_save(f.pre_save(result, True), connection) for f in fields]
    columns = ", ".join(quote(cast(str, f.column)) for f in fields)
    sql = f"""
        WITH ins AS (
            INSERT INTO {quote(Result._meta.db_table)} ({columns})
            VALUES ({", ".join(["%s"] * len(fields))})
            ON CONFLICT DO NOTHING
            RETURNING id, grade, cost_usd, output_tokens,
                      input_tokens + cache_creation_tokens + cache_read_tokens AS tokens_in
        ), added AS (
            SELECT min(id) AS id, count(*) FILTER (WHERE grade <> %s) AS done,
                   count(*) FILTER (WHERE grade = %s) AS errors,
                   coalesce(sum(cost_usd), 0) AS cost, coalesce(sum(tokens_in), 0) AS tokens_in,
                   coalesce(sum(output_tokens), 0) AS tokens_out
            FROM ins
        )
        UPDATE {quote(AuditRun._meta.db_table)} AS run
        SET done_calls = run.done_calls + added.done, error_calls = run.error_calls + added.errors,
            cost_usd = run.cost_usd + added.cost, tokens_in = run.tokens_in + added.tokens_in,
            tokens_out = run.tokens_out + added.tokens_out
        FROM added WHERE run.id = %s
        RETURNING added.id, {", ".join(f"run.{quote(name)}" for name in COUNTERS)}
    """  # noqa: S608 - identifiers come from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Grade.ERROR, Grade.ERROR, result.run_id])
        row = cursor.fetchone()
    if row is None:
        raise AuditRun.DoesNotExist(f"audit run {result.run_id} is gone")
    result.pk = row[0]
    return row[0] is not None, dict(zip(COUNTERS, row[1:], strict=True))


def _bump(run_id: int, cost: Decimal, fields: dict, **counters) -> dict:
    tokens_in = (
        fields.get("input_tokens", 0)
        + fields.get("cache_creation_tokens", 0)
        + fields.get("cache_read_tokens", 0)
    )
    AuditRun.objects.filter(pk=run_id).update(
        cost_usd=F("cost_usd") + cost,
        tokens_in=F("tokens_in") + tokens_in,
        tokens_out=F("tokens_out") + fields.get("output_tokens", 0),
        **counters,
    )
    return AuditRun.objects.filter(pk=run_id).values(*COUNTERS).get()


def _record_again(run_id, probe_id, model_id, sample, announce, **fields) -> Recorded:
    """The call has a row already: keep a real answer, replace an earlier error."""
    is_error = fields.get("grade") == Grade.ERROR
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run_id)
        existing = Result.objects.get(
            run_id=run_id, probe_id=probe_id, model_id=model_id, sample=sample
        )
        if existing.grade != Grade.ERROR:
            return Recorded(False, existing, run)
        for name, value in fields.items():  # keep the error's spend in the totals
            setattr(existing, name, value)
        existing.attempts = existing.attempts + 1
        existing.created_at = timezone.now()
        existing.save()
        counters = _bump(
            run_id,
            Decimal(fields.get("cost_usd") or 0),
            fields,
            error_calls=F("error_calls") - (0 if is_error else 1),
            done_calls=F("done_calls") + (0 if is_error else 1),
        )
    if announce:
        announce(existing, counters)
    return Recorded(True, existing, _settle(run_id, counters))


def _settle(run_id: int, counters: dict) -> AuditRun:
    """Finish the run if this result completed it or spent its budget (once: under the lock,
    re-checked). Most results change nothing and take no lock here."""
    state = AuditRun(pk=run_id, **counters)
    finished = state.done_calls + state.error_calls >= state.expected_calls
    if state.status not in ACTIVE_RUN_STATUSES or not (finished or state.over_budget()):
        return state
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            return run
        if run.over_budget():
            left = run.expected_calls - run.done_calls - run.error_calls
            _finalize_locked(
                run,
                RunStatus.BUDGET,
                f"Budget reached after {run.done_calls + run.error_calls} of "
                f"{run.expected_calls} calls ({left} not run). Raise the budget and resume "
                "to finish.",
            )
            get_redis().set(stop_key(run.pk), "1", ex=24 * 3600)
        elif run.done_calls + run.error_calls >= run.expected_calls:
            reason = f"{run.error_calls} calls failed." if run.error_calls else ""
            _finalize_locked(run, RunStatus.COMPLETED, reason)
    return run


# ----------------------------------------------------------------------------- calls
CLAIM_TTL = 15 * 60  # longer than any single call with its retries


def prepare_dispatch(run_id: int, epoch: int, task_id: str = "") -> list[tuple] | None:
    """The calls a (re)started run still needs, as `tasks.run_call` arguments, with the run's
    live session claimed for this fan-out; None for a stale epoch (a newer resume)."""
    run = AuditRun.objects.filter(pk=run_id, epoch=epoch, status=RunStatus.RUNNING).first()
    if run is None:
        return None
    writer = live.claim(run.live_session_id, task_id=task_id)
    calls = missing_calls(run)
    writer.emit(
        "progress",
        {
            "done": run.done_calls,
            "errors": run.error_calls,
            "total": run.expected_calls,
            "queued": len(calls),
            "label": "queued",
        },
    )
    session = str(run.live_session_id) if run.live_session_id else None
    return [
        (run_id, epoch, probe_id, model_id, sample, writer.epoch, session, run.team_id)
        for probe_id, model_id, sample in calls
    ]


MAX_CALLS_PER_TASK = 10


def chunk_calls(calls: list[tuple], concurrency: int) -> list[list[tuple]]:
    """The fan-out's calls in tasks of several calls each (made one after another by
    `tasks.run_calls`), so a big run sends and takes fewer messages (each costs the worker
    more CPU than a call's own database work). Every worker thread still gets at least two
    tasks of a run (at most MAX_CALLS_PER_TASK calls each, fewer for a small run or a high
    `concurrency`), so the threads stay busy until the end; a small run is one call a task."""
    size = max(1, min(MAX_CALLS_PER_TASK, len(calls) // (2 * max(concurrency, 1))))
    return [calls[i : i + size] for i in range(0, len(calls), size)]


STOP_CHECK_INTERVAL = 0.05  # seconds: how stale a call's view of the stop flags may be
_seen_flags: dict[tuple[str, ...], tuple[float, bool]] = {}  # keys -> (read at, raised)
_seen_flags_lock = threading.Lock()


def _flags_raised(keys: list[str], now: float) -> bool:
    """Is any of `keys` (stop flags) set? One Redis EXISTS, shared by the process's threads:
    a reading less than STOP_CHECK_INTERVAL old (another call of the same run made it) is
    used as it is, so a worker making a hundred calls of one run asks about 20 times a
    second, not once per call. A reading is timed from before it was made, so it never
    looks fresher than it is (a call claimed after a resume never sees a flag from before)."""
    key = tuple(keys)
    with _seen_flags_lock:
        seen = _seen_flags.get(key)
    if seen and now - seen[0] < STOP_CHECK_INTERVAL:
        return seen[1]
    raised = bool(get_redis().exists(*keys))
    with _seen_flags_lock:
        if len(_seen_flags) > 1000:  # runs long gone
            _seen_flags.clear()
        _seen_flags[key] = (now, raised)
    return raised


class StopCheck:
    """Should an audit call stop? The run's stop flag (stop control, budget) or the live
    session's (its own stop control): one Redis EXISTS on both, at most every 50 ms per
    process (_flags_raised); the live session's row (ended, or taken over by a newer epoch)
    at most every 2 s."""

    def __init__(
        self,
        run_id: int,
        session_id,
        live_epoch: int | None,
        *,
        stopped: bool = False,
        checked: bool = False,
    ) -> None:
        """`checked`: the caller has just looked at both flags (`stopped` is what it saw)."""
        self.session_id = session_id if live_epoch is not None else None
        self.live_epoch = live_epoch
        self.keys = stop_keys(run_id, self.session_id)
        self.stopped = stopped
        now = time.monotonic()
        self._next_check = now + STOP_CHECK_INTERVAL if checked else now
        self._next_db_check = now + 2.0

    def __call__(self) -> bool:
        if self.stopped:
            return True
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + STOP_CHECK_INTERVAL
            self.stopped = _flags_raised(self.keys, now)
            if (
                not self.stopped
                and self.session_id
                and self.live_epoch is not None  # always, with a session
                and now >= self._next_db_check
            ):
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


PRICE_FIELDS = (
    "model_id",
    "input_per_mtok",
    "output_per_mtok",
    "cache_write_per_mtok",
    "cache_read_per_mtok",
)


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
    columns = ", ".join(f"p.{q(cast(str, f.column))}" for f in probe.concrete_fields)
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


def load_call(run_id: int, probe_id: int, model_id: int, sample: int) -> LoadedProbe | None:
    """Everything one call needs, in one query: the probe, annotated with its idea's title
    (`idea_title`), the run's state (`run_status`, `run_epoch`, `run_team`, `run_session`:
    None when the run is gone), the model's id (`model_name`), whether the call already has
    an answer (`recorded`: errors do not count) and the Price table (`price_rows`)."""
    params = [sample, Grade.ERROR, run_id, model_id, probe_id]
    loaded = next(iter(Probe.objects.raw(_load_call_sql(), params)), None)
    return cast("LoadedProbe | None", loaded)  # the raw SQL adds the attributes


def make_call(
    run_id: int,
    epoch: int,
    probe_id: int,
    model_id: int,
    sample: int,
    live_epoch: int | None = None,
    session: str | None = None,
    team_id: int | None = None,
    *,
    finished: list[str] | None = None,
) -> str:
    """Make one call and record it (the task tasks.run_call). Safe to run twice: the second
    run changes nothing.

    Routed to the audits queue (settings.AUDITS_QUEUE), whose worker runs many at once in
    threads. Per call: one Redis round trip (the call's claim, the stop flags and, given the
    run's `team_id`, one of the team's slots: client.claim_call), one query for everything
    the call needs, the model call (its slot given back at the end), and one statement that
    records the result and moves the run's counters (see runs.record_result); tokens and the
    result event go to the live session through the batching FEED. A thread-pool worker with
    a connection pool (settings DB_POOL) hands its connection back during the model call.
    `session` is the run's live session as the fan-out saw it (its stop flag is read with the
    claim).

    `finished` (tasks.run_calls, several calls one after another): the claims of the calls
    made before, recorded and done with, deleted in the next call's claim round trip; this
    call's claim is added to it at the end instead of being deleted (the caller deletes what
    is left: forget_claims). Without it the claim is deleted at the end.
    """
    claim_key = f"audits:claim:{run_id}:{probe_id}:{model_id}:{sample}"
    flags = stop_keys(run_id, session if live_epoch is not None else None)
    claim = claim_call(claim_key, CLAIM_TTL, flags, team_id, forget=finished or ())
    if finished:
        finished.clear()
    if not claim.claimed:
        return "skipped: another delivery holds this call"
    slot = claim.slot  # ours to give back unless the call is made (the call gives it back)
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
        if slot and team_id is not None and probe.run_team != team_id:  # not the run's team
            release_slot(team_id, slot)
            slot = None  # the call takes one of its team's own
        session_id = probe.run_session
        checked = len(flags) == 1 or str(session_id) == session
        should_stop = StopCheck(
            run_id, session_id, live_epoch, stopped=claim.stopped, checked=checked
        )
        if claim.stopped:
            finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
            return "skipped: stopped"
        if probe.recorded:
            return "skipped: already recorded"
        release_connection()  # pooled: back to the pool while the model answers
        model = Model(pk=model_id, model_id=probe.model_name)
        stream = f"{probe_id}-{model_id}-{sample}"
        held, slot = slot, None  # the call gives it back, whatever happens
        try:
            fields = execute(
                probe,
                model,
                cast(int, probe.run_team),  # set while the run is running
                should_stop=should_stop,
                on_text=lambda t: live.FEED.token(session_id, live_epoch, stream, t),
                prices=_prices(probe.price_rows),
                slot=held,
            )
        except Cancelled:
            finalize_if_stopped(run_id, RunStatus.CANCELLED, "Stopped.")
            return "cancelled"

        def announce(res: Result, r: dict) -> None:
            live.FEED.emit(
                session_id,
                live_epoch,
                "result",
                {
                    "probe": probe_id,
                    "model": model_id,
                    "sample": sample,
                    "stream": stream,
                    "idea": probe.idea_title,
                    "probe_name": probe.name,
                    "model_name": model.model_id,
                    "grade": res.grade,
                    "error_kind": res.error_kind,
                    "tokens": res.input_tokens + res.output_tokens,
                    "cost_usd": str(res.cost_usd),
                    "done": r["done_calls"],
                    "errors": r["error_calls"],
                    "total": r["expected_calls"],
                    "run_cost_usd": str(r["cost_usd"]),
                    "run_status": r["status"],
                },
                stream=stream,
            )

        record_result(run_id, probe_id, model_id, sample, announce=announce, **fields)
        return fields["grade"]
    finally:
        done = [] if finished is not None else [claim_key]
        if finished is not None:
            finished.append(claim_key)
        if slot and team_id is not None:
            release_slot(team_id, slot, forget=done)
        elif done:
            forget_claims(done)


def forget_claims(keys: list[str]) -> None:
    """Delete the claims of calls that are done (recorded, skipped or failed)."""
    if keys:
        get_redis().delete(*keys)


def execute(
    probe: Probe,
    model: Model,
    team_id: int,
    *,
    on_text=None,
    should_stop=None,
    extra_headers=None,
    prices=None,
    slot: str | None = None,
) -> dict:
    """Call the model with a probe and grade the answer: the fields of a Result. `slot`: a
    team slot taken for the call (client.claim_call), given back by the call."""
    try:
        answer = call(
            team_id=team_id,
            model=model.model_id,
            system=probe.system_prompt,
            messages=probe.messages(),
            max_tokens=probe.max_tokens,
            temperature=probe.temperature,
            on_text=on_text,
            should_stop=should_stop,
            extra_headers=extra_headers,
            prices=prices,
            slot=slot,
        )
    except CallError as exc:
        usage = exc.usage
        return {
            "grade": Grade.ERROR,
            "auto_grade": Grade.ERROR,
            "error": str(exc)[:2000],
            "error_kind": exc.kind,
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "cache_creation_tokens": usage.get("cache_creation_input_tokens", 0),
            "cache_read_tokens": usage.get("cache_read_input_tokens", 0),
        }
    verdict = graders.grade(
        probe.grader, answer.text, probe.grader_config, ask=ask(team_id), task=probe.user_message
    )
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


def try_once(session_id: str, probe_id: int, model_id: int, task_id: str = "") -> str:
    """Stream one probe against one model into a live session, then grade it (the task
    tasks.try_probe)."""
    probe = Probe.objects.select_related("idea").get(pk=probe_id)
    return try_probe_once(session_id, probe, Model.objects.get(pk=model_id), task_id)


def try_probe_once(session_id: str, probe: Probe, model: Model, task_id: str = "") -> str:
    """try_once for a probe object, saved or not (a proposal is tried before it is saved:
    audits.propose); only a saved probe marks its idea as last tried."""
    writer = live.claim(session_id, task_id=task_id)
    if writer.should_stop():
        return "stopped"
    try:
        fields = execute(
            probe, model, probe.idea.team_id, on_text=writer.token, should_stop=writer.should_stop
        )
    except Cancelled:
        writer.finish("cancelled")
        return "cancelled"
    if fields.get("resolved_model") and probe.pk:
        Idea.objects.filter(pk=probe.idea_id).update(
            last_tried_at=timezone.now(), last_tried_model=fields["resolved_model"]
        )
    writer.flush()
    writer.emit(
        "result",
        {
            "grade": fields["grade"],
            "resolved_model": fields.get("resolved_model", ""),
            "grader_output": fields.get("grader_output", {}),
            "error": fields.get("error", ""),
            "reason": graders.explain(
                probe.grader, fields["grade"], fields.get("grader_output"), fields.get("error", "")
            ),
            "tokens": fields["input_tokens"] + fields["output_tokens"],
            "cost_usd": str(fields.get("cost_usd", 0)),
            "latency_ms": fields.get("latency_ms"),
        },
    )
    writer.finish("completed")
    return fields["grade"]


# ----------------------------------------------------------------------------- overrides
def override_result(result: Result, user, grade: str, reason: str):
    from .models import ResultOverride

    if not reason.strip():
        raise RunError("Give a reason for the override.")
    if grade not in (Grade.PASS, Grade.FAIL):
        raise RunError("A person can mark an answer pass or fail.")
    with transaction.atomic():
        result = Result.objects.select_for_update().get(pk=result.pk)
        change = ResultOverride.objects.create(
            result=result,
            from_grade=result.grade,
            to_grade=grade,
            reason=reason.strip(),
            overridden_by=user,
        )
        if not result.auto_grade:
            result.auto_grade = result.grade
        result.grade = grade
        result.save(update_fields=["grade", "auto_grade"])
    return change
