"""Cadence operations: materialising occurrences, the beat tick, completion.

The tick (run every minute by Celery beat) works in batches, so its query count depends on
the number of reminders it sends, never on the number of cadences:

1. materialise: cadences whose cursor is due get their next occurrence (one SELECT, one
   INSERT … ON CONFLICT DO NOTHING, one UPDATE);
2. refresh states: upcoming -> due -> overdue (two UPDATEs);
3. claim: occurrences whose next reminder is due (SELECT … FOR UPDATE SKIP LOCKED) become
   Reminder rows through INSERT … ON CONFLICT DO NOTHING RETURNING id — the unique row
   (occurrence, kind, seq, recipient, channel) is the claim, so a message is claimed once
   whatever number of ticks race; reminders whose lease or retry time has passed are
   re-claimed by one conditional UPDATE … RETURNING;
4. send each claimed reminder on its channel (a failing channel never blocks another);
5. record the outcome. A crash between 4 and 5 leaves the row claimed; once its lease ends
   it is sent again with the same idempotency key (in-app: the key is unique, so no second
   notification; email: same Message-ID and X-Exponent-Idempotency-Key header; webhook: the
   same header).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from planning.teams.models import Membership, Role, Team

from . import schedule as sched
from .models import (
    OPEN_STATES,
    Cadence,
    Channel,
    Kind,
    Notification,
    Occurrence,
    Reminder,
    ReminderKind,
    ReminderStatus,
    State,
    TeamCadenceSettings,
    timeline_for,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claimed reminder not recorded by then is sent again
MAX_ATTEMPTS = 6
CADENCE_BATCH = 2000  # cadences materialised per tick
OCCURRENCE_BATCH = 5000  # occurrences planned per tick
RETRY_BATCH = 1000
INSERT_CHUNK = 1000
WEBHOOK_TIMEOUT = 5.0


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 16 minutes … after the 1st, 2nd, 3rd … failed attempt."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


# --------------------------------------------------------------------------- materialising
def _advance(cadence: Cadence, now: datetime, rows: list[Occurrence]) -> None:
    """Store occurrences whose time has come and move the cursor (in memory)."""
    schedule = cadence.schedule()
    cursor, mat = cadence.next_due_at, cadence.materialize_at
    grace = timedelta(days=cadence.grace_days)
    count = 0
    while cursor is not None and mat is not None and mat <= now and count < sched.MAX_CATCH_UP:
        overdue_at = cursor + grace
        timeline = timeline_for(cadence, cursor, overdue_at)
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
        grace = timedelta(days=cadence.grace_days)
        open_occurrences = list(Occurrence.objects.filter(cadence=cadence, state__in=OPEN_STATES))
        for occ in open_occurrences:
            occ.overdue_at = occ.due_at + grace
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
     last_error, next_attempt_at, created_at)
VALUES {values}
ON CONFLICT DO NOTHING
RETURNING id
"""


