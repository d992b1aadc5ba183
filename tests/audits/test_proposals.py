"""Probes from an idea (issue 19): reading the model's answer back, checking each proposal
with the probe form, the proposals panel (gate, budget, roles, tenancy), saving a proposal
through the probe form and trying one once, against the fake Messages API over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse

from audits import proposals as pure
from audits import propose
from audits.models import Idea, Probe, ProbeProposal
from audits.tasks import propose_probes
from planning.facilitator.models import FacilitatorSetting
from planning.facilitator.services import spent_this_month
from planning.live.models import LiveEvent, LiveSession
from tests.conftest import wait_for

IDEA = dict(
    title="Reconcile invoices",
    description="Match supplier invoices against purchase orders and flag discrepancies.",
    capability_needed="Reliable table reading",
    why_failed="It misread totals on scanned invoices.",
    failed_model="sim-claude-3",
)


def _prompt(**extra) -> str:
    fields = {**IDEA, **extra}
    return pure.user_prompt(
        title=fields["title"],
        description=fields["description"],
        capability=fields["capability_needed"],
        failed_on=fields["failed_model"],
        why_failed=fields["why_failed"],
    )


def _url(name: str, team, **kwargs) -> str:
    return reverse(f"audits:{name}", kwargs={"team": team.slug, **kwargs})


# ----------------------------------------------------------------------------- parsing
def test_the_fake_answer_parses_into_four_proposals_from_the_ideas_text():
    answer = pure.scripted_answer(_prompt())
    assert answer.startswith("Four probes for “Reconcile invoices”")  # prose before the fence
    parsed = pure.parse(answer)
    assert not parsed.error and not parsed.note
    assert [p["grader"] for p in parsed.proposals] == list(pure.KINDS)
    contains, regex, schema, judge = parsed.proposals
    assert contains["expected"] == "discrepancies"  # the longest word of the description
    assert "Reconcile invoices" in contains["user_message"]
    assert json.loads(schema["schema"])["required"] == ["feasible", "reason"]
    assert "misread totals on scanned invoices" in judge["rubric"]  # the recorded failure


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "I would test it on harder invoices first.",
        '{"probes": "none"}',
        '```json\n{"probes": [{"name": "x"}\n```',  # cut off
        "[" * 5000 + "]" * 5000,  # nested past the parser's limit: refused, not a crash
        '{"answer": 42}',
    ],
)
def test_a_malformed_answer_gives_a_message_not_an_exception(answer):
    parsed = pure.parse(answer)
    assert parsed.proposals == [] and parsed.error == pure.MALFORMED


def test_an_empty_list_too_many_and_too_few_are_said_as_they_are():
    assert "proposed no probes" in pure.parse('{"probes": []}').error
    seven = {"probes": [{"name": f"p{i}", "user_message": "q", "grader": "contains",
                         "expected": "a"} for i in range(7)]}  # fmt: skip
    parsed = pure.parse(json.dumps(seven))
    assert len(parsed.proposals) == 5 and parsed.note == (
        "Claude proposed 7 probes; the first 5 are shown."
    )
    one = pure.parse('[{"name": "only", "user_message": "q", "grader": "regex", "pattern": "a"}]')
    assert len(one.proposals) == 1 and one.note == "Claude proposed 1 probe, not 3 to 5."


def test_a_proposal_that_is_not_an_object_is_kept_and_refused_by_the_form(db, sim_models):
    parsed = pure.parse('{"probes": ["just a string", {"name": "n", "user_message": "q", '
                        '"grader": "Contains", "expected": "yes"}]}')  # fmt: skip
    checked = propose.checked(parsed.proposals, "")
    assert checked[0]["errors"]  # not an object: empty fields, refused
    assert checked[1]["grader"] == "contains" and checked[1]["errors"] == {}


@pytest.mark.django_db
def test_every_proposal_goes_through_the_probe_forms_validation(sim_models):
    judge = sim_models[0].model_id
    good = propose.checked(pure.parse(pure.scripted_answer(_prompt())).proposals, judge)
    assert [p["errors"] for p in good] == [{}, {}, {}, {}]
    bad = pure.scripted_answer(_prompt(description=f"Reconcile ({pure.INVALID_TRIGGER})"))
    checked = propose.checked(pure.parse(bad).proposals, judge)
    assert checked[1]["grader"] == "regex" and list(checked[1]["errors"]) == ["Regular expression"]
    assert "not a valid regular expression" in checked[1]["errors"]["Regular expression"][0]
    assert all(not p["errors"] for i, p in enumerate(checked) if i != 1)
    # A judge grader needs a judge model the Models list knows (the form's own rule).
    judged = propose.checked([good[3]], "no-such-model")
    assert "Judge model" in judged[0]["errors"]
    # A schema that is not a JSON Schema is refused as the probe form refuses it.
    schema = {**good[2], "schema": '{"type": "no-such-type"}'}
    assert "JSON Schema" in propose.checked([schema], judge)[0]["errors"]


# ----------------------------------------------------------------------------- the panel
@pytest.fixture
def enabled(team, sim_models):
    return FacilitatorSetting.objects.create(
        team=team, enabled=True, monthly_budget_usd=5, model_id=sim_models[0].model_id
    )


@pytest.fixture
def idea(team):
    return Idea.objects.create(team=team, **IDEA)


def _propose(client, idea):
    return client.post(
        _url("propose_probes", idea.team, pk=idea.pk), headers={"HX-Request": "true"}
    )


@pytest.mark.django_db
def test_off_by_default_nothing_is_sent(team, idea, editor_client, owner_client, sim_models):
    page = editor_client.get(idea.get_absolute_url()).text
    assert "Probes proposed by Claude" in page and "Propose probes with Claude" not in page
    assert "An owner can turn on the Claude facilitator" in page
    assert "Turn on the Claude facilitator" in owner_client.get(idea.get_absolute_url()).text
    response = _propose(editor_client, idea)
    assert response.status_code == 400
    assert "the Claude facilitator is off for this team" in response.text
    assert not ProbeProposal.objects.exists() and not LiveSession.objects.exists()


@pytest.mark.django_db
def test_a_spent_budget_refuses_with_the_figures(team, idea, editor_client, enabled):
    ProbeProposal.objects.create(team=team, idea=idea, status="ready", cost_usd=Decimal("5.5"))
    response = _propose(editor_client, idea)
    assert response.status_code == 400
    assert "budget is spent ($5.50 of $5.00)" in response.text
    assert ProbeProposal.objects.count() == 1 and not LiveSession.objects.exists()
    # without htmx: back to the idea's page with the message
    response = editor_client.post(_url("propose_probes", team, pk=idea.pk), follow=True)
    assert "budget is spent" in response.text


@pytest.mark.django_db
def test_a_viewer_cannot_propose_save_or_try(team, idea, viewer_client, enabled, sim_models):
    page = viewer_client.get(idea.get_absolute_url()).text
    assert "Probes proposed by Claude" in page and "Propose probes with Claude" not in page
    assert _propose(viewer_client, idea).status_code == 403
    batch = ProbeProposal.objects.create(
        team=team, idea=idea, status="ready",
        proposals=propose.checked(pure.parse(pure.scripted_answer(_prompt())).proposals, ""),
    )  # fmt: skip
    assert "Review and save" not in viewer_client.get(idea.get_absolute_url()).text
    data = pure.form_data(batch.proposals[0], "")
    assert viewer_client.post(_url("proposal_save", team, pk=batch.pk, n=0), data).status_code == (
        403
    )
    try_url = _url("proposal_try", team, pk=batch.pk, n=0)
    assert viewer_client.post(try_url, {"model": sim_models[0].pk}).status_code == 403
    assert not Probe.objects.filter(idea=idea).exists() and ProbeProposal.objects.count() == 1


@pytest.mark.django_db
def test_another_teams_idea_and_proposal_are_404(
    team, idea, other_team, outsider_client, enabled, sim_models
):
    FacilitatorSetting.objects.create(team=other_team, enabled=True)
    batch = ProbeProposal.objects.create(
        team=team, idea=idea, status="ready",
        proposals=propose.checked(pure.parse(pure.scripted_answer(_prompt())).proposals, ""),
    )  # fmt: skip
    assert outsider_client.post(
        _url("propose_probes", other_team, pk=idea.pk), headers={"HX-Request": "true"}
    ).status_code == 404  # fmt: skip
    save = _url("proposal_save", other_team, pk=batch.pk, n=0)
    assert outsider_client.get(save).status_code == 404
    assert outsider_client.post(save, pure.form_data(batch.proposals[0], "")).status_code == 404
    try_url = _url("proposal_try", other_team, pk=batch.pk, n=0)
    assert outsider_client.post(try_url, {"model": sim_models[0].pk}).status_code == 404
    assert not Probe.objects.exists() and ProbeProposal.objects.count() == 1


@pytest.mark.django_db
def test_a_malformed_answer_is_a_clear_message_and_saves_nothing(
    fake_api, team, editor_client, enabled
):
    idea = Idea.objects.create(team=team, **{**IDEA, "why_failed": pure.MALFORMED_TRIGGER})
    assert _propose(editor_client, idea).status_code == 200
    batch = ProbeProposal.objects.get()
    assert propose_probes.apply(args=(batch.pk,)).get() == "malformed"
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.error == pure.MALFORMED
    assert batch.output_tokens > 0 and batch.cost_usd > 0  # the call was billed: recorded
    assert spent_this_month(team) == batch.cost_usd
    page = editor_client.get(idea.get_absolute_url())
    assert page.status_code == 200
    assert "was not the JSON list of probes" in page.text and "What Claude answered" in page.text
    assert not Probe.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_propose_review_save_and_try_once_with_a_real_worker(
    celery_worker_process, fake_api, team, editor_client, enabled, sim_models
):
    idea = Idea.objects.create(
        team=team, **{**IDEA, "description": f"Match invoices ({pure.INVALID_TRIGGER})."}
    )
    response = _propose(editor_client, idea)
    assert response.status_code == 200
    batch = ProbeProposal.objects.get()
    assert f'id="live-{batch.session_id}"' in response.text  # the answer streams live
    assert wait_for(lambda: LiveSession.objects.get(pk=batch.session_id).status != "active")
    batch.refresh_from_db()
    assert batch.status == "ready", batch.error
    assert batch.model == sim_models[0].model_id and batch.sent == propose.sent_for(idea)
    assert batch.input_tokens > 0 and batch.output_tokens > 0 and batch.cost_usd > 0
    assert LiveEvent.objects.filter(
        session_id=batch.session_id, type="result", data__valid=3, data__proposed=4
    ).exists()
    assert spent_this_month(team) == batch.cost_usd

    page = editor_client.get(idea.get_absolute_url()).text
    assert page.count('data-valid="1"') == 3 and page.count('data-valid="0"') == 1
    assert "Not a valid probe" in page and "not a valid regular expression" in page
    assert "· Matches a regular expression" in page and "· LLM judge with a rubric" in page
    assert f"${floatformat(batch.cost_usd, 4)}" in page
    assert not Probe.objects.exists()  # proposals are not probes

    # Review the first proposal in the normal probe form, prefilled, and save it.
    save = _url("proposal_save", team, pk=batch.pk, n=0)
    form = editor_client.get(save)
    assert form.status_code == 200 and batch.proposals[0]["name"] in form.text
    data = pure.form_data(batch.proposals[0], "")
    data["name"] = "Names the key term (edited)"
    response = editor_client.post(save, data)
    assert response.status_code == 302
    probe = Probe.objects.get()
    assert probe.idea_id == idea.pk and probe.name == "Names the key term (edited)"
    assert probe.grader == "contains" and probe.grader_config["expected"] == "invoices"
    batch.refresh_from_db()
    assert batch.proposals[0]["probe_id"] == probe.pk
    assert "Saved as a probe" in editor_client.get(idea.get_absolute_url()).text

    # The invalid one opens with its problem beside the field; posted as is, it is refused.
    bad = _url("proposal_save", team, pk=batch.pk, n=1)
    assert "not a valid regular expression" in editor_client.get(bad).text
    response = editor_client.post(bad, pure.form_data(batch.proposals[1], ""))
    assert response.status_code == 400 and Probe.objects.count() == 1
    response = editor_client.post(_url("proposal_try", team, pk=batch.pk, n=1),
                                  {"model": sim_models[0].pk})  # fmt: skip
    assert response.status_code == 400 and "not a valid probe" in response.text

    # A proposal that is not there: 404, nothing saved; one of a batch not ready (proposed
    # again meanwhile, or failed): back to the idea with a message.
    assert editor_client.get(_url("proposal_save", team, pk=batch.pk, n=9)).status_code == 404
    ProbeProposal.objects.filter(pk=batch.pk).update(status=ProbeProposal.Status.RUNNING)
    response = editor_client.get(_url("proposal_save", team, pk=batch.pk, n=0), follow=True)
    assert "That proposal is no longer available" in response.text and Probe.objects.count() == 1
    ProbeProposal.objects.filter(pk=batch.pk).update(status=ProbeProposal.Status.READY)

    # "Try once" straight from a proposal (the JSON Schema one): the same try-once path.
    response = editor_client.post(
        _url("proposal_try", team, pk=batch.pk, n=2), {"model": sim_models[0].pk}
    )
    assert response.status_code == 200
    session = LiveSession.objects.filter(kind="probe_try").get()
    assert f'id="live-{session.pk}"' in response.text
    assert wait_for(lambda: LiveSession.objects.get(pk=session.pk).status != "active")
    result = LiveEvent.objects.get(session=session, type="result")
    assert result.data["grade"] in ("pass", "fail") and result.data["tokens"] > 0
    assert Probe.objects.count() == 1  # trying saved nothing
    idea.refresh_from_db()
    assert idea.last_tried_at is None  # only a saved probe marks its idea as tried


@pytest.mark.django_db
def test_the_idea_page_holds_its_query_count_as_proposals_grow(team, idea, editor_client, enabled):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    items = propose.checked(pure.parse(pure.scripted_answer(_prompt())).proposals, "")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert editor_client.get(idea.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    ProbeProposal.objects.create(team=team, idea=idea, status="ready", proposals=items[:1])
    count()  # a warm-up: the first request of a client makes one query more
    one = count()
    for _ in range(5):
        ProbeProposal.objects.create(team=team, idea=idea, status="ready", proposals=items)
    assert count() == one
