"""What each step shows from the other modules, and the effects of review decisions on them.

Each function reads one module through its public models and services, in a constant number
of queries, and answers empty when that module has nothing for the team yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from planning.inputs import shorten
from planning.quarters import Quarter, parse_quarter, quarter_label

from .logic import Step


@dataclass
class Subject:
    """Something a step decides about (an idea, a form factor, a stage)."""

    key: str
    label: str
    detail: str = ""
    url: str = ""
    badge: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _quarter(review) -> Quarter:
    return parse_quarter(review.quarter, review.team.fiscal_year_start_month)


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str | None:
    return None if value is None else pattern.format(value)


# --------------------------------------------------------------------------- predictions
def _scored_rows(review) -> list[dict]:
    from predictions import services

    return services.quarter_scores(review.team, _quarter(review))


def _source_line(metric, team) -> str:
    """ "updated automatically from <host>, last fetched <time>" for a connected metric."""
    source = getattr(metric, "source", None)  # loaded by quarter_scores; None: not connected
    return source.describe(team.tz) if source is not None else ""


def prediction_scores(review, rows: list[dict] | None = None) -> list[dict]:
    """Committed predictions scored on the quarter's observations, biggest surprise first.
    Scores carry the metric's unit ("CRPS 223M $" never reads "2.23e+08")."""
    from predictions.trajectory import format_value

    out = []
    for row in _scored_rows(review) if rows is None else rows:
        p, score = row["prediction"], row["score"]
        summary = score.summary
        unit = p.metric.unit
        out.append(
            {
                "title": p.title,
                "url": p.get_absolute_url(),
                "superseded": p.is_superseded,  # scored up to its revision only
                "metric": p.metric.name,
                "author": p.author.display_name if p.author else "",
                "ratio": _fmt(summary.bias if summary else None, "{:.2f}×"),
                "miss": _fmt(summary.typical_miss if summary else None, "{:.2g}×"),
                "inside": (
                    f"{summary.coverage_observed:.0%} (stated {summary.coverage_stated:.0%})"
                    if summary and summary.coverage_observed is not None
                    else None
                ),
                "crps": format_value(summary.mean_crps, unit) if summary else None,
                "bias": summary.bias if summary else None,
                "phrase": score.bias_phrase,
                "brier": score.brier,
                "surprise": row["surprise"],
                "source": _source_line(p.metric, review.team),
            }
        )
    return out


def team_bias(review, rows: list[dict] | None = None) -> str:
    """The team's misses this quarter in one true sentence (size, direction, bands)."""
    from predictions import services

    return services.team_report(_scored_rows(review) if rows is None else rows).sentence


def look_back_lines(review) -> list[str]:
    rows = _scored_rows(review)
    lines = [
        f"{r['title']} ({r['metric']}{', superseded' if r['superseded'] else ''}): "
        + ", ".join(
            x
            for x in [
                r["phrase"],
                f"inside the band {r['inside']}" if r["inside"] else "",
                f"mean CRPS {r['crps']}" if r["crps"] else "",
                f"Brier {r['brier']:.2f}" if r["brier"] is not None else "",
                r["source"],
            ]
            if x
        )
        for r in prediction_scores(review, rows)
    ]
    summary = team_bias(review, rows)
    return ([f"**Team:** {summary}"] if summary and lines else []) + lines


def new_predictions(review) -> list[dict]:
    from predictions.models import Prediction

    q = _quarter(review)
    start = datetime.combine(q.start, time.min, tzinfo=review.team.tz)
    end = start + timedelta(days=(q.end - q.start).days + 1)
    rows = list(
        Prediction.objects.for_team(review.team)
        .filter(made_at__gte=start, made_at__lt=end)
        .with_successor()
        .select_related("metric", "team", "supersedes")
        .order_by("made_at")
    )
    successors = dict(
        Prediction.objects.filter(
            pk__in=[p.successor_id for p in rows if p.successor_id]
        ).values_list("pk", "title")
    )
    back = urlencode({"next": review.step_url(Step.NEW_LINES)})
    return [
        {
            "title": p.title,
            "url": f"{p.get_absolute_url()}?{back}",
            "committed": p.is_committed,
            "superseded": p.is_superseded,
            "state": p.status,  # draft | committed | superseded
            "superseded_by": successors.get(p.successor_id, ""),
            "revises": p.supersedes.title if p.supersedes_id else "",
            "metric": p.metric.name,
        }
        for p in rows
    ]


