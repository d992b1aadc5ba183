"""Screens for connected metrics: a metric's source (form, "Test the source", status) and
its inbound push URL; and the push endpoint itself (no session: the URL's token is the key)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from planning.http import redirect_after_post, render_form
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import fetching, push, trials
from .forms import MetricSourceForm
from .models import Metric, MetricPush, MetricSource

TRIAL_ROWS_SHOWN = 20
TEST_RATE_MESSAGE = "You have tested sources many times in the last minute: wait a minute."


def _metric(request: TeamRequest, pk: int) -> Metric:
    metric = team_get_object_or_404(request, Metric, pk=pk)
    metric.team = request.team
    return metric


def _source(metric: Metric) -> MetricSource | None:
    return MetricSource.objects.filter(metric=metric).first()


def _page(request, metric, form, *, token: str = "", status: int | None = None, trial=None):
    source = form.instance if form.instance.pk else None
    context = {
        "metric": metric,
        "form": form,
        "source": source,
        "push": MetricPush.objects.filter(metric=metric).first(),
        "push_token": token,
        "push_url": _push_url(request, metric, token) if token else "",
        "trial": trial,
        "timeout": fetching.timeout_seconds(),
    }
    return render_form(request, "predictions/metric_source.html", context, status=status)


def _push_url(request: HttpRequest, metric: Metric, token: str) -> str:
    return request.build_absolute_uri(reverse("push_receive", kwargs={"token": token}))


@team_view(role="editor")
@require_http_methods(["GET", "POST"])
def metric_source(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    source = _source(metric)
    form = MetricSourceForm(request.POST or None, instance=source, metric=metric)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if source is None:
            saved.created_by = request.user
        # A saved edit starts afresh: fetched on the next tick in full (no If-None-Match: the
        # URL or the mapping may have changed), with no failures carried over.
        saved.next_fetch_at = timezone.now()
        saved.claim_token = None
        saved.etag = saved.last_modified = saved.last_error = ""
        saved.failures = 0
        saved.failing_since = saved.failure_notified_at = None
        saved.save()
        messages.success(
            request, f"Source saved: “{metric.name}” will be fetched from {saved.host} shortly."
        )
        return redirect_after_post(request, metric.get_absolute_url())
    return _page(request, metric, form)


@team_view(role="editor")
@require_POST
def metric_source_test(request: TeamRequest, pk: int) -> HttpResponse:
    """Fetch and parse once with what the form holds now; save nothing (htmx partial)."""
    metric = _metric(request, pk)
    source = _source(metric)
    form = MetricSourceForm(request.POST, instance=source, metric=metric)
    trial = None
    status = 400 if form.errors else 200
    pending = None
    if form.is_valid():
        if _consume_test_rate(request):
            unsaved = form.save(commit=False)
            unsaved.metric = metric
            if request.htmx:  # fetched by a worker; the partial polls for the outcome
                pending = _poll_context(
                    metric,
                    trials.start(
                        unsaved,
                        user_id=request.user.pk,
                        team_id=request.team.pk,
                        today=request.team.today(),
                    ),
                    unsaved.host,
                )
            else:  # without JavaScript nothing would poll: fetched here, as before
                trial = fetching.try_source(
                    unsaved, credential=form.credential(), today=request.team.today()
                )
        else:
            trial = fetching.Trial(error=TEST_RATE_MESSAGE)
            status = 429
    context = {
        "metric": metric,
        "form": form,
        "trial": trial,
        "pending": pending,
        "rows_shown": TRIAL_ROWS_SHOWN,
        "timeout": fetching.timeout_seconds(),
    }
    template = "predictions/metric_source.html"
    name = f"{template}#form" if request.htmx else template
    return render(request, name, context, status=status)


def _poll_context(metric: Metric, trial_id: str, host: str) -> dict:
    url = reverse(
        "predictions:source_test_result",
        kwargs={"team": metric.team.slug, "pk": metric.pk, "trial_id": trial_id},
    )
    return {"url": url, "host": host}


@team_view(role="editor")
@require_GET
def metric_source_test_result(request: TeamRequest, pk: int, trial_id: str) -> HttpResponse:
    """The poll of a queued test: "Fetching …" while it runs, then the outcome with 286 (htmx
    stops polling). Another user's, team's or metric's test is a 404, like an unknown one."""
    metric = _metric(request, pk)
    entry = trials.find(
        trial_id, user_id=request.user.pk, team_id=request.team.pk, metric_id=metric.pk
    )
    if entry is None:
        raise Http404("No such test.")
    trial = trials.outcome(entry)
    done = trial is not None
    context = {
        "metric": metric,
        "trial": trial,
        "pending": None if done else _poll_context(metric, trial_id, entry["host"]),
        "rows_shown": TRIAL_ROWS_SHOWN,
        "timeout": fetching.timeout_seconds(),
        "buttons_oob": done,
    }
    return render(
        request, "predictions/metric_source.html#trial", context, status=286 if done else 200
    )


def _consume_test_rate(request: TeamRequest) -> bool:
    """One "Test the source" against the user's limit (SOURCE_TEST_RATE_LIMIT): each test can
    hold a Celery worker (a web worker without JavaScript) for up to SOURCE_FETCH_TIMEOUT."""
    from allauth.core.internal import ratelimit
    from django.conf import settings

    usage = ratelimit.consume(
        request,
        app="predictions",
        action="source_test",
        config={"source_test": settings.SOURCE_TEST_RATE_LIMIT},
        user=request.user,
    )
    return usage is not None


@team_view(role="editor")
@require_POST
def metric_source_delete(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    MetricSource.objects.filter(metric=metric).delete()
    messages.success(request, "Source removed: its observations stay.")
    return redirect_after_post(request, metric.get_absolute_url())


@team_view(role="editor")
@require_POST
def metric_push(request: TeamRequest, pk: int) -> HttpResponse:
    """Make (or rotate) the push URL and show it this once; `revoke` removes it."""
    metric = _metric(request, pk)
    form = MetricSourceForm(instance=_source(metric), metric=metric)
    if request.POST.get("action") == "revoke":
        MetricPush.objects.filter(metric=metric).delete()
        messages.success(request, "Push URL revoked: posts to it now answer 404.")
        return redirect_after_post(request, reverse_source(metric))
    token = push.issue(metric, request.user)
    return _page(request, metric, form, token=token)


def reverse_source(metric: Metric) -> str:
    return reverse("predictions:metric_source", kwargs={"team": metric.team.slug, "pk": metric.pk})


def _error(status: int, message: str, fields: dict | None = None) -> JsonResponse:
    body: dict = {"error": message}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


@csrf_exempt
def push_receive(request: HttpRequest, token: str) -> HttpResponse:
    """POST JSON or CSV observations to a metric's secret URL (no session, no CSRF token)."""
    if request.method != "POST":
        response = _error(405, "POST JSON or CSV observations to this URL.")
        response["Allow"] = "POST"
        return response
    found = push.find(token)
    if found is None:
        return _error(404, "No metric has this push URL (it may have been rotated).")
    if not push.consume_rate(request, found):
        return _error(429, "Too many requests to this push URL. Wait a minute and try again.")
    try:
        received = push.receive(found, request.body, request.content_type or "")
    except push.PushError as error:
        return _error(error.status, error.message, error.fields)
    return JsonResponse(
        {
            "created": received.created,
            "updated": received.updated,
            "unchanged": received.unchanged,
            "resolved_predictions": received.resolved,
        }
    )
