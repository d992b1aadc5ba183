"""Saturation services: audit-derived capability, analysis of a form factor, CSV import."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
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
MAX_IMPORT_ROWS = 500
MAX_IMPORT_BYTES = 512 * 1024


def audit_rates(team: Team) -> dict[str, float]:
    """The team's audit pass rate per model (names casefolded), empty when audits cannot tell.

    `audits.stats.pass_rate_by_model(team) -> dict[str, float]` belongs to the audits app; it
    is imported lazily so saturation works with or without it.
    """
    try:
        from audits.stats import pass_rate_by_model
    except (ImportError, AttributeError):
        return {}
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


@dataclass
class ImportResult:
    created: int = 0
    errors: list[str] | None = None
    readings: list[SaturationReading] | None = None  # all of them, after the import
    verdict: analysis.Verdict | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def import_csv(form_factor: FormFactor, raw: bytes) -> ImportResult:
    """Add every row of a CSV file as a reading, or none of them (errors listed per row)."""
    from .forms import ReadingForm

    if len(raw) > MAX_IMPORT_BYTES:
        return ImportResult(errors=[f"The file is larger than {MAX_IMPORT_BYTES // 1024} KB."])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ImportResult(errors=["The file is not UTF-8 text; export it as CSV (UTF-8)."])
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or []) if h]
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if not header or missing:
        return ImportResult(
            errors=[f"The header must name the columns {', '.join(CSV_COLUMNS)}; "
                    f"missing: {', '.join(missing or sorted(REQUIRED_COLUMNS))}."]
        )  # fmt: skip
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown:
        return ImportResult(errors=[f"Unknown columns: {', '.join(unknown)}."])
    errors: list[str] = []
    forms: list[ReadingForm] = []
    seen: dict[str, int] = {}
    # Looked up once for the whole file, not once per row.
    taken = {n.casefold() for n in form_factor.readings.values_list("model_name", flat=True)}
    rates: dict[str, float] | None = None

    def capability_of(model_name: str) -> float | None:
        nonlocal rates
        if rates is None:
            rates = audit_rates(form_factor.team)
        return rates.get(model_name.strip().casefold())

    for number, row in enumerate(reader, start=2):
        if len(forms) + len(errors) >= MAX_IMPORT_ROWS:
            errors.append(f"More than {MAX_IMPORT_ROWS} rows; split the file.")
            break
        data = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if not any(data.values()):
            continue
        data.setdefault("product_scale", "linear")
        data["product_scale"] = data["product_scale"] or "linear"
        form = ReadingForm(
            data, form_factor=form_factor, taken_names=taken, capability_of=capability_of
        )
        if not form.is_valid():
            for field, messages in form.errors.items():
                where = "" if field == "__all__" else f"{field}: "
                errors.extend(f"Row {number}: {where}{m}" for m in messages)
            continue
        key = form.cleaned_data["model_name"].casefold()
        if key in seen:
            errors.append(f"Row {number}: model_name: {form.cleaned_data['model_name']} is "
                          f"already on row {seen[key]}.")  # fmt: skip
            continue
        seen[key] = number
        forms.append(form)
    if not errors and not forms:
        errors.append("The file has a header but no readings.")
    if errors:
        return ImportResult(errors=errors)
    with transaction.atomic():
        SaturationReading.objects.bulk_create([f.build() for f in forms])
        readings, verdict = refresh_verdict(form_factor)
    return ImportResult(created=len(forms), readings=readings, verdict=verdict)