def prediction_lines(review) -> list[str]:
    """The plan's step 2: committed predictions, a superseded one marked as such."""
    lines = []
    for p in new_predictions(review):
        if not p["committed"]:
            continue
        line = f"{p['title']} ({p['metric']})"
        if p["revises"]:
            line += f", revising “{p['revises']}”"
        if p["superseded"]:
            line += f" — superseded by “{p['superseded_by']}”"
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- audits
def _audit_subjects(review) -> list[Subject]:
    from django.db.models import Q

    from audits.models import Idea, IdeaStatus

    # Ideas that lit up, plus any this review already decided about (whatever their status now).
    decided = [
        int(key.split(":")[1])
        for key in review.decisions.filter(subject_key__startswith="idea:").values_list(
            "subject_key", flat=True
        )
    ]
    ideas = (
        Idea.objects.for_team(review.team)
        .filter(Q(status__in=[IdeaStatus.LIT_UP, IdeaStatus.PROMOTED]) | Q(pk__in=decided))
        .order_by("title")
    )
    return [
        Subject(
            key=f"idea:{idea.pk}",
            label=idea.title,
            detail=" · ".join(
                x
                for x in [
                    idea.capability_needed,
                    f"last tried on {idea.last_tried_model}" if idea.last_tried_model else "",
                ]
                if x
            ),
            url=idea.get_absolute_url(),
            badge=idea.get_status_display(),
        )
        for idea in ideas.select_related("team")
    ]


def _audit_context(review) -> dict[str, Any]:
    from audits.models import AuditRun

    runs = list(
        AuditRun.objects.for_team(review.team)
        .filter(quarter=review.quarter)
        .order_by("-created_at")
    )
    lines = [
        f"Audit run {run.created_at:%d %b}: {run.get_status_display().lower()}, "
        f"{run.done_calls} of {run.expected_calls} calls, ${run.cost_usd:.2f}"
        for run in runs
    ]
    if not runs:
        lines = [f"No capability audit has run in {_quarter(review).label} yet."]
    return {
        "lines": lines,
        "link": {
            "url": reverse("audits:idea_list", kwargs={"team": review.team.slug}),
            "label": "Open the idea backlog and audits",
        },
    }


def _apply_audit_decision(review, decision, user) -> None:
    from audits.models import Idea, IdeaStatus

    idea = (
        Idea.objects.for_team(review.team)
        .filter(pk=int(decision.subject_key.split(":")[1]))
        .first()
    )
    if idea is None:
        return
    status = {
        "promote": IdeaStatus.PROMOTED,
        "keep_dormant": IdeaStatus.DORMANT,
        "abandon": IdeaStatus.ABANDONED,
    }[decision.choice]
    reason = f"{_quarter(review).label} quarterly review" + (
        f": {decision.note}" if decision.note else ""
    )
    idea.set_status(status, user, reason)


# --------------------------------------------------------------------------- saturation
def _saturation_subjects(review) -> list[Subject]:
    from planning.saturation.models import FormFactor, Status

    rows = FormFactor.objects.for_team(review.team).exclude(status=Status.RETIRED)
    return [
        Subject(
            key=f"formfactor:{ff.pk}",
            label=ff.name,
            detail=ff.verdict_headline,
            url=ff.get_absolute_url(),
            badge=ff.get_verdict_display(),
        )
        for ff in rows.select_related("team").order_by("name")
    ]


def saturation_lines(review) -> list[str]:
    subjects = _saturation_subjects(review)
    return [f"{s.label}: {s.badge}. {s.detail}".strip() for s in subjects]


