from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from planning.http import redirect_after_post, render_form
from planning.teams import audit
from planning.teams.models import Role
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from . import ics, services
from . import schedule as sched
from .forms import CadenceForm, CadenceSettingsForm, OccurrenceNoteForm
from .models import (
    OPEN_STATES,
    Cadence,
    Notification,
    Occurrence,
    Reminder,
    ReminderStatus,
    State,
    TeamCadenceSettings,
)

HISTORY_LIMIT = 50
PREVIEW_COUNT = 8


def _list_url(request: TeamRequest) -> str:
    return reverse("cadences:cadence_list", kwargs={"team": request.team.slug})


@team_view
def cadence_list(request: TeamRequest) -> HttpResponse:
    next_open = Occurrence.objects.filter(cadence=OuterRef("pk"), state__in=OPEN_STATES).order_by(
        "due_at"
    )
    cadences = Cadence.objects.for_team(request.team).annotate(
        next_occ_due=Subquery(next_open.values("due_at")[:1]),
        next_occ_overdue=Subquery(next_open.values("overdue_at")[:1]),
        next_occ_id=Subquery(next_open.values("pk")[:1]),
        failing=Count(
            "occurrences__reminders",
            filter=Q(occurrences__reminders__status=ReminderStatus.FAILED),
        ),
    )
    now = timezone.now()
    rows = []
    for c in cadences:
        c.team = request.team
        state = None
        if c.next_occ_due:
            occ = Occurrence(due_at=c.next_occ_due, overdue_at=c.next_occ_overdue)
            state = occ.current_state(now)
        rows.append({"cadence": c, "state": state, "next_due": c.next_occ_due or c.next_due_at})
    return render(
        request,
        "cadences/cadence_list.html",
        {"rows": rows, "feed": _feed_context(request)},
    )


def _feed_context(request: TeamRequest) -> dict:
    settings_obj = TeamCadenceSettings.of(request.team)
    return {
        "settings": settings_obj,
        "url": request.build_absolute_uri(
            reverse("calendar_feed", kwargs={"token": settings_obj.feed_token})
        ),
    }


def _form_response(request: TeamRequest, form: CadenceForm, cadence: Cadence | None):
    context = {"form": form, "cadence": cadence, "preview": _preview_context(request, form)}
    return render_form(request, "cadences/cadence_form.html", context)


def _preview_context(request: TeamRequest, form: CadenceForm) -> dict:
    if not form.is_bound:
        form = CadenceForm(data=_initial_data(form), team=request.team)
    valid = form.is_valid()
    upcoming = form.upcoming[:PREVIEW_COUNT] if valid else []
    errors = []
    for name, errs in ({} if valid else form.errors).items():
        label = form.fields[name].label if name in form.fields else ""
        errors += [f"{label}: {e}" if label else e for e in errs]
    words = ""
    if valid:
        data = form.cleaned_data
        rule = sched.Schedule(
            data["rrule"], request.team.time_zone, data["due_time"], data["starts_on"]
        )
        preset = sched.PRESETS.get(data.get("preset") or "")
        words = preset.label if preset else sched.describe(rule)
    return {"upcoming": upcoming, "errors": errors if not upcoming else [], "words": words}


def _initial_data(form: CadenceForm) -> dict:
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        if name == "people":
            data[name] = [getattr(v, "pk", v) for v in value]
        elif name == "due_time" and hasattr(value, "strftime"):
            data[name] = value.strftime("%H:%M")
        elif name == "paused":
            if value:
                data[name] = "on"
        else:
            data[name] = value
    data.setdefault("title", "Preview")
    return data


@team_view
@require_http_methods(["GET", "POST"])
def cadence_create(request: TeamRequest) -> HttpResponse:
    form = CadenceForm(request.POST or None, team=request.team)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            cadence = form.save()
            services.reschedule(cadence)
        messages.success(request, f"Cadence “{cadence.title}” created.")
        return redirect_after_post(request, cadence.get_absolute_url())
    return _form_response(request, form, None)


@team_view
@require_http_methods(["GET", "POST"])
def cadence_edit(request: TeamRequest, pk: int) -> HttpResponse:
    cadence = team_get_object_or_404(request, Cadence, pk=pk)
    form = CadenceForm(request.POST or None, instance=cadence, team=request.team)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            cadence = form.save()
            services.reschedule(cadence)
        messages.success(request, f"Cadence “{cadence.title}” saved.")
        return redirect_after_post(request, cadence.get_absolute_url())
    return _form_response(request, form, cadence)


@team_view
@require_GET
def cadence_preview(request: TeamRequest) -> HttpResponse:
    """The next occurrences of the rule being edited, in the team's time zone (htmx)."""
    form = CadenceForm(request.GET, team=request.team)
    return render(
        request, "cadences/cadence_form.html#preview", {"preview": _preview_context(request, form)}
    )


@team_view
@require_POST
def cadence_delete(request: TeamRequest, pk: int) -> HttpResponse:
    cadence = team_get_object_or_404(request, Cadence, pk=pk)
    cadence.delete()
    messages.success(request, f"Cadence “{cadence.title}” deleted.")
    return redirect_after_post(request, _list_url(request))


