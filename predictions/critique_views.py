"""The Claude critique beside the outside view on the prediction form (issue 19). Thin: the
work is in critiques.py. A critique is advice: nothing here changes a prediction."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from planning.facilitator import assist
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import critiques
from .forms import PredictionForm
from .models import Critique, Metric

PANEL = "predictions/critique.html#panel"


def panel_context(request: TeamRequest, metric: Metric, critique=None, **extra) -> dict:
    return {
        "metric": metric,
        "critique": critique,
        **assist.panel_state(metric.team, request.membership, critique),
        "can_critique": request.membership.can_edit,
        **extra,
    }


def _metric(request: TeamRequest, pk: int) -> Metric:
    return team_get_object_or_404(request, Metric.objects.select_related("team"), pk=pk)


def _refuse(request: TeamRequest, metric: Metric, message: str) -> HttpResponse:
    return render(request, PANEL, panel_context(request, metric, error=message), status=400)


@team_view
@require_POST
def critique_start(request: TeamRequest, pk: int) -> HttpResponse:
    """Critique the rationale in the posted prediction form (the form itself is not saved)."""
    from .views import _outside_view, _track_record

    metric = _metric(request, pk)
    reason = critiques.refusal(metric)
    if reason:
        return _refuse(request, metric, reason)
    form = PredictionForm(request.POST, metric=metric, user=request.user)
    if not form.is_valid():
        return _refuse(
            request,
            metric,
            "Fix the highlighted fields of the form first: the critique reads the forecast as "
            "entered.",
        )
    if not (form.cleaned_data.get("rationale") or "").strip():
        return _refuse(request, metric, "Write a rationale first: the critique is of your reasons.")
    sent = critiques.sent_for(metric, form, _outside_view(metric, form), _track_record(request))
    try:
        critique = critiques.start(metric, request.user, sent)
    except critiques.Refused as refused:
        return _refuse(request, metric, str(refused))
    return render(request, PANEL, panel_context(request, metric, critique))


@team_view
@require_GET
def critique_panel(request: TeamRequest, pk: int, cid: int) -> HttpResponse:
    metric = _metric(request, pk)
    critique = team_get_object_or_404(request, Critique.objects.select_related("session"), pk=cid)
    if critique.metric_id != metric.pk:
        raise Http404("No such critique")
    return render(request, PANEL, panel_context(request, metric, critique))