# --------------------------------------------------------------------------- bottlenecks
def _bottleneck_map(review):
    from planning.bottlenecks import services as bn
    from planning.bottlenecks.models import BottleneckMap

    bmap = (
        BottleneckMap.objects.for_team(review.team)
        .filter(quarter__lte=review.quarter)
        .order_by("-quarter", "-updated_at")
        .first()
    )
    if bmap is None:
        return None, None
    loaded = bn.load(bmap)
    try:
        return bmap, loaded.analyse()
    except ValueError:  # a cycle or invalid numbers: the map page explains it
        return bmap, None


def _bottleneck_subjects(review) -> list[Subject]:
    bmap, analysis = _bottleneck_map(review)
    if analysis is None:
        return []
    bottleneck = analysis.bottleneck
    return [
        Subject(
            key=f"stage:{v.stage.key}",
            label=v.stage.name,
            detail=(
                f"{v.result.share_after:.0%} of the time after AI; "
                f"{v.label[0].lower() + v.label[1:]} makes the whole flow {v.gain:.0%} faster"
            ),
            url=bmap.get_absolute_url(),
            badge="bottleneck" if bottleneck and v.key == bottleneck.key else "",
        )
        for v in analysis.stage_ranking[:6]
    ]


def _measured_bottleneck(bmap, analysis) -> str | None:
    """The bottleneck in the words of the measurement the map was made from; None for a map
    whose hours were guessed (or with no bottleneck)."""
    from planning.bottlenecks.delivery import Distribution, measured_bottleneck_sentence
    from planning.bottlenecks.models import Measurement

    bottleneck = analysis.bottleneck
    if bottleneck is None:
        return None
    measurement = Measurement.objects.filter(map=bmap).first()
    if measurement is None:
        return None
    row = (measurement.stats or {}).get(str(bottleneck.key)) or {}
    after = "_after" if measurement.rollout else ""
    return measured_bottleneck_sentence(
        measurement.source,  # type: ignore[arg-type]
        measurement.items,
        measurement.window_start,
        measurement.window_end,
        measurement.rollout,
        bottleneck.stage.name,
        Distribution.from_dict(row.get(f"active{after}")),
        Distribution.from_dict(row.get(f"waiting{after}")),
    )


def bottleneck_lines(review) -> list[str]:
    bmap, analysis = _bottleneck_map(review)
    if analysis is None:
        return []
    return _bottleneck_lines(review, bmap, analysis, _measured_bottleneck(bmap, analysis))


def _bottleneck_lines(review, bmap, analysis, measured: str | None) -> list[str]:
    quarter = quarter_label(bmap.quarter, review.team.fiscal_year_start_month)[0]
    if not analysis.stages:  # "overall speed-up 1.00×" would be a figure with no evidence
        return [f"Map “{bmap.name}” ({quarter}) has no stages yet: nothing to measure."]
    lines = [f"Map “{bmap.name}” ({quarter}): overall speed-up {analysis.speedup:.2f}×."]
    if measured:
        lines.append(measured)
    elif analysis.bottleneck:
        lines.append(
            f"The stage that now limits the team: {analysis.bottleneck.stage.name} "
            f"({analysis.bottleneck.share_after:.0%} of the time after AI)."
        )
    return lines


# --------------------------------------------------------------------------- steps
SUBJECTS: dict[int, Callable[[Any], list[Subject]]] = {
    Step.AUDIT: _audit_subjects,
    Step.SATURATION: _saturation_subjects,
    Step.BOTTLENECKS: _bottleneck_subjects,
}


def step_subjects(review, step: int) -> list[Subject]:
    """The subjects a decision step (3, 4, 5) decides about."""
    finder = SUBJECTS.get(step)
    if finder is None:
        return []
    return finder(review)