@team_view
def cadence_detail(request: TeamRequest, pk: int) -> HttpResponse:
    cadence = team_get_object_or_404(request, Cadence.objects.prefetch_related("people"), pk=pk)
    occurrences = list(
        cadence.occurrences.select_related("completed_by")
        .annotate(
            sent=Count("reminders", filter=Q(reminders__status=ReminderStatus.SENT)),
        )
        .order_by("-due_at")[:HISTORY_LIMIT]
    )
    failures = (
        Reminder.objects.filter(occurrence__cadence=cadence, status=ReminderStatus.FAILED)
        .select_related("recipient", "occurrence")
        .order_by("-created_at")[:20]
    )
    upcoming = []
    if not cadence.paused:
        try:
            upcoming = cadence.schedule(request.team).after(timezone.now(), PREVIEW_COUNT)
        except (ValueError, OverflowError):  # a broken stored rule must not break the page
            upcoming = []
    return render(
        request,
        "cadences/cadence_detail.html",
        {
            "cadence": cadence,
            "occurrences": occurrences,
            "failures": list(failures),
            "upcoming": upcoming,
            "note_form": OccurrenceNoteForm(),
        },
    )


@team_view
@require_POST
def occurrence_mark(request: TeamRequest, pk: int, state: str) -> HttpResponse:
    if state not in (State.DONE, State.SKIPPED):
        raise Http404
    occurrence = team_get_object_or_404(
        request, Occurrence.objects.select_related("cadence"), pk=pk
    )
    form = OccurrenceNoteForm(request.POST)
    try:
        if not form.is_valid():  # a note too long: say so rather than drop it
            raise ValidationError(list(form.errors["note"]))
        services.mark(occurrence, state, by=request.user, note=form.cleaned_data["note"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        verb = "done" if state == State.DONE else "skipped"
        messages.success(request, f"Marked {occurrence.cadence.title} {verb}.")
    return redirect_after_post(request, occurrence.cadence.get_absolute_url())


@team_view(write_role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def cadence_settings(request: TeamRequest) -> HttpResponse:
    settings_obj = TeamCadenceSettings.of(request.team)
    form = CadenceSettingsForm(request.POST or None, instance=settings_obj)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            if "webhook_url" in form.changed_data:
                audit.record(
                    request.team,
                    request.user,
                    "webhook.changed",
                    audit.webhook_summary(form.cleaned_data.get("webhook_url") or ""),
                )
        messages.success(request, "Delivery settings saved.")
        return redirect_after_post(
            request, reverse("cadences:settings", kwargs={"team": request.team.slug})
        )
    context = {"form": form, "feed": _feed_context(request)}
    return render_form(request, "cadences/settings.html", context)


@team_view(write_role=Role.OWNER)
@require_POST
def rotate_webhook_secret(request: TeamRequest) -> HttpResponse:
    with transaction.atomic():
        TeamCadenceSettings.of(request.team).rotate_webhook_secret()
        audit.record(request.team, request.user, "webhook.changed", "Replaced the signing secret")
    messages.success(request, "New signing secret made: deliveries are signed with it from now.")
    return redirect_after_post(
        request, reverse("cadences:settings", kwargs={"team": request.team.slug})
    )


@team_view(write_role=Role.OWNER)
@require_POST
def rotate_feed_token(request: TeamRequest) -> HttpResponse:
    with transaction.atomic():
        TeamCadenceSettings.of(request.team).rotate_feed_token()
        audit.record(
            request.team,
            request.user,
            "calendar_feed.changed",
            "Made a new calendar link (the old one stopped working)",
        )
    messages.success(request, "New calendar link made: the old one no longer works.")
    return redirect_after_post(
        request, reverse("cadences:settings", kwargs={"team": request.team.slug})
    )


# --------------------------------------------------------------------------- notifications
def _my_notifications(request: TeamRequest):
    return Notification.objects.for_team(request.team).filter(user=request.user)


@team_view
def notification_list(request: TeamRequest) -> HttpResponse:
    items = list(_my_notifications(request)[:100])
    return render(request, "cadences/notifications.html", {"items": items})


@team_view
@require_GET
def notification_bell(request: TeamRequest) -> HttpResponse:
    unread = _my_notifications(request).filter(read_at__isnull=True).count()
    return render(request, "cadences/bell.html#count", {"unread": unread})


@team_view(write_role=Role.VIEWER)
@require_POST
def notification_read(request: TeamRequest, pk: int) -> HttpResponse:
    item = team_get_object_or_404(request, Notification.objects.filter(user=request.user), pk=pk)
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
    if request.htmx:
        return render(request, "cadences/notifications.html#item", {"n": item})
    return redirect(
        item.url or reverse("cadences:notifications", kwargs={"team": request.team.slug})
    )


@team_view(write_role=Role.VIEWER)
@require_POST
def notification_read_all(request: TeamRequest) -> HttpResponse:
    _my_notifications(request).filter(read_at__isnull=True).update(read_at=timezone.now())
    return redirect_after_post(
        request, reverse("cadences:notifications", kwargs={"team": request.team.slug})
    )


# Reading one's own notifications changes nothing the team shares.
# (Function attributes, read by tests/teams/test_tenancy.py: unknown to the type checker.)
notification_read.viewer_may_post = True  # type: ignore[attr-defined]  # a marker
notification_read_all.viewer_may_post = True  # type: ignore[attr-defined]  # a marker


# --------------------------------------------------------------------------- calendar feed
@require_safe  # HEAD answers like GET (calendar apps probe with it)
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """/cal/<token>.ics — the secret token is the credential (calendar apps cannot log in)."""
    settings_obj = get_object_or_404(
        TeamCadenceSettings.objects.select_related("team"), feed_token=token
    )
    team = settings_obj.team
    cadences = Cadence.objects.for_team(team).filter(paused=False).order_by("pk")
    body = ics.calendar(team, cadences, site=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{team.slug}-cadences.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
