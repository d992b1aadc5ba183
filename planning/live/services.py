"""Web-side operations on live sessions: create, start, cancel, snapshot, reap, compact.

Starting work from a view (the pattern every feature follows)::

    session = live.create_session(team, kind="audit_run", title="Q3 audit", user=request.user)
    live.start(session, run_audit, session.pk)          # any Celery task taking the id
    return redirect(session)                            # or render the partial in a page

Rendering a session inside a feature page (snapshot, then the stream at ?after=N)::

    {% load live %}{% live_session session can_stop=membership.can_edit %}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import kombu.exceptions
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import conf, notify
from .models import LiveEvent, LiveSession, Status
from .writer import STEER, Fenced, append, end_session

log = logging.getLogger(__name__)


def create_session(team, *, kind: str, title: str = "", user=None) -> LiveSession:
    return LiveSession.objects.create(
        team=team, kind=kind, title=title, created_by=user, heartbeat_at=timezone.now()
    )


def start(session: LiveSession, task, *args, **options) -> str:
    """Enqueue `task(*args)` after the surrounding transaction commits; record its id."""
    from celery import uuid as celery_uuid

    task_id = options.pop("task_id", None) or celery_uuid()
    LiveSession.objects.filter(pk=session.pk).update(celery_task_id=task_id)
    session.celery_task_id = task_id
    transaction.on_commit(lambda: task.apply_async(args, task_id=task_id, **options))
    return task_id


def request_cancel(session_id, user=None) -> bool:
    """Record a stop request, raise the fast flag, tell every tab, arm the watchdog.

    Idempotent: True only for the request that actually asked (later ones change nothing).
    """
    with transaction.atomic():
        session = LiveSession.objects.select_for_update().get(pk=session_id)
        if session.status != Status.ACTIVE or session.cancel_requested_at is not None:
            return False
        now = timezone.now()
        LiveSession.objects.filter(pk=session.pk).update(
            cancel_requested_at=now, cancel_requested_by=user, updated_at=now
        )
        by = getattr(user, "display_name", "") if user else ""
        try:
            append(session.pk, [("stopping", {"by": by})])
        except Fenced:  # pragma: no cover - we hold the lock and checked the status
            return False
        transaction.on_commit(lambda: notify.set_stop_flag(session.pk))
        transaction.on_commit(lambda: _arm_watchdog(session.pk))
    return True


# --------------------------------------------------------------------------- steering
STEER_MAX_CHARS = 300
STEERS_PER_SESSION = 10


class SteerRefused(Exception):
    """A steer that cannot be taken; the message says why, in words for the user."""


@dataclass
class SteerOutcome:
    """A steer taken: appended to the running session (`event`), or, after the end, carried
    by a follow-up generation in a new session linked to the old one (`follow_up`)."""

    event: LiveEvent | None = None
    follow_up: LiveSession | None = None
    next_url: str = ""  # where a page without htmx goes after a follow-up started


type FollowUp = Callable[[LiveSession, str, object], SteerOutcome]
type Gate = Callable[[LiveSession], str]
_STEERABLE: dict[str, FollowUp | None] = {}
_GATES: dict[str, Gate] = {}


def register_steerable(
    kind: str, follow_up: FollowUp | None = None, gate: Gate | None = None
) -> None:
    """Sessions of `kind` are written by tasks that take steers (LiveWriter.take_steers);
    `follow_up(session, text, user)` starts a new turn when a steer arrives after the end;
    `gate(session)` says why a steer to the running session may not be taken ("" when it
    may), e.g. the team's budget for the model call each steer makes."""
    _STEERABLE[kind] = follow_up
    if gate is None:
        _GATES.pop(kind, None)
    else:
        _GATES[kind] = gate


def is_steerable(session: LiveSession) -> bool:
    return session.kind in _STEERABLE


def clean_instruction(text: str) -> str:
    """One line, single spaces: what the log, the prompt and every tab show."""
    return " ".join((text or "").split())


def steer(session_id, text: str, user=None) -> SteerOutcome:
    """Append a `steer` event to a running session (its task picks it up at the next token
    boundary) or, after the end, start the session kind's follow-up turn. A refused steer
    (SteerRefused, in words) appends nothing and counts nothing."""
    text = clean_instruction(text)
    if not text:
        raise SteerRefused("Write an instruction, e.g. “shorter”.")
    if len(text) > STEER_MAX_CHARS:
        raise SteerRefused(
            f"An instruction is at most {STEER_MAX_CHARS} characters; this one has {len(text)}."
        )
    with transaction.atomic():
        session = LiveSession.objects.select_for_update().get(pk=session_id)
        if session.kind not in _STEERABLE:
            raise SteerRefused("This kind of work cannot be steered.")
        if session.status == Status.ACTIVE:
            if session.cancel_requested_at is not None:
                raise SteerRefused("This generation is stopping; it can no longer be steered.")
            sent = LiveEvent.objects.filter(session=session, type=STEER).count()
            if sent >= STEERS_PER_SESSION:
                raise SteerRefused(
                    f"This generation has had {sent} instructions, the most it takes. "
                    "Let it finish, then ask for a revision."
                )
            gate = _GATES.get(session.kind)
            reason = gate(session) if gate else ""
            if reason:
                raise SteerRefused(reason)
            by = getattr(user, "display_name", "") if user else ""
            rows = append(session.pk, [(STEER, {"text": text, "by": by})])
            transaction.on_commit(lambda: notify.bump_steer(session.pk))
            return SteerOutcome(event=rows[0])
    follow_up = _STEERABLE.get(session.kind)
    if follow_up is None:
        raise SteerRefused("This generation has ended; it can no longer be steered.")
    return follow_up(session, text, user)


