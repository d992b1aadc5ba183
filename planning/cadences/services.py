"""Cadence operations: materialising occurrences, the beat tick, completion.

The tick (run every minute by Celery beat) works in batches, so its query count depends on
the number of reminders it claims, never on the number of cadences:

1. materialise: cadences whose cursor is due get their next occurrence (one SELECT, one
   INSERT … ON CONFLICT DO NOTHING, one UPDATE);
2. refresh states: upcoming -> due -> overdue (two UPDATEs);
3. claim: occurrences whose next reminder is due (SELECT … FOR UPDATE SKIP LOCKED) become
   Reminder rows through INSERT … ON CONFLICT DO NOTHING RETURNING id — the unique row
   (occurrence, kind, seq, recipient, channel) is the claim, so a message is claimed once
   whatever number of ticks race; reminders whose lease or retry time has passed are
   re-claimed by one conditional UPDATE … RETURNING. Each claim carries a new token;
4. send: in-app messages at once (one transaction), email and webhooks in chunks, each chunk
   its own Celery task, each message recorded as it goes, conditionally on the token (see
   delivery.py for what exactly once means per channel).

One rule decides what a completed occurrence still gets: a reminder claimed while the
occurrence was open goes out on every channel, even if the occurrence is completed while it
is being sent; once completed (or paused), nothing new is claimed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from planning.teams.models import Membership, Role, Team

from . import delivery
from . import schedule as sched
from .models import (
    OPEN_STATES,
    Cadence,
    Channel,
    Kind,
    Occurrence,
    ReminderKind,
    State,
    TeamCadenceSettings,
    overdue_at_for,
    timeline_for,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = delivery.MAX_ATTEMPTS
CADENCE_BATCH = 2000  # cadences materialised per tick
OCCURRENCE_BATCH = 5000  # occurrences planned per tick
RETRY_BATCH = 1000
backoff = delivery.backoff


@dataclass
class Claim:
    """Rows one tick won, all under one token: (id, channel) pairs."""

    token: uuid.UUID
    rows: list[tuple[int, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- materialising
def _advance(cadence: Cadence, now: datetime, rows: list[Occurrence]) -> None:
    """Store occurrences whose time has come and move the cursor (in memory)."""
    schedule = cadence.schedule()
    cursor, mat = cadence.next_due_at, cadence.materialize_at
    tz = cadence.team.tz
    count = 0
    while cursor is not None and mat is not None and mat <= now and count < sched.MAX_CATCH_UP:
        overdue_at = overdue_at_for(cadence, cursor, tz)
        timeline = timeline_for(cadence, cursor, overdue_at, tz)
        rows.append(
            Occurrence(
                cadence_id=cadence.pk,
                due_at=cursor,
                overdue_at=overdue_at,
                next_reminder_at=timeline.main_points()[0][0],
            )
        )
        mat, cursor = cursor, schedule.next_after(cursor)
        count += 1
    cadence.next_due_at, cadence.materialize_at = cursor, (mat if cursor else None)


def materialise(now: datetime, *, cadences=None) -> int:
    """Store the next occurrence of every cadence whose cursor is due; return rows stored."""
    qs = cadences if cadences is not None else Cadence.objects.all()
    batch = list(
        qs.filter(paused=False, materialize_at__lte=now)
        .select_related("team")
        .order_by("materialize_at")[:CADENCE_BATCH]
    )
    if not batch:
        return 0
    rows: list[Occurrence] = []
    for cadence in batch:
        try:
            _advance(cadence, now, rows)
        except sched.ScheduleError as exc:  # e.g. the team's zone vanished: stop, don't spin
            log.warning("cadence %s: %s", cadence.pk, exc.message)
            cadence.next_due_at = cadence.materialize_at = None
    with transaction.atomic():
        Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
        Cadence.objects.bulk_update(batch, ["next_due_at", "materialize_at"])
    return len(rows)


def reschedule(cadence: Cadence, now: datetime | None = None) -> None:
    """After a change of rule, time, offsets, grace or pause: realign stored occurrences.

    Future occurrences the new rule still produces are kept (their reminders stay sent);
    others are removed; open occurrences have their reminders re-planned.
    """
    now = now or timezone.now()
    with transaction.atomic():
        cadence = Cadence.objects.select_for_update().select_related("team").get(pk=cadence.pk)
        schedule = cadence.schedule()
        future = Occurrence.objects.filter(cadence=cadence, state=State.UPCOMING, due_at__gt=now)
        existing = sorted(future.values_list("due_at", flat=True))
        wanted = set(schedule.after(now, len(existing) + 1))
        future.exclude(due_at__in=wanted).delete()
        kept = [d for d in existing if d in wanted]
        if cadence.paused:
            cadence.next_due_at = cadence.materialize_at = None
        elif kept:
            cadence.next_due_at = schedule.next_after(kept[-1])
            cadence.materialize_at = kept[-1] if cadence.next_due_at else None
        else:
            cadence.next_due_at = schedule.next_after(now)
            cadence.materialize_at = now if cadence.next_due_at else None
        cadence.save(update_fields=["next_due_at", "materialize_at"])
        open_occurrences = list(Occurrence.objects.filter(cadence=cadence, state__in=OPEN_STATES))
        for occ in open_occurrences:
            occ.overdue_at = overdue_at_for(cadence, occ.due_at)
            occ.next_reminder_at = None if cadence.paused else now
        Occurrence.objects.bulk_update(open_occurrences, ["overdue_at", "next_reminder_at"])
        materialise(now, cadences=Cadence.objects.filter(pk=cadence.pk))
        refresh_states(now, Q(cadence=cadence))


def refresh_states(now: datetime, where: Q | None = None) -> None:
    qs = Occurrence.objects.filter(where or Q())
    qs.filter(state=State.UPCOMING, due_at__lte=now, overdue_at__gt=now).update(state=State.DUE)
    qs.filter(state__in=[State.UPCOMING, State.DUE], overdue_at__lte=now).update(
        state=State.OVERDUE
    )
    qs.filter(state__in=[State.DUE, State.OVERDUE], due_at__gt=now).update(state=State.UPCOMING)


# --------------------------------------------------------------------------- claiming
def _recipients_by_team(team_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = Membership.objects.filter(team_id__in=team_ids, user__is_active=True).values_list(
        "team_id", "user_id", "role"
    )
    for team_id, user_id, role in rows:
        out[team_id].append((user_id, role))
    return out


def recipients_for(
    cadence: Cadence, kind: str, members: list[tuple[int, str]], people: set[int]
) -> list[int]:
    if kind == ReminderKind.ESCALATION:
        return [u for u, role in members if role == Role.OWNER]
    if cadence.recipients == "role":
        return [u for u, role in members if role == cadence.recipient_role]
    if cadence.recipients == "people":
        return [u for u, _ in members if u in people]
    return [u for u, _ in members]


_INSERT_SQL = """
INSERT INTO cadences_reminder
    (occurrence_id, kind, seq, recipient_id, channel, idempotency_key, status, attempts,
     last_error, next_attempt_at, claim_token, attempted_at, created_at)
