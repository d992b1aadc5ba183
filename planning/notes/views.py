from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view

from .forms import NoteForm
from .models import Note
from .services import light_shade_of, supports_light_shade


def _target(request: TeamRequest, ct_id: int, object_id: int):
    try:
        content_type = ContentType.objects.get_for_id(ct_id)
    except ContentType.DoesNotExist:
        raise Http404 from None
    model = content_type.model_class()
    if model is None or not supports_light_shade(model):
        raise Http404
    return team_get_object_or_404(request, model, pk=object_id)


LOCKED = "This bet is part of a closed review's frozen plan: reopen the review to change it."


def _locked(obj) -> bool:
    """Objects whose light and shade are frozen (a closed review's bets) say so."""
    return bool(getattr(obj, "light_shade_locked", False))


def _panel(
    request: TeamRequest,
    obj,
    form: NoteForm | None = None,
    status: int = 200,
    error: str = "",
):
    return render(
        request,
        "notes/light_shade.html#panel",
        {
            "object": obj,
            "ls": light_shade_of(obj),
            "form": form,
            "error": error,
            "can_edit": not _locked(obj),
            "team": request.team,
            "ct_id": ContentType.objects.get_for_model(obj).pk,
        },
        status=status,
    )


@team_view
@require_POST
def add_note(request: TeamRequest, ct_id: int, object_id: int) -> HttpResponse:
    obj = _target(request, ct_id, object_id)
    if _locked(obj):
        return _panel(request, obj, error=LOCKED, status=400)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _panel(request, obj, form, status=400)
    Note.objects.create(
        team=request.team,
        content_type_id=ct_id,
        object_id=obj.pk,
        kind=form.cleaned_data["kind"],
        text=form.cleaned_data["text"],
        author=request.user,
    )
    return _changed(_panel(request, obj))


def _changed(response: HttpResponse) -> HttpResponse:
    """Tells the page that a side changed (a review's step 6 redraws its bets' badges)."""
    response["HX-Trigger"] = "light-shade-changed"
    return response


@team_view
@require_POST
def delete_note(request: TeamRequest, pk: int) -> HttpResponse:
    note = team_get_object_or_404(request, Note, pk=pk)
    obj = _target(request, note.content_type_id, note.object_id)
    if _locked(obj):
        return _panel(request, obj, error=LOCKED, status=400)
    note.delete()
    return _changed(_panel(request, obj))
