"""The saturation analysis on synthetic curves and awkward data (pure functions, no DB)."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import numpy as np
import pytest

from planning.saturation.analysis import (
    Point,
    Thresholds,
    analyse,
    comparable_series,
    elasticity_signal,
    logistic_signal,
    relative_change,
)

CAPABILITY = np.linspace(30, 85, 8)


def series(capability, product, scale="linear", start=date(2023, 1, 1)):
    return [
        Point(f"m{i}", float(c), float(y), start + timedelta(days=90 * i), scale, "success", "b")
        for i, (c, y) in enumerate(zip(capability, product, strict=True))
    ]


def logistic(c, ceiling=70.0, k=0.15, mid=30.0):
    return ceiling / (1 + np.exp(-k * (np.asarray(c) - mid)))


def all_finite(verdict) -> bool:
    """No NaN or infinity anywhere the page could show it."""
    values = [
        verdict.logistic.ceiling, verdict.logistic.ceiling_low, verdict.logistic.ceiling_high,
        verdict.logistic.share, verdict.logistic.residual_sd, verdict.events.noise_sd,
    ]  # fmt: skip
    values += [w.elasticity for w in verdict.elasticity.windows]
    values += [u.z for u in verdict.events.upgrades]
    text = " ".join([verdict.headline, *verdict.reasons, *verdict.notes]).lower()
    return all(v is None or math.isfinite(v) for v in values) and "nan" not in text.split()


def test_linear_growth_is_not_saturating():
    verdict = analyse(series(CAPABILITY, 10 + 0.6 * CAPABILITY), product_label="task success")
    assert verdict.kind == "growing"
    assert verdict.comparison.best == "linear" and verdict.comparison.vote is False
    assert verdict.elasticity.vote is False
    assert all(w.elasticity > 0.5 for w in verdict.elasticity.windows)
    assert "raised capability 38% (relative) and raised task success 30% (relative)" in (
        verdict.headline
    )
    assert all_finite(verdict)


def test_logistic_past_the_knee_is_saturating():
    verdict = analyse(series(CAPABILITY, logistic(CAPABILITY)), product_label="task success")
    assert verdict.kind == "saturating"
    assert verdict.comparison.best == "logistic" and verdict.comparison.vote is True
    assert verdict.elasticity.vote is True
    assert verdict.logistic.vote is True and verdict.logistic.supported
    assert verdict.logistic.ceiling == pytest.approx(70, rel=0.01)
    assert verdict.logistic.share > 0.9
    assert verdict.logistic.ceiling_low <= 70 <= verdict.logistic.ceiling_high
    assert "The last 3 model generations (m4 → m7) raised capability 38% (relative)" in (
        verdict.headline
    )
    assert "task success 0.9% (relative)" in verdict.headline
    assert all_finite(verdict)


def test_logistic_before_the_knee_is_not_saturating():
    c = np.linspace(10, 40, 8)
    verdict = analyse(series(c, logistic(c, mid=45)))
    assert verdict.kind != "saturating"
    assert verdict.elasticity.vote is False


def test_elasticity_is_log_ratio_on_log_scale_and_relative_difference_on_linear():
    assert relative_change(10, 20, "log") == pytest.approx(math.log(2))
    assert relative_change(10, 20, "linear") == pytest.approx(10 / 15)
    assert relative_change(0, 0, "linear") == 0
    points = series([10, 20, 40, 80], [5, 10, 20, 40], scale="log")
    signal = elasticity_signal(points, "log", Thresholds())
    assert [w.elasticity for w in signal.windows] == pytest.approx([1.0, 1.0, 1.0])
    assert signal.value == pytest.approx(1.0) and signal.vote is False
    # On a linear scale: the regression of y/mean(y) on c/mean(c), here exactly 1.
    linear = elasticity_signal(series([10, 20, 30, 40], [5, 10, 15, 20]), "linear")
    assert linear.value == pytest.approx(1.0)


def test_exponential_growth_on_log_scale_is_growing_with_no_ceiling():
    verdict = analyse(series(CAPABILITY, np.exp(0.05 * CAPABILITY), scale="log"))
    assert verdict.kind == "growing"
    assert verdict.comparison.best == "exponential"
    assert verdict.logistic.vote is False and verdict.logistic.ceiling is None
    assert "No ceiling is in sight" in verdict.logistic.reason


def test_a_single_reading_is_not_enough_evidence():
    verdict = analyse(series([50], [60]))
    assert verdict.kind == "insufficient"
    assert verdict.headline == (
        "Not enough evidence yet: only 1 comparable reading; at least 5 are needed."
    )
    assert verdict.elasticity.vote is verdict.logistic.vote is verdict.events.vote is None
    assert all_finite(verdict)
    # The withheld signals say why in plain grammar, not "there are 1" or "there are 0".
    why = [verdict.elasticity.reason, verdict.logistic.reason, verdict.events.reason]
    assert why == [
        "Needs 4 readings; there is only 1.",
        "A curve needs at least 5 readings; there is only 1.",
        "Needs 3 model upgrades to judge; there are none.",
    ]


def test_no_readings_at_all():
    verdict = analyse([])
    assert verdict.kind == "insufficient"
    assert "no comparable readings" in verdict.headline


def test_three_readings_withhold_the_verdict():
    verdict = analyse(series([30, 50, 70], [10, 40, 41]))
    assert verdict.kind == "insufficient"
    assert "only 3 comparable readings" in verdict.headline


def test_flat_product_with_rising_capability_is_saturating_and_finite():
    verdict = analyse(series(CAPABILITY, [50.0] * 8), product_label="CSAT")
    assert verdict.kind == "saturating"
    assert "left CSAT unchanged" in verdict.headline
    assert verdict.comparison.best == "constant"
    assert verdict.logistic.vote is None and verdict.logistic.ceiling is None
    assert "no ceiling" in verdict.logistic.reason
    assert all_finite(verdict)


def test_flat_capability_cannot_be_read():
    verdict = analyse(series([50.0] * 6, [40, 45, 50, 55, 60, 65]))
    assert verdict.kind != "saturating"
    assert verdict.elasticity.vote is None
    assert "Capability did not rise" in verdict.elasticity.reason
    assert "Capability never changed" in verdict.logistic.reason
    assert all_finite(verdict)


def test_capability_going_down_is_noted_and_not_counted():
    points = series([30, 40, 50, 45, 60, 70], [20, 30, 35, 36, 45, 52])
    verdict = analyse(points)
    assert any("Capability went down from m2 to m3" in n for n in verdict.notes)
    windows = {w.end: w for w in verdict.elasticity.windows}
    assert all(w.elasticity is None or w.capability_change > 0 for w in windows.values())
    assert all_finite(verdict)


def test_capability_falling_in_the_last_windows_withholds_elasticity():
    verdict = analyse(series([30, 40, 50, 60, 50, 40], [20, 30, 40, 41, 41, 41]))
    assert verdict.elasticity.vote is None
    assert verdict.kind != "saturating"


def test_non_positive_values_on_a_log_scale_are_left_out_with_a_message():
    points = series(CAPABILITY, [0, -3, *logistic(CAPABILITY[2:])], scale="log")
    kept, notes = comparable_series(points)
    assert [p.model for p in kept] == [f"m{i}" for i in range(2, 8)]
    assert sum("zero or negative" in n for n in notes) == 2
    verdict = analyse(points)
    assert all_finite(verdict)


def test_negative_values_on_a_linear_scale_are_kept_but_not_fitted():
    verdict = analyse(series(CAPABILITY, [-20, -10, 0, 5, 8, 9, 9.5, 9.7]))  # e.g. NPS
    assert len(verdict.points) == 8
    assert verdict.logistic.ceiling is None  # a ceiling from zero cannot describe these
    negative = elasticity_signal(series(CAPABILITY[:4], [-20, -10, 0, 5]), "linear")
    assert negative.vote is None and "at or below zero" in negative.reason
    assert all_finite(verdict)


def test_duplicate_model_generation_uses_the_first_reading():
    points = series(CAPABILITY, logistic(CAPABILITY))
    duplicate = Point("M7", 99.0, 1.0, points[-1].released, "linear", "success", "b")
    kept, notes = comparable_series([*points, duplicate])
    assert len(kept) == 8
    assert kept[-1].capability == pytest.approx(85)
    assert any("appears more than once" in n for n in notes)


def test_readings_of_another_metric_or_source_are_left_out():
    points = series(CAPABILITY, 10 + 0.6 * CAPABILITY)
    older = Point("old", 10.0, 3.0, date(2020, 1, 1), "linear", "CSAT", "b")
    other = Point("other", 12.0, 3.0, date(2020, 2, 1), "linear", "success", "another bench")
    kept, notes = comparable_series([older, other, *points])
    assert [p.model for p in kept] == [p.model for p in points]
    assert any("measures “CSAT”" in n for n in notes)
    assert any("comes from “another bench”" in n for n in notes)


def test_missing_or_non_finite_values_are_left_out():
    points = series(CAPABILITY, 10 + 0.6 * CAPABILITY)
    broken = [
        Point("x", None, 3.0, date(2020, 1, 1), "linear", "success", "b"),
        Point("y", float("nan"), 3.0, date(2020, 1, 2), "linear", "success", "b"),
        Point("z", 3.0, float("inf"), date(2020, 1, 3), "linear", "success", "b"),
    ]
    verdict = analyse([*broken, *points])
    assert len(verdict.points) == 8
    assert sum("no capability or product value" in n for n in verdict.notes) == 3
    assert all_finite(verdict)


def test_ceiling_too_uncertain_withholds_the_logistic_verdict():
    rng = np.random.default_rng(3)
    c = np.array([30.0, 40, 50, 60, 70])
    verdict = logistic_signal(series(c, logistic(c, mid=50) + rng.normal(0, 2, 5)))
    assert verdict.vote is not True and verdict.ceiling is None


def test_thresholds_are_adjustable():
    points = series(CAPABILITY, 10 + 0.6 * CAPABILITY)
    assert elasticity_signal(points, "linear", Thresholds(elasticity=0.9)).vote is True
    assert elasticity_signal(points, "linear", Thresholds(elasticity=0.1)).vote is False
    assert analyse(points[:6], Thresholds(min_readings=7)).kind == "insufficient"


# ----------------------------------------------------------------------------- rates over seeds
# The example: the product metric logistic in time (ceiling 60, midpoint month 8,
# scale 2 months), capability rising linearly (100 + 4t), 24 monthly readings, Gaussian noise.
# Growth cases reach the same level (about 60) with the same noise. 200 seeds each.
MONTHS = np.arange(24)
CAPABILITY_24 = 100.0 + 4.0 * MONTHS
CEILING = 60.0
SHAPES = {
    "logistic": CEILING / (1 + np.exp(-(MONTHS - 8) / 2)),
    "linear": 2.0 + 2.5 * MONTHS,
    "exponential": CEILING * np.exp((MONTHS - 23) / 8),
}
SEEDS = 200


def noisy(shape: str, noise_share: float) -> np.ndarray:
    """SEEDS series of one shape at once: row i uses default_rng(i) (fixed seeds)."""
    noise = np.stack(
        [np.random.default_rng(seed).normal(0, 1, MONTHS.size) for seed in range(SEEDS)]
    )
    return SHAPES[shape][None, :] + noise_share * CEILING * noise


def verdicts(shape: str, noise_share: float) -> list[str]:
    return [analyse(series(CAPABILITY_24, row)).kind for row in noisy(shape, noise_share)]


@pytest.mark.parametrize("noise_share", [1 / 60, 0.03])  # sd 1 (the issue's) and 3% of ceiling
def test_logistic_past_the_knee_is_saturating_in_at_least_90_percent_of_seeds(noise_share):
    kinds = verdicts("logistic", noise_share)
    assert kinds.count("saturating") >= 0.9 * SEEDS


@pytest.mark.parametrize("shape", ["linear", "exponential"])
def test_growth_with_the_same_noise_is_called_saturating_in_at_most_5_percent(shape):
    kinds = verdicts(shape, 0.03)
    assert kinds.count("saturating") <= 0.05 * SEEDS
    assert kinds.count("growing") >= 0.8 * SEEDS  # and it is mostly called what it is


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_fewer_than_five_readings_is_not_enough_evidence(n):
    row = noisy("logistic", 0.03)[0]
    verdict = analyse(series(CAPABILITY_24[-n:] if n else [], row[-n:] if n else []))
    assert verdict.kind == "insufficient"
    assert verdict.logistic.ceiling is None and verdict.logistic.ceiling_low is None


def test_four_flat_noisy_points_show_no_ceiling():
    """Used to say "a ceiling of 50.1, 95% CI 50–50.2"."""
    c = np.array([40.0, 50, 60, 70])
    verdict = analyse(series(c, [50.0, 50.2, 49.9, 50.3]))
    assert verdict.kind == "insufficient"
    assert verdict.logistic.ceiling is None
    text = " ".join([verdict.headline, *verdict.reasons])
    assert "ceiling of" not in text and "CI" not in text
    # Six flat noisy points: a flat line fits best, and still no ceiling is claimed.
    six = analyse(series(np.linspace(40, 90, 6), [50.0, 50.2, 49.9, 50.3, 50.1, 49.8]))
    assert six.comparison.best == "constant" and six.logistic.ceiling is None
    assert "ceiling of" not in " ".join([six.headline, *six.reasons])


def test_the_verdict_reports_the_evidence_in_words():
    verdict = analyse(series(CAPABILITY_24, noisy("logistic", 1 / 60)[0]))
    assert verdict.kind == "saturating"
    comparison = verdict.comparison.reason
    assert comparison.startswith("Of the models fitted to all 24 readings, a curve that levels")
    assert "AICc" in comparison and "lower than steady (linear) growth" in comparison
    assert verdict.logistic.ceiling == pytest.approx(CEILING, abs=1.5)
    assert verdict.logistic.ceiling_low < CEILING < verdict.logistic.ceiling_high
    assert "of its ceiling" in verdict.headline


def test_percent_metrics_say_percentage_points_and_relative():
    points = [
        Point(f"m{i}", float(c), float(y), date(2024, 1, 1) + timedelta(days=60 * i), "linear",
              "Task success (%)", "SWE-bench (%)")
        for i, (c, y) in enumerate(zip(CAPABILITY, 10 + 0.6 * CAPABILITY, strict=True))
    ]  # fmt: skip
    verdict = analyse(points, product_label="task success")
    # m4 -> m7: capability 61.4 -> 85, task success 46.9 -> 61.
    assert "raised capability 23.6 percentage points (38% relative)" in verdict.headline
    assert "raised task success 14.1 percentage points (30% relative)" in verdict.headline


def test_a_product_falling_as_capability_rises_is_not_called_growth():
    capability = [0.3, 0.4, 0.5, 0.6, 0.7]
    verdict = analyse(series(capability, [20, 17, 15, 12, 9]), product_label="tasks per week")
    assert verdict.kind == "unclear"
    assert "growth fits best" not in verdict.headline
    assert "tasks per week falls as capability rises" in verdict.headline
    text = " ".join(verdict.reasons)
    # Five readings are enough; the levelling curve simply cannot fit a fall.
    assert "Too few readings" not in text
    assert "No curve that levels off fits these readings" in text
    # Every release moved the product (down) well beyond the noise: only no *lift* is true.
    assert "moved the product" not in text
    assert "None of the last 3 releases lifted the product beyond the noise" in text
    assert all_finite(verdict)


def test_a_change_from_a_tiny_base_is_told_in_values_not_inf_percent():
    capability = [10, 20, 30, 40, 50]
    verdict = analyse(series(capability, [5, 1e-300, 7, 8, -1e12]), product_label="revenue")
    assert "inf%" not in verdict.headline
    assert "moved revenue from" in verdict.headline
    assert all_finite(verdict)


def test_noise_and_level_carry_the_metric_unit():
    flat = [
        Point(f"m{i}", 0.3 + 0.1 * i, 10.0, date(2025, 1, 1) + timedelta(days=90 * i),
              "linear", "tasks per week", "SWE-bench")
        for i in range(6)
    ]  # fmt: skip
    verdict = analyse(flat)
    assert "(noise ±0.05 tasks per week)" in verdict.events.reason
    assert verdict.logistic.reason.endswith("only a level of about 10 tasks per week.")
    percent = [dataclasses.replace(p, metric="Task success (%)") for p in flat]
    verdict = analyse(percent)
    assert "(noise ±0.05 percentage points)" in verdict.events.reason
    assert verdict.logistic.reason.endswith("only a level of about 10%.")