def _insert_claims(rows: list[tuple], now: datetime) -> list[int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the ids are the claims we won."""
    claimed: list[int] = []
    lease_end = now + LEASE
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            values = ",".join(["(%s,%s,%s,%s,%s,%s,'claimed',1,'',%s,%s)"] * len(chunk))
            params: list = []
            for occurrence_id, kind, seq, recipient_id, channel in chunk:
                params += [occurrence_id, kind, seq, recipient_id, channel, uuid.uuid4()]
                params += [lease_end, now]
            cursor.execute(_INSERT_SQL.format(values=values), params)
            claimed += [r[0] for r in cursor.fetchall()]
    return claimed


def claim_new(now: datetime) -> list[int]:
    """Turn due reminder points into claimed Reminder rows; return the ids this call won."""
    with transaction.atomic():
        occurrences = list(
            Occurrence.objects.filter(
                next_reminder_at__lte=now, state__in=OPEN_STATES, cadence__paused=False
            )
            .select_related("cadence")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_reminder_at")[:OCCURRENCE_BATCH]
        )
        if not occurrences:
            return []
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
        for occ in occurrences:
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
        claimed = _insert_claims(rows, now)
        Occurrence.objects.bulk_update(occurrences, ["next_reminder_at"])
    return claimed


_RECLAIM_SQL = """
UPDATE cadences_reminder SET status = 'claimed', attempts = attempts + 1,
       next_attempt_at = %s
WHERE id IN (
    SELECT id FROM cadences_reminder
    WHERE status <> 'sent' AND next_attempt_at <= %s
    ORDER BY next_attempt_at LIMIT %s
    FOR UPDATE SKIP LOCKED
) AND status <> 'sent' AND next_attempt_at <= %s
RETURNING id
"""


def reclaim(now: datetime) -> list[int]:
    """Re-claim reminders whose lease ran out (crash) or whose retry time came (failure)."""
    with connection.cursor() as cursor:
        cursor.execute(_RECLAIM_SQL, [now + LEASE, now, RETRY_BATCH, now])
        return [r[0] for r in cursor.fetchall()]


# --------------------------------------------------------------------------- sending
@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)


def _when(occ: Occurrence, tz) -> str:
    return timezone.localtime(occ.due_at, tz).strftime("%a %-d %b %Y, %H:%M")


def message_text(reminder: Reminder, now: datetime) -> str:
    occ = reminder.occurrence
    cadence = occ.cadence
    when = _when(occ, cadence.team.tz)
    title = cadence.title
    if reminder.kind == ReminderKind.BEFORE:
        days = max((occ.due_at - now).days, 0)
        ahead = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return f"{title} is due {ahead} ({when})."
    if reminder.kind == ReminderKind.DUE:
        return f"{title} is due now ({when})."
    if reminder.kind == ReminderKind.ESCALATION:
        days = max((now - occ.due_at).days, 0)
        return f"Escalation: {title} is {days} days overdue (was due {when})."
    nag = f" (reminder {reminder.seq + 1})" if reminder.seq else ""
    return f"{title} is overdue: it was due {when}{nag}."


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _email(reminder: Reminder, text: str) -> EmailMessage:
    cadence = reminder.occurrence.cadence
    key = str(reminder.idempotency_key)
    body = render_to_string(
        "cadences/email/reminder.txt",
        {
            "text": text,
            "cadence": cadence,
            "team": cadence.team,
            "activity_url": _absolute(cadence.activity_path()),
            "cadence_url": _absolute(cadence.get_absolute_url()),
            "user": reminder.recipient,
        },
    )
    return EmailMessage(
        subject=f"[{cadence.team.name}] {text}",
        body=body,
        to=[reminder.recipient.email],
        headers={
            "X-Exponent-Idempotency-Key": key,
            # The same Message-ID on a retry lets mail systems drop the duplicate.
            "Message-ID": f"<{key}@exponent.reminder>",
        },
    )


def _send_emails(reminders: list[Reminder], texts: dict[int, str], outcome: Outcome) -> None:
    if not reminders:
        return
    try:
        mailer = mailers.default
        mailer.open()
    except Exception as exc:  # noqa: BLE001 - a mail server outage fails only this channel
        for r in reminders:
            outcome.failed[r.pk] = f"Email: {exc}"
        return
    try:
        for r in reminders:
            try:
                mailer.send_messages([_email(r, texts[r.pk])])
                outcome.sent.append(r.pk)
            except Exception as exc:  # noqa: BLE001
                outcome.failed[r.pk] = f"Email: {exc}"
    finally:
        try:
            mailer.close()
        except Exception:  # noqa: BLE001  # pragma: no cover
            log.exception("closing the mail connection failed")


def _send_inapp(reminders: list[Reminder], texts: dict[int, str], outcome: Outcome) -> None:
    if not reminders:
        return
    rows = [
        Notification(
            team_id=r.occurrence.cadence.team_id,
            user_id=r.recipient_id,
            text=texts[r.pk][:300],
            url=r.occurrence.cadence.activity_path(),
            idempotency_key=r.idempotency_key,
        )
        for r in reminders
    ]
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(rows, ignore_conflicts=True)
    except Exception as exc:  # noqa: BLE001
        for r in reminders:
            outcome.failed[r.pk] = f"In-app: {exc}"
        return
    outcome.sent += [r.pk for r in reminders]


def _send_webhooks(
    reminders: list[Reminder], texts: dict[int, str], urls: dict[int, str], outcome: Outcome
) -> None:
    if not reminders:
        return
    broken: dict[str, str] = {}  # one unreachable URL fails its messages without waiting again
    with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        for r in reminders:
            cadence = r.occurrence.cadence
            url = urls.get(cadence.team_id)
            if not url:
                outcome.dropped.append(r.pk)
                continue
            if url in broken:
                outcome.failed[r.pk] = broken[url]
                continue
            link = _absolute(cadence.activity_path())
            payload = {"text": f"{texts[r.pk]} <{link}|Open in Exponent>"}
            try:
                response = client.post(
                    url,
                    json=payload,
                    headers={"X-Exponent-Idempotency-Key": str(r.idempotency_key)},
                )
            except httpx.HTTPError as exc:
                broken[url] = outcome.failed[r.pk] = f"Webhook: {type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 400:
                outcome.failed[r.pk] = f"Webhook: HTTP {response.status_code}"
            else:
                outcome.sent.append(r.pk)


def deliver(ids: list[int], now: datetime) -> Outcome:
    outcome = Outcome()
    if not ids:
        return outcome
    reminders = list(
        Reminder.objects.filter(pk__in=ids, status=ReminderStatus.CLAIMED).select_related(
            "occurrence__cadence__team", "recipient"
        )
    )
    by_channel: dict[str, list[Reminder]] = defaultdict(list)
    texts: dict[int, str] = {}
    for r in reminders:
        occ = r.occurrence
        if not occ.is_open or occ.cadence.paused:  # completed or paused since it was claimed
            outcome.dropped.append(r.pk)
            continue
        texts[r.pk] = message_text(r, now)
        by_channel[r.channel].append(r)
    urls = {}
    if by_channel[Channel.WEBHOOK]:
        team_ids = {r.occurrence.cadence.team_id for r in by_channel[Channel.WEBHOOK]}
        urls = dict(
            TeamCadenceSettings.objects.filter(team_id__in=team_ids).values_list(
                "team_id", "webhook_url"
            )
        )
    _send_inapp(by_channel[Channel.INAPP], texts, outcome)
    _send_emails(by_channel[Channel.EMAIL], texts, outcome)
    _send_webhooks(by_channel[Channel.WEBHOOK], texts, urls, outcome)
    _record(outcome, {r.pk: r.attempts for r in reminders}, now)
    return outcome


def _record(outcome: Outcome, attempts: dict[int, int], now: datetime) -> None:
    with transaction.atomic():
        if outcome.sent:
            Reminder.objects.filter(pk__in=outcome.sent).update(
                status=ReminderStatus.SENT, sent_at=now, next_attempt_at=None, last_error=""
            )
        if outcome.dropped:
            Reminder.objects.filter(pk__in=outcome.dropped).delete()
        if outcome.failed:
            failed = []
            for pk, error in outcome.failed.items():
                tries = attempts.get(pk, 1)
                retry = now + backoff(tries) if tries < MAX_ATTEMPTS else None
                failed.append(
                    Reminder(
                        pk=pk,
                        status=ReminderStatus.FAILED,
                        last_error=error[:2000],
                        next_attempt_at=retry,
                    )
                )
            Reminder.objects.bulk_update(failed, ["status", "last_error", "next_attempt_at"])


# --------------------------------------------------------------------------- the tick
def tick(now: datetime | None = None) -> dict:
    """One beat: materialise, refresh states, claim, send, record, digests."""
    now = now or timezone.now()
    stored = materialise(now)
    refresh_states(now)
    claimed = claim_new(now) + reclaim(now)
    outcome = deliver(claimed, now)
    from .digest import send_digests

    digests = send_digests(now)
    return {
        "occurrences": stored,
        "claimed": len(claimed),
        "sent": len(outcome.sent),
        "failed": len(outcome.failed),
        "digests": digests,
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
            .filter(cadence__team=team, cadence__kind=kind, state__in=OPEN_STATES)
            .select_related("cadence")
            .order_by("due_at")
        )
        for occ in candidates:
            lead = timedelta(days=max(occ.cadence.reminder_days or [0]))
            if occ.due_at - lead <= when:
                return _finish(occ, State.DONE, by, note or "Completed in Exponent.", when)
    return None


# --------------------------------------------------------------------------- defaults
DEFAULT_CADENCES = [  # fmt: skip
    (Kind.CAPABILITY_AUDIT, "Quarterly capability audit", "quarter_first_monday", time(10), [7, 1]),
    (
        Kind.PREDICTION_REVIEW,
        "Quarterly prediction review",
        "quarter_first_tuesday",
        time(10),
        [7, 1],
    ),
    (Kind.QUARTERLY_REVIEW, "Quarterly review", "quarter_second_monday", time(10), [7, 1]),
    (Kind.RETROSPECTIVE, "Monthly retrospective", "monthly_last_friday", time(15), [2]),
]


def create_default_cadences(team: Team) -> list[Cadence]:
    """TEAM_CREATED_HOOKS entry: the framework's rhythm for a new team (editable later)."""
    TeamCadenceSettings.objects.get_or_create(team=team)
    now = timezone.now()
    today = timezone.localtime(now, team.tz).date()
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
    materialise(now, cadences=Cadence.objects.filter(team=team))
    return created
