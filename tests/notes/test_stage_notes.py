"""Light and shade on a bottleneck stage, through the notes URLs."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from planning.bottlenecks.models import Stage
from planning.notes.models import Kind, Note
from tests.factories import BottleneckMapFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def review(team):
    return BottleneckMapFactory(team=team, stages=[("Code review", 3, 6, 1, 1)]).stages.get()


def add_url(team, obj):
    ct = ContentType.objects.get_for_model(obj)
    return reverse("notes:add", kwargs={"team": team.slug, "ct_id": ct.pk, "object_id": obj.pk})


def test_add_light_then_shade_to_a_stage(team, editor, editor_client, review):
    response = editor_client.post(
        add_url(team, review), {"kind": "light", "text": "AI pre-review"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "AI pre-review" in body
    assert "Only the opportunity is written: what is the risk?" in body
    note = Note.objects.get()
    assert (note.kind, note.team, note.author, note.target) == (Kind.LIGHT, team, editor, review)

    response = editor_client.post(
        add_url(team, review), {"kind": "shade", "text": "Rubber-stamped reviews"}, **HTMX
    )
    body = response.content.decode()
    assert "Rubber-stamped reviews" in body and "AI pre-review" in body
    assert "Only the opportunity is written" not in body
    assert "Only the risk is written" not in body
    assert Note.objects.filter(object_id=review.pk).count() == 2


def test_shade_only_warns_about_the_missing_opportunity(team, editor_client, review):
    response = editor_client.post(add_url(team, review), {"kind": "shade", "text": "Risky"})
    assert "Only the risk is written: what is the opportunity?" in response.content.decode()


def test_the_map_page_shows_one_sided_stages(team, editor, editor_client, review):
    Note.objects.create(
        team=team, content_type=ContentType.objects.get_for_model(Stage), object_id=review.pk,
        kind=Kind.LIGHT, text="Faster reviews", author=editor,
    )  # fmt: skip
    page = editor_client.get(
        reverse("bottlenecks:map_detail", kwargs={"team": team.slug, "pk": review.map_id})
    )
    body = page.content.decode()
    assert "Faster reviews" in body
    assert "light only" in body
    assert "Only the opportunity is written" in body


def test_an_empty_note_is_refused(team, editor_client, review):
    response = editor_client.post(add_url(team, review), {"kind": "light", "text": "  "}, **HTMX)
    assert response.status_code == 400
    # The form strips the text, so a blank note fails as a missing field, next to the textarea.
    assert 'class="field-error" role="alert">This field is required.' in response.content.decode()
    assert not Note.objects.exists()


def test_another_teams_stage_is_404(team, other_team, editor_client):
    theirs = BottleneckMapFactory(team=other_team, stages=[("QA", 1, 1, 1, 1)]).stages.get()
    # Through our own team's URL: the stage is scoped by team, so it does not exist here.
    response = editor_client.post(add_url(team, theirs), {"kind": "light", "text": "x"})
    assert response.status_code == 404
    # Through their team's URL: we are not a member.
    response = editor_client.post(add_url(other_team, theirs), {"kind": "light", "text": "x"})
    assert response.status_code == 404
    assert not Note.objects.exists()


def test_a_viewer_cannot_add_or_delete(team, editor, viewer_client, review):
    response = viewer_client.post(add_url(team, review), {"kind": "light", "text": "x"})
    assert response.status_code == 403
    note = Note.objects.create(
        team=team, content_type=ContentType.objects.get_for_model(Stage), object_id=review.pk,
        kind=Kind.SHADE, text="Risk", author=editor,
    )  # fmt: skip
    delete = reverse("notes:delete", kwargs={"team": team.slug, "pk": note.pk})
    assert viewer_client.post(delete).status_code == 403
    assert Note.objects.filter(pk=note.pk).exists()


def test_an_editor_deletes_a_note(team, editor, editor_client, review):
    note = Note.objects.create(
        team=team, content_type=ContentType.objects.get_for_model(Stage), object_id=review.pk,
        kind=Kind.SHADE, text="Risk", author=editor,
    )  # fmt: skip
    delete = reverse("notes:delete", kwargs={"team": team.slug, "pk": note.pk})
    response = editor_client.post(delete, **HTMX)
    assert response.status_code == 200
    assert "Neither side is written yet." in response.content.decode()
    assert not Note.objects.exists()
