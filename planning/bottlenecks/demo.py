"""Demo data: a software-delivery map over two quarters where the bottleneck moves.

Last quarter AI sped code generation up a little and code generation was still the slowest
stage. This quarter code generation is ten times faster and QA four times, review got slower
(there is more code to read), and the critical path now runs through review and security.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from planning.notes.models import Kind, Note
from planning.quarters import current_quarter

from .models import BottleneckMap, DeliverySource, DeliveryUpload, Scenario, Stage, StageDependency

MAP_NAME = "Feature delivery"
UNIT = "one feature from idea to production"

# name, active h, waiting h, owner, notes
EXAMPLE_STAGES = [
    ("Spec", 3, 2, "Product", "Problem statement, acceptance criteria, sign-off."),
    ("Code generation", 16, 2, "Engineering", "Writing the change, including tests."),
    ("Code review", 3, 6, "Engineering", "Waiting for a reviewer is most of it."),
    ("QA", 8, 4, "QA", "Manual and exploratory testing."),
    ("Security review", 3, 8, "Security", "Queue for the security team, then the review."),
    ("Deploy", 1, 2, "Platform", "Release train and rollout."),
]
# The example DAG: spec → codegen → review → {QA ∥ security} → deploy.
EXAMPLE_EDGES = [
    ("Spec", "Code generation"),
    ("Code generation", "Code review"),
    ("Code review", "QA"),
    ("Code review", "Security review"),
    ("QA", "Deploy"),
    ("Security review", "Deploy"),
]
# (active, waiting) speed-ups per quarter: last quarter, this quarter.
LAST_QUARTER = {"Code generation": (1.5, 1)}
THIS_QUARTER = {
    "Spec": (2, 1),
    "Code generation": (10, 1),
    "Code review": (0.75, 1),
    "QA": (4, 1),
    "Deploy": (2, 1),
}
NOTES = {
    "Code review": [
        (Kind.LIGHT, "AI pre-review catches the obvious issues before a person looks."),
        (Kind.SHADE, "Ten times more code per week: reviewers skim and approve what they miss."),
    ],
    "Security review": [
        (Kind.LIGHT, "Automated threat-model drafts could halve the queue."),
    ],
    "QA": [
        (Kind.LIGHT, "Generated test plans cover the boring paths."),
        (Kind.SHADE, "Green generated tests can give false confidence."),
    ],
}


def add_example_stages(bmap: BottleneckMap, speedups: dict | None = None) -> list[Stage]:
    """Add the example stages and dependencies to an (empty) map."""
    speedups = speedups or {}
    stages = Stage.objects.bulk_create(
        [
            Stage(
                map=bmap,
                team_id=bmap.team_id,
                name=name,
                order=i,
                active_hours=active,
                waiting_hours=waiting,
                speedup_active=speedups.get(name, (1, 1))[0],
                speedup_waiting=speedups.get(name, (1, 1))[1],
                owner=owner,
                notes=notes,
            )
            for i, (name, active, waiting, owner, notes) in enumerate(EXAMPLE_STAGES)
        ]
    )
    by_name = {st.name: st for st in stages}
    StageDependency.objects.bulk_create(
        [StageDependency(depends_on=by_name[a], stage=by_name[b]) for a, b in EXAMPLE_EDGES]
    )
    return stages


@transaction.atomic
def seed(team, user) -> None:
    this = current_quarter(team)
    for quarter, speedups in ((this.previous(), LAST_QUARTER), (this, THIS_QUARTER)):
        bmap, created = BottleneckMap.objects.get_or_create(
            team=team, name=MAP_NAME, quarter=str(quarter), defaults={"unit_of_work": UNIT}
        )
        if not created:
            continue
        if quarter == this:
            bmap.copied_from = BottleneckMap.objects.filter(
                team=team, name=MAP_NAME, quarter=str(this.previous())
            ).first()
            bmap.save(update_fields=["copied_from"])
        stages = add_example_stages(bmap, speedups)
        if quarter == this:
            by_name = {st.name: st for st in stages}
            ct = ContentType.objects.get_for_model(Stage)
            Note.objects.bulk_create(
                [
                    Note(
                        team=team,
                        content_type=ct,
                        object_id=by_name[name].pk,
                        kind=kind,
                        text=text,
                        author=user,
                    )
                    for name, notes in NOTES.items()
                    for kind, text in notes
                ]
            )
            DeliveryUpload.objects.create(
                team=team,
                map=bmap,
                source=DeliverySource.GITHUB,
                filename="pull-requests.csv",
                text=pull_requests_csv(timezone.now()),
                rows=DEMO_PULL_REQUESTS,
                created_by=user,
            )
            sec = by_name["Security review"]
            review = by_name["Code review"]
            Scenario.objects.create(
                map=bmap,
                name="AI-assisted security and review",
                speedups={
                    **{
                        str(st.pk): {"active": st.speedup_active, "waiting": st.speedup_waiting}
                        for st in stages
                    },
                    str(sec.pk): {"active": 3, "waiting": 2},
                    str(review.pk): {"active": 2, "waiting": 2},
                },
                created_by=user,
            )


DEMO_PULL_REQUESTS = 48


def pull_requests_csv(now: datetime) -> str:
    """A GitHub pull-request export of the last ~four months, as `gh pr list --json` would
    name its columns: review queues shrink from the middle of it (an AI reviewer arrived),
    the deploy queue does not. Deterministic for a given `now`."""
    start = (now.astimezone(UTC) - timedelta(days=125)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    lines = ["number,title,createdAt,firstReviewAt,approvedAt,mergedAt,deployedAt"]
    for i in range(DEMO_PULL_REQUESTS):
        created = start + timedelta(hours=i * 60)
        later = i >= DEMO_PULL_REQUESTS // 2
        wait = (3 + (i * 7) % 9) if later else (8 + (i * 11) % 25)  # hours to a first review
        review = 1 + (i * 5) % 4  # hours from the first review to approval
        deploy = 18 + (i * 13) % 15  # hours from merge to production
        first = created + timedelta(hours=wait)
        approved = first + timedelta(hours=review)
        merged = approved + timedelta(hours=1)
        deployed = merged + timedelta(hours=deploy)
        stamps = [created, first, approved, merged]
        if deployed < now:
            stamps.append(deployed)
        cells = [f"{t:%Y-%m-%dT%H:%M:%SZ}" if t < now else "" for t in stamps]
        cells += [""] * (5 - len(cells))
        lines.append(",".join([str(1200 + i), f"Change {1200 + i}", *cells]))
    return "\n".join(lines) + "\n"
