"""The dashboard card: backlog by status, lit-up ideas waiting for a decision, the last run."""

from __future__ import annotations

from django.db.models import Count

from .models import AuditRun, Idea, IdeaStatus


def summary(team) -> dict | None:
    counts = dict(
        Idea.objects.for_team(team)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    if not counts:
        return None
    last_run = AuditRun.objects.for_team(team).first()
    return {
        "template": "audits/dashboard_summary.html",
        "dormant": counts.get(IdeaStatus.DORMANT, 0) + counts.get(IdeaStatus.RETESTING, 0),
        "lit_up": counts.get(IdeaStatus.LIT_UP, 0),
        "promoted": counts.get(IdeaStatus.PROMOTED, 0),
        "last_run": last_run,
    }
