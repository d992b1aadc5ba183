"""The outside view on a new line: the growth it implies, the metric's own trend and the
author's track record, checked against figures computed by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from django.utils import timezone

from predictions import outside_view as ov
from predictions.trajectory import DAYS_PER_YEAR, Trajectory
from tests.factories import ObservationFactory, PredictionFactory

from .test_views import prediction_data, url

START = date(2026, 1, 1)


def doubling(months: float, baseline: float = 100.0) -> Trajectory:
    return Trajectory("exponential", "log", START, baseline, doubling_months=months)


def days_and_values(multiple_per_year: float, n: int = 5, step: int = 90):
    t = np.array([START.toordinal() + i * step for i in range(n)], dtype=float)
    return t, 100.0 * multiple_per_year ** ((t - t[0]) / DAYS_PER_YEAR)


def test_the_growth_a_line_implies_by_hand():
    growth = ov.implied_growth(doubling(6), date(2027, 1, 1))
    # 365 days of a 6-month doubling: 2 ** (365 / (365.25 / 2)) per 365/365.25 year = 4 a year.
    assert growth.multiple_per_year == pytest.approx(4.0)
    assert growth.doubling_months == pytest.approx(6.0)
    assert growth.phrase("minutes") == "×4 per year (doubling every 6.0 months)"
    halving = ov.implied_growth(doubling(-12), date(2028, 1, 1))
    assert halving.multiple_per_year == pytest.approx(0.5)
    assert halving.phrase() == "×0.5 per year (halving every 12.0 months)"
    line = Trajectory("linear", "linear", START, 10.0, change_per_year=-3.0)
    assert ov.implied_growth(line, date(2028, 1, 1)).phrase("%") == "falls by 3% per year"
    # An S-curve's average: from 10 to the value it reaches at the horizon.
    s = Trajectory("logistic", "log", START, 10.0, ceiling=100.0, midpoint=date(2027, 1, 1))
    years = (date(2028, 1, 1) - START).days / DAYS_PER_YEAR
    end = float(s.median(np.array([float(date(2028, 1, 1).toordinal())]))[0])
    expected = (end / 10.0) ** (1 / years)
    assert ov.implied_growth(s, date(2028, 1, 1)).multiple_per_year == pytest.approx(expected)


def test_the_metric_trend_is_a_least_squares_fit_of_the_latest_definition():
    t, values = days_and_values(2.0)
    history = ov.historical_growth(t, values, log=True)
    assert history.growth.multiple_per_year == pytest.approx(2.0)
    assert history.growth.doubling_months == pytest.approx(12.0)
    assert (history.n, history.first) == (5, START)
    # Observations under an older definition do not count.
    versions = np.array([1, 1, 2, 2, 2])
    steeper = values.copy()
    steeper[:2] = [1.0, 2.0]
    assert ov.historical_growth(t, steeper, versions, log=True).n == 3
    assert ov.historical_growth(
        t, steeper, versions, log=True
    ).growth.multiple_per_year == pytest.approx(2.0)
    # Too few points, or too short a span: no trend.
    assert ov.historical_growth(t[:2], values[:2], log=True) is None
    assert ov.historical_growth(t[:3] / 1, values[:3], log=True) is not None
    short = np.array([0.0, 10.0, 20.0]) + START.toordinal()
    assert ov.historical_growth(short, [1.0, 2.0, 3.0], log=True) is None
    # A linear metric: slope per year.
    lin = ov.historical_growth(t, 5 + 10 * (t - t[0]) / DAYS_PER_YEAR, log=False)
    assert lin.growth.rate == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("line", "history", "sentence"),
    [
        (math.log(4), math.log(2), "Your line assumes a growth rate 2× faster than the metric's "
         "own history."),
        (math.log(2), math.log(4), "Your line assumes a growth rate 2× slower than the "
         "metric's own history."),
        (math.log(2.2), math.log(2), "Your line is in line with the metric's own history."),
        (math.log(2), -0.1, "Your line grows, but the metric's own history is flat or falling."),
        (-0.2, 0.1, "Your line falls, but the metric's own history is flat or growing."),
        (-0.6, -0.2, "Your line falls 3× faster than the metric's own history."),
        (0.0, 0.3, "Your line is flat; the metric's own history grows."),
    ],
)  # fmt: skip
def test_the_comparison_says_what_the_two_rates_say(line, history, sentence):
    assert ov.comparison(ov.Growth(line, log=True), ov.Growth(history, log=True)) == sentence


def test_linear_rates_compare_as_yearly_rises():
    text = ov.comparison(ov.Growth(30.0, log=False), ov.Growth(10.0, log=False))
    assert text == "Your line assumes a yearly rise 3× faster than the metric's own history."


def test_the_outside_view_explains_a_missing_history():
    view = ov.outside_view(doubling(6), date(2027, 1, 1), [START.toordinal()], [100.0])
    assert view.sentence is None
    assert view.history_note.startswith("Not enough history for a trend: 1 observation ")


def test_a_short_history_says_over_how_many_days():
    """3 observations over 51 days: '3 observations (a trend needs at least 3 …)' read as a
    contradiction; the span says which condition is missing."""
    days = [START.toordinal() + d for d in (0, 46, 51)]
    view = ov.outside_view(doubling(6), date(2027, 1, 1), days, [22.0, 24.0, 5.0])
    assert view.history_note == (
        "Not enough history for a trend: 3 observations over 51 days (a trend needs at least "
        "3 over 60 days or more)."
    )
    # a value of 0 cannot be used on a log scale: not counted
    view = ov.outside_view(doubling(6), date(2027, 1, 1), days, [22.0, 0.0, 5.0])
    assert view.history_note.startswith("Not enough history for a trend: 2 observations over")


@pytest.mark.django_db
def test_the_form_shows_the_outside_view_and_the_authors_track_record(
    team, editor, editor_client, metric
):
    start = date.today() - timedelta(days=720)
    # The history doubles every 12 months: 100, ×2 a year, one reading a quarter for 2 years.
    values = [100 * 2 ** (i * 91 / DAYS_PER_YEAR) for i in range(9)]
    ObservationFactory.series(metric, start, values, step_days=91)
    form = editor_client.get(url("prediction_create", team, pk=metric.pk)).content.decode()
    assert "Your track record" in form and "None of your committed lines" in form

    # A line doubling every 6 months: twice the history's growth rate.
    data = prediction_data(baseline_date=start.isoformat(), doubling_months="6")
    preview = editor_client.get(url("prediction_preview", team, pk=metric.pk), data,
                                HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "Outside view" in preview
    assert "×4 per year (doubling every 6.0 months)" in preview
    assert "×2 per year (doubling every 12.0 months), fitted to 9 observations" in preview
    assert "a growth rate 2× faster than the metric&#x27;s own history" in preview

    # Once a committed line of the author's is scored, the form says how it went.
    PredictionFactory(
        metric=metric, author=editor, committed_at=timezone.now() - timedelta(days=721),
        horizon=date.today() + timedelta(days=200),
        trajectory={"model": "exponential", "baseline_date": start.isoformat(),
                    "baseline_value": 100, "doubling_months": 24},
    )  # fmt: skip
    form = editor_client.get(url("prediction_create", team, pk=metric.pk)).content.decode()
    record = form[form.index("Your track record") :][:600]
    assert "ahead of your median on average" in record, record
    assert "None of your committed lines" not in form
