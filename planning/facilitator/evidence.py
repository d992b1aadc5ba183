"""The evidence of one review step, gathered from the app's own data (team-scoped reads).

Each item carries a citation id: P<pk> a prediction, A<pk> an audited idea, F<pk> a form
factor, S<n> a bottleneck stage (n its rank in this quarter's map), B<pk> a backlog bet,
C<pk> a commitment. Everything is read through planning.reviews.sources and services, so
the facilitator sees what the step page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from planning.reviews import services, sources
from planning.reviews.logic import Step
from planning.reviews.models import Review

from .citations import EvidenceItem


def _look_back(review: Review) -> list[EvidenceItem]:
    rows = sources._scored_rows(review)
    shown = sources.prediction_scores(review, rows)
    items = [
        EvidenceItem(
            cid=f"P{row['prediction'].pk}",
            label=row["prediction"].title,
            detail=", ".join(
                x
                for x in [
                    s["metric"],
                    s["phrase"] or "",
                    f"inside the band {s['inside']}" if s["inside"] else "",
                    "a surprise" if s["surprise"] else "",
                ]
                if x
            ),
            url=row["prediction"].get_absolute_url(),
        )
        for row, s in zip(rows, shown, strict=True)
    ]
    previous = services.previous_review(review)
    if previous is not None:
        for c in previous.commitments.select_related("owner"):
            items.append(
                EvidenceItem(
                    cid=f"C{c.pk}",
                    label=c.what,
                    detail=f"last quarter's commitment, {c.get_status_display().lower()}",
                    url=previous.step_url(Step.COMMITMENTS),
                )
            )
    return items


def _new_lines(review: Review) -> list[EvidenceItem]:
    from predictions.models import Prediction

    q = sources._quarter(review)
    start = datetime.combine(q.start, time.min, tzinfo=review.team.tz)
    end = start + timedelta(days=(q.end - q.start).days + 1)
    rows = (
        Prediction.objects.for_team(review.team)
        .filter(made_at__gte=start, made_at__lt=end)
        .select_related("metric", "team")
        .order_by("made_at")
    )
    return [
        EvidenceItem(
            cid=f"P{p.pk}",
            label=p.title,
            detail=f"{p.metric.name}, {p.status}",
            url=p.get_absolute_url(),
        )
        for p in rows
    ]


_LETTER = {"idea": "A", "formfactor": "F"}


def _subjects(review: Review, step: int) -> list[EvidenceItem]:
    items = []
    for rank, subject in enumerate(sources.step_subjects(review, step), start=1):
        kind, _, pk = subject.key.partition(":")
        cid = f"{_LETTER[kind]}{pk}" if kind in _LETTER and pk.isdigit() else f"S{rank}"
        detail = " · ".join(x for x in [subject.badge, subject.detail] if x)
        items.append(EvidenceItem(cid=cid, label=subject.label, detail=detail, url=subject.url))
    return items


def _bets(review: Review, step: int) -> list[EvidenceItem]:
    url = review.step_url(step)
    items = []
    for item, ls in services.bets_of(review):
        light = "; ".join(n.text for n in getattr(ls, "light", []))[:300]
        shade = "; ".join(n.text for n in getattr(ls, "shade", []))[:300]
        detail = f"light: {light or '—'}; shade: {shade or '—'}"
        if item.score is not None:
            detail += f"; score {item.score}"
        items.append(
            EvidenceItem(
                cid=f"B{item.pk}", label=item.title, detail=detail, url=f"{url}#bet-{item.pk}"
            )
        )
    return items


def _commitments(review: Review) -> list[EvidenceItem]:
    url = review.step_url(Step.COMMITMENTS)
    return [
        EvidenceItem(
            cid=f"C{c.pk}",
            label=c.what,
            detail=f"{c.owner.display_name}, by {c.due_date:%d %b %Y}",
            url=url,
        )
        for c in review.commitments.select_related("owner")
    ]


GATHER: dict[int, Callable[[Review], list[EvidenceItem]]] = {
    Step.LOOK_BACK: _look_back,
    Step.NEW_LINES: _new_lines,
    Step.AUDIT: lambda r: _subjects(r, Step.AUDIT),
    Step.SATURATION: lambda r: _subjects(r, Step.SATURATION),
    Step.BOTTLENECKS: lambda r: _subjects(r, Step.BOTTLENECKS),
    Step.LIGHT_AND_SHADE: lambda r: _bets(r, Step.LIGHT_AND_SHADE),
    Step.BACKLOG: lambda r: _bets(r, Step.BACKLOG),
    Step.COMMITMENTS: _commitments,
}


def gather(review: Review, step: int) -> list[EvidenceItem]:
    """The step's evidence items, ids unique (the first of a duplicate id wins)."""
    seen: dict[str, EvidenceItem] = {}
    for item in GATHER[Step(step)](review):
        seen.setdefault(item.cid, item)
    return list(seen.values())
