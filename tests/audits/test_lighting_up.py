"""Lighting up: the failure recorded at creation, the first audit that passes, idempotent
resume and status changes, promotion into the quarterly review, the new-model notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import runs
from audits.models import AuditRun, Grade, Idea, IdeaStatus, IdeaStatusChange, Model, RunStatus
from planning.quarters import current_quarter
from planning.reviews.models import BacklogItem, Decision, Review
from tests.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def url(name, team, **kw):
    return reverse(f"audits:{name}", kwargs={"team": team.slug, **kw})


def _finish(team, idea, models, grades):
    """A run of `idea` on `models`, recorded call by call through runs.record_result (which
    settles the run and applies its outcome); grades[i] is the grade on models[i]."""
    run = runs.create_run(team, None, models=models, ideas=[idea])
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING,
                                              expected_calls=len(models))  # fmt: skip
    probe = idea.probes.get()
    for model, grade in zip(models, grades, strict=True):
        runs.record_result(run.pk, probe.pk, model.pk, 1, grade=grade, response="answer")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    idea.refresh_from_db()
    return run


def test_logging_an_idea_records_its_failure(editor_client, team):
    response = editor_client.post(url("idea_create", team), {"title": "Dates", "failed_model": ""})
    assert response.status_code == 302
    idea = Idea.objects.get(title="Dates")
    assert abs(idea.failed_at - timezone.now()) < timedelta(minutes=1)
    today = timezone.localtime(idea.failed_at, team.tz).strftime("%-d %b %Y")
    assert idea.status_changes.get().reason == f"Logged: failed on a model before {today}."
    editor_client.post(url("idea_create", team), {
        "title": "Tables", "failed_model": "claude-2.1", "failed_date": "2024-03-05",
        "why_failed": "Rows went missing.",
    })  # fmt: skip
    idea = Idea.objects.get(title="Tables")
    assert idea.failed_model == "claude-2.1"
    assert timezone.localtime(idea.failed_at, team.tz).date().isoformat() == "2024-03-05"
    assert idea.status_changes.get().reason == (
        "Logged: failed on claude-2.1 (5 Mar 2024). Rows went missing."
    )
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = editor_client.post(url("idea_create", team), {"title": "Later",
                                                              "failed_date": future})  # fmt: skip
    assert response.status_code == 400 and "has happened" in response.text
    assert not Idea.objects.filter(title="Later").exists()


def test_first_audit_that_passes_lights_a_fresh_idea_up(team, sim_models):
    newer, older = sim_models
    idea = IdeaFactory(team=team, title="Fresh")
    run = _finish(team, idea, [newer, older], [Grade.PASS, Grade.FAIL])
    assert idea.status == IdeaStatus.LIT_UP
    change = idea.status_changes.first()
    assert change.run == run
    assert change.reason == (
        f"Newly passing since it failed on {idea.failed_on}: passed on "
        f"{newer.model_id} (1 of 1 sample passed) in {run}."
    )
    assert idea.failed_on.startswith("a model before ")


def test_failing_first_audit_keeps_the_idea_dormant_and_later_marks_hold(
    owner_client, team, sim_models
):
    newer, older = sim_models
    idea = IdeaFactory(team=team, title="Hard")
    _finish(team, idea, [older], [Grade.FAIL])
    assert idea.status == IdeaStatus.DORMANT
    second = _finish(team, idea, [older], [Grade.PASS])
    assert idea.status == IdeaStatus.LIT_UP
    page = owner_client.get(url("run_detail", team, pk=second.pk)).text
    assert "newly passing" in page
    idea.set_status(IdeaStatus.DORMANT, None, "Not now.")
    third = _finish(team, idea, [older], [Grade.FAIL])
    assert idea.status == IdeaStatus.DORMANT  # a regression does not light anything
    assert "regressed" in owner_client.get(url("run_detail", team, pk=third.pk)).text
    # passing again after the regression lights it up again; a first pass on a new model
    # of an idea that passed before is not news
    _finish(team, idea, [older, newer], [Grade.PASS, Grade.PASS])
    assert idea.status == IdeaStatus.LIT_UP
    assert newer.model_id not in idea.status_changes.first().reason


def test_resuming_a_complete_run_is_a_no_op_with_a_message(editor_client, team, sim_models):
    newer, _ = sim_models
    idea = IdeaFactory(team=team, title="Done")
    run = _finish(team, idea, [newer], [Grade.FAIL])
    changes = IdeaStatusChange.objects.count()
    epoch = AuditRun.objects.get(pk=run.pk).epoch
    with pytest.raises(runs.AlreadyComplete):
        runs.start_run(run)
    for _ in range(2):  # a stale Resume button, clicked twice
        response = editor_client.post(url("run_resume", team, pk=run.pk), follow=True)
        assert "already complete: there is nothing to resume" in response.text
    run.refresh_from_db()
    assert (run.status, run.epoch) == (RunStatus.COMPLETED, epoch)
    assert IdeaStatusChange.objects.count() == changes
    assert Idea.objects.get(pk=idea.pk).status == IdeaStatus.DORMANT


def test_status_changes_are_idempotent(editor_client, team):
    idea = IdeaFactory(team=team, title="Twice")
    stale = Idea.objects.get(pk=idea.pk)
    assert idea.set_status(IdeaStatus.ABANDONED, None, "No.") is not None
    assert stale.set_status(IdeaStatus.ABANDONED, None, "No.") is None  # stale copy, retried
    assert stale.status == IdeaStatus.ABANDONED
    for _ in range(2):  # a double click
        editor_client.post(url("idea_status", team, pk=idea.pk), {"action": "dormant"})
    assert list(idea.status_changes.values_list("to_status", flat=True)) == ["dormant", "abandoned"]


def test_promote_puts_a_linked_item_on_the_open_review_backlog(editor_client, team, sim_models):
    newer, _ = sim_models
    idea = IdeaFactory(team=team, title="Smart replies")
    _finish(team, idea, [newer], [Grade.PASS])
    assert idea.status == IdeaStatus.LIT_UP
    for _ in range(2):  # double click: one decision, one item, one status change
        response = editor_client.post(
            url("idea_status", team, pk=idea.pk), {"action": "promote", "reason": "Ship it"},
            follow=True,
        )  # fmt: skip
        assert "Build Smart replies" in response.text and "(step 7)" in response.text
    review = Review.objects.get(team=team)
    assert review.quarter == str(current_quarter(team))
    decision = Decision.objects.get(review=review)
    assert (decision.step, decision.subject_key, decision.choice, decision.note) == (
        3, f"idea:{idea.pk}", "promote", "Ship it")  # fmt: skip
    item = BacklogItem.objects.get(review=review)
    assert item.subject_key == f"idea:{idea.pk}" and item.source == "audit"
    assert idea.status_changes.filter(to_status=IdeaStatus.PROMOTED).count() == 1
    step7 = editor_client.get(review.step_url(7)).text
    assert f'href="{idea.get_absolute_url()}">Build Smart replies</a>' in step7
    step3 = editor_client.get(review.step_url(3)).text
    assert "Smart replies" in step3 and "Ship it" in step3


def test_promote_goes_to_next_quarter_when_this_one_is_closed(editor_client, team, sim_models):
    this_q = current_quarter(team)
    Review.objects.create(team=team, quarter=str(this_q), status=Review.Status.CLOSED)
    idea = IdeaFactory(team=team, title="Later bet")
    editor_client.post(url("idea_status", team, pk=idea.pk), {"action": "promote",
                                                               "reason": "Yes"})  # fmt: skip
    item = BacklogItem.objects.get(subject_key=f"idea:{idea.pk}")
    assert item.review.quarter == str(this_q.next())


def test_new_model_notice_only_for_dormant_ideas_not_yet_audited_on_it(owner_client, team,
                                                                         sim_models):  # fmt: skip
    newer, older = sim_models
    # both listed and seen just now: the page asks the Models API for nothing else
    Model.objects.filter(pk__in=[newer.pk, older.pk]).update(last_seen_at="2100-01-01T00:00Z")
    idea = IdeaFactory(team=team, title="Tested")
    _finish(team, idea, [older], [Grade.FAIL])
    page = owner_client.get(url("run_list", team)).text
    assert "New model available" in page and newer.model_id in page
    assert "1 dormant idea not yet audited on it" in page
    assert older.model_id not in page.split("New model available")[1].split("</aside>")[0]
    _finish(team, idea, [newer], [Grade.FAIL])  # every dormant idea audited on both
    assert "New model available" not in owner_client.get(url("run_list", team)).text
    IdeaFactory(team=team, title="Abandoned").set_status(
        IdeaStatus.ABANDONED
    )  # not dormant: no news
    assert "New model available" not in owner_client.get(url("run_list", team)).text


def test_a_model_released_before_the_failure_is_no_news(owner_client, team, sim_models):
    """A fresh team's idea, logged today ("failed on a model before today"), has surely met
    the models released before today: only a model released after it failed is news."""
    newer, older = sim_models
    Model.objects.filter(pk__in=[newer.pk, older.pk]).update(last_seen_at="2100-01-01T00:00Z")
    IdeaFactory(team=team, title="Logged today")  # failed_at: now
    Model.objects.filter(pk=older.pk).update(released_at="2025-06-10T00:00Z")
    Model.objects.filter(pk=newer.pk).update(released_at="2999-01-01T00:00Z")
    notice = owner_client.get(url("run_list", team)).text.split("New model available")
    assert len(notice) == 2 and newer.model_id in notice[1].split("</aside>")[0]
    assert older.model_id not in notice[1].split("</aside>")[0]
    Model.objects.filter(pk=newer.pk).update(released_at="2026-01-15T00:00Z")
    assert "New model available" not in owner_client.get(url("run_list", team)).text
