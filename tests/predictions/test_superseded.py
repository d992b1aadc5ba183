"""Issue 13, "Superseded lines": a superseded prediction is superseded everywhere (API, dashboard,
metric list, review steps 1 and 2, the plan), and a revision starts with its predecessor's
light and shade, copied and editable."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from planning.accounts.models import ApiToken
from planning.notes.models import Kind as NoteKind
from planning.notes.models import Note
from planning.notes.services import light_shade_of
from planning.reviews import services as review_services
from planning.reviews import sources
from predictions import dashboard, services
from predictions.models import Prediction
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


def url(name, team, **kw):
    return reverse(f"predictions:{name}", kwargs={"team": team.slug, **kw})


def revision_form(team, **overrides):
    data = {
        "kind": "line", "title": "Doubling every 5 months", "model": "exponential",
        "horizon": (team.today() + timedelta(days=365)).isoformat(),
        "baseline_date": "2025-01-01", "baseline_value": "60", "doubling_months": "5",
        "coverage": "0.8", "band_low": "0.5", "band_high": "2",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def old(metric, owner):
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    for kind, text in [(NoteKind.LIGHT, "Agents ship"), (NoteKind.SHADE, "Evals saturate")]:
        Note.objects.create(team=p.team, target=p, kind=kind, text=text, author=owner)
    return p


@pytest.fixture
def revised(team, owner_client, old):
    response = owner_client.post(url("prediction_revise", team, pk=old.pk), revision_form(team))
    assert response.status_code == 302
    new = Prediction.objects.get(supersedes=old)
    owner_client.post(url("prediction_commit", team, pk=new.pk))
    new.refresh_from_db()
    assert new.is_committed
    return new


def test_a_revision_starts_with_copied_editable_light_and_shade(team, owner_client, old, revised):
    ls = light_shade_of(revised)
    assert [n.text for n in ls.light] == ["Agents ship"]
    assert [n.text for n in ls.shade] == ["Evals saturate"]
    # Copies, not the same rows: deleting one on the revision leaves the original alone.
    copy = ls.light[0]
    owner_client.post(reverse("notes:delete", kwargs={"team": team.slug, "pk": copy.pk}))
    assert not light_shade_of(revised).light
    assert [n.text for n in light_shade_of(old).light] == ["Agents ship"]


def test_api_says_superseded_with_superseded_by(team, owner, old, revised):
    client = Client()
    key = ApiToken.issue(owner)[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = client.get(f"/api/v1/t/{team.slug}/predictions/{old.pk}/", **auth).json()
    assert body["status"] == "superseded" and body["superseded_by"] == revised.pk
    listing = client.get(f"/api/v1/t/{team.slug}/predictions/", **auth).json()["predictions"]
    assert {p["id"]: p["status"] for p in listing} == {old.pk: "superseded",
                                                       revised.pk: "committed"}  # fmt: skip
    # A revision through the API copies light and shade too.
    created = client.post(
        f"/api/v1/t/{team.slug}/predictions/",
        json.dumps({
            "metric": old.metric_id, "kind": "line", "claim": "Doubling every 4 months",
            "horizon": revision_form(team)["horizon"], "supersedes": revised.pk,
            "trajectory": {"model": "exponential", "baseline_date": "2025-01-01",
                           "baseline_value": 60, "doubling_months": 4},
            "band": {"coverage": 0.8, "low": 0.5, "high": 2},
        }),
        content_type="application/json", **auth,
    )  # fmt: skip
    assert created.status_code == 201, created.content
    third = Prediction.objects.get(pk=created.json()["id"])
    assert light_shade_of(third).balance == "both"


def test_dashboard_and_metric_list_count_superseded_apart(team, owner_client, old, revised):
    summary = dashboard.summary(team)
    assert (summary["committed"], summary["superseded"], summary["drafts"]) == (1, 1, 0)
    page = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    assert "1</strong> committed prediction in force, 1 superseded" in page.content.decode()
    listing = owner_client.get(url("metric_list", team)).content.decode()
    assert '<td class="num">1 <small class="muted">+ 1 superseded</small></td>' in listing


def test_review_step_2_and_the_plan_treat_a_superseded_line_as_superseded(
    team, owner, owner_client, old, revised
):
    review = review_services.start_review(team, owner)[0]
    rows = {p["title"]: p for p in sources.new_predictions(review)}
    assert rows[old.title]["state"] == "superseded"
    assert rows[old.title]["superseded_by"] == revised.title
    assert rows[revised.title]["state"] == "committed"
    assert rows[revised.title]["revises"] == old.title
    assert sources.prediction_lines(review) == [
        f"{old.title} ({old.metric.name}) — superseded by “{revised.title}”",
        f"{revised.title} ({old.metric.name}), revising “{old.title}”",
    ]
    page = owner_client.get(review.step_url(2)).content.decode()
    assert 'superseded</span> <small class="muted">by “Doubling every 5 months”' in page


def test_a_superseded_line_is_not_revised_again_and_is_marked_on_its_page(
    team, owner_client, old, revised
):
    page = owner_client.get(old.get_absolute_url()).content.decode()
    assert '<span class="badge">superseded</span>' in page
    assert url("prediction_revise", team, pk=old.pk) not in page
    # the revision's commit date bounds the old line's scores
    assert services.scoring_window(Prediction.objects.get(pk=old.pk))[1] <= (
        team.local_date(revised.committed_at).toordinal()
    )