def _arm_watchdog(session_id) -> None:
    from .tasks import cancel_watchdog

    try:
        cancel_watchdog.apply_async((str(session_id),), countdown=conf.cancel_grace())
    except kombu.exceptions.OperationalError:  # the broker is down: the reaper ends it later
        log.exception("live: could not arm the cancel watchdog for %s", session_id)


def enforce_cancel(session_id) -> bool:
    """The watchdog: if the worker ignored a stop, revoke its task and end the session."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None or session.status != Status.ACTIVE:
        return False
    if session.celery_task_id:
        from planning.celery import app

        app.control.revoke(session.celery_task_id, terminate=True, signal="SIGKILL")
    return end_session(session_id, Status.CANCELLED, {"forced": True})


def reap_stale_sessions(max_silence: float | None = None) -> int:
    """End active sessions whose worker has been silent too long as failed."""
    silence = conf.stale_after() if max_silence is None else max_silence
    cutoff = timezone.now() - timedelta(seconds=silence)
    ended = 0
    # a session that was never claimed counts from its creation
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    stale = LiveSession.objects.filter(silent, status=Status.ACTIVE)
    for session_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # re-check under the lock: a write may have landed since the scan
            locked = stale.select_for_update().filter(pk=session_id).exists()
            if locked and end_session(
                session_id,
                Status.FAILED,
                {"error": f"The worker stopped responding (silent for over {silence:g} s)."},
            ):
                ended += 1
    return ended


def compact_finished_sessions(older_than_days: float | None = None) -> int:
    """Replace the token events of long-finished sessions by one `text` event per stream.

    Lifecycle events and the final text stay; a stream cursor inside the compacted range
    then gets a `reset` event (see views.events).
    """
    days = conf.retention_days() if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    done = 0
    candidates = LiveSession.objects.filter(
        status__in=[Status.COMPLETED, Status.CANCELLED, Status.FAILED], finished_at__lt=cutoff
    ).values_list("pk", flat=True)
    for session_id in candidates:
        with transaction.atomic():
            session = LiveSession.objects.select_for_update().get(pk=session_id)
            log_ = list(
                LiveEvent.objects.filter(session=session, type__in=["token", "started"]).order_by(
                    "seq"
                )
            )
            tokens = [e for e in log_ if e.type == "token"]
            if not tokens:
                continue
            streams: dict[str, list[LiveEvent]] = {}
            for event in log_:
                if event.type == "started" and event.data.get("epoch", 1) > 1:
                    streams.clear()  # the output restarted with a redelivered task
                elif event.type == "token":
                    streams.setdefault(event.data.get("stream", "main"), []).append(event)
            LiveEvent.objects.filter(session=session, type="token").delete()
            LiveEvent.objects.bulk_create(
                LiveEvent(
                    session=session,
                    seq=events[-1].seq,  # reuse the last token's seq: the log stays ordered
                    type="text",
                    data={"text": "".join(e.data.get("text", "") for e in events)}
                    | ({} if stream == "main" else {"stream": stream}),
                    created_at=events[-1].created_at,
                )
                for stream, events in streams.items()
            )
            LiveSession.objects.filter(pk=session.pk).update(compacted_through=tokens[-1].seq)
            done += 1
    return done


@dataclass
class Snapshot:
    """What a page renders before it opens the stream at ?after=`seq`."""

    session: LiveSession
    seq: int
    texts: dict[str, str] = field(default_factory=dict)
    events: list[LiveEvent] = field(default_factory=list)  # everything except tokens

    @property
    def text(self) -> str:
        return self.texts.get("main", "")


def snapshot(session: LiveSession) -> Snapshot:
    """The session's history up to its current last seq, in two queries."""
    session = LiveSession.objects.select_related("team").get(pk=session.pk)
    snap = Snapshot(session=session, seq=session.last_seq)
    for event in LiveEvent.objects.filter(session=session, seq__lte=session.last_seq).order_by(
        "seq"
    ):
        if event.type in ("token", "text"):
            stream = event.data.get("stream", "main")
            snap.texts[stream] = snap.texts.get(stream, "") + event.data.get("text", "")
            continue
        if event.type == "started" and event.data.get("epoch", 1) > 1:
            snap.texts.clear()  # a redelivered task starts its output again
        snap.events.append(event)
    return snap


def start_demo(team, user=None, *, words: int = 600, delay: float = 0.03, **options):
    """Create a demo session and start its fake generation on a worker."""
    from .tasks import demo_generation

    with transaction.atomic():
        session = create_session(team, kind="demo", title="Demo generation", user=user)
        start(session, demo_generation, str(session.pk), words, delay, **options)
    return session
