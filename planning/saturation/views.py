from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning import csvimport
from planning.http import HtmxRequest, redirect_after_post, render_form
from planning.inputs import csv_row
from planning.notes.services import key_of, notes_for
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import analysis, charts, services
from .forms import CsvImportForm, FormFactorForm, ReadingForm, parse_readings_csv
from .models import FormFactor, SaturationReading

DETAIL = "saturation/formfactor_detail.html"
KNOWN_SOURCES = ["audits", "SWE-bench Verified", "GPQA Diamond", "MMLU-Pro", "Internal eval"]


def _form_factor(request: TeamRequest, pk: int) -> FormFactor:
    return team_get_object_or_404(
        request,
        FormFactor.objects.select_related("team", "next_form_factor", "status_set_by"),
        pk=pk,
    )


@team_view
@require_GET
def formfactor_list(request: TeamRequest) -> HttpResponse:
    # annotated rows that also carry their light and shade
    form_factors: list[Any] = list(
        FormFactor.objects.for_team(request.team)
        .select_related("next_form_factor")
        .annotate(reading_count=Count("readings"), latest_release=Max("readings__release_date"))
    )
    notes = notes_for(form_factors)
    for ff in form_factors:
        ff.light_shade = notes[key_of(ff)]
        ff.team = request.team  # for URLs, without a query per row
        if ff.next_form_factor:
            ff.next_form_factor.team = request.team
    return render(request, "saturation/formfactor_list.html", {"form_factors": form_factors})


@team_view
@require_http_methods(["GET", "POST"])
def formfactor_create(request: TeamRequest) -> HttpResponse:
    previous = None
    previous_pk = request.POST.get("previous") or request.GET.get("previous")
    if previous_pk and str(previous_pk).isdigit():
        previous = FormFactor.objects.for_team(request.team).filter(pk=previous_pk).first()
    initial = {"product": previous.product} if previous else {}
    form = FormFactorForm(request.POST or None, team=request.team, initial=initial)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form_factor = form.save_by(request.user, commit=False)
            form_factor.team = request.team
            form_factor.save()
            if previous is not None:
                previous.next_form_factor = form_factor
                previous.save(update_fields=["next_form_factor", "updated_at"])
        messages.success(
            request,
            f"“{form_factor.name}” is tracked"
            + (f" as the next form factor after “{previous.name}”." if previous else "."),
        )
        return redirect_after_post(request, form_factor.get_absolute_url())
    context = {"form": form, "previous": previous, "form_factor": None}
    return render_form(request, "saturation/formfactor_form.html", context)


