"""The facilitator's pages: the team setting (owners change it) and the draft panel on a
review step (editors draft, accept, discard). Thin: the work is in services and panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audits import client
from planning.reviews.models import STEPS, Review
from planning.teams import audit
from planning.teams.models import Role
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import panel as draft_panel
from . import services
from .citations import KINDS, SYSTEM_PROMPT
from .forms import SettingForm
from .models import Draft

PANEL = "facilitator/panel.html#panel"


@team_view(write_role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def settings_page(request: TeamRequest) -> HttpResponse:
    setting = services.settings_for(request.team)
    if request.method == "GET":
        from audits.views import refresh_models_quietly

        refresh_models_quietly()  # at most hourly; an outage never breaks the page
    models = services.model_choices()
    form = SettingForm(request.POST or None, instance=setting, models=models)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.team = request.team
        saved.updated_by = request.user
        saved.save()
        state = "on" if saved.enabled else "off"
        audit.record(
            request.team,
            request.user,
            "team.settings",
            f"Claude facilitator {state}, model {saved.model_id or 'newest'}, "
            f"budget ${saved.monthly_budget_usd}/month",
        )
        messages.success(request, f"The Claude facilitator is {state}.")
        return redirect("facilitator:settings", team=request.team.slug)
    recent = Draft.objects.filter(team=request.team).select_related("review", "created_by")[:20]
    model = services.model_for(setting)
    return render(
        request,
        "facilitator/settings.html",
        {
            "form": form,
            "setting": setting,
            "model": model,
            "unpriced": bool(model) and client.price_for(model) is None,
            "spent": services.spent_this_month(request.team),
            "recent": recent,
            "kinds": KINDS,
            "system_prompt": SYSTEM_PROMPT,
        },
        status=400 if request.method == "POST" else 200,
    )


def _review(request: TeamRequest, quarter: str, n: int) -> Review:
    if not 1 <= n <= len(STEPS):
        raise Http404("No such step")
    return team_get_object_or_404(request, Review.objects.select_related("team"), quarter=quarter)


def _panel(request: TeamRequest, review: Review, step: int, status: int = 200, **extra):
    context = draft_panel.context(review, step, request.membership, **extra)
    return render(request, PANEL, context, status=status)


@team_view
@require_GET
def panel(request: TeamRequest, quarter: str, n: int) -> HttpResponse:
    return _panel(request, _review(request, quarter, n), n)


@team_view
@require_POST
def start(request: TeamRequest, quarter: str, n: int) -> HttpResponse:
    review = _review(request, quarter, n)
    try:
        services.start_draft(review, n, request.user)
    except services.Refused as refused:
        if not request.htmx:
            messages.error(request, str(refused))
            return redirect(review.step_url(n))
        return _panel(request, review, n, status=400, error=str(refused))
    if not request.htmx:
        return redirect(review.step_url(n))
    return _panel(request, review, n)


def _draft(request: TeamRequest, pk: int) -> Draft:
    return team_get_object_or_404(request, Draft.objects.select_related("review__team"), pk=pk)


@team_view
@require_POST
def accept(request: TeamRequest, pk: int) -> HttpResponse:
    draft = _draft(request, pk)
    raw = request.POST.get("paragraph", "")
    paragraph = int(raw) if raw.isdigit() else None
    error = ""
    try:
        services.accept(draft, request.user, paragraph)
    except (services.NotAvailable, services.review_services.StaleWrite) as refused:
        error = (
            str(refused)
            if isinstance(refused, services.NotAvailable)
            else ("A colleague changed the notes meanwhile; reload and accept again.")
        )
    except ValidationError as refused:
        error = refused.messages[0]
    if not request.htmx or not error:
        if error:
            messages.error(request, error)
        return redirect(draft.review.step_url(draft.step))
    return _panel(request, draft.review, draft.step, status=400, error=error)


@team_view
@require_GET
def revised(request: TeamRequest, pk: int) -> HttpResponse:
    """Polled by every tab showing a finished draft: 204 until a revision of it exists, then
    "Revised by <name> — open the revision" with 286, which tells htmx to stop polling."""
    draft = _draft(request, pk)
    revision = draft_panel.revision_of(draft)
    if revision is None:
        return HttpResponse(status=204)
    context = {"draft": draft, "review": draft.review, "revision": revision}
    return render(request, "facilitator/panel.html#revised", context, status=286)


@team_view
@require_POST
def discard(request: TeamRequest, pk: int) -> HttpResponse:
    draft = _draft(request, pk)
    services.discard(draft, request.user)
    if not request.htmx:
        return redirect(draft.review.step_url(draft.step))
    return _panel(request, draft.review, draft.step)
