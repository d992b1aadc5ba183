"""Dashboard summary: this quarter's review (start, continue or see the plan) in one query."""

from __future__ import annotations

from planning.quarters import current_quarter
from planning.teams.models import Team

from .models import Review


def summary(team: Team) -> dict:
    quarter = str(current_quarter(team))
    reviews = list(Review.objects.for_team(team).order_by("-quarter")[:2])
    current = next((r for r in reviews if r.quarter == quarter), None)
    last_closed = next((r for r in reviews if r.is_closed and r.quarter != quarter), None)
    return {
        "template": "reviews/dashboard_summary.html",
        "quarter": quarter,
        "current": current,
        "last_closed": last_closed,
        "team": team,
    }
