from __future__ import annotations

import logging
from datetime import UTC, datetime

import anthropic
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning.http import redirect_after_post, render_form, safe_next
from planning.notes.services import key_of, notes_for
from planning.quarters import quarter_label
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import client, estimate, graders, live, matrix, report, runs
from .forms import (
    AddModelForm,
    IdeaForm,
    OverrideForm,
    ProbeForm,
    ResumeForm,
    RunForm,
    StatusForm,
)
from .models import (
    AuditRun,
    Grade,
    Idea,
    IdeaStatus,
    IdeaStatusChange,
    Model,
    Price,
    Probe,
    Result,
    TeamModel,
    without_price,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- helpers
def refresh_models_quietly() -> None:
    """Discover models at most hourly; a Models API outage never breaks a page."""
    if cache.get("audits:models-sync-failed"):
        return
    try:
        client.sync_models()
    except anthropic.APIError:
        log.warning("model discovery failed", exc_info=True)
        cache.set("audits:models-sync-failed", True, 300)


def new_models(team) -> list[Model]:
    """Listed models, released after some dormant idea (with a probe) of this team failed,
    that the idea was never audited against: the notice is news only when there is something
    new to audit (a model the idea may well have failed on is no news; a model whose release
    date is unknown counts as new)."""
    released = Coalesce(OuterRef("released_at"), Value(datetime.max.replace(tzinfo=UTC)))
    untested = (
        Idea.objects.for_team(team)
        .filter(status=IdeaStatus.DORMANT, probes__isnull=False, failed_at__lt=released)
        .exclude(
            Exists(
                Result.objects.filter(
                    probe__idea=OuterRef("pk"), model=OuterRef(OuterRef("pk"))
                ).exclude(grade=Grade.ERROR)
            )
        )
    )
    count = untested.order_by().values("team").annotate(n=Count("pk", distinct=True)).values("n")
    models = Model.objects.filter(retired=False, is_alias=False).filter(Exists(untested))
    return list(models.annotate(untested=Subquery(count))[:3])


def default_models(team):
    chosen = Model.objects.filter(pk__in=TeamModel.objects.for_team(team).values("model_id"))
    return chosen if chosen.exists() else Model.objects.filter(retired=False, is_alias=False)[:2]


# ----------------------------------------------------------------------------- ideas
@team_view
@require_http_methods(["GET", "POST"])
def idea_list(request: TeamRequest) -> HttpResponse:
    ideas = (
        Idea.objects.for_team(request.team)
        .select_related("owner")
        .annotate(n_probes=Count("probes"))
    )
    if request.method == "POST":
        return _bulk(request, ideas)
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    if status in IdeaStatus.values:
        ideas = ideas.filter(status=status)
    if query:
        ideas = ideas.filter(
            Q(title__icontains=query)
            | Q(description__icontains=query)
            | Q(capability_needed__icontains=query)
        )
    rows = list(ideas)
    notes = notes_for(rows)
    for idea in rows:
        idea.ls = notes[key_of(idea)]
        idea.team = request.team
    refresh_models_quietly()
    counts = dict(
        Idea.objects.for_team(request.team)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    context = {
        "ideas": rows,
        "status": status,
        "q": query,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in IdeaStatus.choices],
        "new_models": new_models(request.team),
    }
    # the filters are a GET form: htmx swaps the table only
    return render_form(request, "audits/idea_list.html", context, partial="idea-table")


def _ids(request: HttpRequest, name: str) -> list[int]:
    """The integer ids posted under `name` (anything else, e.g. a tampered value, is ignored)."""
    return [int(v) for v in request.POST.getlist(name) if v.isdigit()]


def _bulk(request: TeamRequest, ideas) -> HttpResponse:
    chosen = list(ideas.filter(pk__in=_ids(request, "ids")))
    action = request.POST.get("action")
    if not chosen:
        messages.error(request, "Tick at least one idea first.")
    elif action == "audit":
        run = runs.create_run(
            request.team, request.user, models=list(default_models(request.team)), ideas=chosen
        )
        try:
            runs.start_run(run, request.user)
        except runs.RunError as exc:
            messages.error(request, str(exc))
            return redirect("audits:idea_list", team=request.team.slug)
        return redirect(run.get_absolute_url())
    elif action in ("dormant", "abandon"):
        target = IdeaStatus.DORMANT if action == "dormant" else IdeaStatus.ABANDONED
        for idea in chosen:
            idea.set_status(target, request.user, "Bulk action on the idea backlog.")
        messages.success(request, f"{len(chosen)} ideas marked {target.label.lower()}.")
    else:
        messages.error(request, "Choose an action.")
    return redirect("audits:idea_list", team=request.team.slug)


@team_view
@require_http_methods(["GET", "POST"])
def idea_create(request: TeamRequest) -> HttpResponse:
    form = IdeaForm(request.POST or None, team=request.team, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        idea = form.save(commit=False)
        idea.team = request.team
        idea.save()
        note = f" {idea.why_failed.strip()}" if idea.why_failed.strip() else ""
        IdeaStatusChange.objects.create(
            idea=idea,
            to_status=idea.status,
            changed_by=request.user,
            reason=f"Logged: failed on {idea.failed_on}.{note}",
        )
        messages.success(request, "Idea logged. Add a probe so an audit can test it.")
        return redirect_after_post(request, idea.get_absolute_url())
    return _form_page(request, form, "Log a failed idea", "Save idea")


@team_view
@require_http_methods(["GET", "POST"])
def idea_edit(request: TeamRequest, pk: int) -> HttpResponse:
    idea = team_get_object_or_404(request, Idea, pk=pk)
    form = IdeaForm(request.POST or None, instance=idea, team=request.team)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect_after_post(request, idea.get_absolute_url())
    return _form_page(request, form, f"Edit “{idea.title}”", "Save changes", idea)


def _form_page(request, form, title, submit, idea=None) -> HttpResponse:
    context = {"form": form, "title": title, "submit": submit, "idea": idea}
    return render_form(request, "audits/form.html", context)


@team_view
@require_GET
def idea_detail(request: TeamRequest, pk: int) -> HttpResponse:
    idea = team_get_object_or_404(request, Idea.objects.select_related("owner"), pk=pk)
    return _idea_page(request, idea)


def _idea_page(request: TeamRequest, idea: Idea, *, typed_reason: str = "",
               status: int = 200) -> HttpResponse:  # fmt: skip
    """The idea's page; `typed_reason` refills the decision's note after a refusal."""
    probes = list(idea.probes.all())
    grid = matrix.build(request.team, ideas=[idea])
    recent = (
        Result.objects.filter(probe__idea=idea)
        .select_related("model", "run", "probe")
        .order_by("-created_at")[:30]
    )
    return render(
        request,
        "audits/idea_detail.html",
        {
            "idea": idea,
            "probes": probes,
            "grid": grid,
            "model_cells": list(zip(grid.models, next(grid.rows(), (idea, []))[1], strict=True)),
            "recent": recent,
            "history": idea.status_changes.select_related("changed_by")[:20],
            "models": Model.objects.filter(retired=False),
            "status_form": StatusForm(),
            "typed_reason": typed_reason,
        },
        status=status,
    )


@team_view
@require_POST
def idea_status(request: TeamRequest, pk: int) -> HttpResponse:
    idea = team_get_object_or_404(request, Idea, pk=pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        # The idea's page again, with the message and the note as typed (not lost).
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return _idea_page(request, idea, typed_reason=request.POST.get("reason", ""), status=400)
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"].strip()
    if action == "promote":
        from planning.reviews.services import ReviewClosed, promote_idea

        try:
            review, item = promote_idea(idea, request.user, reason)
        except ReviewClosed as exc:
            messages.error(request, exc.messages[0])
            return redirect(idea.get_absolute_url())
        messages.success(
            request,
            f"“{idea.title}” is promoted: “{item.title}” is on the backlog of the "
            f"{quarter_label(review.quarter, request.team.fiscal_year_start_month)[0]} review "
            "(step 7), and step 3 records the decision.",
        )
        return redirect(safe_next(request) or idea.get_absolute_url())
    idea.set_status(StatusForm.ACTIONS[action], request.user, reason)
    messages.success(request, f"“{idea.title}” is now {idea.get_status_display().lower()}.")
    return redirect(safe_next(request) or idea.get_absolute_url())


# ----------------------------------------------------------------------------- probes
@team_view
@require_http_methods(["GET", "POST"])
def probe_create(request: TeamRequest, pk: int) -> HttpResponse:
    idea = team_get_object_or_404(request, Idea, pk=pk)
    form = ProbeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        probe = form.save(commit=False)
        probe.idea = idea
        probe.save()
        return redirect_after_post(request, idea.get_absolute_url())
    return _form_page(request, form, f"New probe for “{idea.title}”", "Save probe", idea)


@team_view
@require_http_methods(["GET", "POST"])
def probe_edit(request: TeamRequest, pk: int) -> HttpResponse:
    probe = team_get_object_or_404(request, Probe.objects.select_related("idea"), pk=pk)
    form = ProbeForm(request.POST or None, instance=probe)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect_after_post(request, probe.idea.get_absolute_url())
    return _form_page(request, form, f"Edit probe “{probe.name}”", "Save probe", probe.idea)


@team_view
@require_POST
def probe_try(request: TeamRequest, pk: int) -> HttpResponse:
    """Try one probe once against a chosen model; the answer streams into the page."""
    from .tasks import try_probe

    probe = team_get_object_or_404(request, Probe.objects.select_related("idea"), pk=pk)
    model = get_object_or_404(Model, pk__in=_ids(request, "model"), retired=False)
    session_id = live.create_session(
        request.team, request.user, "probe_try", f"{probe.name} on {model.model_id}"
    )
    try_probe.delay(str(session_id), probe.pk, model.pk)
    session = live.LiveSession.objects.get(pk=session_id)
    return render(
        request, "audits/partials/try.html", {"probe": probe, "model": model, "session": session}
    )


# ----------------------------------------------------------------------------- runs
@team_view
@require_GET
def run_list(request: TeamRequest) -> HttpResponse:
    refresh_models_quietly()
    return render(
        request,
        "audits/run_list.html",
        {
            "runs": AuditRun.objects.for_team(request.team).prefetch_related("models")[:50],
            "new_models": new_models(request.team),
            "dormant": Idea.objects.for_team(request.team)
            .filter(status=IdeaStatus.DORMANT)
            .count(),
        },
    )


@team_view
@require_http_methods(["GET", "POST"])
def run_create(request: TeamRequest) -> HttpResponse:
    idle = Idea.objects.for_team(request.team).filter(
        status__in=[IdeaStatus.DORMANT, IdeaStatus.RETESTING]
    )
    default_ideas = list(idle)
    default_models_ = request.GET.getlist("model") or list(default_models(request.team))
    initial = {"models": default_models_, "ideas": default_ideas}
    form = RunForm(request.POST or None, team=request.team, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run = runs.create_run(
            request.team,
            request.user,
            models=data["models"],
            ideas=data["ideas"],
            budget_usd=data["budget_usd"],
            budget_tokens=data["budget_tokens"],
        )
        try:
            runs.start_run(run, request.user)
        except runs.RunError as exc:
            form.add_error(None, str(exc))
            run.delete()
        else:
            return redirect_after_post(request, run.get_absolute_url())
    chosen = (
        (_ids(request, "ideas"), _ids(request, "models"))
        if form.is_bound
        else ([i.pk for i in default_ideas], _pks(default_models_))
    )
    context = {
        "form": form,
        "title": "Start a capability audit",
        "submit": "Start audit",
        "estimate": _estimate(request.team, *chosen),
    }
    return render_form(request, "audits/form.html", context)


def _pks(values) -> list[int]:
    """Model objects or ids as typed in a query string (anything not a number is ignored)."""
    pks = (getattr(v, "pk", v) for v in values)
    return [int(pk) for pk in map(str, pks) if pk.isdigit()]


def _estimate(team, idea_ids: list[int], model_ids: list[int]) -> estimate.Estimate:
    """What the chosen ideas and models would run (two queries)."""
    probes = Probe.objects.filter(idea__team=team, idea_id__in=idea_ids).values_list(
        "idea_id", "samples"
    )
    ideas = Idea.objects.for_team(team).filter(pk__in=idea_ids).values_list("pk", flat=True)
    models = Model.objects.filter(pk__in=model_ids, retired=False).count()
    return estimate.estimate(list(ideas), list(probes), models)


@team_view
@require_GET
def run_estimate(request: TeamRequest) -> HttpResponse:
    """The run form's estimate line, for the form's current choices (htmx, on change)."""
    ids = {name: [int(v) for v in request.GET.getlist(name) if v.isdigit()][:1000]
           for name in ("ideas", "models")}  # fmt: skip
    context = {"estimate": _estimate(request.team, ids["ideas"], ids["models"])}
    return render(request, "audits/form.html#estimate", context)


def _run(request, pk) -> AuditRun:
    return team_get_object_or_404(request, AuditRun.objects.select_related("team"), pk=pk)


def _progress_context(run: AuditRun) -> dict:
    errors = [
        {"label": (e["error_kind"] or "unknown cause").replace("_", " "), "n": e["n"]}
        for e in run.results.filter(grade=Grade.ERROR)
        .values("error_kind")
        .annotate(n=Count("pk"))
        .order_by("-n")
    ]
    grades = dict(run.results.values("grade").annotate(n=Count("pk")).values_list("grade", "n"))
    left = max(0, run.expected_calls - run.done_calls - run.error_calls)
    eta = None
    if run.is_active and run.started_at and run.done_calls:
        from django.utils import timezone

        per_call = (timezone.now() - run.started_at).total_seconds() / max(1, run.done_calls)
        eta = int(per_call * left)
    unpriced = list(without_price(run.models.all()).values_list("model_id", flat=True))
    return {
        "run": run,
        "errors": errors,
        "grades": grades,
        "left": left,
        "eta": eta,
        "unpriced": unpriced,
    }


@team_view
@require_GET
def run_detail(request: TeamRequest, pk: int) -> HttpResponse:
    """The run as a report: progress line, results matrix of this run (ideas × models, k of
    n, marks, spend), what lit up, then the per-idea breakdown (collapsed)."""
    run = _run(request, pk)
    models = list(run.models.all())
    ideas = list(run.ideas.all())
    grid = matrix.build(request.team, ideas=ideas, models=models, upto_run=run)
    built = report.build(run, ideas)
    rows = [
        (
            idea,
            [
                (m, cell, built.spend.get((idea.pk, m.pk)))
                for m, cell in zip(grid.models, cells, strict=True)
            ],
        )
        for idea, cells in grid.rows()
    ]
    session = None
    if run.live_session_id:
        session = live.LiveSession.objects.filter(pk=run.live_session_id).first()
    context = _progress_context(run) | {
        "grid": grid,
        "rows": rows,
        "breakdown": built.breakdown,
        "session": session,
        "lit_up": grid.lit_up_rows(),
    }
    return render(request, "audits/run_detail.html", context)


@team_view
@require_GET
def run_progress(request: TeamRequest, pk: int) -> HttpResponse:
    return render(request, "audits/run_detail.html#progress", _progress_context(_run(request, pk)))


@team_view
@require_POST
def run_stop(request: TeamRequest, pk: int) -> HttpResponse:
    run = runs.cancel_run(_run(request, pk), request.user)
    if request.htmx:
        return render(request, "audits/run_detail.html#progress", _progress_context(run))
    return redirect(run.get_absolute_url())


@team_view
@require_POST
def run_resume(request: TeamRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    form = ResumeForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"New budget: {form.errors['budget_usd'][0]}")
        return redirect(run.get_absolute_url())
    if form.cleaned_data["budget_usd"] is not None:
        run.budget_usd = form.cleaned_data["budget_usd"]
        run.save(update_fields=["budget_usd"])
    try:
        runs.start_run(run, request.user)
    except runs.AlreadyComplete as exc:
        messages.info(request, str(exc))
    except runs.RunError as exc:
        messages.error(request, str(exc))
    return redirect(run.get_absolute_url())


@team_view
@require_GET
def matrix_view(request: TeamRequest) -> HttpResponse:
    grid = matrix.build(request.team)
    return render(request, "audits/matrix.html", {"grid": grid, "lit_up": grid.lit_up_rows()})


@team_view
@require_http_methods(["GET", "POST"])
def result_detail(request: TeamRequest, pk: int) -> HttpResponse:
    result = team_get_object_or_404(
        request, Result.objects.select_related("run", "probe__idea", "model"), pk=pk
    )
    form = OverrideForm(request.POST or None, initial={"grade": result.grade})
    if request.method == "POST" and form.is_valid():
        runs.override_result(
            result, request.user, form.cleaned_data["grade"], form.cleaned_data["reason"]
        )
        messages.success(request, "Grade overridden; the original is kept in the history.")
        return redirect("audits:result_detail", team=request.team.slug, pk=result.pk)
    reason = graders.explain_result(
        result.probe.grader, result.grade, result.auto_grade, result.grader_output, result.error
    )
    context = {
        "result": result,
        "form": form,
        "overrides": result.overrides.select_related("overridden_by"),
        "reason": reason,
    }
    return render_form(request, "audits/result_detail.html", context, partial=None)


@team_view
@require_http_methods(["GET", "POST"])
def model_list(request: TeamRequest) -> HttpResponse:
    form = AddModelForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "refresh":
            try:
                client.sync_models(force=True)
                messages.success(request, "Model list refreshed from the Models API.")
            except anthropic.APIError as exc:
                messages.error(request, f"The Models API did not answer: {exc}")
        elif action == "choose":
            chosen = set(_ids(request, "models"))
            TeamModel.objects.for_team(request.team).exclude(model_id__in=chosen).delete()
            for model_id in chosen - set(
                TeamModel.objects.for_team(request.team).values_list("model_id", flat=True)
            ):
                if Model.objects.filter(pk=model_id).exists():
                    TeamModel.objects.create(team=request.team, model_id=model_id)
            messages.success(request, "Saved the models your audits test.")
        elif action == "add":
            form = AddModelForm(request.POST)
            if form.is_valid():
                try:
                    model = client.register_model(form.cleaned_data["name"].strip())
                    TeamModel.objects.get_or_create(team=request.team, model=model)
                    return redirect("audits:model_list", team=request.team.slug)
                except anthropic.APIError as exc:
                    form.add_error("name", f"The Models API does not know it: {exc}")
        if not form.errors:
            return redirect("audits:model_list", team=request.team.slug)
    else:
        refresh_models_quietly()
    chosen = set(TeamModel.objects.for_team(request.team).values_list("model_id", flat=True))
    spend = dict(
        Result.objects.for_team(request.team)
        .values("model_id")
        .annotate(c=Sum("cost_usd"))
        .values_list("model_id", "c")
    )
    models = list(Model.objects.all())
    prices = list(Price.objects.all())
    for m in models:
        m.chosen = m.pk in chosen
        m.spend = spend.get(m.pk)
        m.price = client.price_for(m.resolves_to or m.model_id, prices)
    context = {"models": models, "form": form}
    return render_form(request, "audits/model_list.html", context, partial=None)