SELECT o, k, s, r, c, gen_random_uuid(), 'claimed', 1, '', %s, %s, %s, %s
FROM unnest(%s::bigint[], %s::varchar[], %s::int[], %s::bigint[], %s::varchar[]) AS t(o, k, s, r, c)
ON CONFLICT DO NOTHING
RETURNING id, channel
"""


def _insert_claims(rows: list[tuple], now: datetime) -> Claim:
    """One INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING id, however many
    rows: the ids returned are the claims we won."""
    claim = Claim(token=uuid.uuid4())
    if not rows:
        return claim
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [now + delivery.lease(), claim.token, now, now, *columns])
        claim.rows = cursor.fetchall()
    return claim


def claim_new(now: datetime) -> Claim:
    """Turn due reminder points into claimed Reminder rows; return the rows this call won."""
    with transaction.atomic():
        occurrences = list(
            Occurrence.objects.filter(
                next_reminder_at__lte=now, state__in=OPEN_STATES, cadence__paused=False
            )
            .select_related("cadence__team")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_reminder_at")[:OCCURRENCE_BATCH]
        )
        if not occurrences:
            return Claim(token=uuid.uuid4())
        cadence_ids = {o.cadence_id for o in occurrences}
        team_ids = {o.cadence.team_id for o in occurrences}
        members = _recipients_by_team(team_ids)
        people: dict[int, set[int]] = defaultdict(set)
        for cadence_id, user_id in Cadence.people.through.objects.filter(
            cadence_id__in=cadence_ids
        ).values_list("cadence_id", "user_id"):
            people[cadence_id].add(user_id)
        webhooks = set(
            TeamCadenceSettings.objects.filter(team_id__in=team_ids)
            .exclude(webhook_url="")
            .values_list("team_id", flat=True)
        )
        rows: list[tuple] = []
        for occ in sorted(occurrences, key=lambda o: (o.cadence.team_id, o.pk)):
            cadence = occ.cadence
            timeline = occ.timeline(cadence)
            for kind, seq in timeline.due_now(now):
                users = recipients_for(cadence, kind, members[cadence.team_id], people[cadence.pk])
                for user_id in users:
                    rows.append((occ.pk, kind, seq, user_id, Channel.EMAIL))
                    rows.append((occ.pk, kind, seq, user_id, Channel.INAPP))
                if cadence.team_id in webhooks:
                    rows.append((occ.pk, kind, seq, None, Channel.WEBHOOK))
            occ.next_reminder_at = timeline.next_point(now)
        claim = _insert_claims(rows, now)
        Occurrence.objects.bulk_update(occurrences, ["next_reminder_at"])
    return claim


_RECLAIM_SQL = """
UPDATE cadences_reminder SET status = 'claimed', attempts = attempts + 1,
       next_attempt_at = %s, claim_token = %s, attempted_at = %s
