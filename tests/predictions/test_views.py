"""The screens: metrics, observations (inline, CSV), predictions (form, commit, revise),
anti-anchoring, quarter and calibration pages, tenancy."""

import io
import math
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from scipy.special import ndtri

from predictions import trajectory
from predictions.models import (
    Metric,
    Observation,
    ObservationChange,
    Prediction,
    Resolution,
    Reveal,
)
from tests.factories import MetricFactory, ObservationFactory, PredictionFactory

pytestmark = pytest.mark.django_db

Z80 = float(ndtri(0.9))

# Horizons must lie after today (and within 50 years): a year from now, whenever tests run.
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


def url(name, team, **kw):
    return reverse(f"predictions:{name}", kwargs={"team": team.slug, **kw})


def test_metric_list_empty_state_and_create(team, editor_client):
    response = editor_client.get(url("metric_list", team))
    assert response.status_code == 200
    assert b"No metrics yet" in response.content
    response = editor_client.post(
        url("metric_create", team),
        {"name": "ARR", "unit": "$", "scale": "log", "higher_is_better": "on"},
    )
    metric = Metric.objects.get(team=team, name="ARR")
    assert response.status_code == 302 and response.url == metric.get_absolute_url()
    dup = editor_client.post(url("metric_create", team), {"name": "arr", "scale": "log"})
    assert dup.status_code == 400
    assert "already tracks a metric with this name" in dup.content.decode()
    listing = editor_client.get(url("metric_list", team)).content.decode()
    assert "ARR" in listing


def test_metric_edit_bumps_definition_version_with_a_note(team, editor_client, metric):
    response = editor_client.post(
        url("metric_edit", team, pk=metric.pk),
        {"name": metric.name, "unit": "minutes", "definition_changed": "on", "version_note": ""},
    )
    assert response.status_code == 400 and "Say what changed" in response.content.decode()
    editor_client.post(
        url("metric_edit", team, pk=metric.pk),
        {"name": metric.name, "unit": "minutes", "definition_changed": "on",
         "version_note": "METR moved to a new task suite"},
    )  # fmt: skip
    metric.refresh_from_db()
    assert metric.definition_version == 2 and metric.scale == "log"


