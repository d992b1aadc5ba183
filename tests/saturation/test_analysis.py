"""The saturation analysis on synthetic curves and awkward data (pure functions, no DB)."""

from __future__ import annotations

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
    assert verdict.elasticity.vote is False
    assert all(w.elasticity > 0.5 for w in verdict.elasticity.windows)
    assert "raised capability 38% and raised task success 30%" in verdict.headline
    assert all_finite(verdict)


def test_logistic_past_the_knee_is_saturating():
    verdict = analyse(series(CAPABILITY, logistic(CAPABILITY)), product_label="task success")
    assert verdict.kind == "saturating"
    assert verdict.elasticity.vote is True
    assert verdict.logistic.vote is True
    assert verdict.logistic.ceiling == pytest.approx(70, rel=0.01)
    assert verdict.logistic.share > 0.9
    assert verdict.logistic.ceiling_low <= 70 <= verdict.logistic.ceiling_high
    assert "The last 3 model generations (m4 → m7) raised capability 38%" in verdict.headline
    assert "task success 0.9%" in verdict.headline
    assert all_finite(verdict)


def test_logistic_before_the_knee_is_not_saturating():
    c = np.linspace(10, 40, 8)
    verdict = analyse(series(c, logistic(c, mid=45)))
    assert verdict.kind != "saturating"
    assert verdict.elasticity.vote is False


def test_noisy_logistic_past_the_knee_is_usually_caught():
    caught = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        noisy = logistic(CAPABILITY) + rng.normal(0, 0.8, CAPABILITY.size)
        caught += analyse(series(CAPABILITY, noisy)).kind == "saturating"
    assert caught >= 60  # ~70% at σ≈1% of the level; the rest are "mixed", never "growing" alarms


def test_noise_raises_no_false_alarm_at_the_defaults():
    """Growth buried in measurement noise is never called saturating."""
    verdicts = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        noisy = 10 + 0.6 * CAPABILITY + rng.normal(0, 1.5, CAPABILITY.size)
        verdict = analyse(series(CAPABILITY, noisy))
        assert all_finite(verdict)
        verdicts.append(verdict.kind)
    assert "saturating" not in verdicts
    assert verdicts.count("growing") >= 190


def test_elasticity_is_log_ratio_on_log_scale_and_relative_difference_on_linear():
    assert relative_change(10, 20, "log") == pytest.approx(math.log(2))
    assert relative_change(10, 20, "linear") == pytest.approx(10 / 15)
    assert relative_change(0, 0, "linear") == 0
    points = series([10, 20, 40], [5, 10, 20], scale="log")
    signal = elasticity_signal(points, "log", Thresholds(window=1, consecutive=2))
    assert [w.elasticity for w in signal.windows] == pytest.approx([1.0, 1.0])
    assert signal.vote is False


def test_exponential_growth_on_log_scale_is_growing_with_no_ceiling():
    verdict = analyse(series(CAPABILITY, np.exp(0.05 * CAPABILITY), scale="log"))
    assert verdict.kind == "growing"
    assert verdict.logistic.vote is None
    assert "No ceiling is in sight" in verdict.logistic.reason


def test_a_single_reading_is_not_enough_evidence():
    verdict = analyse(series([50], [60]))
    assert verdict.kind == "insufficient"
    assert verdict.headline == (
        "Not enough evidence yet: only 1 comparable reading; at least 4 are needed."
    )
    assert verdict.elasticity.vote is verdict.logistic.vote is verdict.events.vote is None
    assert all_finite(verdict)


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
    assert verdict.logistic.vote is None
    assert "never moved" in verdict.logistic.reason
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
    assert verdict.logistic.vote is None
    assert "positive product values" in verdict.logistic.reason
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
    c = np.array([30.0, 40, 50, 60])
    verdict = logistic_signal(series(c, logistic(c, mid=50) + rng.normal(0, 2, 4)))
    assert verdict.vote is None
    assert "too uncertain" in verdict.reason or "No ceiling" in verdict.reason


def test_thresholds_are_adjustable():
    points = series(CAPABILITY, 10 + 0.6 * CAPABILITY)
    assert elasticity_signal(points, "linear", Thresholds(elasticity=0.9)).vote is True
    assert elasticity_signal(points, "linear", Thresholds(elasticity=0.1)).vote is False
