"""Bottleneck map pages. Thin: loading and changes are in services, maths in analysis."""

from __future__ import annotations

import math

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from planning import csvimport
from planning.http import redirect_after_post, render_form
from planning.inputs import shorten
from planning.notes.services import key_of, notes_for
from planning.quarters import quarter_label
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import analysis, charts, delivery, demo, measure, services
from .forms import (
    DeliveryUploadForm,
    MapForm,
    MeasureForm,
    ScenarioForm,
    StageForm,
)
from .forms import columns_of as forms_columns_of
from .models import BottleneckMap, DeliveryUpload, Measurement, Mode, Scenario, Stage

DETAIL = "bottlenecks/map_detail.html"


def _map(request: TeamRequest, pk: int) -> BottleneckMap:
    bmap = team_get_object_or_404(request, BottleneckMap, pk=pk)
    bmap.team = request.team
    return bmap


def _stage(bmap: BottleneckMap, stage_pk: int) -> Stage:
    return team_get_object_or_404(bmap.team, Stage, pk=stage_pk, map=bmap)


# --------------------------------------------------------------------------- maps
@team_view
@require_GET
def map_list(request: TeamRequest) -> HttpResponse:
    maps = list(BottleneckMap.objects.for_team(request.team).order_by("-quarter", "name"))
    rows = []
    for loaded in services.load_many(maps):
        result = (
            analysis.analyse(loaded.inputs(), loaded.edges, details=False)
            if loaded.stages
            else None
        )
        rows.append({"map": loaded.map, "stages": len(loaded.stages), "result": result})
    return render(request, "bottlenecks/map_list.html", {"rows": rows})


@team_view
@require_http_methods(["GET", "POST"])
def map_create(request: TeamRequest) -> HttpResponse:
    form = MapForm(request.POST or None, team=request.team)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.instance.team = request.team
            bmap = form.save()
            if form.cleaned_data.get("start_with_example"):
                demo.add_example_stages(bmap)
        messages.success(request, f"Map “{bmap.name}” created. Add its stages below.")
        return redirect_after_post(request, bmap.get_absolute_url())
    return render_form(request, "bottlenecks/map_form.html", {"form": form, "creating": True})