def test_add_observation_and_reenter_updates_with_history(team, editor_client, metric):
    add = url("observations", team, pk=metric.pk)
    response = editor_client.post(add, {"observed_at": "2025-06-01", "value": "90", "source": "a"})
    assert response.status_code == 302
    editor_client.post(add, {"observed_at": "2025-06-01", "value": "95", "source": "b"})
    assert Observation.objects.get(metric=metric).value == 95
    assert ObservationChange.objects.filter(observation__metric=metric).count() == 1


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"observed_at": "2025-06-01", "value": "0"}, "value", "greater than zero"),
        ({"observed_at": "2025-06-01", "value": "-3"}, "value", "greater than zero"),
        ({"observed_at": "2025-06-01", "value": "lots"}, "value", "Enter a number"),
        ({"observed_at": "2100-01-01", "value": "5"}, "observed_at", "in the future"),
        ({"observed_at": "2999-01-01", "value": "5"}, "observed_at", "between the years 1900"),
    ],
)
def test_bad_observation_is_refused_next_to_the_field(team, editor_client, metric, data, field,
                                                      message):  # fmt: skip
    response = editor_client.post(
        url("observations", team, pk=metric.pk), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Observation.objects.exists()


def test_inline_edit_of_an_observation(team, editor_client, metric, owner):
    ObservationFactory.series(metric, date(2025, 1, 1), [50], user=owner)
    obs = metric.observations.get()
    edit = url("observation_edit", team, pk=metric.pk, obs_pk=obs.pk)
    row = editor_client.get(edit, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and 'name="value"' in row.content.decode()
    bad = editor_client.post(edit, {"observed_at": "2025-01-01", "value": "-1", "source": ""})
    assert bad.status_code == 400
    ok = editor_client.post(edit, {"observed_at": "2025-01-01", "value": "55", "source": "x"})
    assert ok.status_code == 200 and "55 minutes" in ok.content.decode()
    obs.refresh_from_db()
    assert obs.value == 55 and obs.changes.count() == 1
    history = editor_client.get(url("observation_history", team, pk=metric.pk, obs_pk=obs.pk))
    assert "50 minutes → 55 minutes" in history.content.decode()


def upload(client, team, metric, text):
    f = io.BytesIO(text.encode())
    f.name = "obs.csv"
    return client.post(url("observations_upload", team, pk=metric.pk), {"file": f})


def test_csv_upload_is_all_or_nothing_with_per_row_errors(team, editor_client, metric):
    text = (
        "date,value,source\n"
        "2025-01-01,60,METR\n"
        "2025-02-01,abc,\n"
        "2025-03-01,0,\n"
        "2999-01-01,80,\n"
        "2025-01-01,61,\n"
        "not-a-date,5,\n"
    )
    response = upload(editor_client, team, metric, text)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "Line 3: value: “abc” is not a number." in body
    assert "Line 4: value: This metric is on a log scale" in body
    assert "Line 5: date: 2999-01-01 is in the future" in body
    assert "Line 6: date: 2025-01-01 already appears on line 2." in body
    assert "Line 7: date: “not-a-date” is not a date" in body
    assert not Observation.objects.exists()


def test_csv_upload_rejects_unknown_columns(team, editor_client, metric):
    response = upload(editor_client, team, metric, "date,value,colour\n2025-01-01,3,red\n")
    assert response.status_code == 400
    assert "Unknown column: colour" in response.content.decode()


def test_csv_round_trip(team, editor_client, metric, owner):
    ObservationFactory.series(metric, date(2025, 1, 1), [60, 75.5, 90], user=owner)
    export = editor_client.get(url("observations_csv", team, pk=metric.pk))
    assert export["Content-Type"].startswith("text/csv")
    text = export.content.decode()
    assert text.splitlines()[0] == "date,value,source"
    other = MetricFactory(team=metric.team, name="Copy")
    response = upload(editor_client, team, other, text.replace("90.0", "91.0"))
    assert response.status_code == 302
    assert list(other.observations.values_list("value", flat=True)) == [60, 75.5, 91]
    # Re-import with one changed value: updated, with history, the rest unchanged.
    response = upload(editor_client, team, other, text)
    assert other.observations.get(observed_at=date(2025, 3, 2)).value == 90
    assert ObservationChange.objects.filter(observation__metric=other, via="csv").count() == 1


def prediction_data(**overrides):
    data = {
        "kind": "line", "title": "Doubling every 7 months", "horizon": NEXT_YEAR,
        "model": "exponential", "baseline_date": "2025-01-01", "baseline_value": "60",
        "doubling_months": "7", "coverage": "0.8", "band_low": "0.5", "band_high": "2",
        "rationale": "METR's trend **holds**. <script>alert(1)</script>",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_write_commit_and_see_a_prediction(team, editor, editor_client, metric):
    new = url("prediction_create", team, pk=metric.pk)
    assert editor_client.get(new).status_code == 200
    response = editor_client.post(new, prediction_data())
    p = Prediction.objects.get()
    assert response.status_code == 302 and p.author == editor and not p.is_committed
    assert p.trajectory["doubling_months"] == 7
    page = editor_client.get(p.get_absolute_url()).content.decode()
    assert "doubles every 7 months from 60 minutes on 2025-01-01" in page
    assert "<strong>holds</strong>" in page and "<script>alert" not in page
    editor_client.post(url("prediction_commit", team, pk=p.pk))
    p.refresh_from_db()
    assert p.is_committed
    page = editor_client.get(p.get_absolute_url()).content.decode()
    assert p.content_hash in page and "verified" in page
    # the metric page draws it
    chart = editor_client.get(metric.get_absolute_url()).content.decode()
    assert "Doubling every 7 months" in chart and 'id="metric-chart"' in chart


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"baseline_value": "0"}, "baseline_value", "greater than zero"),
        ({"horizon": "2024-01-01"}, "horizon", "after the start of the line"),
        ({"coverage": "1.5"}, "coverage", "between 0 and 1"),
        ({"band_low": "3", "band_high": "2"}, "band_low", "Low is above high"),
        ({"model": "logistic", "ceiling": "50", "steepness": "1"}, "ceiling", "above the baseline"),
        ({"baseline_value": "lots"}, "baseline_value", "Enter a number"),
    ],
)
def test_bad_prediction_input_gets_field_messages_and_keeps_input(
    team, editor_client, metric, overrides, field, message
):
    response = editor_client.post(
        url("prediction_create", team, pk=metric.pk), prediction_data(**overrides),
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    error = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', body)
    assert error and message in error.group(1), body
    assert 'value="Doubling every 7 months"' in body  # what the user typed is kept
    assert not Prediction.objects.exists()


def test_threshold_prediction_form(team, editor_client, metric):
    horizon = (timezone.now() + timedelta(days=100)).date().isoformat()
    response = editor_client.post(
        url("prediction_create", team, pk=metric.pk),
        {"kind": "threshold", "title": "Day-long tasks", "horizon": horizon,
         "threshold_value": "480", "threshold_above": "on", "probability": "70"},
    )  # fmt: skip
    assert response.status_code == 302
    p = Prediction.objects.get()
    assert (p.kind, p.threshold_value, p.probability) == ("threshold", 480, 0.7)
    bad = editor_client.post(
        url("prediction_create", team, pk=metric.pk),
        {"kind": "threshold", "title": "x", "horizon": horizon, "threshold_value": "480",
         "probability": "100"},
    )  # fmt: skip
    assert bad.status_code == 400 and "strictly between" in bad.content.decode()


def test_outside_view_names_a_plural_metric_without_users_s(team, editor_client):
    wau = MetricFactory(team=team, name="Weekly active users", unit="users", scale="linear")
    data = prediction_data(
        model="linear", change_per_year="100", baseline_value="1000", band_low="-100",
        band_high="100",
    )  # fmt: skip
    body = editor_client.get(url("prediction_preview", team, pk=wau.pk), data).content.decode()
    assert "Weekly active users&#x27; own history" in body and "users&#x27;s" not in body
    assert "with Weekly active users&#x27; observations" in body
    arr = MetricFactory(team=team, name="ARR")
    body = editor_client.get(url("prediction_preview", team, pk=arr.pk), prediction_data())
    assert "ARR&#x27;s own history" in body.content.decode()


def test_a_small_probability_reads_as_typed(team, editor_client, metric):
    """'0.7' in the percent field is 0.7%: said so, never rounded up to '1% likely'."""
    form = editor_client.get(url("prediction_create", team, pk=metric.pk)).content.decode()
    assert "In percent: 70 for 70%." in form
    horizon = (timezone.now() + timedelta(days=100)).date().isoformat()
    editor_client.post(
        url("prediction_create", team, pk=metric.pk),
        {"kind": "threshold", "title": "Day-long tasks", "horizon": horizon,
         "threshold_value": "480", "threshold_above": "on", "probability": "0.7"},
    )  # fmt: skip
    p = Prediction.objects.get()
    assert p.describe().endswith("(0.7% likely)")
    page = editor_client.get(url("prediction_detail", team, pk=p.pk)).content.decode()
    assert "0.7% likely" in page and "1% likely" not in page and "(0.7%)" in page
    assert trajectory.format_probability(0.999) == "99.9%"
    assert trajectory.format_probability(0.7) == "70%"


def test_live_preview_draws_the_line(team, editor_client, metric):
    preview = editor_client.get(
        url("prediction_preview", team, pk=metric.pk), prediction_data(), HTTP_HX_REQUEST="true"
    )
    body = preview.content.decode()
    assert preview.status_code == 200 and 'id="preview-chart"' in body
    assert "Doubling every 7 months" in body and 'data-preview="ok"' in body
    broken = editor_client.get(
        url("prediction_preview", team, pk=metric.pk), prediction_data(baseline_value="-1")
    )
    # The live preview names each problem: no field is highlighted while one types.
    assert "The line is drawn once these are fixed:" in broken.content.decode()
    assert "Fix the highlighted fields" not in broken.content.decode()
    assert "<li>Baseline value (minutes): Values on a log-scale metric must be" in (
        broken.content.decode()
    )


def test_revise_creates_a_superseding_draft(team, editor, editor_client, metric):
    old = PredictionFactory(metric=metric, author=editor, committed=True)
    assert editor_client.get(url("prediction_edit", team, pk=old.pk)).status_code == 302
    form = editor_client.get(url("prediction_revise", team, pk=old.pk)).content.decode()
    assert 'value="Horizons double every 7 months"' in form
    editor_client.post(
        url("prediction_revise", team, pk=old.pk), prediction_data(title="Now 5 months",
                                                                   doubling_months="5")
    )  # fmt: skip
    new = Prediction.objects.get(supersedes=old)
    editor_client.post(url("prediction_commit", team, pk=new.pk))
    page = editor_client.get(old.get_absolute_url()).content.decode()
    assert "Revision chain" in page and "Now 5 months" in page and "superseded" in page
    metric_page = editor_client.get(metric.get_absolute_url()).content.decode()
    assert "(superseded)" in metric_page  # the old line stays on the chart, dimmed


def test_only_the_author_changes_a_draft(team, owner, editor_client, metric):
    draft = PredictionFactory(metric=metric, author=owner)
    assert editor_client.post(url("prediction_commit", team, pk=draft.pk)).status_code == 404
    assert editor_client.get(url("prediction_edit", team, pk=draft.pk)).status_code == 404


def test_anti_anchoring_hides_others_lines_until_commit(team, owner, editor, editor_client, metric):
    team.anti_anchoring = True
    team.save()
    theirs = PredictionFactory(
        metric=metric, author=owner, committed=True, title="Owner's secret line"
    )
    page = editor_client.get(metric.get_absolute_url()).content.decode()
    assert "Owner&#x27;s secret line" not in page and "Anti-anchoring is on" in page
    hidden = editor_client.get(theirs.get_absolute_url()).content.decode()
    assert "Hidden until you commit" in hidden
    mine = PredictionFactory(metric=metric, author=editor, title="My own line")
    page = editor_client.get(metric.get_absolute_url()).content.decode()
    assert "My own line" in page and "Owner&#x27;s secret line" not in page
    editor_client.post(url("prediction_commit", team, pk=mine.pk))
    page = editor_client.get(metric.get_absolute_url()).content.decode()
    assert "Owner&#x27;s secret line" in page


def test_reveal_shows_lines_and_viewers_may_reveal(team, owner, viewer_client, viewer, metric):
    team.anti_anchoring = True
    team.save()
    PredictionFactory(metric=metric, author=owner, committed=True, title="Owner line")
    assert viewer_client.post(url("reveal", team, pk=metric.pk)).status_code == 302
    assert Reveal.objects.filter(user=viewer).exists()
    assert "Owner line" in viewer_client.get(metric.get_absolute_url()).content.decode()


def test_another_teams_objects_are_404(team, other_team, outsider_client, owner, metric):
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    mine = MetricFactory(team=other_team, name="Theirs")
    slug = other_team.slug  # the outsider is a member of other_team, asking for team's objects
    for path in [
        f"/t/{slug}/metrics/{metric.pk}/",
        f"/t/{slug}/predictions/{p.pk}/",
        f"/t/{slug}/metrics/{metric.pk}/observations.csv",
    ]:
        assert outsider_client.get(path).status_code == 404, path
    assert outsider_client.get(f"/t/{slug}/metrics/{mine.pk}/").status_code == 200


def test_quarter_and_calibration_pages(team, owner, owner_client, metric):
    past = timezone.now() - timedelta(days=200)
    p = PredictionFactory(metric=metric, author=owner, committed_at=past, title="Scored line")
    ObservationFactory.series(
        metric, past.date() + timedelta(days=3), [60, 80, 200, 400], 40, owner
    )
    response = owner_client.get(url("quarter_current", team))
    assert response.status_code == 200
    assert owner_client.get(url("quarter", team, quarter="1999-Q1")).status_code == 200
    nonsense = url("quarter", team, quarter="1999-Q1").replace("1999-Q1", "nonsense")
    assert owner_client.get(nonsense).status_code == 404
    from planning.quarters import quarter_of

    q = quarter_of(past.date() + timedelta(days=125), team.fiscal_year_start_month)
    page = owner_client.get(url("quarter", team, quarter=str(q))).content.decode()
    assert "Scored line" in page and "σ" in page
    calib = owner_client.get(url("calibration", team)).content.decode()
    assert "Leaderboard" in calib and owner.display_name in calib
    mine = owner_client.get(url("calibration", team) + f"?author={owner.pk}")
    assert mine.status_code == 200 and "band-calibration" in mine.content.decode()
    assert p.is_committed


def test_calibration_service_ranks_authors_and_counts_resolved_thresholds(
    team, owner, editor, metric, django_assert_num_queries
):
    from predictions import services

    past = timezone.now() - timedelta(days=200)
    ObservationFactory.series(
        metric, past.date() + timedelta(days=3), [60, 80, 200, 400], 40, owner
    )
    PredictionFactory(metric=metric, author=owner, committed_at=past, title="Close")
    far = {"model": "exponential", "baseline_date": "2025-01-01", "baseline_value": 6,
           "doubling_months": 7}  # fmt: skip
    PredictionFactory(
        metric=metric, author=editor, committed_at=past, title="Far off", trajectory=far
    )
    threshold = PredictionFactory(
        metric=metric,
        author=editor,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=500,
        probability=0.2,
        committed=True,
    )
    Resolution.objects.create(prediction=threshold, outcome=True, note="by hand")
    with django_assert_num_queries(2):
        board = services.calibration(team)
    assert [r["author"] for r in board.leaderboard] == [owner, editor]
    assert board.leaderboard[1]["thresholds"] == 1 and board.n_thresholds == 1
    assert board.leaderboard[1]["brier"] == pytest.approx(0.64)
    assert [b.coverage_stated for b in board.bands] == [0.8]
    assert [r["author"] for r in services.calibration(team, owner).leaderboard] == [owner]


def test_dashboard_shows_the_summary(team, owner, owner_client, metric):
    PredictionFactory(metric=metric, author=owner, committed=True)
    page = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    assert "1</strong> committed prediction in force" in page.content.decode()


def test_resolve_a_threshold_by_hand(team, owner, editor_client, metric):
    p = PredictionFactory(
        metric=metric,
        author=owner,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=500,
        probability=0.2,
        committed=True,
    )
    resolve = url("prediction_resolve", team, pk=p.pk)
    editor_client.post(resolve, {"outcome": "yes"})  # no note: refused
    assert not hasattr(Prediction.objects.get(pk=p.pk), "resolution")
    editor_client.post(resolve, {"outcome": "yes", "note": "METR published 9 h on 2026-05-01"})
    page = editor_client.get(p.get_absolute_url()).content.decode()
    assert "It happened" in page and "Brier score <strong>0.640</strong>" in page
    # once resolved, the form below corrects it: it no longer offers to "resolve" again
    assert "<summary>Change the resolution</summary>" in page and "Resolve by hand" not in page


def test_resolve_without_a_choice_says_so_and_keeps_the_note(team, owner, editor_client, metric):
    p = PredictionFactory(
        metric=metric,
        author=owner,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=500,
        probability=0.2,
        committed=True,
    )
    response = editor_client.post(
        url("prediction_resolve", team, pk=p.pk), {"note": "Typed before choosing"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "<details open>" in page and "This field is required." in page
    assert "Typed before choosing" in page
    assert not Resolution.objects.filter(prediction=p).exists()


def test_delete_a_draft_but_never_a_committed_prediction(team, editor, editor_client, metric):
    draft = PredictionFactory(metric=metric, author=editor)
    committed = PredictionFactory(metric=metric, author=editor, committed=True, title="Kept")
    editor_client.post(url("prediction_delete", team, pk=draft.pk))
    editor_client.post(url("prediction_delete", team, pk=committed.pk))
    assert list(Prediction.objects.values_list("title", flat=True)) == ["Kept"]


def test_viewer_sees_pages_without_edit_controls(team, owner, viewer_client, metric):
    ObservationFactory.series(metric, date(2025, 1, 1), [60], user=owner)
    p = PredictionFactory(metric=metric, author=owner, committed=True)
    page = viewer_client.get(metric.get_absolute_url()).content.decode()
    assert "Add observation" not in page and "Draw a line" not in page
    assert "Revise" not in viewer_client.get(p.get_absolute_url()).content.decode()


def test_a_committed_line_with_nothing_scored_shows_no_empty_scores(
    team, owner, owner_client, metric
):
    """An observation before the commit is not scored: no '0' points, blank error, '– of 80%'
    and header-only table, but the sentence saying scores come with observations."""
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=30), value=50)
    p = PredictionFactory(metric=metric, author=owner, committed=True, horizon=NEXT_YEAR)
    page = owner_client.get(url("prediction_detail", team, pk=p.pk)).content.decode()
    assert "No observations after" in page and "Scores appear as reality arrives" in page
    assert "Observations scored" not in page and "score-table" not in page
    assert "1 observation before the commit is shown but not scored." in page
    listing = owner_client.get(url("metric_detail", team, pk=metric.pk)).content.decode()
    assert "No observations in its window yet." in listing and "– of 80%" not in listing


def test_metric_page_chart_says_only_what_is_there(team, owner, owner_client, metric):
    """A new metric draws no empty chart (axes from 0.1 to 10k and nothing on them); the legend
    hint needs lines, and the note about dimmed lines a superseded one."""
    detail = url("metric_detail", team, pk=metric.pk)
    page = owner_client.get(detail).content.decode()
    assert 'id="metric-chart"' not in page and "Click an author" not in page
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=3), value=50)
    page = owner_client.get(detail).content.decode()
    assert 'id="metric-chart"' in page and "Click an author" not in page
    PredictionFactory(metric=metric, author=owner, committed=True, horizon=NEXT_YEAR)
    page = owner_client.get(detail).content.decode()
    assert "Click an author in the legend" in page and "Dimmed lines" not in page


