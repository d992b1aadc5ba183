"""Figures other features read (saturation uses pass_rate_by_model)."""

from __future__ import annotations

from django.db.models import Count, Q

from .models import Grade, Result


def pass_rate_by_model(team) -> dict[str, float]:
    """Share of graded answers that passed, per model id, over every audit of the team.

    Keyed by the resolved model id that answered (aliases count as the model they named);
    errors and answers awaiting human review are left out. One query.
    """
    rows = (
        Result.objects.for_team(team)
        .filter(grade__in=[Grade.PASS, Grade.FAIL])
        .values("resolved_model", "model__model_id")
        .annotate(n=Count("pk"), passed=Count("pk", filter=Q(grade=Grade.PASS)))
    )
    totals: dict[str, list[int]] = {}
    for row in rows:
        key = row["resolved_model"] or row["model__model_id"]
        passed, n = totals.setdefault(key, [0, 0])
        totals[key] = [passed + row["passed"], n + row["n"]]
    return {model: passed / n for model, (passed, n) in totals.items() if n}
