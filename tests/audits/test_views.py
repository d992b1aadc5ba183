"""Pages: render, validate, tenancy, and constant query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits import runs
from audits.models import AuditRun, Grade, Idea, IdeaStatus, Model, Probe, Result, RunStatus
from audits.stats import pass_rate_by_model
from tests.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def url(name, team, **kw):
    return reverse(f"audits:{name}", kwargs={"team": team.slug, **kw})


def _seed_results(team, n_ideas, models, runs_n=2):
    """n_ideas ideas with 2 probes each, results on every model in `runs_n` runs."""
    ideas = [IdeaFactory(team=team, title=f"Idea {i}") for i in range(n_ideas)]
    for idea in ideas:
        Probe.objects.create(idea=idea, name="second", user_message="x", grader="contains",
                             grader_config={"expected": "y"}, samples=2, pass_k=1)  # fmt: skip
    for r in range(runs_n):
        run = runs.create_run(team, None, models=models, ideas=ideas)
        AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
        for probe in Probe.objects.filter(idea__in=ideas):
            for m in models:
                for s in range(1, probe.samples + 1):
                    grade = Grade.PASS if (r == runs_n - 1 and m == models[0]) else Grade.FAIL
                    Result.objects.create(run=run, probe=probe, model=m, sample=s, grade=grade,
                                          resolved_model=m.model_id)  # fmt: skip
    return ideas


def test_pages_render(owner_client, team, sim_models, fake_api):
    ideas = _seed_results(team, 2, list(sim_models))
    run = AuditRun.objects.for_team(team).first()
    result = Result.objects.first()
    for page in [url("idea_list", team), url("idea_create", team), url("run_list", team),
                 url("run_create", team), url("matrix", team), url("model_list", team),
                 url("idea_detail", team, pk=ideas[0].pk), url("run_detail", team, pk=run.pk),
                 url("run_progress", team, pk=run.pk), url("result_detail", team, pk=result.pk),
                 url("probe_edit", team, pk=ideas[0].probes.first().pk)]:  # fmt: skip
        response = owner_client.get(page)
        assert response.status_code == 200, page


def test_empty_states(owner_client, team):
    assert "No failed ideas logged yet" in owner_client.get(url("idea_list", team)).text
    assert "No audit has run yet" in owner_client.get(url("run_list", team)).text


def test_matrix_marks_newly_passing_and_lit_up(owner_client, team, sim_models):
    newer, older = sim_models
    _seed_results(team, 1, [newer, older])
    page = owner_client.get(url("matrix", team)).text
    assert "newly passing" in page and "Lit up" in page


def test_run_finalize_lights_ideas_up(team, sim_models):
    newer, older = sim_models
    idea = IdeaFactory(team=team, title="Later", probe__user_message="LATER-PASSES")
    probe = idea.probes.get()
    first = runs.create_run(team, None, models=[older], ideas=[idea])
    AuditRun.objects.filter(pk=first.pk).update(status=RunStatus.RUNNING, expected_calls=1)
    runs.record_result(first.pk, probe.pk, older.pk, 1, grade=Grade.FAIL)
    idea.refresh_from_db()
    assert idea.status == IdeaStatus.DORMANT
    second = runs.create_run(team, None, models=[newer], ideas=[idea])
    AuditRun.objects.filter(pk=second.pk).update(status=RunStatus.RUNNING, expected_calls=1)
    runs.record_result(second.pk, probe.pk, newer.pk, 1, grade=Grade.PASS)
    idea.refresh_from_db()
    assert idea.status == IdeaStatus.LIT_UP
    assert "sim-claude-4" in idea.status_changes.first().reason
    assert pass_rate_by_model(team) == {newer.model_id: 1.0, older.model_id: 0.0}


@pytest.mark.parametrize("n", [1, 6])
def test_matrix_query_count_constant(owner_client, team, django_assert_max_num_queries, n):
    models = [Model.objects.create(model_id=f"m-{n}-{i}") for i in range(n)]
    _seed_results(team, n, models)
    with django_assert_max_num_queries(14):
        assert owner_client.get(url("matrix", team)).status_code == 200


@pytest.mark.parametrize("n", [1, 8])
def test_idea_list_query_count_constant(owner_client, team, sim_models, fake_api,
                                        django_assert_max_num_queries, n):  # fmt: skip
    for i in range(n):
        IdeaFactory(team=team, title=f"Idea {i}")
    owner_client.get(url("idea_list", team))  # the hourly model discovery happens here
    with django_assert_max_num_queries(13):
        assert owner_client.get(url("idea_list", team)).status_code == 200


def test_create_idea_and_probe_validation(editor_client, team):
    r = editor_client.post(url("idea_create", team), {"title": ""}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "This field is required" in r.text
    r = editor_client.post(url("idea_create", team), {"title": "Contracts to JSON"})
    idea = Idea.objects.get(title="Contracts to JSON")
    assert r.status_code == 302 and idea.status_changes.count() == 1
    bad = {"name": "p", "user_message": "x", "max_tokens": 100, "temperature": 0, "samples": 1,
           "pass_k": 2, "grader": "regex", "grader_config": '{"pattern": "("}'}  # fmt: skip
    r = editor_client.post(url("probe_create", team, pk=idea.pk), bad)
    assert r.status_code == 400
    assert "not a valid regular expression" in r.text and "more passes than samples" in r.text
    assert "(" in r.text  # what was typed is kept
    good = bad | {"pass_k": 1, "grader_config": '{"pattern": "^yes"}'}
    assert editor_client.post(url("probe_create", team, pk=idea.pk), good).status_code == 302
    assert idea.probes.count() == 1


def test_bulk_and_status_actions(editor_client, editor, team):
    a, b = IdeaFactory(team=team, title="A"), IdeaFactory(team=team, title="B")
    editor_client.post(url("idea_list", team), {"ids": [a.pk, b.pk], "action": "abandon"})
    assert set(Idea.objects.values_list("status", flat=True)) == {IdeaStatus.ABANDONED}
    r = editor_client.post(url("idea_status", team, pk=a.pk), {"action": "promote", "reason": ""})
    a.refresh_from_db()
    assert a.status == IdeaStatus.ABANDONED  # a reason is required
    editor_client.post(url("idea_status", team, pk=a.pk), {"action": "promote", "reason": "Go"})
    a.refresh_from_db()
    change = a.status_changes.first()
    assert a.status == IdeaStatus.PROMOTED and change.changed_by == editor
    assert change.reason.endswith("quarterly review: Go")
    assert r.status_code == 400  # the idea's page again, with the message


def test_an_over_long_status_note_is_refused_and_kept(editor_client, team):
    idea = IdeaFactory(team=team)
    typed = "because " * 300
    r = editor_client.post(
        url("idea_status", team, pk=idea.pk), {"action": "abandon", "reason": typed}
    )
    assert r.status_code == 400
    assert "at most 2000 characters" in r.text
    assert f'value="{typed}"' in r.text  # what was typed is in the field again
    idea.refresh_from_db()
    assert idea.status != IdeaStatus.ABANDONED and not idea.status_changes.exists()


def test_status_change_never_redirects_off_site(editor_client, team):
    idea = IdeaFactory(team=team)
    data = {"action": "dormant", "next": "https://evil.example/"}
    r = editor_client.post(url("idea_status", team, pk=idea.pk), data)
    assert r.status_code == 302 and r["Location"] == idea.get_absolute_url()
    r = editor_client.post(url("idea_status", team, pk=idea.pk), data | {"next": "/t/x/?a=1"})
    assert r["Location"] == "/t/x/?a=1"


def test_tampered_ids_are_ignored_not_500(editor_client, team, sim_models):
    idea = IdeaFactory(team=team)
    r = editor_client.post(url("idea_list", team), {"ids": ["abc"], "action": "abandon"})
    assert r.status_code == 302 and Idea.objects.get().status == IdeaStatus.DORMANT
    r = editor_client.post(url("model_list", team), {"action": "choose", "models": ["x"]})
    assert r.status_code == 302
    r = editor_client.post(url("probe_try", team, pk=idea.probes.get().pk), {"model": "abc"})
    assert r.status_code == 404


def test_resume_refuses_a_bad_budget_with_a_message(editor_client, team, sim_models):
    idea = IdeaFactory(team=team)
    run = runs.create_run(team, None, models=list(sim_models), ideas=[idea], budget_usd=1)
    AuditRun.objects.filter(pk=run.pk).update(status=RunStatus.BUDGET, cost_usd=1)
    for bad, message in [("abc", "Enter a number"), ("-5", "Ensure this value is greater"),
                         ("123456789012", "Ensure that there are no more than 10")]:  # fmt: skip
        r = editor_client.post(url("run_resume", team, pk=run.pk), {"budget_usd": bad},
                               follow=True)  # fmt: skip
        assert f"New budget: {message}" in r.text.replace("&#x27;", "'"), bad
        run.refresh_from_db()
        assert run.budget_usd == 1 and run.status == RunStatus.BUDGET and run.epoch == 0


def test_run_form_refuses_budgets_the_database_cannot_hold(editor_client, team, sim_models):
    idea = IdeaFactory(team=team)
    data = {"models": [sim_models[0].pk], "ideas": [idea.pk], "budget_usd": "1e12",
            "budget_tokens": str(2**70)}  # fmt: skip
    r = editor_client.post(url("run_create", team), data)
    assert r.status_code == 400 and not AuditRun.objects.exists()
    assert "no more than 10 digits" in r.text and "less than or equal to" in r.text


def test_human_override_keeps_history(editor_client, team, sim_models):
    _seed_results(team, 1, list(sim_models), runs_n=1)
    result = Result.objects.filter(grade=Grade.FAIL).first()
    r = editor_client.post(
        url("result_detail", team, pk=result.pk), {"grade": "pass", "reason": ""}
    )
    assert r.status_code == 400
    page = url("result_detail", team, pk=result.pk)
    editor_client.post(page, {"grade": "pass", "reason": "Judge too strict"})
    result.refresh_from_db()
    assert result.grade == Grade.PASS and result.auto_grade == Grade.FAIL
    assert result.overrides.get().reason == "Judge too strict"


def test_cross_team_objects_404(owner_client, team, other_team, sim_models):
    ideas = _seed_results(other_team, 1, list(sim_models), runs_n=1)
    run = AuditRun.objects.for_team(other_team).get()
    result = Result.objects.filter(run=run).first()
    probe = ideas[0].probes.first()
    for name, pk in [("idea_detail", ideas[0].pk), ("idea_edit", ideas[0].pk),
                     ("run_detail", run.pk), ("run_progress", run.pk),
                     ("result_detail", result.pk), ("probe_edit", probe.pk)]:  # fmt: skip
        assert owner_client.get(url(name, team, pk=pk)).status_code == 404, name
    for name, pk in [("run_stop", run.pk), ("run_resume", run.pk), ("idea_status", ideas[0].pk),
                     ("probe_try", probe.pk)]:  # fmt: skip
        assert (
            owner_client.post(url(name, team, pk=pk), {"model": sim_models[0].pk}).status_code
            == 404
        )
    # bulk actions cannot reach another team's ideas
    owner_client.post(url("idea_list", team), {"ids": [ideas[0].pk], "action": "abandon"})
    ideas[0].refresh_from_db()
    assert ideas[0].status != IdeaStatus.ABANDONED


def test_simulated_banner(owner_client, team, settings):
    settings.SIMULATED_MODELS = True
    assert "Simulated models" in owner_client.get(url("idea_list", team)).text
    settings.SIMULATED_MODELS = False
    assert "Simulated models" not in owner_client.get(url("idea_list", team)).text


def test_new_model_notice(owner_client, team, sim_models):
    newer, older = sim_models
    Model.objects.filter(pk__in=[newer.pk, older.pk]).update(last_seen_at="2100-01-01T00:00Z")
    _seed_results(team, 1, [older], runs_n=1)
    page = owner_client.get(url("run_list", team)).text
    assert "New model available" in page and newer.model_id in page


def test_demo_lights_up_three_ideas_and_is_idempotent(team, owner, owner_client):
    from audits import demo
    from audits.dashboard import summary

    demo.seed(team, owner)
    demo.seed(team, owner)
    assert Idea.objects.for_team(team).count() == 4
    lit = Idea.objects.for_team(team).filter(status=IdeaStatus.LIT_UP)
    assert sorted(i.title for i in lit) == [
        "Contract terms straight into our CRM",
        "Invoice totals without a calculator step",
        "Support replies that calm angry customers",
    ]
    assert AuditRun.objects.for_team(team).count() == 2
    judged = Result.objects.get(run__team=team, probe__grader="llm_judge",
                                model__model_id=demo.NEWER)  # fmt: skip
    assert judged.grader_output["rubric_version"] == "2" and judged.grader_output["reasoning"]
    assert summary(team)["lit_up"] == 3
    page = owner_client.get(url("matrix", team)).text
    assert page.count("mark-new") >= 2


@pytest.mark.parametrize("n", [1, 6])
def test_run_page_query_count_constant(owner_client, team, django_assert_max_num_queries, n):
    """The run page (matrix, spend per cell, every sample's answer and reason) costs the same
    queries for 1 idea × 1 model × 3 samples as for 6 × 6 × 3 (the models without a price: one)."""
    models = [Model.objects.create(model_id=f"m-{n}-{i}", last_seen_at="2100-01-01T00:00Z")
              for i in range(n)]  # fmt: skip
    _seed_results(team, n, models)
    run = AuditRun.objects.for_team(team).order_by("-created_at").first()
    assert run.results.count() == n * n * 3
    with django_assert_max_num_queries(18):
        page = owner_client.get(url("run_detail", team, pk=run.pk)).text
    assert page.count('class="samples"') == n * n * 2  # every probe × model, collapsed
    assert "{#" not in page and "[object Object]" not in page and "{'" not in page
