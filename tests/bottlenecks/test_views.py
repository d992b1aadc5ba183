import math

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planning.bottlenecks.models import BottleneckMap, Scenario, Stage, StageDependency
from planning.notes.models import Kind, Note
from planning.quarters import quarter_label
from tests.bottlenecks.conftest import stage
from tests.factories import BottleneckMapFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, team, **kwargs):
    return reverse(f"bottlenecks:{name}", kwargs={"team": team.slug, **kwargs})


def stage_data(**overrides):
    data = {
        "name": "Design review",
        "active_hours": "2",
        "waiting_hours": "3",
        "speedup_active": "1.5",
        "speedup_waiting": "1",
        "target_speedup": "",
        "owner": "Design",
        "notes": "",
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- list and create
def test_empty_list_explains_and_offers_the_first_map(team, editor_client):
    response = editor_client.get(url("map_list", team))
    assert response.status_code == 200
    assert b"No bottleneck maps yet" in response.content
    assert url("map_create", team).encode() in response.content


def test_empty_list_for_a_viewer_offers_no_action(team, viewer_client):
    response = viewer_client.get(url("map_list", team))
    assert b"No bottleneck maps yet" in response.content
    assert url("map_create", team).encode() not in response.content


def test_list_shows_each_maps_bottleneck(team, editor_client, delivery_map):
    response = editor_client.get(url("map_list", team))
    assert b"Feature delivery" in response.content
    assert b"Security review" in response.content
    assert "1.54×".encode() in response.content


def test_create_a_map_from_the_example(team, editor_client):
    response = editor_client.post(
        url("map_create", team),
        {
            "name": "Delivery",
            "unit_of_work": "one feature",
            "mode": "amdahl",
            "quarter": "2026-Q1",
            "start_with_example": "on",
        },
    )
    bmap = BottleneckMap.objects.get(team=team)
    assert response.status_code == 302
    assert response.url == url("map_detail", team, pk=bmap.pk)
    assert bmap.stages.count() == 6
    assert StageDependency.objects.filter(stage__map=bmap).count() == 6
    assert set(bmap.stages.values_list("team", flat=True)) == {team.pk}


def test_a_map_name_is_unique_per_quarter(team, editor_client, delivery_map):
    response = editor_client.post(
        url("map_create", team),
        {"name": "Feature delivery", "unit_of_work": "x", "mode": "amdahl", "quarter": "2026-Q1"},
        **HTMX,
    )
    assert response.status_code == 400
    words = quarter_label("2026-Q1", team.fiscal_year_start_month)[0]  # "Q1 2026" or "FY2026 Q1"
    assert f"already a map called “Feature delivery” in {words}".encode() in response.content
    assert BottleneckMap.objects.count() == 1


def test_edit_and_delete_a_map(team, editor_client, delivery_map):
    response = editor_client.post(
        url("map_edit", team, pk=delivery_map.pk),
        {
            "name": "Delivery v2",
            "unit_of_work": "one PR",
            "mode": "gustafson",
            "quarter": "2026-Q1",
        },
    )
    assert response.status_code == 302
    delivery_map.refresh_from_db()
    assert (delivery_map.name, delivery_map.mode) == ("Delivery v2", "gustafson")
    page = editor_client.get(url("map_detail", team, pk=delivery_map.pk))
    assert b"More scope, same time" in page.content
    assert b'id="scaled-speedup"' in page.content
    response = editor_client.post(url("map_delete", team, pk=delivery_map.pk))
    assert response.status_code == 302
    assert not BottleneckMap.objects.exists()
    assert not Stage.objects.exists()


# --------------------------------------------------------------------------- the map page
def test_map_page_names_the_bottleneck_and_the_moved_critical_path(
    team, viewer_client, delivery_map
):
    response = viewer_client.get(url("map_detail", team, pk=delivery_map.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="bottleneck-name">Security review<' in body
    assert "Security review moved onto the critical path; QA left it." in body
    assert 'id="overall-speedup">1.54×<' in body
    for chart in ("bn-bars", "bn-dag-before", "bn-dag-after", "bn-ceiling"):
        assert f'id="{chart}"' in body
    # A viewer sees the analysis and the sliders but no editing controls.
    assert 'name="a' in body
    assert "Add a stage" not in body
    assert "Save as scenario" not in body
    assert (
        url("stage_edit", team, pk=delivery_map.pk, stage_pk=stage(delivery_map, "QA").pk)
        not in body
    )


def test_empty_map_shows_an_empty_state(team, editor_client):
    bmap = BottleneckMapFactory(team=team)
    response = editor_client.get(url("map_detail", team, pk=bmap.pk))
    assert response.status_code == 200
    assert b"No stages yet" in response.content
    assert b"Add a stage" in response.content


# --------------------------------------------------------------------------- tenancy
def test_another_teams_map_is_404_even_through_your_own_team(
    team, other_team, editor_client, delivery_map
):
    theirs = BottleneckMapFactory(team=other_team, stages=[("Build", 1, 1, 1, 1)])
    their_stage = theirs.stages.get()
    assert editor_client.get(url("map_detail", team, pk=theirs.pk)).status_code == 404
    assert editor_client.get(url("what_if", team, pk=theirs.pk)).status_code == 404
    assert editor_client.post(url("stage_add", team, pk=theirs.pk), stage_data()).status_code == 404
    assert editor_client.post(url("map_copy", team, pk=theirs.pk)).status_code == 404
    # Their stage through our map.
    ours = delivery_map.pk
    for name in ("stage_edit", "stage_move", "stage_delete"):
        response = editor_client.post(url(name, team, pk=ours, stage_pk=their_stage.pk))
        assert response.status_code == 404, name
    assert Stage.objects.filter(pk=their_stage.pk).exists()


def test_outsider_gets_404(team, outsider_client, delivery_map):
    assert outsider_client.get(url("map_detail", team, pk=delivery_map.pk)).status_code == 404
    assert outsider_client.get(url("map_list", team)).status_code == 404


def test_a_viewer_cannot_change_anything(team, viewer_client, delivery_map):
    qa = stage(delivery_map, "QA")
    pk = delivery_map.pk
    posts = [
        url("stage_add", team, pk=pk),
        url("stage_edit", team, pk=pk, stage_pk=qa.pk),
        url("stage_move", team, pk=pk, stage_pk=qa.pk),
        url("stage_delete", team, pk=pk, stage_pk=qa.pk),
        url("scenario_save", team, pk=pk),
        url("map_copy", team, pk=pk),
        url("map_edit", team, pk=pk),
        url("map_delete", team, pk=pk),
    ]
    for target in posts:
        assert viewer_client.post(target, stage_data(name="Sneaky")).status_code == 403, target
    assert delivery_map.stages.count() == 6
    assert BottleneckMap.objects.count() == 1
    # … but the what-if is a read: allowed.
    assert viewer_client.get(url("what_if", team, pk=pk), **HTMX).status_code == 200


# --------------------------------------------------------------------------- stages
def test_add_a_stage_inline(team, editor_client, delivery_map):
    review = stage(delivery_map, "Code review")
    response = editor_client.post(
        url("stage_add", team, pk=delivery_map.pk),
        {**stage_data(), "depends_on": [review.pk]},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#workspace"
    added = delivery_map.stages.get(name="Design review")
    assert added.order == 6
    assert added.team_id == team.pk
    assert list(added.dependencies.values_list("depends_on", flat=True)) == [review.pk]
    assert b'id="stage-%d"' % added.pk in response.content


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("active_hours", "-1", "Hours cannot be negative."),
        ("waiting_hours", "abc", "Enter a number."),
        ("speedup_active", "0", "Use at least 0.01"),
        ("speedup_waiting", "inf", "Enter a number."),
        ("name", "QA", "This map already has a stage called “QA”."),
        ("name", "", "This field is required."),
    ],
)
def test_bad_input_is_rejected_next_to_the_field(
    team, editor_client, delivery_map, field, value, message
):
    data = stage_data(**{field: value})
    response = editor_client.post(url("stage_add", team, pk=delivery_map.pk), data, **HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'id="add-stage"' in body  # the form itself, swapped in place
    assert f'value="{value}"' in body or field == "name" and value == ""  # keeps what was typed
    assert delivery_map.stages.count() == 6


def test_a_stage_can_get_slower(team, editor_client, delivery_map):
    response = editor_client.post(
        url("stage_add", team, pk=delivery_map.pk), stage_data(speedup_active="0.5"), **HTMX
    )
    assert response.status_code == 200
    assert delivery_map.stages.get(name="Design review").speedup_active == 0.5


def test_edit_a_stage_inline(team, editor_client, delivery_map):
    sec = stage(delivery_map, "Security review")
    edit_url = url("stage_edit", team, pk=delivery_map.pk, stage_pk=sec.pk)
    form = editor_client.get(edit_url, **HTMX)
    assert form.status_code == 200
    assert b"Save stage" in form.content
    assert f'hx-post="{edit_url}"'.encode() in form.content
    assert b"<tr" in form.content[:40]
    deps = [d.pk for d in sec.dependencies.all()]
    response = editor_client.post(
        edit_url,
        stage_data(name="Security review", active_hours="3", waiting_hours="8",
                   speedup_active="3", speedup_waiting="4",
                   depends_on=[stage(delivery_map, "Code review").pk]),
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#workspace"
    sec.refresh_from_db()
    assert (sec.speedup_active, sec.speedup_waiting) == (3, 4)
    assert [d.pk for d in sec.dependencies.all()] == deps
    # Security is now 1 + 2 = 3 h: the path is back through QA and review is the bottleneck.
    assert 'id="bottleneck-name">Code review<' in response.content.decode()
    cancel = editor_client.get(url("stage_row", team, pk=delivery_map.pk, stage_pk=sec.pk), **HTMX)
    assert b"Security review" in cancel.content and b"Save stage" not in cancel.content


def test_edit_form_without_htmx_opens_the_page_in_edit_mode(team, editor_client, delivery_map):
    sec = stage(delivery_map, "Security review")
    response = editor_client.get(url("stage_edit", team, pk=delivery_map.pk, stage_pk=sec.pk))
    assert response.status_code == 200
    assert b"<html" in response.content and b"Save stage" in response.content


def test_a_dependency_cycle_is_refused_with_a_clear_message(team, editor_client, delivery_map):
    spec = stage(delivery_map, "Spec")
    deploy = stage(delivery_map, "Deploy")
    response = editor_client.post(
        url("stage_edit", team, pk=delivery_map.pk, stage_pk=spec.pk),
        stage_data(name="Spec", depends_on=[deploy.pk]),
        **HTMX,
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "would wait for each other in a circle" in body
    assert "Spec →" in body and "Deploy" in body
    assert not spec.dependencies.exists()
    spec.refresh_from_db()
    assert spec.active_hours == 3  # nothing half-saved


def test_reorder_stages(team, editor_client):
    bmap = BottleneckMapFactory(
        team=team, stages=[("A", 1, 0, 1, 1), ("B", 1, 0, 1, 1), ("C", 1, 0, 1, 1)]
    )
    b = stage(bmap, "B")
    response = editor_client.post(
        url("stage_move", team, pk=bmap.pk, stage_pk=b.pk), {"direction": "up"}, **HTMX
    )
    assert response.status_code == 200
    assert list(bmap.stages.values_list("name", flat=True)) == ["B", "A", "C"]
    editor_client.post(url("stage_move", team, pk=bmap.pk, stage_pk=b.pk), {"direction": "up"})
    assert list(bmap.stages.values_list("name", flat=True)) == ["B", "A", "C"]  # already first
    editor_client.post(url("stage_move", team, pk=bmap.pk, stage_pk=b.pk), {"direction": "down"})
    assert list(bmap.stages.values_list("name", flat=True)) == ["A", "B", "C"]


def test_removing_a_stage_removes_its_edges_and_notes(team, editor_client, editor, delivery_map):
    qa = stage(delivery_map, "QA")
    Note.objects.create(
        team=team, content_type=ContentType.objects.get_for_model(Stage), object_id=qa.pk,
        kind=Kind.LIGHT, text="Generated tests", author=editor,
    )  # fmt: skip
    response = editor_client.post(
        url("stage_delete", team, pk=delivery_map.pk, stage_pk=qa.pk), **HTMX
    )
    assert response.status_code == 200
    assert not Stage.objects.filter(pk=qa.pk).exists()
    assert not Note.objects.exists()
    assert StageDependency.objects.filter(stage__map=delivery_map).count() == 4


# --------------------------------------------------------------------------- what-if
def test_what_if_recomputes_and_the_bottleneck_moves(team, viewer_client, delivery_map):
    sec = stage(delivery_map, "Security review")
    response = viewer_client.get(
        url("what_if", team, pk=delivery_map.pk), {f"a{sec.pk}": "1", f"w{sec.pk}": "1"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results"')
    # Security now 0.3 + 0.8 h: QA (6 h) is on the path, review (10 h) is the bottleneck.
    assert 'id="bottleneck-name">Code review<' in body
    assert "Security review changed from the map" in body
    # Before: 47 h; after: 3.5 + 3.6 + 10 + 6 + 2.5 = 25.6 h.
    assert f'id="overall-speedup">{47 / 25.6:.2f}×<' in body


def test_untouched_sliders_change_nothing(team, viewer_client, delivery_map):
    review = stage(delivery_map, "Code review")  # 0.75×: log10 = -0.1249
    params = {f"a{review.pk}": f"{math.log10(0.75):.2f}", f"w{review.pk}": "0.00", "a999": "x"}
    response = viewer_client.get(url("what_if", team, pk=delivery_map.pk), params, **HTMX)
    body = response.content.decode()
    assert "changed from the map" not in body
    assert 'id="bottleneck-name">Security review<' in body


def test_what_if_without_htmx_renders_the_whole_page_with_the_sliders_set(
    team, viewer_client, delivery_map
):
    sec = stage(delivery_map, "Security review")
    response = viewer_client.get(url("what_if", team, pk=delivery_map.pk), {f"a{sec.pk}": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert f'name="a{sec.pk}"' in body and 'value="1.0000"' in body


def test_save_and_open_a_scenario(team, editor_client, editor, delivery_map):
    sec = stage(delivery_map, "Security review")
    response = editor_client.post(
        url("scenario_save", team, pk=delivery_map.pk),
        {"name": "Automate security", f"a{sec.pk}": "1", f"w{sec.pk}": "0.30103"},
        **HTMX,
    )
    assert response.status_code == 200
    scenario = Scenario.objects.get()
    assert scenario.created_by == editor
    assert scenario.speedups[str(sec.pk)] == {"active": 10.0, "waiting": 2.0}
    qa = stage(delivery_map, "QA")
    assert scenario.speedups[str(qa.pk)] == {"active": 4.0, "waiting": 1.0}
    assert b"Automate security" in response.content
    page = editor_client.get(url("map_detail", team, pk=delivery_map.pk), {"scenario": scenario.pk})
    body = page.content.decode()
    assert "Showing scenario <strong>Automate security</strong>" in body
    assert 'id="bottleneck-name">Code review<' in body
    # The map itself is unchanged.
    sec.refresh_from_db()
    assert sec.speedup_active == 1


def test_a_scenario_needs_a_name(team, editor_client, delivery_map):
    response = editor_client.post(
        url("scenario_save", team, pk=delivery_map.pk), {"name": ""}, **HTMX
    )
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not Scenario.objects.exists()


def test_another_maps_scenario_is_404(team, editor_client, delivery_map):
    other = BottleneckMapFactory(team=team, stages=[("A", 1, 0, 1, 1)], name="Other")
    scenario = Scenario.objects.create(map=other, name="S", speedups={})
    detail = url("map_detail", team, pk=delivery_map.pk)
    assert editor_client.get(detail, {"scenario": scenario.pk}).status_code == 404
    delete = url("scenario_delete", team, pk=delivery_map.pk, scenario_pk=scenario.pk)
    assert editor_client.post(delete).status_code == 404
    ok = url("scenario_delete", team, pk=other.pk, scenario_pk=scenario.pk)
    assert editor_client.post(ok, **HTMX).status_code == 200
    assert not Scenario.objects.exists()


# --------------------------------------------------------------------------- quarters
def test_copy_to_next_quarter_snapshots_stages_edges_and_notes(
    team, editor_client, editor, delivery_map
):
    qa = stage(delivery_map, "QA")
    Note.objects.create(
        team=team, content_type=ContentType.objects.get_for_model(Stage), object_id=qa.pk,
        kind=Kind.SHADE, text="False confidence", author=editor,
    )  # fmt: skip
    response = editor_client.post(url("map_copy", team, pk=delivery_map.pk))
    copy = BottleneckMap.objects.get(quarter="2026-Q2")
    assert response.status_code == 302 and response.url == url("map_detail", team, pk=copy.pk)
    assert copy.copied_from == delivery_map
    assert list(copy.stages.values_list("name", "speedup_active")) == list(
        delivery_map.stages.values_list("name", "speedup_active")
    )
    edges = set(
        StageDependency.objects.filter(stage__map=copy).values_list(
            "depends_on__name", "stage__name"
        )
    )
    assert ("Code review", "Security review") in edges and len(edges) == 6
    copied_qa = copy.stages.get(name="QA")
    note = Note.objects.get(object_id=copied_qa.pk)
    assert note.text == "False confidence"
    # Copying again goes to the existing map.
    again = editor_client.post(url("map_copy", team, pk=delivery_map.pk))
    assert again.url == url("map_detail", team, pk=copy.pk)
    assert BottleneckMap.objects.count() == 2
    # The new quarter's page shows the history across quarters.
    body = editor_client.get(url("map_detail", team, pk=copy.pk)).content.decode()
    assert 'id="bn-history"' in body
    assert url("map_detail", team, pk=delivery_map.pk) in body


# --------------------------------------------------------------------------- query counts
def _fifty_stage_map(team, n):
    stages = [(f"Stage {i}", 1 + i % 5, i % 3, 1 + i % 7, 1) for i in range(n)]
    edges = [(f"Stage {i}", f"Stage {i + 1}") for i in range(n - 1)]
    edges += [(f"Stage {i}", f"Stage {i + 2}") for i in range(0, n - 2, 3)]
    bmap = BottleneckMapFactory(team=team, stages=stages, edges=edges, name=f"Big {n}")
    ct = ContentType.objects.get_for_model(Stage)
    Note.objects.bulk_create(
        [
            Note(team=team, content_type=ct, object_id=s.pk, kind=Kind.LIGHT, text="x")
            for s in bmap.stages.all()
        ]
    )
    Scenario.objects.create(map=bmap, name="S", speedups={})
    return bmap


def _count(client, target, **extra):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target, **extra)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_constant_query_count_on_a_50_stage_map(team, editor_client, django_assert_max_num_queries):
    small = _fifty_stage_map(team, 3)
    big = _fifty_stage_map(team, 50)
    baseline = _count(editor_client, url("map_detail", team, pk=small.pk))
    with django_assert_max_num_queries(baseline):
        response = editor_client.get(url("map_detail", team, pk=big.pk))
    assert response.content.count(b'class="bn-slider"') == 50
    whatif_small = _count(editor_client, url("what_if", team, pk=small.pk), **HTMX)
    with django_assert_max_num_queries(whatif_small):
        editor_client.get(url("what_if", team, pk=big.pk), **HTMX)
    list_baseline = _count(editor_client, url("map_list", team))
    _fifty_stage_map(team, 20)
    with django_assert_max_num_queries(list_baseline):
        editor_client.get(url("map_list", team))


def test_dashboard_summary(team, editor_client, delivery_map, django_assert_max_num_queries):
    dashboard = reverse("teams:dashboard", kwargs={"team": team.slug})
    response = editor_client.get(dashboard)
    body = response.content.decode()
    assert "The bottleneck is <strong>Security review</strong>" in body
    assert url("map_detail", team, pk=delivery_map.pk) in body
    from planning.bottlenecks.dashboard import summary

    with django_assert_max_num_queries(3):
        assert summary(team)["bottleneck"] == "Security review"
    BottleneckMap.objects.all().delete()
    assert summary(team) is None


def test_history_counts_a_one_stage_critical_path_in_the_singular(team, editor_client):
    bmap = BottleneckMap.objects.create(team=team, name="Checkout", quarter="2026-Q4")
    Stage.objects.create(map=bmap, name="Code", order=0, active_hours=8, speedup_active=10)
    html = editor_client.get(url("map_detail", team, pk=bmap.pk)).content.decode()
    assert "1 stage, 0.8 h" in html
    assert "1 stages" not in html


def test_a_map_of_zero_hours_asks_for_hours_instead_of_claiming_results(team, editor_client):
    # 0 h → 0 h said "1×" overall, "0%" flow efficiency, an empty ranking and empty charts.
    bmap = BottleneckMap.objects.create(team=team, name="Placeholder", quarter="2026-Q4")
    Stage.objects.create(map=bmap, name="Spec", order=0, active_hours=0, waiting_hours=0)
    html = editor_client.get(url("map_detail", team, pk=bmap.pk)).content.decode()
    assert "Every stage has 0 hours so far" in html
    assert 'id="overall-speedup"' not in html
    assert "Flow efficiency" not in html and "Where the next investment pays most" not in html


def test_dashboard_does_not_claim_a_speedup_for_a_map_of_zero_hours(team, editor_client):
    bmap = BottleneckMap.objects.create(team=team, name="Placeholder", quarter="2026-Q4")
    Stage.objects.create(map=bmap, name="Spec", order=0, active_hours=0, waiting_hours=0)
    body = editor_client.get(reverse("teams:dashboard", kwargs={"team": team.slug})).text
    assert "has no hours yet" in body
    assert "1× overall" not in body


def test_list_does_not_claim_a_speedup_for_a_map_of_zero_hours(team, editor_client):
    bmap = BottleneckMap.objects.create(team=team, name="Placeholder", quarter="2026-Q4")
    Stage.objects.create(map=bmap, name="Spec", order=0, active_hours=0, waiting_hours=0)
    body = editor_client.get(url("map_list", team)).text
    assert "no hours yet" in body
    assert ">1×<" not in body
