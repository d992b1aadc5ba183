"""Probe forms: one set of fields per grader kind, limits shown before submitting, raw JSON
as an advanced option; bad input is a 400 with a message next to the field, never a 500,
and saves nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def _post(client, idea, **fields):
    data = {"name": "P", "user_message": "say yes", "max_tokens": 100, "temperature": 0,
            "samples": 3, "pass_k": 2, **fields}  # fmt: skip
    url = reverse("audits:probe_create", kwargs={"team": idea.team.slug, "pk": idea.pk})
    return client.post(url, data)


def test_limits_are_shown_next_to_the_fields(editor_client, team):
    idea = IdeaFactory(team=team, title="Form")
    url = reverse("audits:probe_create", kwargs={"team": team.slug, "pk": idea.pk})
    page = editor_client.get(url).text
    assert "1 to 20: how often the prompt is asked per model." in page
    assert 'name="samples"' in page and 'max="20"' in page
    assert "1 to 64,000 tokens per answer." in page
    for legend in ["Regular expression", "JSON Schema", "Number with tolerance",
                   "LLM judge with a rubric", "Advanced: grader settings as JSON"]:  # fmt: skip
        assert legend in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"grader": "contains"}, "expected", "Required for this grader."),
        ({"grader": "regex", "pattern": "(unclosed"}, "pattern", "not a valid regular expression"),
        ({"grader": "json_schema", "schema": "{not json"}, "schema", "JSON"),
        ({"grader": "json_schema", "schema": '{"type": 12}'}, "schema", "not a valid JSON Schema"),
        ({"grader": "json_schema", "schema": "[1]"}, "schema", "A JSON Schema is an object"),
        ({"grader": "number", "number": "many"}, "number", "Enter a number."),
        ({"grader": "number", "number": "3", "tolerance": "-1"}, "tolerance", "greater than or"),
        ({"grader": "number"}, "number", "Required for this grader."),
        ({"grader": "llm_judge", "rubric": "Kind"}, "judge_model", "Required for this grader."),
        ({"grader": "contains", "grader_config": "{oops"}, "grader_config", "JSON"),
        ({"grader": "contains", "grader_config": "[1, 2]"}, "grader_config", "a JSON object"),
        ({"grader": "contains", "grader_config": '{"x": 1}'}, "grader_config", "required"),
        ({"grader": "contains", "expected": "y", "samples": 21}, "samples", "less than or equal"),
        ({"grader": "contains", "expected": "y", "pass_k": 5}, "pass_k", "more passes than"),
        ({"grader": "bogus"}, "grader", "Select a valid choice"),
    ],
)
def test_bad_grader_input_is_a_message_not_a_500(editor_client, team, fields, field, message):
    idea = IdeaFactory(team=team, title="Bad")
    response = _post(editor_client, idea, **fields)
    assert response.status_code == 400
    error = response.text.split(f'id="id_{field}_error"')[1].split("</small>")[0]
    assert message in error
    assert idea.probes.count() == 1  # only the factory's probe: nothing saved


@pytest.mark.parametrize(
    ("fields", "config"),
    [
        ({"grader": "contains", "expected": "yes"}, {"expected": "yes"}),
        ({"grader": "equals", "expected": "Yes", "case_sensitive": "on"},
         {"expected": "Yes", "case_sensitive": True}),
        ({"grader": "regex", "pattern": r"def \w+\("}, {"pattern": r"def \w+\("}),
        ({"grader": "json_schema", "schema": '{"type": "object"}'}, {"schema": {"type": "object"}}),
        ({"grader": "number", "number": "1234.5", "tolerance": "0.01"},
         {"expected": 1234.5, "tolerance": 0.01}),
        ({"grader": "human"}, {}),
        ({"grader": "contains", "expected": "ignored", "grader_config": '{"expected": "raw"}'},
         {"expected": "raw"}),
    ],
)  # fmt: skip
def test_grader_fields_make_the_config(editor_client, team, fields, config):
    idea = IdeaFactory(team=team, title="Good")
    response = _post(editor_client, idea, **fields)
    assert response.status_code == 302, response.text[:3000]
    probe = idea.probes.get(name="P")
    assert (probe.grader, probe.grader_config) == (fields["grader"], config)


def test_llm_judge_fields_and_edit_shows_them_again(editor_client, team, sim_models):
    newer, _ = sim_models
    idea = IdeaFactory(team=team, title="Judge")
    _post(editor_client, idea, grader="llm_judge", rubric="Apologises", judge_model=newer.model_id)
    probe = idea.probes.get(name="P")
    assert probe.grader_config == {"rubric": "Apologises", "judge_model": newer.model_id,
                                   "rubric_version": "1"}  # fmt: skip
    url = reverse("audits:probe_edit", kwargs={"team": team.slug, "pk": probe.pk})
    page = editor_client.get(url).text
    assert "Apologises</textarea>" in page
    assert f'<option value="{newer.model_id}" selected>' in page


def test_simulated_help_says_what_the_models_answer(editor_client, team, settings):
    settings.SIMULATED_MODELS = True
    page = editor_client.get(reverse("audits:idea_list", kwargs={"team": team.slug})).text
    assert "Simulated models: what they answer" in page
    assert "<code>LATER-PASSES</code>" in page and "YES, it works now." in page
    assert "PACED-" not in page and "strict grader" not in page
    settings.SIMULATED_MODELS = False
    page = editor_client.get(reverse("audits:idea_list", kwargs={"team": team.slug})).text
    assert "Simulated models: what they answer" not in page


@pytest.mark.parametrize(
    ("kind", "grade", "detail", "words"),
    [
        ("contains", "pass", {"expected": "YES"}, "The answer contains “YES”."),
        ("contains", "fail", {"expected": "YES"}, "The answer does not contain “YES”."),
        ("number", "fail", {"value": 1243.0, "expected": 1234.5, "tolerance": 0.01},
         "Found 1243, outside 1234.5 ± 0.01."),
        ("number", "fail", {"error": "No number", "expected": 3.0, "tolerance": 0},
         "No number in the answer (expected 3 ± 0)."),
        ("json_schema", "fail", {"errors": ["(root): 'x' is a required property"]},
         "The JSON does not match the schema: (root): 'x' is a required property."),
        ("llm_judge", "pass", {"reasoning": "It apologises.", "judge_model": "j",
                               "rubric_version": "2"}, "It apologises. (judge j, rubric v2)"),
        ("regex", "error", {"error": "Bad pattern: x"}, "Not graded: Bad pattern: x"),
    ],
)  # fmt: skip
def test_grades_are_explained_in_words(kind, grade, detail, words):
    from audits import graders

    assert graders.explain(kind, grade, detail) == words
    overridden = graders.explain_result(kind, "pass", "fail", {"expected": "YES"})
    if kind == "contains":
        assert overridden.startswith("Marked pass by a person (the grader said fail: The answer")
