"""What the measured-map tests share: the hand-checked delivery map and the GitHub export's
columns (tests/bottlenecks/fixtures/github_prs.csv)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

FIXTURES = Path(__file__).parent / "fixtures"
UTC_ZONE = ZoneInfo("UTC")

PR_COLUMNS = {
    "id": "number",
    "created": "createdAt",
    "first_review": "firstReviewAt",
    "approved": "approvedAt",
    "merged": "mergedAt",
    "deployed": "deployedAt",
}


def delivery_map(team):
    """Feature delivery: code generation (10 h active, 2 h waiting, 5× faster with AI), code
    review (3 h, 5 h) and deploy (1 h, 30 h waiting)."""
    from planning.bottlenecks.models import BottleneckMap, Stage

    bmap = BottleneckMap.objects.create(team=team, name="Feature delivery", quarter="2026-Q4")
    for order, (name, active, waiting, speedup) in enumerate(
        [("Code generation", 10, 2, 5), ("Code review", 3, 5, 1), ("Deploy", 1, 30, 1)]
    ):
        Stage.objects.create(
            map=bmap,
            name=name,
            order=order,
            active_hours=active,
            waiting_hours=waiting,
            speedup_active=speedup,
        )
    return bmap