def test_quarter_row_of_a_resolved_threshold_carries_its_units(team, owner, editor_client, metric):
    """Its surprise is a log score: '4.96 nats', not a bare '4.96' under rows in σ; the
    probability said is the one typed (0.7%, not 1%)."""
    from planning.quarters import quarter_of

    horizon = date.today() + timedelta(days=30)
    p = PredictionFactory(
        metric=metric,
        author=owner,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=500,
        probability=0.007,
        horizon=horizon,
        committed=True,
    )
    editor_client.post(
        url("prediction_resolve", team, pk=p.pk), {"outcome": "yes", "note": "Dashboard"}
    )
    q = quarter_of(horizon, team.fiscal_year_start_month)
    page = editor_client.get(url("quarter", team, quarter=str(q))).content.decode()
    assert "4.96 nats</td>" in page and "(said 0.7%)" in page


def test_relative_errors_of_a_linear_metric_read_as_percents(team, owner, owner_client):
    """On a linear metric the error is relative: '5.3%', not a bare 0.053; each row signed."""
    wau = MetricFactory(team=team, name="Weekly active users", unit="users", scale="linear")
    past = timezone.now() - timedelta(days=100)
    line = {"model": "linear", "baseline_date": past.date().isoformat(), "baseline_value": 1000,
            "change_per_year": 0}  # fmt: skip
    p = PredictionFactory(
        metric=wau, author=owner, committed_at=past, trajectory=line,
        band={"coverage": 0.8, "low": -100, "high": 100},
    )  # fmt: skip
    ObservationFactory.series(wau, past.date() + timedelta(days=10), [1100, 950], 30, owner)
    page = owner_client.get(url("prediction_detail", team, pk=p.pk)).content.decode()
    assert '<span class="score-value">7.5%</span>' in page  # (10% + 5%) / 2
    assert ">+10.0%</td>" in page and ">-5.0%</td>" in page
    listing = owner_client.get(url("metric_detail", team, pk=wau.pk)).content.decode()
    assert '<td class="num">7.5%</td>' in listing


