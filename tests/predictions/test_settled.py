"""Issue 13, "Predictions that are already settled" and "Why an observation is not scored":
a threshold already reached is refused (naming the observation), horizons lie after today and
within 50 years, a far horizon already stored does not break any page, and the prediction page
says which observations it does not score."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planning.accounts.models import ApiToken
from predictions import services
from predictions.models import Prediction
from tests.factories import ObservationFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def url(name, team, **kw):
    return reverse(f"predictions:{name}", kwargs={"team": team.slug, **kw})


def today(team) -> date:
    return team.today()


@pytest.fixture
def at_1400(metric, team):
    """Observations ending with 1,400 minutes, 10 days ago."""
    last = today(team) - timedelta(days=10)
    ObservationFactory.series(metric, last - timedelta(days=60), [300, 700, 1400])
    return last


def threshold_form(team, **overrides):
    data = {
        "kind": "threshold", "title": "A day-long task", "threshold_value": "480",
        "threshold_above": "on", "probability": "70",
        "horizon": (today(team) + timedelta(days=400)).isoformat(),
    }  # fmt: skip
    data.update(overrides)
    return data


def field_error(body: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', body)
    return match.group(1) if match else ""


def test_threshold_already_reached_is_refused_naming_the_observation(
    team, editor_client, metric, at_1400
):
    response = editor_client.post(
        url("prediction_create", team, pk=metric.pk), threshold_form(team), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    message = field_error(response.content.decode(), "threshold_value")
    assert "Already settled" in message
    assert f"1,400 minutes on {at_1400.isoformat()}" in message
    assert "480 minutes" in message
    assert not Prediction.objects.exists()


def test_a_threshold_not_reached_yet_is_accepted(team, editor_client, metric, at_1400):
    higher = editor_client.post(
        url("prediction_create", team, pk=metric.pk), threshold_form(team, threshold_value="2000")
    )
    assert higher.status_code == 302
    # Falling to 480 from 1,400 is still open too.
    falls = editor_client.post(
        url("prediction_create", team, pk=metric.pk),
        {k: v for k, v in threshold_form(team).items() if k != "threshold_above"},
    )
    assert falls.status_code == 302
    assert Prediction.objects.count() == 2


def test_falling_to_a_value_already_below_is_settled_too(team, editor_client, metric, at_1400):
    data = {k: v for k, v in threshold_form(team, threshold_value="1500").items()
            if k != "threshold_above"}  # fmt: skip
    response = editor_client.post(url("prediction_create", team, pk=metric.pk), data)
    assert response.status_code == 400
    assert "is at or below 1,500 minutes" in response.content.decode()


@pytest.mark.parametrize(
    "horizon,fragment",
    [
        (date(2150, 1, 1), "within 50 years"),
        # Outside the years any date field takes, the form's date check answers first.
        (date(9999, 12, 31), "between the years 1900 and 2200"),
        (None, "after today"),  # today itself
        (date(2020, 1, 1), "after today"),
    ],
)
def test_horizons_lie_after_today_and_within_50_years(
    team, editor_client, metric, horizon, fragment
):
    horizon = horizon or today(team)
    response = editor_client.post(
        url("prediction_create", team, pk=metric.pk),
        threshold_form(team, horizon=horizon.isoformat()),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert fragment in field_error(response.content.decode(), "horizon")
    assert not Prediction.objects.exists()


def test_horizon_limit_is_fifty_years_to_the_day():
    assert services.horizon_error(date(2076, 12, 2), date(2026, 12, 2)) is None
    late = services.horizon_error(date(2076, 12, 3), date(2026, 12, 2))
    assert late and "2076-12-02 at the latest" in late
    assert services.years_after(date(2028, 2, 29), 50) == date(2078, 2, 28)


def test_line_horizon_far_away_is_refused_in_the_form(team, editor_client, metric):
    data = {
        "kind": "line", "title": "Forever", "horizon": "2150-12-31", "model": "exponential",
        "baseline_date": "2025-01-01", "baseline_value": "60", "doubling_months": "7",
        "coverage": "0.8", "band_low": "0.5", "band_high": "2",
    }  # fmt: skip
    response = editor_client.post(url("prediction_create", team, pk=metric.pk), data)
    assert response.status_code == 400 and "within 50 years" in response.content.decode()


class Api:
    def __init__(self, user):
        self.client = Client()
        self.key = ApiToken.issue(user)[1]

    def post(self, path, body):
        return self.client.post(f"/api/v1/{path}", json.dumps(body),
                                content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {self.key}")  # fmt: skip


def test_api_refuses_settled_thresholds_and_far_horizons(team, editor, metric, at_1400):
    api = Api(editor)
    body = {
        "metric": metric.pk, "kind": "threshold", "claim": "A day-long task",
        "horizon": (today(team) + timedelta(days=400)).isoformat(),
        "threshold": {"value": 480, "probability": 0.7, "above": True},
    }  # fmt: skip
    settled = api.post(f"t/{team.slug}/predictions/", body)
    assert settled.status_code == 400
    message = settled.json()["fields"]["threshold.value"][0]
    assert f"1,400 minutes on {at_1400.isoformat()}" in message
    open_threshold = {"value": 2000, "probability": 0.7}
    far = api.post(
        f"t/{team.slug}/predictions/",
        {**body, "horizon": "9999-12-31", "threshold": open_threshold},
    )
    assert far.status_code == 400 and "within 50 years" in far.json()["fields"]["horizon"][0]
    ok = api.post(f"t/{team.slug}/predictions/", {**body, "threshold": open_threshold})
    assert ok.status_code == 201
    assert not Prediction.objects.filter(threshold_value=480).exists()


def test_commit_refuses_a_draft_the_data_have_settled_since(team, editor, editor_client, metric):
    p = PredictionFactory(
        metric=metric,
        author=editor,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=480,
        probability=0.7,
        horizon=today(team) + timedelta(days=400),
    )
    ObservationFactory.series(metric, today(team) - timedelta(days=1), [1400])
    response = editor_client.post(url("prediction_commit", team, pk=p.pk), follow=True)
    p.refresh_from_db()
    assert not p.is_committed
    assert "Already settled" in response.content.decode()


def test_a_stored_far_horizon_breaks_no_page(team, owner, owner_client, metric, past):
    """A row stored before the rule (horizon 9999-12-31) must not turn pages into a 500."""
    ObservationFactory.series(metric, date(2025, 1, 1), [60, 120, 240])
    line = PredictionFactory(
        metric=metric, author=owner, committed_at=past, horizon=date(9999, 12, 31)
    )
    threshold = PredictionFactory(
        metric=metric,
        author=owner,
        committed_at=past,
        kind="threshold",
        trajectory=None,
        band=None,
        threshold_value=4800,
        probability=0.7,
        horizon=date(9999, 12, 31),
    )
    for page in [
        metric.get_absolute_url(),
        line.get_absolute_url(),
        threshold.get_absolute_url(),
        url("quarter_current", team),
        url("calibration", team),
        f"/t/{team.slug}/",
    ]:
        assert owner_client.get(page).status_code == 200, page


def test_prediction_page_says_which_observations_are_not_scored(team, owner, owner_client, metric):
    now = timezone.now()
    committed = now - timedelta(days=100)
    day = team.local_date(committed)
    ObservationFactory.series(metric, day - timedelta(days=40), [50, 60], step_days=20)  # before
    ObservationFactory.series(
        metric, day + timedelta(days=10), [70, 80, 90], step_days=20
    )  # scored
    p = PredictionFactory(
        metric=metric, author=owner, committed_at=committed,
        trajectory={"model": "exponential", "baseline_date": (day - timedelta(days=40)).isoformat(),
                    "baseline_value": 50, "doubling_months": 7},
        horizon=today(team) + timedelta(days=300),
    )  # fmt: skip
    body = owner_client.get(p.get_absolute_url()).content.decode()
    assert "2 observations before the commit are shown but not scored." in body
    assert '<span class="score-value">3</span>' in body


def test_unscored_notes_in_words():
    assert services.unscored_notes(0, 0) == []
    assert services.unscored_notes(1, 0) == [
        "1 observation before the commit is shown but not scored."
    ]
    assert services.unscored_notes(2, 3, superseded=True) == [
        "2 observations before the commit are shown but not scored.",
        "3 observations after the revision took over are shown but not scored.",
    ]
    assert services.unscored_notes(0, 1) == [
        "1 observation after the horizon is shown but not scored."
    ]