def step_context(review, step: int) -> dict[str, Any]:
    """Live data a step page shows beside the team's notes and decisions."""
    team = review.team
    if step == Step.LOOK_BACK:
        scored = _scored_rows(review)
        rows = prediction_scores(review, scored)
        return {
            "predictions": rows,
            "calibration_url": reverse("predictions:calibration", kwargs={"team": team.slug}),
            "quarter_url": reverse(
                "predictions:quarter", kwargs={"team": team.slug, "quarter": review.quarter}
            ),
            "bias": team_bias(review, scored),
            "surprises": [
                f"{r['title']}: {r['phrase']}" for r in rows[:3] if r["phrase"] and r["surprise"]
            ],
        }
    if step == Step.NEW_LINES:
        from predictions.models import Metric

        back = review.step_url(Step.NEW_LINES)
        return {
            "predictions": new_predictions(review),
            "metrics": [
                {
                    "name": m.name,
                    "url": m.get_absolute_url(),
                    "predict_url": reverse(
                        "predictions:prediction_create", kwargs={"team": team.slug, "pk": m.pk}
                    )
                    + "?"
                    + urlencode({"next": back}),
                }
                for m in Metric.objects.for_team(team).select_related("team").order_by("name")
            ],
            "metrics_url": reverse("predictions:metric_list", kwargs={"team": team.slug}),
        }
    if step == Step.AUDIT:
        return _audit_context(review)
    if step == Step.SATURATION:
        from planning.saturation.models import FormFactor, Status

        tracked = FormFactor.objects.for_team(team).exclude(status=Status.RETIRED).exists()
        return {
            "lines": [] if tracked else ["No form factor is tracked yet."],
            "link": {
                "url": reverse("saturation:formfactor_list", kwargs={"team": team.slug}),
                "label": "Open saturation tracking",
            },
        }
    if step == Step.BOTTLENECKS:
        bmap, analysis = _bottleneck_map(review)
        lines: list[str] = []
        measured = None
        if analysis is not None:
            sentence = _measured_bottleneck(bmap, analysis)
            lines = _bottleneck_lines(review, bmap, analysis, sentence)
            if sentence:  # shown on its own, with a link to the measured map
                lines = [line for line in lines if line != sentence]
                measured = {"text": sentence, "url": bmap.get_absolute_url()}
        return {
            "lines": lines or ["No bottleneck map yet for this quarter."],
            "measured": measured,
            "link": {
                "url": reverse("bottlenecks:map_list", kwargs={"team": team.slug}),
                "label": "Refresh the bottleneck map",
            },
        }
    return {}


def apply_decision(review, decision, user) -> None:
    """Carry a decision into its module (an idea's status follows the audit decision)."""
    if decision.subject_key.startswith("idea:"):
        _apply_audit_decision(review, decision, user)


# --------------------------------------------------------------------------- cadences
def schedule_follow_ups(review) -> int:
    """Each commitment becomes a one-off cadence that reminds its owner (7 and 1 days before,
    on the day, then nags while overdue)."""
    from planning.cadences import services as cadence_services
    from planning.cadences.models import Cadence, Kind, Recipients

    from .logic import follow_up_start

    team = review.team
    now = timezone.now()
    today = team.local_date(now)
    pending = list(review.commitments.filter(follow_up__isnull=True).select_related("owner"))
    for commitment in pending:
        days_left = (commitment.due_date - today).days
        starts_on, due_time = follow_up_start(commitment.due_date, now.astimezone(team.tz))
        cadence = Cadence(
            team=team,
            kind=Kind.CUSTOM,
            title=shorten(f"Commitment: {commitment.what}", 120),
            rrule="FREQ=DAILY;COUNT=1",
            starts_on=starts_on,
            due_time=due_time,
            reminder_days=[d for d in (7, 1) if d < days_left],
            grace_days=1,
            escalate_after_days=7,
            nag_every_days=3,
            recipients=Recipients.PEOPLE,
        )
        cadence.next_due_at = cadence.schedule(team).next_after(now)
        cadence.materialize_at = now
        cadence.save()
        cadence.people.add(commitment.owner)
        commitment.follow_up = cadence
        commitment.save(update_fields=["follow_up"])
        cadence_services.materialise(now, cadences=Cadence.objects.filter(pk=cadence.pk))
    return len(pending)


def complete_review_cadence(review, user) -> None:
    """Closing the review completes the quarterly-review cadence occurrence."""
    from planning.cadences.services import complete_activity

    complete_activity(
        review.team, "quarterly_review", by=user, note=f"{_quarter(review).label} closed"
    )
