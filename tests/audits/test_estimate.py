"""The run form says what the audit will do before it starts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits.estimate import estimate
from audits.models import Model, Probe
from tests.factories import IdeaFactory


def url(name, team, **kw):
    return reverse(f"audits:{name}", kwargs={"team": team.slug, **kw})


def test_the_sentence_counts_calls_probes_samples_and_models():
    e = estimate([1, 2, 3], [(1, 3), (1, 2), (2, 1), (9, 5)], models=2)  # idea 9 not chosen
    assert (e.calls, e.probes, e.samples, e.ideas, e.idle_ideas) == (12, 3, 6, 2, 1)
    assert e.sentence == (
        "This audit makes 12 model calls: 3 probes from 2 ideas, 6 samples in all, on 2 models."
    )
    assert e.idle_sentence == "1 chosen idea has no probe: nothing runs for it."
    one = estimate([1], [(1, 1)], models=1)
    assert one.sentence == (
        "This audit makes 1 model call: 1 probe from 1 idea, 1 sample in all, on 1 model."
    )
    assert one.idle_sentence == ""
    assert estimate([1], [(1, 3)], 0).sentence == "Nothing to run yet: choose at least one model."
    assert estimate([4, 5], [], 3).sentence == (
        "Nothing to run yet: choose at least an idea with a probe."
    )
    assert estimate([4, 5], [], 3).idle_sentence == (
        "2 chosen ideas have no probe: nothing runs for them."
    )


@pytest.mark.django_db
def test_the_run_form_shows_the_estimate_and_updates_it(
    editor_client, team, other_team, sim_models, django_assert_max_num_queries
):
    idea = IdeaFactory(team=team, title="With probe")
    bare = IdeaFactory(team=team, title="No probe yet")
    Probe.objects.all().delete()  # the factory's own
    Probe.objects.create(idea=idea, name="p", user_message="x", grader="contains",
                         grader_config={"expected": "y"}, samples=3, pass_k=1)  # fmt: skip
    default = editor_client.get(url("run_create", team)).text  # the default: newest two
    assert "This audit makes 6 model calls" in default
    hostile = editor_client.get(url("run_create", team) + "?model=x&model=-3&model=1e9")
    assert hostile.status_code == 200 and "Nothing to run yet: choose at least one model" in (
        hostile.text
    )
    page = editor_client.get(url("run_create", team) + f"?model={sim_models[0].pk}").text
    assert "This audit makes 3 model calls: 1 probe from 1 idea" in page
    assert "1 chosen idea has no probe" in page
    theirs = IdeaFactory(team=other_team)  # with the factory's probe, and one of 20 samples
    Probe.objects.create(idea=theirs, name="p", user_message="x", grader="contains",
                         grader_config={"expected": "y"}, samples=20, pass_k=1)  # fmt: skip
    ids = [idea.pk, bare.pk, theirs.pk, "x", "-1", "9" * 30]
    params = {"ideas": ids, "models": [m.pk for m in sim_models] + ["'; drop"]}
    with django_assert_max_num_queries(8):
        part = editor_client.get(url("run_estimate", team), params, headers={"HX-Request": "1"})
    assert part.status_code == 200 and "<html" not in part.text
    assert "This audit makes 6 model calls: 1 probe from 1 idea, 3 samples in all, on 2 models" in (
        part.text
    )  # the other team's idea counts for nothing
    retired = Model.objects.create(model_id="sim-old", retired=True)
    none = editor_client.get(
        url("run_estimate", team), {"ideas": [idea.pk], "models": [retired.pk]}
    )
    assert "Nothing to run yet: choose at least one model." in none.text