def test_scale_can_be_changed_until_a_line_is_drawn(team, owner, editor_client, metric):
    """A new metric is on a log scale unless told otherwise; until a line is drawn on it the
    edit form may correct that (it was locked from the start, leaving a wrong scale for good)."""
    edit = url("metric_edit", team, pk=metric.pk)
    assert "disabled" not in re.search(r"<select[^>]*name=\"scale\"[^>]*>", editor_client.get(
        edit).content.decode()).group(0)  # fmt: skip
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=3), value=5)
    editor_client.post(edit, {"name": metric.name, "scale": "linear"})
    metric.refresh_from_db()
    assert metric.scale == "linear"
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=2), value=0)
    refused = editor_client.post(edit, {"name": metric.name, "scale": "log"})
    assert refused.status_code == 400 and "A log scale needs every value above 0" in (
        refused.content.decode()
    )
    PredictionFactory(
        metric=metric, author=owner, horizon=NEXT_YEAR,
        trajectory={"model": "linear", "baseline_date": "2025-01-01", "baseline_value": 5,
                    "change_per_year": 1},
        band={"coverage": 0.8, "low": -1, "high": 1},
    )  # fmt: skip
    page = editor_client.get(edit).content.decode()
    assert "Fixed once a line is drawn on the metric." in page
    editor_client.post(edit, {"name": metric.name, "scale": "log"})
    metric.refresh_from_db()
    assert metric.scale == "linear"


