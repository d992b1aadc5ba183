""" "Find the missing side" pages: start a run on the light-and-shade step, accept (as
proposed or edited) or discard a proposal. Thin: the work is in missing_side."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from planning.forms import Form
from planning.reviews.logic import Step
from planning.reviews.models import Review
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import missing_side, services, sides
from .models import SideProposal

PANEL = "facilitator/sides.html#panel"


class AcceptForm(Form):
    text = forms.CharField(
        label="The proposed side", max_length=sides.TEXT_LIMIT, strip=True, required=True
    )


def _review(request: TeamRequest, quarter: str) -> Review:
    return team_get_object_or_404(request, Review.objects.select_related("team"), quarter=quarter)


def _panel(request: TeamRequest, review: Review, status: int = 200, **extra) -> HttpResponse:
    context = missing_side.panel_context(review, request.membership, **extra)
    return render(request, PANEL, context, status=status)


def _step_url(review: Review, anchor: str = "sides-panel") -> str:
    return f"{review.step_url(Step.LIGHT_AND_SHADE)}#{anchor}"


@team_view
@require_GET
def panel(request: TeamRequest, quarter: str) -> HttpResponse:
    return _panel(request, _review(request, quarter))


@team_view
@require_POST
def start(request: TeamRequest, quarter: str) -> HttpResponse:
    review = _review(request, quarter)
    try:
        missing_side.start_run(review, request.user)
    except services.Refused as refused:
        if not request.htmx:
            messages.error(request, str(refused))
            return redirect(_step_url(review))
        return _panel(request, review, status=400, error=str(refused))
    if not request.htmx:
        return redirect(_step_url(review))
    return _panel(request, review)


def _proposal(request: TeamRequest, pk: int) -> SideProposal:
    return team_get_object_or_404(
        request, SideProposal.objects.select_related("run__review__team", "bet"), pk=pk
    )


@team_view
@require_POST
def accept(request: TeamRequest, pk: int) -> HttpResponse:
    proposal = _proposal(request, pk)
    review = proposal.run.review
    form = AcceptForm(request.POST)
    error = ""
    if not form.is_valid():
        error = str(form.errors["text"][0]) if "text" in form.errors else "Check the text."
    else:
        try:
            missing_side.accept(proposal, request.user, form.cleaned_data["text"])
        except services.NotAvailable as refused:
            error = str(refused)
    if not error:
        done = f"The {sides.SIDES[proposal.kind]} of “{proposal.bet.title}” was added."
        messages.success(request, done)
        url = _step_url(review, f"bet-{proposal.bet_id}")
        if request.htmx:  # the bet's own light and shade changed: load the whole step again
            # (a URL differing only in its #fragment would not reload the page)
            url = url.replace("#", f"?accepted={proposal.pk}#", 1)
            return HttpResponse(status=204, headers={"HX-Redirect": url})
        return redirect(url)
    if not request.htmx:
        messages.error(request, error)
        return redirect(_step_url(review))
    typed = {proposal.pk: request.POST.get("text", "")}
    return _panel(request, review, status=400, errors={proposal.pk: error}, typed=typed)


@team_view
@require_POST
def discard(request: TeamRequest, pk: int) -> HttpResponse:
    proposal = _proposal(request, pk)
    missing_side.discard(proposal, request.user)
    if not request.htmx:
        return redirect(_step_url(proposal.run.review))
    return _panel(request, proposal.run.review)