@team_view
@require_http_methods(["GET", "POST"])
def map_edit(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    form = MapForm(request.POST or None, instance=bmap, team=request.team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Map saved.")
        return redirect_after_post(request, bmap.get_absolute_url())
    context = {"form": form, "creating": False, "bmap": bmap}
    return render_form(request, "bottlenecks/map_form.html", context)


@team_view
@require_POST
def map_delete(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    bmap.delete()
    words = quarter_label(bmap.quarter, request.team.fiscal_year_start_month)[0]
    messages.info(request, f"Map “{bmap.name}” ({words}) deleted.")
    return redirect_after_post(
        request, reverse("bottlenecks:map_list", kwargs={"team": request.team.slug})
    )


@team_view
@require_POST
def map_copy(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    copy, created = services.copy_to_next_quarter(bmap)
    words = quarter_label(copy.quarter, request.team.fiscal_year_start_month)[0]
    if created:
        messages.success(request, f"Copied to {words}: update the stages for the new quarter.")
    else:
        messages.info(request, f"{words} already has “{copy.name}”: here it is.")
    return redirect_after_post(request, copy.get_absolute_url())


# --------------------------------------------------------------------------- the map page
def _context(
    request: TeamRequest,
    bmap: BottleneckMap,
    *,
    speedups: dict | None = None,
    scenario: Scenario | None = None,
    editing: int | None = None,
    edit_form: StageForm | None = None,
    add_form: StageForm | None = None,
    scenario_form: ScenarioForm | None = None,
    loaded: services.LoadedMap | None = None,
) -> dict:
    loaded = loaded or services.load(bmap)
    mapped = loaded.analyse()
    stages = loaded.stages
    if speedups is None:
        speedups = {st.pk: (st.speedup_active, st.speedup_waiting) for st in stages}
    changed = services.changed_stages(loaded, speedups)
    current = loaded.analyse(speedups) if changed else mapped
    notes = notes_for(stages)
    _annotate(loaded, mapped)
    for st in stages:
        st.ls = notes[key_of(st)]
        a, w = speedups[st.pk]
        st.slider = {
            "a": math.log10(a),
            "w": math.log10(w),
            "a_value": a,
            "w_value": w,
            "a_range": services.slider_range(a),
            "w_range": services.slider_range(w),
        }
    history = services.history(bmap)
    measurement = Measurement.objects.filter(map=bmap).select_related("created_by").first()
    return {
        "measurement": measurement,
        "measured": measure.measured_stages(measurement, stages) if measurement else [],
        "bmap": bmap,
        "stages": stages,
        "mapped": mapped,
        "is_gustafson": bmap.mode == Mode.GUSTAFSON,
        "editing": editing,
        "edit_form": edit_form,
        "add_form": add_form or StageForm(bmap=bmap),
        "scenario_form": scenario_form or ScenarioForm(),
        "scenarios": list(bmap.scenarios.select_related("created_by")),
        "scenario": scenario,
        "can_edit": request.membership.can_edit,
        **_results(bmap, loaded, current, changed),
        "history_figure": charts.history(
            [
                (quarter_label(lm.map.quarter, request.team.fiscal_year_start_month)[0], res)
                for lm, res in history
            ]
        )
        if len(history) > 1
        else None,
        "history": [(lm.map, res) for lm, res in history],
    }


def _stage_base(bmap: BottleneckMap) -> str:
    """/t/<team>/bottlenecks/<pk>/stages/ (row URLs append "<stage pk>/…")."""
    kwargs = {"team": bmap.team.slug, "pk": bmap.pk, "stage_pk": 0}
    return reverse("bottlenecks:stage_row", kwargs=kwargs).removesuffix("0/")


def _annotate(loaded: services.LoadedMap, mapped: analysis.Analysis) -> None:
    """Per-row figures and URLs for the stage table (URLs built once, not reversed per row)."""
    base = _stage_base(loaded.map)
    deps = loaded.depends_on()
    for st in loaded.stages:
        st.res = mapped.by_key[st.pk]
        st.deps = deps.get(st.pk, [])
        st.meets_target = st.target_speedup is None or st.res.stage.speedup >= st.target_speedup
        st.url = f"{base}{st.pk}/"


def _results(bmap, loaded, current, changed) -> dict:
    after_label = "What-if" if changed else "With AI"
    after_phrase = "in the what-if" if changed else "with AI"
    names = {st.pk: st.name for st in loaded.stages}
    return {
        "result": current,
        "changed": changed,
        "after_label": after_label,
        "after_phrase": after_phrase,
        "path_before": [names[k] for k in current.before.path],
        "path_after": [names[k] for k in current.after.path],
        "moved_on": [names[k] for k in current.moved_on],
        "moved_off": [names[k] for k in current.moved_off],
        "ranking": current.ranking[:8],
        "figures": {
            "bars": charts.before_after(current, after_phrase),
            "dag_before": charts.dag(current, current.before, "Before AI"),
            "dag_after": charts.dag(current, current.after, after_label),
            "ceiling": charts.ceiling_curves(loaded.inputs(_speedups_of(current)), current),
        }
        if loaded.stages
        else None,
    }


def _speedups_of(result) -> dict:
    return {r.key: (r.stage.speedup_active, r.stage.speedup_waiting) for r in result.stages}


@team_view
@require_GET
def map_detail(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    scenario = None
    speedups = None
    loaded = None
    if "scenario" in request.GET:
        scenario = team_get_object_or_404(
            request, Scenario, pk=_int(request.GET["scenario"]), map=bmap
        )
        loaded = services.load(bmap)
        saved = scenario.speedups_by_stage()
        speedups = {
            st.pk: saved.get(st.pk, (st.speedup_active, st.speedup_waiting)) for st in loaded.stages
        }
    context = _context(request, bmap, speedups=speedups, scenario=scenario, loaded=loaded)
    return render(request, DETAIL, context)


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return 0


@team_view
@require_GET
def what_if(request: TeamRequest, pk: int) -> HttpResponse:
    """Recompute with the sliders' speed-ups; htmx gets the results panel only."""
    bmap = _map(request, pk)
    loaded = services.load(bmap)
    speedups = services.parse_speedups(request.GET, loaded.stages)
    if not request.htmx:
        return render(request, DETAIL, _context(request, bmap, speedups=speedups, loaded=loaded))
    current = loaded.analyse(speedups)
    changed = services.changed_stages(loaded, speedups)
    context = {"bmap": bmap, "is_gustafson": bmap.mode == Mode.GUSTAFSON}
    context.update(_results(bmap, loaded, current, changed))
    return render(request, f"{DETAIL}#results", context)


# --------------------------------------------------------------------------- stages
def _workspace(request: TeamRequest, bmap: BottleneckMap, status: int = 200, **kw):
    """After a change: the whole workspace for htmx (retargeted), a redirect otherwise."""
    if not request.htmx:
        if status != 200:
            return render(request, DETAIL, _context(request, bmap, **kw), status=status)
        return redirect(bmap.get_absolute_url())
    response = render(request, f"{DETAIL}#workspace", _context(request, bmap, **kw))
    return reswap(retarget(response, "#workspace"), "outerHTML")


@team_view
@require_POST
def stage_add(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    with transaction.atomic():
        services.lock(bmap)
        form = StageForm(request.POST, bmap=bmap)
        if form.is_valid():
            form.save()
            return _workspace(request, bmap)
    if request.htmx:
        return render(request, f"{DETAIL}#add_form", {"bmap": bmap, "add_form": form}, status=400)
    return _workspace(request, bmap, status=400, add_form=form)


@team_view
@require_http_methods(["GET", "POST"])
def stage_edit(request: TeamRequest, pk: int, stage_pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    stage = _stage(bmap, stage_pk)
    if request.method == "POST":
        with transaction.atomic():
            services.lock(bmap)
            form = StageForm(request.POST, instance=stage, bmap=bmap)
            if form.is_valid():
                form.save()
                return _workspace(request, bmap)
        status = 400
    else:
        form = StageForm(instance=stage, bmap=bmap)
        status = 200
    if request.htmx:
        stage.url = f"{_stage_base(bmap)}{stage.pk}/"
        context = {"bmap": bmap, "st": stage, "edit_form": form, "can_edit": True}
        return render(request, f"{DETAIL}#stage_edit_row", context, status=status)
    return render(
        request,
        DETAIL,
        _context(request, bmap, editing=stage.pk, edit_form=form),
        status=status,
    )


@team_view
@require_GET
def stage_row(request: TeamRequest, pk: int, stage_pk: int) -> HttpResponse:
    """The stage's read-only row (used by "Cancel" while editing)."""
    bmap = _map(request, pk)
    stage = _stage(bmap, stage_pk)
    if not request.htmx:
        return redirect(bmap.get_absolute_url())
    loaded = services.load(bmap)
    mapped = analysis.analyse(loaded.inputs(), loaded.edges, details=False)
    _annotate(loaded, mapped)
    st = next(s for s in loaded.stages if s.pk == stage.pk)
    context = {
        "bmap": bmap,
        "st": st,
        "mapped": mapped,
        "can_edit": request.membership.can_edit,
        "stages": loaded.stages,
    }
    return render(request, f"{DETAIL}#stage_row", context)


@team_view
@require_POST
def stage_move(request: TeamRequest, pk: int, stage_pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    stage = _stage(bmap, stage_pk)
    direction = request.POST.get("direction")
    if direction in ("up", "down"):
        services.move_stage(stage, direction)
    return _workspace(request, bmap)


@team_view
@require_POST
def stage_delete(request: TeamRequest, pk: int, stage_pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    stage = _stage(bmap, stage_pk)
    with transaction.atomic():
        services.lock(bmap)
        stage.delete()
    return _workspace(request, bmap)


# --------------------------------------------------------------------------- scenarios
@team_view
@require_POST
def scenario_save(request: TeamRequest, pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    stages = list(bmap.stages.all())
    form = ScenarioForm(request.POST)
    saved = form.is_valid()
    if saved:
        speedups = services.parse_speedups(request.POST, stages)
        services.save_scenario(bmap, form.cleaned_data["name"], speedups, request.user)
        form = ScenarioForm()
    if not request.htmx:
        if saved:
            messages.success(request, "Scenario saved.")
            return redirect(bmap.get_absolute_url())
        return render(request, DETAIL, _context(request, bmap, scenario_form=form), status=400)
    context = {
        "bmap": bmap,
        "scenarios": list(bmap.scenarios.select_related("created_by")),
        "scenario_form": form,
        "can_edit": True,
        "just_saved": saved,
    }
    return render(request, f"{DETAIL}#scenarios", context, status=200 if saved else 400)


@team_view
@require_POST
def scenario_delete(request: TeamRequest, pk: int, scenario_pk: int) -> HttpResponse:
    bmap = _map(request, pk)
    team_get_object_or_404(request, Scenario, pk=scenario_pk, map=bmap).delete()
    if not request.htmx:
        return redirect(bmap.get_absolute_url())
    context = {
        "bmap": bmap,
        "scenarios": list(bmap.scenarios.select_related("created_by")),
        "scenario_form": ScenarioForm(),
        "can_edit": True,
    }
    return render(request, f"{DETAIL}#scenarios", context)


# --------------------------------------------------------------------------- measured versions
MEASURE = "bottlenecks/measure.html"


@team_view
@require_http_methods(["GET", "POST"])
def measure_upload(request: TeamRequest, pk: int) -> HttpResponse:
    """Step 1: upload a delivery export for this map (nothing is made of it yet)."""
    bmap = _map(request, pk)
    posted = request.method == "POST"
    form = DeliveryUploadForm(request.POST, request.FILES) if posted else DeliveryUploadForm()
    problems: list[csvimport.Problem] = []
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        name = getattr(request.FILES.get("file"), "name", "") or ""
        stored, problems = measure.upload(
            bmap, form.cleaned_data["source"], name, file, request.user
        )
        if stored is not None:
            return redirect(
                reverse(
                    "bottlenecks:measure",
                    kwargs={"team": request.team.slug, "pk": bmap.pk, "upload_pk": stored.pk},
                )
            )
    uploads = list(
        DeliveryUpload.objects.for_team(request.team)
        .filter(map=bmap)
        .defer("text")
        .select_related("created_by")[:10]
    )
    context = {
        "bmap": bmap,
        "form": form,
        "csv_errors": measure.problems_sorted(problems),
        "uploads": uploads,
        "columns": {s: delivery.COLUMNS[s] for s in ("github", "tracker")},
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "bottlenecks/measure_upload.html", context, status=status)


def _measure_data(data, form_keys: list[str], source, stages, saved, defaults: dict) -> dict:
    """The mapping step's values for this file's segments or statuses, whatever order or set
    of them was submitted: each key's choice is looked up by its text (submitted, remembered,
    or guessed), so changing a column never shifts a stage onto the wrong row."""
    out: dict = dict(defaults)
    submitted: dict[str, tuple[str, str]] = {}
    if data is not None:
        out.update({k: data.get(k) for k in data if isinstance(data.get(k), str)})
        for j in range(delivery.MAX_STATUSES + len(delivery.GITHUB_EVENTS)):
            key = data.get(f"key_{j}")
            if isinstance(key, str) and key:
                submitted[key.casefold()] = (data.get(f"stage_{j}", ""), data.get(f"kind_{j}", ""))
        for j in range(delivery.MAX_STATUSES + len(delivery.GITHUB_EVENTS)):
            for name in (f"key_{j}", f"stage_{j}", f"kind_{j}"):
                out.pop(name, None)
        for name in ("window_start", "window_end"):  # left empty: the data's own span
            if not out.get(name):
                out[name] = defaults.get(name, "")
    for i, key in enumerate(form_keys):
        out[f"key_{i}"] = key
        if key.casefold() in submitted:
            stage, kind = submitted[key.casefold()]
        else:
            pk, kind = measure.default_target(source, key, stages, saved)
            stage = str(pk) if pk else ""
        out[f"stage_{i}"], out[f"kind_{i}"] = stage, kind
    return out


@team_view
@require_http_methods(["GET", "POST"])
def measure_view(request: TeamRequest, pk: int, upload_pk: int) -> HttpResponse:
    """Step 2: map columns and stages, pick the window (and a rollout date), preview the
    measured hours; POST makes the new version (the measured map is never changed)."""
    bmap = _map(request, pk)
    upload = team_get_object_or_404(request, DeliveryUpload, pk=upload_pk, map=bmap)
    loaded = services.load(bmap)
    tz = request.team.tz
    source = upload.source
    export = delivery.read_export(upload.text)
    header = export.header
    saved = measure.remembered(request.team, source)  # type: ignore[arg-type]
    submitted = request.POST if request.method == "POST" else None
    if submitted is None and "window_start" in request.GET:
        submitted = request.GET
    columns = (
        forms_columns_of(submitted, source, header)
        if submitted is not None
        else measure.default_columns(source, header, saved)  # type: ignore[arg-type]
    )
    column_problems = delivery.column_problems(source, columns, header)  # type: ignore[arg-type]
    parsed = (
        delivery.parse(source, export.sheet.rows, columns, tz)  # type: ignore[arg-type]
        if not column_problems
        else delivery.Parsed([], [], [], 0)
    )
    span = measure.data_range(parsed, tz)
    defaults = {
        **{f"col_{f}": h for f, h in columns.items()},
        "window_start": span[0].isoformat() if span else "",
        "window_end": span[1].isoformat() if span else "",
        "rollout": "",
        "name": shorten(f"{bmap.name} (measured)", 120),
        "quarter": bmap.quarter,
    }
    data = _measure_data(submitted, parsed.keys, source, loaded.stages, saved, defaults)
    form = MeasureForm(
        data,
        source=source,
        header=header,
        keys=[(k, delivery.key_label(source, k)) for k in parsed.keys],  # type: ignore[arg-type]
        stages=loaded.stages,
        team=request.team,
        quarter=bmap.quarter,
    )
    outcome = None
    problems = measure.problems_sorted(export.problems + parsed.problems)
    valid = form.is_valid()
    if column_problems and span is None:  # no dates to offer until the columns are chosen
        for name in ("window_start", "window_end"):
            form.errors.pop(name, None)
    if valid and not problems:
        mapping = {
            key: delivery.Target(stage, kind)  # type: ignore[arg-type]
            for key, (stage, kind) in form.choices().items()
            if stage is not None
        }
        outcome = measure.compute(
            parsed,
            mapping,
            loaded,
            form.cleaned_data["window_start"],
            form.cleaned_data["window_end"],
            form.cleaned_data["rollout"],
            tz,
        )
        if not mapping:
            if submitted is not None:  # on arrival, step 2 asks for it without an error
                form.add_error(None, "Map at least one segment or status to a stage.")
        elif not outcome.measured:
            form.add_error(
                "window_start",
                "No mapped stage has an item that ended in this window; widen it.",
            )
    previewing = "preview" in request.POST
    if request.method == "POST" and not previewing and outcome is not None and not form.errors:
        names = {st.pk: st.name for st in loaded.stages}
        choices = {
            key: (names.get(stage, "") if stage else "", kind)
            for key, (stage, kind) in form.choices().items()
        }
        copy = measure.create_version(
            loaded,
            outcome,
            name=form.cleaned_data["name"],
            quarter=form.cleaned_data["quarter"],
            upload=upload,
            columns=form.columns(),
            choices=choices,
            tz=tz,
            user=request.user,
        )
        messages.success(
            request,
            f"New version “{copy.name}” made from {outcome.items} measured "
            f"item{pluralize(outcome.items)}; "
            f"“{bmap.name}” is unchanged.",
        )
        return redirect(copy.get_absolute_url())
    preview = None
    if outcome is not None and not form.errors:
        preview = measure.preview_analysis(loaded, outcome)
    context = {
        "bmap": bmap,
        "upload": upload,
        "form": form,
        "csv_errors": problems,
        "outcome": outcome,
        "preview": preview,
        "span": span,
        "parsed": parsed,
        "time_zone": tz.key,
        "source_label": upload.get_source_display(),
        "min_items": delivery.MIN_ITEMS,
    }
    bad = bool(form.errors or problems)
    status = 400 if (request.method == "POST" or submitted is not None) and bad else 200
    return render(request, MEASURE, context, status=status)


@team_view
@require_POST
def measure_delete(request: TeamRequest, pk: int, upload_pk: int) -> HttpResponse:
    """Remove an uploaded export (versions already made from it keep their measurement)."""
    bmap = _map(request, pk)
    upload = team_get_object_or_404(
        request, DeliveryUpload.objects.defer("text"), pk=upload_pk, map=bmap
    )
    upload.delete()
    messages.info(request, f"The upload “{upload.filename or 'upload'}” was removed.")
    return redirect_after_post(
        request,
        reverse("bottlenecks:measure_upload", kwargs={"team": request.team.slug, "pk": bmap.pk}),
    )
