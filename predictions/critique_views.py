"""The Claude critique beside the outside view on the prediction form (issue 19). Thin: the
work is in critiques.py. A critique is advice: nothing here changes a prediction."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from planning.facilitator.services import settings_for, spent_this_month
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import critiques
from .forms import PredictionForm
from .models import Critique, Metric

PANEL = "predictions/critique.html#panel"


def panel_context(request: TeamRequest, metric: Metric, critique=None, **extra) -> dict:
    setting = settings_for(metric.team)
    running = bool(
        critique
        and critique.status == Critique.Status.RUNNING
        and critique.session
        and not critique.session.is_finished
    )
    return {
        "metric": metric,
        "setting": setting,
        "critique": critique,
        "running": running,
        "stopped": bool(critique and critique.status == Critique.Status.RUNNING and not running),
        "can_critique": request.membership.can_edit,
        "is_owner": request.membership.is_owner,
        "spent": spent_this_month(metric.team) if setting.enabled else None,
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
