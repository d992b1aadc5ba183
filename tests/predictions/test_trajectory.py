"""Growth models, bands, words and validation (pure functions)."""

import math
from datetime import date, timedelta

import numpy as np
import pytest

from predictions.trajectory import (
    LineError,
    content_hash,
    days,
    format_value,
    parse_band,
    parse_line,
    parse_trajectory,
    sample_line,
)

BASE = date(2025, 3, 1)
T0 = BASE.toordinal()


def line(**kw):
    return parse_trajectory({"baseline_date": "2025-03-01", "baseline_value": 60, **kw}, "log")


def test_exponential_doubling_time():
    traj = line(model="exponential", doubling_months=12)
    np.testing.assert_allclose(traj.median(np.array([T0, T0 + 365.25, T0 + 730.5])), [60, 120, 240])
    assert traj.describe("minutes") == "doubles every 12 months from 60 minutes on 2025-03-01"
    assert line(model="exponential", doubling_months=7).describe("min") == (
        "doubles every 7 months from 60 min on 2025-03-01"
    )
    assert "halves every 6 months" in line(model="exponential", doubling_months=-6).describe()


def test_exponential_multiple_per_year():
    traj = line(model="exponential", multiple_per_year=3)
    assert traj.median(np.array([T0 + 365.25]))[0] == pytest.approx(180)
    assert traj.describe("$").startswith("grows 3× per year from $60")


def test_linear_change_per_year():
    traj = parse_trajectory(
        {"model": "linear", "baseline_date": BASE, "baseline_value": 40, "change_per_year": 12},
        "linear",
    )
    assert traj.median(np.array([T0 + 365.25 / 2]))[0] == pytest.approx(46)
    assert traj.describe("%") == "rises by 12% per year from 40% on 2025-03-01"


def test_logistic_through_baseline_with_midpoint_or_steepness():
    mid = BASE + timedelta(days=730)
    traj = line(model="logistic", ceiling=100, baseline_value=10, midpoint=mid.isoformat())
    t = np.array([T0, mid.toordinal(), T0 + 100_000])
    np.testing.assert_allclose(traj.median(t), [10, 50, 100], rtol=1e-9)
    # steepness 1/year: midpoint = baseline + ln(9) years
    traj = line(model="logistic", ceiling=100, baseline_value=10, steepness=1)
    k, t_mid = traj.logistic_params
    assert t_mid - T0 == pytest.approx(math.log(9) * 365.25)
    assert traj.median(np.array([T0]))[0] == pytest.approx(10)
    assert "towards a ceiling of 100" in traj.describe()


def test_points_interpolate_in_log_space_on_log_metrics():
    pts = {"model": "points", "points": [["2025-01-01", 10], ["2025-01-11", 1000]]}
    mid = np.array([date(2025, 1, 6).toordinal()])
    assert parse_trajectory(pts, "log").median(mid)[0] == pytest.approx(100)
    assert parse_trajectory(pts, "linear").median(mid)[0] == pytest.approx(505)
    # flat beyond the ends
    assert parse_trajectory(pts, "log").median(np.array([T0 + 999]))[0] == pytest.approx(1000)


def test_band_factor_offset_and_points():
    median = np.array([100.0, 200.0])
    t = np.array([T0, T0 + 10.0])
    lo, hi = parse_band({"low": 0.5, "high": 2}, "log").bounds(median, t, "log")
    np.testing.assert_allclose(lo, [50, 100])
    np.testing.assert_allclose(hi, [200, 400])
    lo, hi = parse_band({"low": -5, "high": 5}, "linear").bounds(median, t, "linear")
    np.testing.assert_allclose(lo, [95, 195])
    band = parse_band({"points": [["2025-03-01", 10, 30], ["2025-03-11", 20, 40]]}, "linear")
    lo, hi = band.bounds(median, np.array([T0 + 5.0]), "linear")
    assert (lo[0], hi[0]) == (15, 35)


def test_band_default_coverage_and_round_trip():
    band = parse_band({"low": 0.5, "high": 2}, "log")
    assert band.coverage == 0.8
    assert parse_band(band.to_json(), "log") == band
    traj = line(model="exponential", doubling_months=7)
    assert parse_trajectory(traj.to_json(), "log") == traj


