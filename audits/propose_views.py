"""Probes from an idea, in the browser: the proposals panel on an idea's page ("Propose probes
with Claude", editors only), saving a proposal through the normal probe form (prefilled), and
"Try once" on a proposal. Thin: the work is in propose.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST

from planning.facilitator import assist
from planning.http import redirect_after_post, render_form
from planning.live.models import LiveSession
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import proposals as pure
from . import propose
from .forms import ProbeForm
from .models import GraderKind, Idea, Model, ProbeProposal

PANEL = "audits/partials/proposals.html#panel"
GRADERS = dict(GraderKind.choices)


def panel_context(request: TeamRequest, idea: Idea, **extra) -> dict:
    batch = (
        ProbeProposal.objects.filter(idea=idea)
        .select_related("session", "created_by")
        .order_by("-created_at", "-pk")
        .first()
    )
    return {
        "idea": idea,
        "batch": batch,
        **assist.panel_state(idea.team, request.membership, batch),
        "items": [
            (n, {**item, "grader_label": GRADERS.get(item.get("grader", ""), "")})
            for n, item in enumerate(batch.proposals or [])
        ]
        if batch
        else [],
        "can_propose": request.membership.can_edit,
        "models": Model.objects.filter(retired=False) if request.membership.can_edit else [],
        **extra,
    }


def _idea(request: TeamRequest, pk: int) -> Idea:
    return team_get_object_or_404(request, Idea.objects.select_related("team"), pk=pk)


def _batch(request: TeamRequest, pk: int, n: int | None = None) -> ProbeProposal:
    """The team's batch of proposals, or 404; also 404 when a finished batch has no proposal
    `n` (a batch still running or failed answers with a message instead)."""
    batch = team_get_object_or_404(
        request, ProbeProposal.objects.select_related("idea__team"), pk=pk
    )
    ready = batch.status == ProbeProposal.Status.READY
    if n is not None and ready and not 0 <= n < len(batch.proposals or []):
        raise Http404("No such proposal.")
    return batch


@team_view
@require_http_methods(["GET", "POST"])
def propose_probes(request: TeamRequest, pk: int) -> HttpResponse:
    """GET: the panel (htmx reloads it when the generation ends). POST: start proposing."""
    idea = _idea(request, pk)
    if request.method == "GET":
        return render(request, PANEL, panel_context(request, idea))
    try:
        propose.start(idea, request.user)
    except propose.Refused as refused:
        if not request.htmx:
            messages.error(request, str(refused))
            return redirect(idea.get_absolute_url())
        return render(request, PANEL, panel_context(request, idea, error=str(refused)), status=400)
    if not request.htmx:
        return redirect(idea.get_absolute_url() + "#proposals")
    return render(request, PANEL, panel_context(request, idea))


def _initial(item: dict) -> dict:
    data: dict = dict(pure.form_data(item, ""))
    data["case_sensitive"] = bool(item.get("case_sensitive"))
    return data


@team_view
@require_http_methods(["GET", "POST"])
def proposal_save(request: TeamRequest, pk: int, n: int) -> HttpResponse:
    """The normal probe form, prefilled with proposal `n`; saving creates the probe on the
    proposal's idea (the same team's, or 404) and marks the proposal saved."""
    batch = _batch(request, pk, n)
    idea = batch.idea
    try:
        item = propose.item_of(batch, n)
    except propose.NotAvailable:
        messages.error(request, "That proposal is no longer available: propose again.")
        return redirect(idea.get_absolute_url())
    judge = propose.judge_for(batch)
    if request.method == "POST":
        form = ProbeForm(request.POST)
    elif item.get("errors"):
        form = propose.form_for(item, judge)  # bound: the problems show beside their fields
    else:
        form = ProbeForm(initial={**_initial(item), "judge_model": judge})
    if request.method == "POST" and form.is_valid():
        probe = form.save(commit=False)
        probe.idea = idea
        probe.save()
        propose.mark_saved(batch, n, probe)
        messages.success(request, f"Probe “{probe.name}” saved from Claude's proposal.")
        return redirect_after_post(request, idea.get_absolute_url())
    context = {
        "form": form,
        "title": f"Review the proposed probe for “{idea.title}”",
        "submit": "Save probe",
        "idea": idea,
    }
    return render_form(
        request, "audits/form.html", context, status=400 if request.method == "POST" else 200
    )


@team_view
@require_POST
def proposal_try(request: TeamRequest, pk: int, n: int) -> HttpResponse:
    """Try proposal `n` once against a chosen model, before it is saved: the same try-once
    path as a saved probe (a live session, the answer streamed, then graded)."""
    from audits import live as audits_live

    from .tasks import try_proposal
    from .views import _ids

    batch = _batch(request, pk, n)
    model = get_object_or_404(Model, pk__in=_ids(request, "model"), retired=False)
    try:
        probe = propose.unsaved_probe(batch, n)
    except propose.NotAvailable as refused:
        return HttpResponse(
            format_html('<p class="flash flash-error" role="alert">{}</p>', str(refused)),
            status=400,
        )
    session_id = audits_live.create_session(
        request.team, request.user, "probe_try", f"{probe.name} on {model.model_id}"
    )
    try_proposal.delay(str(session_id), batch.pk, n, model.pk)
    return render(
        request,
        "audits/partials/try.html",
        {"probe": probe, "model": model, "session": LiveSession.objects.get(pk=session_id)},
    )
