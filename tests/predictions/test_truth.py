"""Issue 13, "Numbers that tell the truth": scores, band distributions and bias in words,
with the numbers the issue gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtri

from predictions import scoring

Z80 = float(ndtri(0.9))


def _crps_by_integration(cdf, y: float, lo: float, hi: float) -> float:
    f = lambda x: (cdf(x) - (1.0 if x >= y else 0.0)) ** 2  # noqa: E731
    return integrate.quad(f, lo, y, limit=400)[0] + integrate.quad(f, y, hi, limit=400)[0]


# --------------------------------------------------------------------------- asymmetric bands
def test_asymmetric_log_band_keeps_the_stated_median_and_quantiles():
    """×0.5…×3 at 80%: on the median → percentile 50 (was 38.6); band ends → 10 and 90."""
    s = scoring.score_points([100, 50, 300], 100, 50, 300, 0.8, log=True)
    np.testing.assert_allclose(s.percentile, [50, 10, 90], atol=1e-9)
    old_mu, old_sigma = scoring.fit_from_band(50, 300, 0.8, log=True)
    old = 100 * float(scoring.ndtr((math.log(100) - old_mu) / old_sigma))
    assert old == pytest.approx(38.6, abs=0.05)  # the defect the issue reports


def test_asymmetric_linear_band_keeps_the_stated_median_and_quantiles():
    s = scoring.score_points([40, 35, 55], 40, 35, 55, 0.9, log=False)  # −5 … +15 at 90%
    np.testing.assert_allclose(s.percentile, [50, 5, 95], atol=1e-9)


@pytest.mark.parametrize("y", [20.0, 60.0, 100.0, 170.0, 300.0, 900.0])
def test_two_piece_lognormal_crps_matches_numerical_integration(y):
    mu, s_low, s_high = scoring.two_piece_from_band(100, 50, 300, 0.8, log=True)
    cdf = lambda x: float(scoring.two_piece_cdf(math.log(x), mu, s_low, s_high)) if x > 0 else 0.0  # noqa: E731
    exact = float(scoring.score_points(y, 100, 50, 300, 0.8, log=True).crps[0])
    assert exact == pytest.approx(_crps_by_integration(cdf, y, 1e-9, 1e5), rel=1e-6)


@pytest.mark.parametrize("y", [20.0, 36.0, 40.0, 47.0, 80.0])
def test_two_piece_normal_crps_matches_numerical_integration(y):
    c, s_low, s_high = scoring.two_piece_from_band(40, 35, 55, 0.8, log=False)
    cdf = lambda x: float(scoring.two_piece_cdf(x, c, s_low, s_high))  # noqa: E731
    exact = float(scoring.score_points(y, 40, 35, 55, 0.8, log=False).crps[0])
    assert exact == pytest.approx(_crps_by_integration(cdf, y, -200, 300), rel=1e-7)


def test_symmetric_bands_keep_the_closed_form_normal_and_lognormal():
    ys = np.array([30.0, 100.0, 180.0, 500.0])
    s = scoring.score_points(ys, 100, 50, 200, 0.8, log=True)  # ×0.5…×2: symmetric in log
    np.testing.assert_allclose(
        s.crps, scoring.crps_lognormal(ys, math.log(100), math.log(2) / Z80), rtol=1e-12
    )
    lin = scoring.score_points(ys, 100, 90, 110, 0.8, log=False)
    np.testing.assert_allclose(lin.crps, scoring.crps_normal(ys, 100, 10 / Z80), rtol=1e-12)
    # and the two-piece formulas reduce to them when both sides are equal
    np.testing.assert_allclose(
        scoring.crps_two_piece_lognormal(ys, 1.3, 0.6, 0.6), scoring.crps_lognormal(ys, 1.3, 0.6)
    )
    np.testing.assert_allclose(
        scoring.crps_two_piece_normal(ys, 90, 7, 7), scoring.crps_normal(ys, 90, 7)
    )


def test_a_band_that_misses_its_median_falls_back_to_the_band_ends():
    s = scoring.score_points([600], 1000, 300, 900, 0.8, log=True)  # explicit points below
    assert np.isfinite(s.crps).all() and 0 < s.percentile[0] < 100


# --------------------------------------------------------------------------- bias in words
def _summary(bias: float, n: int, reach: float, coverage: float = 0.8) -> scoring.Summary:
    """A line whose every observation missed by exactly `bias` (all on one side)."""
    return scoring.summarise(
        scoring.score_points(
            [100 * bias] * n, [100] * n, [100 / reach] * n, [100 * reach] * n, coverage, True
        ),
        coverage,
    )


def test_team_bias_that_cancels_out_is_reported_by_size_and_direction():
    """The demo: 12× behind, 1.7×, 2.2× and 2.6× ahead, 0% inside 80% bands."""
    lines = [_summary(1 / 12, 3, 2), _summary(1.7, 3, 1.4), _summary(2.2, 1, 1.7),
             _summary(2.6, 1, 2)]  # fmt: skip
    report = scoring.bias_report(lines)
    assert report.bias == pytest.approx((1 / 12 * 1.7 * 2.2 * 2.6) ** 0.25)  # 0.95: "no lean"
    assert report.typical_miss == pytest.approx((12 * 1.7 * 2.2 * 2.6) ** 0.25)  # 3.3×
    assert report.hit_rate == 0 and report.stated == pytest.approx(0.8)
    assert report.beyond_band and not report.close and report.both_ways
    assert report.sentence == (
        "Across 4 lines, reality was typically off by 3.3× (your bands allowed about ×1.8), "
        "in both directions: from 12× behind to 2.6× ahead, so the misses cancel out in the "
        "average (0.95×). 0% of 8 observations fell inside the bands, against the 80% stated: "
        "the bands were too narrow."
    )
    assert "close" not in report.sentence and "close" not in report.phrase
    assert report.phrase == "typically off by 3.3×, in both directions"


def test_never_close_when_the_typical_miss_exceeds_the_band():
    report = scoring.bias_report([_summary(1.08, 4, 1.05)])  # 8% off, band allows 5%
    assert report.beyond_band and not report.close
    assert "close" not in report.sentence
    assert report.phrase == "reality ran 1.1× ahead of your median"


def test_close_only_when_small_and_inside_the_band():
    report = scoring.bias_report([_summary(1.03, 5, 2)])
    assert report.close
    assert report.sentence.startswith("Reality ran close to your median (typically within 3%).")
    assert "100% of 5 observations fell inside the band, against the 80% stated" in (
        report.sentence
    )


def test_one_direction_names_the_lean():
    report = scoring.bias_report([_summary(1.5, 2, 2), _summary(1.8, 2, 2)])
    assert report.sentence.startswith(
        "Across 2 lines, reality was typically off by 1.6×, and ran 1.6× ahead of your "
        "medians on average."
    )
    assert report.phrase == "reality ran 1.6× ahead of your median"


def test_misses_that_cancel_within_one_line():
    s = scoring.summarise(scoring.score_points([50, 200], [100, 100], 50, 200, 0.8, True), 0.8)
    assert s.bias == pytest.approx(1) and s.typical_miss == pytest.approx(2)
    assert s.report.phrase == "typically off by 2×, in both directions"


def test_nothing_scored_says_nothing():
    report = scoring.bias_report([])
    assert report.sentence == "" and report.phrase == ""


def test_one_observation_inside_the_band_does_not_judge_the_band():
    """1 of 1 inside an 80% band happens 80% of the time: no 'wider than needed' from it."""
    report = scoring.bias_report([_summary(1.0, 1, 2)])
    assert report.sentence.endswith(
        "100% of 1 observation fell inside the band, against the 80% stated: "
        "1 observation is too few to judge the band."
    )
    assert "wider than needed" not in report.sentence


def test_too_few_misses_do_not_call_the_bands_too_narrow():
    report = scoring.bias_report([_summary(3.0, 1, 2)])  # 0 of 1 inside: 20% by chance
    assert report.sentence.endswith("1 observation is too few to judge the band.")
    assert "too narrow" not in report.sentence


def test_enough_observations_judge_the_band_both_ways():
    assert scoring.bias_report([_summary(1.0, 14, 2)]).sentence.endswith(
        "100% of 14 observations fell inside the band, against the 80% stated: "
        "the band was wider than needed."
    )
    assert scoring.bias_report([_summary(3.0, 3, 2)]).sentence.endswith(
        "0% of 3 observations fell inside the band, against the 80% stated: "
        "the band was too narrow."
    )
    assert scoring.coverage_departs(8, 0.0, 0.8) and not scoring.coverage_departs(5, 1.0, 0.8)
    assert not scoring.coverage_departs(0, 0.0, 0.8)


def test_a_small_miss_is_within_1_percent_not_0():
    report = scoring.bias_report([_summary(1.003, 5, 2)])  # 0.3% off
    assert report.sentence.startswith("Reality ran close to your median (typically within 1%).")
    exact = scoring.bias_report([_summary(1.0, 5, 2)])
    assert exact.sentence.startswith("Reality ran close to your median (typically within 0%).")