@pytest.mark.parametrize(
    "trajectory,band,horizon,scale,field,fragment",
    [
        ({"model": "exponential", "baseline_date": "2025-03-01", "baseline_value": 0,
          "doubling_months": 7}, {"low": 0.5, "high": 2}, date(2026, 1, 1), "log",
         "baseline_value", "greater than zero"),
        ({"model": "exponential", "baseline_date": "2025-03-01", "baseline_value": 60,
          "doubling_months": 7}, {"low": 0.5, "high": 2}, date(2025, 1, 1), "log",
         "horizon", "after the start"),
        ({"model": "linear", "baseline_date": "2025-03-01", "baseline_value": 60,
          "change_per_year": 7}, {"coverage": 1.2, "low": -5, "high": 5}, date(2026, 1, 1),
         "linear", "band.coverage", "between 0 and 1"),
        ({"model": "linear", "baseline_date": "2025-03-01", "baseline_value": 60,
          "change_per_year": 7}, {"coverage": 0, "low": -5, "high": 5}, date(2026, 1, 1),
         "linear", "band.coverage", "between 0 and 1"),
        ({"model": "linear", "baseline_date": "2025-03-01", "baseline_value": 60,
          "change_per_year": 7}, {"points": [["2025-03-01", 9, 5], ["2026-01-01", 1, 2]]},
         date(2026, 1, 1), "linear", "band.points", "low must be below high"),
        ({"model": "exponential", "baseline_date": "2025-03-01", "baseline_value": 60,
          "doubling_months": 7}, {"low": 3, "high": 2}, date(2026, 1, 1), "log",
         "band.low", ""),
        ({"model": "logistic", "baseline_date": "2025-03-01", "baseline_value": 60,
          "ceiling": 50, "steepness": 1}, {"low": -5, "high": 5}, date(2026, 1, 1), "linear",
         "ceiling", "above the baseline"),
        ({"model": "exponential", "baseline_date": "2025-03-01", "baseline_value": "abc",
          "doubling_months": 7}, {"low": 0.5, "high": 2}, date(2026, 1, 1), "log",
         "baseline_value", "not a number"),
        ({"model": "points", "points": [["2025-03-01", 1], ["2025-03-01", 2]]},
         {"low": 0.5, "high": 2}, date(2026, 1, 1), "log", "points", "share a date"),
        ({"model": "points", "points": [["2025-03-01", 1], ["2025-04-01", -2]]},
         {"low": 0.5, "high": 2}, date(2026, 1, 1), "log", "points", "greater than zero"),
        ({"model": "exponential", "baseline_date": "2025-03-01", "baseline_value": 60},
         {"low": 0.5, "high": 2}, date(2026, 1, 1), "log", "doubling_months", "doubling"),
        ({"model": "logistic", "baseline_date": "2025-03-01", "baseline_value": 10,
          "ceiling": 100, "midpoint": "2024-01-01"}, {"low": 0.5, "high": 2},
         date(2026, 1, 1), "log", "midpoint", "after 2025-03-01"),
        ({"model": "warp"}, {"low": 0.5, "high": 2}, date(2026, 1, 1), "log", "model", "Choose"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_field_level_message(trajectory, band, horizon, scale, field, fragment):
    with pytest.raises(LineError) as caught:
        parse_line(trajectory, band, horizon, scale)
    assert field in caught.value.errors, caught.value.errors
    assert fragment in caught.value.errors[field]


def test_low_above_high_reported_on_linear_offsets():
    with pytest.raises(LineError) as caught:
        parse_band({"low": 5, "high": -5}, "linear")
    assert "low" in caught.value.errors


def test_sample_line_and_days():
    traj = line(model="exponential", doubling_months=12)
    band = parse_band({"low": 0.5, "high": 2}, "log")
    sampled = sample_line(traj, band, date(2027, 3, 1), n=50)
    assert sampled.dates[0] == BASE and sampled.dates[-1] == date(2027, 3, 1)
    assert sampled.median[-1] == pytest.approx(240, rel=1e-3)
    np.testing.assert_allclose(sampled.low * 4, sampled.high)
    assert days([BASE])[0] == T0


def test_content_hash_is_canonical():
    a = content_hash({"b": 1, "a": [1, 2], "c": "é"})
    assert a == content_hash({"c": "é", "a": [1, 2], "b": 1})
    assert len(a) == 64 and a != content_hash({"b": 2, "a": [1, 2], "c": "é"})


def test_format_value():
    assert format_value(60, "minutes") == "60 minutes"
    assert format_value(1_250_000, "$") == "$1.25M"
    assert format_value(42.5, "%") == "42.5%"
    assert format_value(float("nan"), "%") == "–"


# --------------------------------------------------------------------------- refusals, one each
def _refusal(call, *args):
    with pytest.raises(LineError) as caught:
        call(*args)
    return caught.value.errors


@pytest.mark.parametrize(
    ("fields", "scale", "field", "message"),
    [
        (
            {"model": "linear", "change_per_year": True},
            "linear",
            "change_per_year",
            "Enter a number",
        ),
        ({"model": "linear", "change_per_year": "inf"}, "linear", "change_per_year", "finite"),
        (
            {"model": "linear", "change_per_year": 1, "baseline_date": "31/03/2026"},
            "linear",
            "baseline_date",
            "not a date like",
        ),
        (
            {"model": "linear", "change_per_year": 1, "baseline_date": "1850-01-01"},
            "linear",
            "baseline_date",
            "between the years",
        ),
        (
            {"model": "exponential", "doubling_months": 0},
            "log",
            "doubling_months",
            "cannot be zero",
        ),
        (
            {"model": "exponential", "multiple_per_year": -2},
            "log",
            "multiple_per_year",
            "greater than zero",
        ),
        (
            {"model": "exponential", "doubling_months": 6, "baseline_value": -5},
            "linear",
            "baseline_value",
            "positive baseline",
        ),
        ({"model": "logistic", "ceiling": 100}, "log", "midpoint", "half-way date"),
        (
            {"model": "logistic", "ceiling": 100, "steepness": 0},
            "log",
            "steepness",
            "greater than zero",
        ),
        (
            {"model": "logistic", "ceiling": 100, "steepness": 1, "baseline_value": -1},
            "linear",
            "baseline_value",
            "starts above zero",
        ),
        (
            {"model": "logistic", "ceiling": 120, "midpoint": "2026-03-01"},
            "log",
            "midpoint",
            "exactly half the ceiling",
        ),
    ],
)
def test_each_trajectory_refusal_names_its_field(fields, scale, field, message):
    data = {"baseline_date": "2025-03-01", "baseline_value": 60, **fields}
    assert message in _refusal(parse_trajectory, data, scale)[field]


def test_points_that_are_not_finite_numbers_are_refused():
    errors = _refusal(parse_trajectory, {"model": "points",
                                         "points": [["2025-01-01", 1], ["2025-06-01", "nan"]]},
                      "linear")  # fmt: skip
    assert errors["points"].startswith("Point 2 is not a date and a number")


@pytest.mark.parametrize(
    ("band", "scale", "field", "message"),
    [
        (
            {"points": [["2025-01-01", 1, 2], ["2025-06-01", "x", 3]]},
            "linear",
            "points",
            "Band point 2 is not a date",
        ),
        (
            {"points": [["2025-01-01", 1, "inf"], ["2025-06-01", 1, 3]]},
            "linear",
            "points",
            "Band point 1 is not a date",
        ),
        (
            {"points": [["2025-01-01", 0, 2], ["2025-06-01", 1, 3]]},
            "log",
            "points",
            "greater than zero",
        ),
        ({"points": [["2025-01-01", 1, 2]]}, "linear", "points", "at least two band points"),
        ({"low": 0, "high": 2}, "log", "low", "above zero"),
        ({"low": -5, "high": -1}, "linear", "high", "zero or positive"),
        ({"low": 0, "high": 0}, "linear", "high", "Low must be below high"),
    ],
)
def test_each_band_refusal_names_its_field(band, scale, field, message):
    assert message in _refusal(parse_band, band, scale)[field]


# --------------------------------------------------------------------------- words and JSON
def test_points_line_in_words_json_and_sampling():
    rows = [[f"2025-{m:02d}-01", 10 * m] for m in range(1, 9)]
    traj = parse_trajectory({"model": "points", "points": rows}, "log")
    assert traj.start == date(2025, 1, 1)
    text = traj.describe("ms")
    assert text.startswith("through 8 points: 2025-01-01 → 10 ms")
    assert text.endswith("and 2 more (interpolated in log space)")
    assert traj.to_json() == {"model": "points", "points": [[d, float(v)] for d, v in rows]}
    band = parse_band({"coverage": 0.9, "points": [["2025-01-01", 5, 20], ["2025-08-01", 40, 160]]},
                      "log")  # fmt: skip
    assert band.describe("ms", "log") == "90% band through 2 explicit low/high points"
    assert band.to_json()["points"][0] == ["2025-01-01", 5.0, 20.0]
    sampled = sample_line(traj, band, date(2025, 8, 1))
    # every explicit date is a sample, and the band is interpolated in log space between them
    assert {date(2025, m, 1) for m in range(1, 9)} <= set(sampled.dates)
    assert sampled.low[0] == pytest.approx(5) and sampled.high[-1] == pytest.approx(160)


def test_logistic_line_in_words_and_json():
    traj = line(model="logistic", ceiling=100, steepness=2)
    assert traj.describe("%").startswith("S-curve from 60% on 2025-03-01 towards a ceiling of 100%")
    assert traj.to_json()["steepness"] == 2
    with_mid = line(model="logistic", ceiling=100, midpoint="2024-06-01")
    assert with_mid.to_json()["midpoint"] == "2024-06-01"


def test_bands_in_words():
    assert parse_band({"low": 0.5, "high": 2}, "log").describe("", "log") == (
        "80% band from ×0.5 to ×2 the line"
    )
    assert parse_band({"low": -5, "high": 5, "coverage": 0.5}, "linear").describe("pts") == (
        "50% band from -5 pts to +5 pts around the line"
    )


def test_days_of_one_date():
    np.testing.assert_array_equal(days(BASE), [float(T0)])
