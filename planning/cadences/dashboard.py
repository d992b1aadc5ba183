"""Dashboard card: what is due or overdue now, else the next date."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from .models import OPEN_STATES, Occurrence, State


def summary(team) -> dict:
    now = timezone.now()
    open_occurrences = (
        Occurrence.objects.for_team(team)
        .filter(cadence__paused=False, state__in=OPEN_STATES)
        .select_related("cadence")
        .order_by("due_at")
    )
    rows = list(open_occurrences[:7])  # one query: the due ones first, then the next
    items = [o for o in rows if o.due_at <= now][:6]
    for o in items:
        o.state = o.current_state(now)
    nxt = next((o for o in rows if o.due_at > now), None) if not items else None
    return {
        "template": "cadences/dashboard_summary.html",
        "items": items,
        "next": nxt,
        "url": reverse("cadences:cadence_list", kwargs={"team": team.slug}),
        "team": team,
        "due": sum(1 for o in items if o.state == State.DUE),
    }
