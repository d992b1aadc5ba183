"""Dashboard summary: how many form factors, and which ones are saturating (one query)."""

from __future__ import annotations

from planning.teams.models import Team

from .models import FormFactor, Status, Verdict


def summary(team: Team) -> dict | None:
    rows = list(
        FormFactor.objects.for_team(team)
        .exclude(status=Status.RETIRED)
        .order_by("name")
        .values("pk", "name", "status", "verdict", "next_form_factor_id")
    )
    if not rows:
        return None
    flagged = (Status.SATURATING, Status.SATURATED)
    saturating = [r for r in rows if r["verdict"] == Verdict.SATURATING or r["status"] in flagged]
    return {
        "template": "saturation/dashboard_summary.html",
        "total": len(rows),
        "growing": sum(r["verdict"] == Verdict.GROWING for r in rows),
        "saturating": saturating,
    }
