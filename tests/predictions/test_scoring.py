"""Scoring formulas against values worked out by hand (and one numerical cross-check)."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from predictions import scoring

PHI0 = 1 / math.sqrt(2 * math.pi)  # φ(0) = 0.398942…
Z80 = 1.2815515655446004  # Φ⁻¹(0.9)


def test_crps_normal_at_the_mean_is_2phi0_minus_1_over_root_pi():
    assert scoring.crps_normal(0, 0, 1) == pytest.approx(2 * PHI0 - 1 / math.sqrt(math.pi))
    assert scoring.crps_normal(0, 0, 1) == pytest.approx(0.2336950, abs=1e-7)


def test_crps_normal_one_sigma_away_and_scaling():
    # z(2Φ(z)−1) + 2φ(z) − 1/√π at z = 1: 0.6826895 + 0.4839414 − 0.5641896
    assert scoring.crps_normal(1, 0, 1) == pytest.approx(0.6024414, abs=1e-7)
    # CRPS scales with σ: N(0, 2²) at y = 2 is twice the standard case at z = 1.
    assert scoring.crps_normal(2, 0, 2) == pytest.approx(2 * 0.6024414, abs=1e-6)
    # symmetric
    assert scoring.crps_normal(-1, 0, 1) == pytest.approx(scoring.crps_normal(1, 0, 1))


def test_crps_lognormal_hand_case():
    # y = 1, μ = 0, σ = 1: ω = 0, so CRPS = −2 e^{1/2} [Φ(−1) + Φ(1/√2) − 1]
    expected = -2 * math.exp(0.5) * (0.15865525 + 0.76024994 - 1)
    assert expected == pytest.approx(0.2674055, abs=1e-6)
    assert scoring.crps_lognormal(1, 0, 1) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("y,mu,sigma", [(3.0, 0.5, 0.4), (0.2, 0.0, 1.0), (50.0, 3.0, 0.3)])
def test_crps_lognormal_matches_the_defining_integral(y, mu, sigma):
    dist = stats.lognorm(s=sigma, scale=math.exp(mu))
    below, _ = integrate.quad(lambda x: dist.cdf(x) ** 2, 0, y, limit=200)
    above, _ = integrate.quad(lambda x: (1 - dist.cdf(x)) ** 2, y, np.inf, limit=200)
    assert scoring.crps_lognormal(y, mu, sigma) == pytest.approx(below + above, rel=1e-5)


def test_interval_score_inside_and_outside():
    # band [10, 20] at 80%: α = 0.2, penalty 2/α = 10 per unit outside
    assert scoring.interval_score(15, 10, 20, 0.8) == pytest.approx(10)
    assert scoring.interval_score(25, 10, 20, 0.8) == pytest.approx(10 + 10 * 5)
    assert scoring.interval_score(5, 10, 20, 0.8) == pytest.approx(60)
    np.testing.assert_allclose(
        scoring.interval_score([15, 25, 5], [10] * 3, [20] * 3, 0.8), [10, 60, 60]
    )


def test_fit_from_band_log_and_linear():
    mu, sigma = scoring.fit_from_band(0.5, 2.0, 0.8, log=True)
    assert mu == pytest.approx(0.0)
    assert sigma == pytest.approx(math.log(2) / Z80)  # 0.540862
    mu, sigma = scoring.fit_from_band(90, 110, 0.8, log=False)
    assert mu == pytest.approx(100)
    assert sigma == pytest.approx(10 / Z80)


def test_score_points_log_metric():
    # median 100, ×0.5–×2 band at 80%; observations at the median, the top, 2× beyond, the bottom
    y = [100, 200, 400, 50]
    median = [100] * 4
    s = scoring.score_points(y, median, [50] * 4, [200] * 4, 0.8, log=True)
    np.testing.assert_allclose(s.error, [0, math.log10(2), math.log10(4), -math.log10(2)])
    assert s.inside.tolist() == [True, True, False, True]
    np.testing.assert_allclose(s.percentile[[0, 1, 3]], [50, 90, 10], atol=1e-9)
    # 400 is 2 log-σ-units ×(ln 4/ln 2)… z = ln4 / (ln2/Z80) = 2·Z80
    assert s.percentile[2] == pytest.approx(100 * stats.norm.cdf(2 * Z80))
    np.testing.assert_allclose(s.interval, [150, 150, 150 + 10 * 200, 150])
    assert s.crps[0] == pytest.approx(scoring.crps_lognormal(100, math.log(100), math.log(2) / Z80))


def test_score_points_linear_metric_uses_relative_error_and_normal():
    s = scoring.score_points([110, 80], [100, 100], [90, 90], [110, 110], 0.8, log=False)
    np.testing.assert_allclose(s.error, [0.1, -0.2])
    assert s.inside.tolist() == [True, False]
    np.testing.assert_allclose(s.percentile[0], 90)
    assert s.crps[1] == pytest.approx(scoring.crps_normal(80, 100, 10 / Z80))


def test_summary_coverage_bias_and_mean_errors():
    s = scoring.score_points([2, 8], [1, 2], [0.5, 1], [2, 4], 0.8, log=True)
    summary = scoring.summarise(s, 0.8)
    assert summary.n == 2
    assert summary.coverage_observed == pytest.approx(0.5)  # 2 is on the edge (inside), 8 out
    assert summary.coverage_gap == pytest.approx(-0.3)
    assert summary.bias == pytest.approx(math.sqrt(8))  # geometric mean of 2 and 4
    assert summary.mean_abs_error == pytest.approx((math.log10(2) + math.log10(4)) / 2)
    assert summary.worst_error == pytest.approx(math.log10(4))
    assert scoring.bias_phrase(summary.bias) == "reality ran 2.8× ahead of your median"
    assert scoring.bias_phrase(0.5) == "reality ran 2× behind your median"
    # A lean alone never says "close": misses may cancel out (see test_truth.py).
    assert scoring.bias_phrase(1.01) == "no overall lean"
    assert summary.typical_miss == pytest.approx(math.sqrt(8))  # both misses run ahead
    assert summary.report.phrase == "reality ran 2.8× ahead of your median"


def test_empty_summary_and_bias_with_non_positive_values():
    empty = scoring.score_points([], [], [], [], 0.8, log=False)
    assert scoring.summarise(empty, 0.8).n == 0
    assert scoring.geometric_bias([1, -1], [1, 1]) is None


def test_brier_and_log_score():
    assert scoring.brier(0.7, 1) == pytest.approx(0.09)
    assert scoring.brier(0.7, 0) == pytest.approx(0.49)
    assert scoring.log_score(0.7, 1) == pytest.approx(-math.log(0.7))  # 0.3567
    assert scoring.log_score(0.7, 0) == pytest.approx(-math.log(0.3))  # 1.2040
    np.testing.assert_allclose(scoring.brier([0.2, 0.9], [0, 1]), [0.04, 0.01])


def test_reliability_bins():
    bins = scoring.reliability([0.1, 0.15, 0.9], [0, 1, 1], bins=5)
    assert [b.n for b in bins] == [2, 0, 0, 0, 1]
    assert bins[0].mean_probability == pytest.approx(0.125)
    assert bins[0].observed_frequency == pytest.approx(0.5)
    assert bins[4].observed_frequency == 1.0
    assert bins[1].mean_probability is None
    # a probability of exactly 1.0 lands in the last bin
    assert scoring.reliability([1.0], [1], bins=5)[4].n == 1


def test_band_calibration_groups_by_stated_coverage():
    groups = scoring.band_calibration([0.8, 0.8, 0.5, 0.9], [8, 6, 1, 0], [10, 10, 2, 0])
    assert [(g.coverage_stated, g.n_points, g.n_predictions) for g in groups] == [
        (0.5, 2, 1),
        (0.8, 20, 2),
    ]
    assert groups[1].coverage_observed == pytest.approx(0.7)


@pytest.mark.parametrize(
    "t,v,expected",
    [
        ([5, 8], [40, 71], True),  # reached before the deadline (day 10)
        ([5, 10], [40, 70], True),  # reached on the deadline
        ([5, 12], [40, 60], False),  # first reading after the deadline is still below
        ([5, 12], [40, 75], None),  # crossed somewhere between: resolve by hand
        ([5, 8], [40, 60], None),  # deadline not reached yet, no data after it
        ([0, 12], [80, 60], False),  # a hit before the commit does not count
    ],
)
def test_resolve_threshold(t, v, expected):
    got = scoring.resolve_threshold(t, v, after_day=1, deadline_day=10, threshold=70, above=True)
    assert got is expected


def test_resolve_threshold_downwards():
    assert scoring.resolve_threshold([5], [9], after_day=1, deadline_day=10, threshold=10,
                                     above=False) is True  # fmt: skip
