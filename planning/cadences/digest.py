"""The weekly digest: every Monday morning (team time) each member gets what is due, what is
overdue and what the team completed in the last week.

A team's digest is claimed by moving its `next_digest_at` forward (FOR UPDATE SKIP LOCKED) in
the same transaction that selects it, so racing ticks send it once; a crash while sending
loses that week's digest rather than sending it twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from planning.teams.models import Membership

from .models import OPEN_STATES, Occurrence, State, TeamCadenceSettings

log = logging.getLogger(__name__)

DIGEST_WEEKDAY = 0  # Monday
DIGEST_TIME = time(8, 0)
TEAM_BATCH = 200


def next_digest_at(tz: ZoneInfo, now: datetime) -> datetime:
    """The next Monday 08:00 in the team's zone strictly after `now`, in UTC."""
    local = timezone.localtime(now, tz)
    days = (DIGEST_WEEKDAY - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days), DIGEST_TIME, tzinfo=tz)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate.astimezone(ZoneInfo("UTC"))


def send_digests(now: datetime) -> int:
    with transaction.atomic():
        claimed = list(
            TeamCadenceSettings.objects.filter(weekly_digest=True, next_digest_at__lte=now)
            .select_related("team")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_digest_at")[:TEAM_BATCH]
        )
        for s in claimed:
            s.next_digest_at = next_digest_at(s.team.tz, now)
        TeamCadenceSettings.objects.bulk_update(claimed, ["next_digest_at"])
    if not claimed:
        return 0
    teams = {s.team_id: s.team for s in claimed}
    week_ago, week_ahead = now - timedelta(days=7), now + timedelta(days=7)
    occurrences = (
        Occurrence.objects.filter(cadence__team_id__in=teams, cadence__paused=False)
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
    members = Membership.objects.filter(team_id__in=teams, user__is_active=True).select_related(
        "user"
    )
    messages = []
    for m in members:
        sections = by_team.get(m.team_id)
        if not sections:
            continue
        team = teams[m.team_id]
        body = render_to_string(
            "cadences/email/digest.txt",
            {
                "team": team,
                "user": m.user,
                "overdue": sections[State.OVERDUE],
                "due": sections[State.DUE],
                "upcoming": sections[State.UPCOMING],
                "done": sections[State.DONE],
                "url": settings.SITE_URL.rstrip("/")
                + reverse("cadences:cadence_list", kwargs={"team": team.slug}),
            },
        )
        messages.append(
            EmailMessage(
                subject=f"[{team.name}] Your week in cadences", body=body, to=[m.user.email]
            )
        )
    if messages:
        try:
            mailers.default.send_messages(messages)
        except Exception:  # noqa: BLE001 - a digest is best-effort; reminders are not
            log.exception("weekly digest failed")
            return 0
    return len(messages)