WHERE id IN (
    SELECT id FROM cadences_reminder
    WHERE status <> 'sent' AND next_attempt_at <= %s
    ORDER BY next_attempt_at LIMIT %s
    FOR UPDATE SKIP LOCKED
) AND status <> 'sent' AND next_attempt_at <= %s
RETURNING id, channel
"""


def reclaim(now: datetime) -> Claim:
    """Re-claim reminders whose lease ran out (crash) or whose retry time came (failure),
    under a new token: whoever held the old one can no longer send or record them."""
    claim = Claim(token=uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(
            _RECLAIM_SQL, [now + delivery.lease(), claim.token, now, now, RETRY_BATCH, now]
        )
        claim.rows = sorted(cursor.fetchall())
    return claim


# --------------------------------------------------------------------------- the tick
Dispatch = Callable[[str, list[int], uuid.UUID], None]


def send_now(channel: str, ids: list[int], token: uuid.UUID) -> None:
    """Dispatch in this process (tests, `manage.py` use); the beat task enqueues instead."""
    delivery.deliver(channel, ids, token)


def fan_out(claims: list[Claim], dispatch: Dispatch) -> delivery.Outcome:
    """In-app messages at once (one transaction, never behind a mail server); email and
    webhooks in chunks of CADENCE_SEND_CHUNK, each chunk its own task."""
    outcome = delivery.Outcome()
    size = settings.CADENCE_SEND_CHUNK
    for claim in claims:
        by_channel: dict[str, list[int]] = defaultdict(list)
        for pk, channel in claim.rows:
            by_channel[channel].append(pk)
        if by_channel.get(Channel.INAPP):
            outcome += delivery.deliver(Channel.INAPP, by_channel.pop(Channel.INAPP), claim.token)
        for channel, ids in by_channel.items():
            for start in range(0, len(ids), size):
                dispatch(channel, ids[start : start + size], claim.token)
    return outcome


def tick(now: datetime | None = None, dispatch: Dispatch | None = None) -> dict:
    """One beat: materialise, refresh states, claim, send in-app, hand out email/webhook
    chunks (to `dispatch`; in this process by default), claim digests."""
    now = now or timezone.now()
    dispatch = dispatch or send_now
    stored = materialise(now)
    refresh_states(now)
    claims = [claim_new(now), reclaim(now)]
    from .digest import claim_digests

    digests = claim_digests(now)
    inapp = fan_out(claims, dispatch)
    for claim in digests:
        size = settings.CADENCE_SEND_CHUNK
        ids = [pk for pk, _ in claim.rows]
        for start in range(0, len(ids), size):
            dispatch(delivery.DIGEST, ids[start : start + size], claim.token)
    return {
        "occurrences": stored,
        "claimed": sum(len(c.rows) for c in claims),
        "in_app": inapp.sent,
        "digests": sum(len(c.rows) for c in digests),
    }


# --------------------------------------------------------------------------- completion
def _finish(occurrence: Occurrence, state: str, by, note: str, when: datetime) -> Occurrence:
    occurrence.state = state
    occurrence.completed_by = by
    occurrence.completed_at = when
    occurrence.note = note
    occurrence.next_reminder_at = None
    occurrence.save(
        update_fields=["state", "completed_by", "completed_at", "note", "next_reminder_at"]
    )
    return occurrence


def mark(occurrence: Occurrence, state: str, *, by=None, note: str = "", when=None) -> Occurrence:
    """Mark an occurrence done or skipped by hand (a skip needs a note)."""
    if state not in (State.DONE, State.SKIPPED):
        raise ValueError(state)
    if state == State.SKIPPED and not note.strip():
        raise ValidationError({"note": "Say why this one is skipped."})
    with transaction.atomic():
        occurrence = Occurrence.objects.select_for_update().get(pk=occurrence.pk)
        if not occurrence.is_open:
            raise ValidationError(
                f"This occurrence is already {occurrence.get_state_display().lower()}."
            )
        return _finish(occurrence, state, by, note.strip(), when or timezone.now())


def complete_activity(
    team: Team, kind: str, when: datetime | None = None, by=None, note: str = ""
) -> Occurrence | None:
    """Called by other modules when an activity finishes (an audit run, a closed review …).

    Marks the matching occurrence done: the earliest due or overdue occurrence of the team's
    cadences of this kind whose due time is not after `when` (plus the grace of one reminder
    lead: an activity finished a few days early counts for the coming occurrence). Returns the
    occurrence, or None when nothing was waiting.
    """
    when = when or timezone.now()
    kind = Kind(kind)
    with transaction.atomic():
        candidates = (
            Occurrence.objects.select_for_update(of=("self",))
            .for_team(team)
            .filter(cadence__kind=kind, state__in=OPEN_STATES)
            .select_related("cadence")
            .order_by("due_at")
        )
        for occ in candidates:
            lead = timedelta(days=max(occ.cadence.reminder_days or [0]))
            if occ.due_at - lead <= when:
                return _finish(occ, State.DONE, by, note or "Completed in Exponent.", when)
    return None


# --------------------------------------------------------------------------- defaults
DEFAULT_CADENCES = [
    (Kind.CAPABILITY_AUDIT, "Quarterly capability audit", "quarter_first_monday", time(10), [7, 1]),
    (
        Kind.PREDICTION_REVIEW,
        "Quarterly prediction review",
        "quarter_first_tuesday",
        time(10),
        [7, 1],
    ),
    (Kind.QUARTERLY_REVIEW, "Quarterly review", "quarter_second_monday", time(10), [7, 1]),
    (Kind.RETROSPECTIVE, "Monthly retrospective", "monthly_last_working_thursday", time(15), [2]),
]


def create_default_cadences(team: Team) -> list[Cadence]:
    """The framework's rhythm for a new team (editable later); the cadences section's
    new-team hook (planning/sections.py)."""
    TeamCadenceSettings.objects.get_or_create(team=team)
    now = timezone.now()
    today = team.local_date(now)
    created = []
    for kind, title, preset, due_time, days in DEFAULT_CADENCES:
        cadence = Cadence(
            team=team,
            kind=kind,
            title=title,
            preset=preset,
            rrule=sched.preset_rrule(preset, team.fiscal_year_start_month),
            starts_on=today,
            due_time=due_time,
            reminder_days=days,
            grace_days=3,
            escalate_after_days=7,
            nag_every_days=3,
        )
        cadence.next_due_at = cadence.schedule(team).next_after(now)
        cadence.materialize_at = now
        created.append(cadence)
    Cadence.objects.bulk_create(created)
    materialise(now, cadences=Cadence.objects.for_team(team))
    return created
