"""Saturation services: audit-derived capability, analysis of a form factor, saving readings.

The CSV import reads and checks its rows in forms.py (planning.csvimport, ReadingForm) and
saves them with `add_readings`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date
from typing import cast

from django.db import transaction

from planning.teams.models import Team

from . import analysis
from .models import FormFactor, SaturationReading, status_for

CSV_COLUMNS = [
    "model_name",
    "release_date",
    "capability",
    "capability_source",
    "product_value",
    "product_metric",
    "product_scale",
    "cost_per_task",
]
REQUIRED_COLUMNS = {"model_name", "release_date", "product_value", "product_metric"}


def audit_rates(team: Team) -> dict[str, float]:
    """The team's audit pass rate per model (names casefolded), empty when audits cannot tell.

    `audits.stats.pass_rate_by_model(team) -> dict[str, float]` belongs to the audits app.
    """
    from audits.stats import pass_rate_by_model

    rates: dict[str, float] = {}
    for name, rate in (pass_rate_by_model(team) or {}).items():
        value = None if rate is None else float(rate)
        if value is not None and math.isfinite(value):
            rates.setdefault(str(name).strip().casefold(), value)
    return rates


def audit_capability(team: Team, model_name: str) -> float | None:
    """The team's audit pass rate on `model_name`, or None when audits cannot tell."""
    return audit_rates(team).get(model_name.strip().casefold())


def points_of(readings: Iterable[SaturationReading]) -> list[analysis.Point]:
    return [
        analysis.Point(
            model=r.model_name,
            capability=r.capability,
            product=r.product_value,
            released=r.release_date,
            scale=cast(analysis.Scale, r.product_scale),  # the field's choices: linear, log
            metric=r.product_metric,
            source=r.capability_source,
        )
        for r in readings
    ]


def analyse(readings: Iterable[SaturationReading]) -> analysis.Verdict:
    points = points_of(readings)
    # release_date is NOT NULL, so every point has a date.
    latest = max(points, key=lambda p: cast(date, p.released)) if points else None
    return analysis.analyse(
        points, product_label=metric_label(latest.metric) if latest else "the product metric"
    )


def metric_label(metric: str) -> str:
    """'Task success (%)' -> 'task success' for sentences; acronyms (CSAT) stay as written."""
    label = re.sub(r"\s*\([^)]*\)\s*$", "", metric).strip() or metric.strip()
    first = label.split(" ", 1)[0]
    if first[:1].isupper() and not first.isupper():
        label = label[0].lower() + label[1:]
    return label or "the product metric"


def refresh_verdict(
    form_factor: FormFactor,
) -> tuple[list[SaturationReading], analysis.Verdict]:
    """Recompute the verdict from the readings and store its kind and headline; returns the
    readings and the verdict so a page can show them without analysing again."""
    readings = list(form_factor.readings.all())
    result = analyse(readings)
    headline = result.headline[:500]
    status = form_factor.status if form_factor.status_by_hand else status_for(result.kind)
    stored = (form_factor.verdict, form_factor.verdict_headline, form_factor.status)
    if stored != (result.kind, headline, status):
        form_factor.verdict, form_factor.verdict_headline = result.kind, headline
        form_factor.status = status
        form_factor.save(update_fields=["verdict", "verdict_headline", "status", "updated_at"])
    return readings, result


def add_readings(
    form_factor: FormFactor, readings: list[SaturationReading]
) -> tuple[list[SaturationReading], analysis.Verdict]:
    """Save new readings (all of them, checked by the caller) and refresh the verdict."""
    with transaction.atomic():
        SaturationReading.objects.bulk_create(readings)
        return refresh_verdict(form_factor)