@team_view
@require_http_methods(["GET", "POST"])
def formfactor_edit(request: TeamRequest, pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    form = FormFactorForm(request.POST or None, instance=form_factor, team=request.team)
    if request.method == "POST" and form.is_valid():
        form.save_by(request.user)
        messages.success(request, f"“{form_factor.name}” saved.")
        return redirect_after_post(request, form_factor.get_absolute_url())
    context = {"form": form, "form_factor": form_factor, "previous": None}
    return render_form(request, "saturation/formfactor_form.html", context)


@team_view
@require_POST
def formfactor_delete(request: TeamRequest, pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    name = form_factor.name
    form_factor.delete()
    messages.success(request, f"“{name}” and its readings were deleted.")
    return redirect_after_post(
        request, reverse("saturation:formfactor_list", args=[request.team.slug])
    )


def _initial_reading(readings: list[SaturationReading]) -> dict:
    if not readings:
        return {"product_scale": "linear"}
    latest = max(readings, key=lambda r: (r.release_date, r.pk))
    return {
        "capability_source": latest.capability_source,
        "product_metric": latest.product_metric,
        "product_scale": latest.product_scale,
    }


def _workspace(
    request: HttpRequest,
    form_factor: FormFactor,
    *,
    form: ReadingForm | None = None,
    import_errors: list[csvimport.Problem] | None = None,
    imported: int | None = None,
    readings: list[SaturationReading] | None = None,
    verdict: analysis.Verdict | None = None,
) -> dict:
    """The detail page's context; pass `readings` and `verdict` when a write just computed
    them (one analysis per request: it takes tens of milliseconds)."""
    if readings is None:
        readings = list(form_factor.readings.all())
    if verdict is None:
        verdict = services.analyse(readings)
    windows = {w.end: w for w in verdict.elasticity.windows}
    used = {p.model for p in verdict.points}
    rows = [
        {"reading": r, "window": windows.get(r.model_name), "used": r.model_name in used}
        for r in readings
    ]
    return {
        "form_factor": form_factor,
        "readings": readings,
        "rows": rows,
        "verdict": verdict,
        "scatter": charts.capability_product_figure(verdict, readings),
        "timeline": charts.timeline_figure(readings),
        "form": form or ReadingForm(form_factor=form_factor, initial=_initial_reading(readings)),
        "import_form": CsvImportForm(),
        "import_errors": import_errors,
        "imported": imported,
        "known_sources": KNOWN_SOURCES,
        "csv_columns": services.CSV_COLUMNS,
    }


def _render_workspace(request: HtmxRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_form(request, DETAIL, context, partial="workspace", status=status)


@team_view
@require_GET
def formfactor_detail(request: TeamRequest, pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    return render(request, DETAIL, _workspace(request, form_factor))


@team_view
@require_POST
def reading_add(request: TeamRequest, pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    form = ReadingForm(request.POST, form_factor=form_factor)
    if not form.is_valid():
        return _render_workspace(request, _workspace(request, form_factor, form=form), 400)
    with transaction.atomic():
        form.build().save()
        readings, verdict = services.refresh_verdict(form_factor)
    if not request.htmx:
        return redirect(form_factor)
    context = _workspace(request, form_factor, readings=readings, verdict=verdict)
    return _render_workspace(request, context)


@team_view
@require_POST
def reading_delete(request: TeamRequest, pk: int, reading_pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    reading = team_get_object_or_404(
        request, SaturationReading, pk=reading_pk, form_factor=form_factor
    )
    with transaction.atomic():
        reading.delete()
        readings, verdict = services.refresh_verdict(form_factor)
    if not request.htmx:
        return redirect(form_factor)
    context = _workspace(request, form_factor, readings=readings, verdict=verdict)
    return _render_workspace(request, context)


@team_view
@require_POST
def reading_import(request: TeamRequest, pk: int) -> HttpResponse:
    form_factor = _form_factor(request, pk)
    upload = CsvImportForm(request.POST, request.FILES)
    if not upload.is_valid():
        problems = [csvimport.Problem(None, "Choose a CSV file to import.")]
        return _render_workspace(
            request, _workspace(request, form_factor, import_errors=problems), 400
        )
    parsed = parse_readings_csv(upload.cleaned_data["file"], form_factor)
    if parsed.errors:
        context = _workspace(request, form_factor, import_errors=parsed.errors)
        return _render_workspace(request, context, 400)
    readings, verdict = services.add_readings(form_factor, parsed.readings)
    if not request.htmx:
        messages.success(request, f"Imported {len(parsed.readings)} readings.")
        return redirect(form_factor)
    context = _workspace(
        request, form_factor, imported=len(parsed.readings), readings=readings, verdict=verdict
    )
    return _render_workspace(request, context)


@team_view
@require_GET
def readings_csv(request: TeamRequest, pk: int) -> HttpResponse:
    import csv

    form_factor = _form_factor(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = slugify(form_factor.name) or "form-factor"
    response["Content-Disposition"] = f'attachment; filename="{filename}-readings.csv"'
    writer = csv.writer(response)
    writer.writerow(services.CSV_COLUMNS)
    for r in form_factor.readings.all():
        writer.writerow(
            csv_row(
                [
                    r.model_name,
                    r.release_date.isoformat(),
                    r.capability,
                    r.capability_source,
                    r.product_value,
                    r.product_metric,
                    r.product_scale,
                    "" if r.cost_per_task is None else r.cost_per_task,
                ]
            )
        )
    return response