def test_calibration_mean_said_keeps_a_small_probability(team, owner, owner_client, metric):
    """A 0.7% call resolved: the reliability table's 'Mean said' is 0.7%, not '1%'."""
    p = PredictionFactory(
        metric=metric, author=owner, kind="threshold", trajectory=None, band=None,
        threshold_value=500, probability=0.007, horizon=NEXT_YEAR, committed=True,
    )  # fmt: skip
    Resolution.objects.create(prediction=p, outcome=True, note="by hand")
    page = owner_client.get(url("calibration", team)).content.decode()
    assert '<td class="num">0.7%</td>' in page


def test_quarter_ranks_sigma_and_nats_by_how_improbable(team, owner, metric):
    """'Biggest surprises first' compared a line's 3σ with a threshold's 4.96 nats as numbers;
    3σ happens 0.27% of the time (5.9 nats), a 0.7% call coming true 0.7% (4.96 nats)."""
    from planning.quarters import quarter_of
    from predictions import scoring, services

    day = date.today() - timedelta(days=1)
    q = quarter_of(day, team.fiscal_year_start_month)
    flat = {"model": "exponential", "baseline_date": "2025-01-01", "baseline_value": 100,
            "doubling_months": 1_000_000}  # fmt: skip
    line = PredictionFactory(
        metric=metric, author=owner, trajectory=flat, horizon=NEXT_YEAR, title="Flat line",
        committed_at=timezone.now() - timedelta(days=200),
    )  # fmt: skip
    ObservationFactory(metric=metric, observed_at=day, value=100 * math.exp(3 * math.log(2) / Z80))
    call = PredictionFactory(
        metric=metric, author=owner, kind="threshold", trajectory=None, band=None,
        threshold_value=50_000, probability=0.007, horizon=q.end, committed=True,
    )  # fmt: skip
    Resolution.objects.create(prediction=call, outcome=True, note="by hand")
    rows = services.quarter_scores(team, q)
    assert [r["prediction"] for r in rows] == [line, call]
    assert rows[0]["surprise"] == pytest.approx(3, abs=0.01)
    assert rows[1]["surprise"] == pytest.approx(4.96, abs=0.01)
    assert scoring.sigma_in_nats(3) == pytest.approx(5.9146, abs=1e-3)


def test_an_unresolved_threshold_on_the_metric_page_says_so(team, owner, owner_client, metric):
    """Its row said 'No observations in its window yet' though observations were there: a
    threshold is scored when it resolves, not per observation."""
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=1), value=50)
    PredictionFactory(
        metric=metric, author=owner, kind="threshold", trajectory=None, band=None,
        threshold_value=500, probability=0.6, horizon=NEXT_YEAR, committed=True,
    )  # fmt: skip
    page = owner_client.get(url("metric_detail", team, pk=metric.pk)).content.decode()
    assert "Not resolved yet: scored once it is." in page
    assert "No observations in its window yet." not in page
