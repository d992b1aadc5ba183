"""Drafting a review step: the setting, the worker and the fake API, citations, accept,
budget, tenancy and roles."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from planning.facilitator.citations import UNCITED_TRIGGER
from planning.facilitator.models import Draft, FacilitatorSetting
from planning.live.models import LiveSession
from planning.reviews import services as review_services
from planning.reviews.models import StepNote
from planning.teams.models import AuditEvent
from predictions.models import Metric, Prediction
from tests.conftest import wait_for


def _url(review, name, n=1):
    return reverse(
        f"facilitator:{name}", kwargs={"team": review.team.slug, "quarter": review.quarter, "n": n}
    )


def _step(review, n=1):
    return reverse(
        "reviews:step", kwargs={"team": review.team.slug, "quarter": review.quarter, "n": n}
    )


@pytest.fixture
def review(team, owner):
    return review_services.start_review(team, owner)[0]


@pytest.fixture
def enabled(team, sim_model):
    return FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=5)


@pytest.mark.django_db(transaction=True)
def test_draft_step_one_cites_the_teams_own_objects_and_accept_appends(
    celery_worker_process, fake_api, team, owner, editor_client, enabled
):
    from predictions import demo as predictions_demo

    predictions_demo.seed(team, owner)
    review = review_services.start_review(team, owner)[0]
    review_services.save_step_note(review, 1, "Our own conclusions.", 0, owner)
    metric = Metric.objects.filter(team=team).first()
    metric.name += f" ({UNCITED_TRIGGER})"  # the fake then adds one uncited sentence
    metric.save(update_fields=["name"])

    response = editor_client.post(_url(review, "start"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    draft = Draft.objects.get(review=review, step=1)
    assert f'id="live-{draft.session_id}"' in response.content.decode()  # streams live
    session = LiveSession.objects.get(pk=draft.session_id)
    assert wait_for(lambda: LiveSession.objects.get(pk=session.pk).status != "active")
    session.refresh_from_db()
    draft.refresh_from_db()
    assert session.status == "completed" and draft.status == Draft.Status.READY, draft.error
    assert draft.input_tokens > 0 and draft.output_tokens > 0 and draft.cost_usd > 0
    assert session.events.filter(type="result", data__draft=draft.pk).exists()
    assert StepNote.objects.get(review=review, step=1).text == "Our own conclusions."

    panel = editor_client.get(_url(review, "panel")).content.decode()
    links = re.findall(r'<a class="citation" href="([^"]+)"[^>]*data-cid="P(\d+)"', panel)
    assert links
    for href, pk in links:
        prediction = Prediction.objects.get(pk=pk)
        assert prediction.team_id == team.pk and href == prediction.get_absolute_url()
        assert editor_client.get(href).status_code == 200
    assert "No source cited" in panel  # the deliberately uncited sentence is flagged
    assert f"${draft.cost_usd:.4f}" in panel

    response = editor_client.post(reverse("facilitator:accept", args=[team.slug, draft.pk]))
    assert response.status_code == 302
    note = StepNote.objects.get(review=review, step=1).text
    assert note.startswith("Our own conclusions.\n\n") and "AI-drafted" in note
    assert draft.text.split("\n\n")[0] in note
    assert AuditEvent.objects.filter(team=team, action="review.ai_draft_accepted").exists()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.ACCEPTED and draft.accepted_text


@pytest.mark.django_db
def test_spent_budget_refuses_a_new_draft(team, review, editor_client, enabled):
    Draft.objects.create(team=team, review=review, step=1, status="ready", cost_usd=Decimal(6))
    response = editor_client.post(_url(review, "start"), headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "budget is spent ($6.00 of $5.00)" in response.content.decode()
    assert Draft.objects.count() == 1 and not LiveSession.objects.exists()


@pytest.mark.django_db
def test_one_draft_of_a_step_at_a_time(team, review, editor_client, enabled):
    from planning.live import services as live

    session = live.create_session(team, kind="review_draft")
    Draft.objects.create(team=team, review=review, step=1, session=session)
    response = editor_client.post(_url(review, "start"), headers={"HX-Request": "true"})
    assert response.status_code == 400 and "already drafting" in response.content.decode()
    assert f'id="live-{session.pk}"' in response.content.decode()  # the running one is shown
    assert Draft.objects.count() == 1


@pytest.mark.django_db
def test_off_by_default_owner_only_and_roles(
    team, review, owner_client, editor_client, viewer_client, sim_model
):
    page = editor_client.get(_step(review)).content.decode()
    assert "Draft with Claude" not in page and "owner can turn on" in page
    assert editor_client.post(_url(review, "start")).status_code == 302  # refused: off
    assert not Draft.objects.exists()
    settings_url = reverse("facilitator:settings", args=[team.slug])
    assert editor_client.post(settings_url, {"enabled": "on"}).status_code == 403
    body = owner_client.get(settings_url).content.decode()
    assert "What is sent" in body and "sim-claude-4-20260115" in body
    response = owner_client.post(settings_url, {"enabled": "on", "monthly_budget_usd": "5"})
    assert response.status_code == 302 and FacilitatorSetting.objects.get(team=team).enabled
    assert "Draft with Claude" in editor_client.get(_step(review)).content.decode()
    assert viewer_client.post(_url(review, "start")).status_code == 403
    assert not Draft.objects.exists()


@pytest.mark.django_db
def test_another_teams_draft_and_session_are_404(
    team, other_team, review, outsider_client, enabled
):
    from planning.live import services as live

    session = live.create_session(team, kind="review_draft")
    draft = Draft.objects.create(
        team=team, review=review, step=1, status="ready", text="x [P1]", session=session
    )
    assert (
        outsider_client.post(reverse("facilitator:accept", args=[team.slug, draft.pk])).status_code
        == 404
    )
    other = other_team.slug
    assert (
        outsider_client.post(reverse("facilitator:accept", args=[other, draft.pk])).status_code
        == 404
    )
    assert (
        outsider_client.post(reverse("facilitator:discard", args=[other, draft.pk])).status_code
        == 404
    )
    assert outsider_client.get(session.get_absolute_url()).status_code == 404
    assert outsider_client.get(session.log_url).status_code == 404
    draft.refresh_from_db()
    assert draft.status == "ready"


@pytest.mark.django_db
def test_an_accepted_drafts_time_names_the_teams_zone(team, owner, editor_client, enabled):
    from django.utils import timezone

    team.time_zone = "America/Los_Angeles"
    team.save()
    review = review_services.start_review(team, owner)[0]
    Draft.objects.create(
        team=team, review=review, step=1, status=Draft.Status.ACCEPTED, text="x",
        decided_by=owner, decided_at=timezone.now(), model="claude-test",
    )  # fmt: skip
    page = editor_client.get(_step(review)).content.decode()
    accepted = page.split("AI-drafted text accepted into these notes")[1].split(" by ")[0]
    assert re.search(r"\d\d:\d\d P[SD]T$", accepted), accepted
