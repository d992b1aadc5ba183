"""The weekly digest: every Monday morning (team time) each member gets what is due, what is
overdue and what the team completed in the last week.

When a team's `next_digest_at` comes, one Digest row per member is inserted for that week
(unique per team, member and week) in the same transaction that moves `next_digest_at` to the
next Monday, so racing ticks claim each digest once. Digests are then sent and recorded one
by one like reminders (delivery.py): a failed one is retried with backoff, a crash re-sends
at most the one in flight (same Message-ID).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from planning.teams.models import Membership

from . import delivery
from .models import OPEN_STATES, Digest, Occurrence, State, TeamCadenceSettings
from .schedule import next_digest_at

log = logging.getLogger(__name__)

TEAM_BATCH = 200


_INSERT_SQL = """
INSERT INTO cadences_digest
    (team_id, user_id, week, idempotency_key, status, attempts, last_error, next_attempt_at,
     claim_token, attempted_at, created_at)
VALUES {values}
ON CONFLICT DO NOTHING
RETURNING id
"""

_RECLAIM_SQL = """
UPDATE cadences_digest SET status = 'claimed', attempts = attempts + 1,
       next_attempt_at = %s, claim_token = %s, attempted_at = %s
WHERE id IN (
    SELECT id FROM cadences_digest
    WHERE status <> 'sent' AND next_attempt_at <= %s
    ORDER BY next_attempt_at LIMIT %s
    FOR UPDATE SKIP LOCKED
) AND status <> 'sent' AND next_attempt_at <= %s
RETURNING id
"""


def claim_digests(now: datetime) -> list:
    """Claim this week's digests of the teams whose digest time has come (one Digest row per
    member, unique per week, so racing ticks claim each once) and the digests whose lease or
    retry time has passed. Returns services.Claim objects (rows: (id, "digest"))."""
    from .services import Claim

    new = Claim(token=uuid.uuid4())
    lease_end = now + delivery.lease()
    with transaction.atomic():
        due = list(
            TeamCadenceSettings.objects.filter(weekly_digest=True, next_digest_at__lte=now)
            .select_related("team")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_digest_at")[:TEAM_BATCH]
        )
        if due:
            weeks = {s.team_id: timezone.localtime(s.next_digest_at, s.team.tz).date() for s in due}
            members = Membership.objects.filter(
                team_id__in=weeks, user__is_active=True
            ).values_list("team_id", "user_id")
            rows = [(team_id, user_id, weeks[team_id]) for team_id, user_id in members]
            with connection.cursor() as cursor:
                for start in range(0, len(rows), 1000):
                    chunk = rows[start : start + 1000]
                    values = ",".join(["(%s,%s,%s,%s,'claimed',1,'',%s,%s,%s,%s)"] * len(chunk))
                    params: list = []
                    for team_id, user_id, week in chunk:
                        params += [team_id, user_id, week, uuid.uuid4()]
                        params += [lease_end, new.token, now, now]
                    cursor.execute(_INSERT_SQL.format(values=values), params)
                    new.rows += [(r[0], delivery.DIGEST) for r in cursor.fetchall()]
            for s in due:
                s.next_digest_at = next_digest_at(s.team.tz, now)
            TeamCadenceSettings.objects.bulk_update(due, ["next_digest_at"])
    retry = Claim(token=uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(_RECLAIM_SQL, [lease_end, retry.token, now, now, TEAM_BATCH, now])
        retry.rows = [(r[0], delivery.DIGEST) for r in cursor.fetchall()]
    return [c for c in (new, retry) if c.rows]


def _sections(team_ids: set[int], now: datetime) -> dict[int, dict[str, list]]:
    week_ago, week_ahead = now - timedelta(days=7), now + timedelta(days=7)
    occurrences = (
        Occurrence.objects.filter(cadence__team_id__in=team_ids, cadence__paused=False)
        .filter(
            Q(state__in=OPEN_STATES, due_at__lt=week_ahead)
            | Q(state=State.DONE, completed_at__gte=week_ago)
        )
        .select_related("cadence", "completed_by")
        .order_by("due_at")
    )
    by_team: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for occ in occurrences:
        bucket = occ.state if occ.state == State.DONE else occ.current_state(now)
        by_team[occ.cadence.team_id][bucket].append(occ)
    return by_team


def _digest_email(digest: Digest, sections: dict[str, list]) -> EmailMessage:
    team = digest.team
    body = render_to_string(
        "cadences/email/digest.txt",
        {
            "team": team,
            "user": digest.user,
            "overdue": sections[State.OVERDUE],
            "due": sections[State.DUE],
            "upcoming": sections[State.UPCOMING],
            "done": sections[State.DONE],
            "url": settings.SITE_URL.rstrip("/")
            + reverse("cadences:cadence_list", kwargs={"team": team.slug}),
        },
    )
    return EmailMessage(
        subject=f"[{team.name}] Your week in cadences",
        body=body,
        to=[digest.user.email],
        headers=delivery.idempotency_headers(str(digest.idempotency_key)),
    )


def deliver_digests(ids: list[int], token: uuid.UUID) -> delivery.Outcome:
    """Send claimed digests one by one, recording each (retried with backoff on failure)."""
    attempt = delivery.Attempt(Digest, token)
    owned = attempt.take(ids)
    attempt.outcome.skipped += len(ids) - len(owned)
    if not owned:
        return attempt.outcome
    digests = list(
        Digest.objects.filter(pk__in=owned).select_related("team", "user").order_by("pk")
    )
    by_team = _sections({d.team_id for d in digests}, timezone.now())
    empty = [d.pk for d in digests if not by_team.get(d.team_id)]
    attempt.drop(empty)  # nothing due, overdue or done this week: no mail
    items = [(d.pk, _builder(d, by_team[d.team_id])) for d in digests if by_team.get(d.team_id)]
    delivery.send_emails(attempt, items, label="Digest")
    return attempt.outcome


def _builder(digest: Digest, sections: dict[str, list]):
    return lambda: _digest_email(digest, sections)
