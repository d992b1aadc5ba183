"""The Lines on Graphs card on the team dashboard (two queries)."""

from __future__ import annotations

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.urls import reverse

from .models import Metric, Prediction


def summary(team) -> dict | None:
    today = team.today()
    n_metrics = Metric.objects.for_team(team).count()
    if not n_metrics:
        return None
    revised = Prediction.objects.filter(supersedes=OuterRef("pk"), committed_at__isnull=False)
    in_force = Q(committed_at__isnull=False, revised=False)
    stats = (
        Prediction.objects.for_team(team)
        .annotate(revised=Exists(revised))
        .aggregate(
            committed=Count("pk", filter=in_force),
            superseded=Count("pk", filter=Q(committed_at__isnull=False, revised=True)),
            drafts=Count("pk", filter=Q(committed_at__isnull=True)),
            next_horizon=Min("horizon", filter=in_force & Q(horizon__gte=today)),
        )
    )
    return {
        "template": "predictions/dashboard_summary.html",
        "metrics": n_metrics,
        "committed": stats["committed"],  # in force: superseded ones are counted apart
        "superseded": stats["superseded"],
        "drafts": stats["drafts"],
        "next_horizon": stats["next_horizon"],
        "url": reverse("predictions:metric_list", kwargs={"team": team.slug}),
    }
