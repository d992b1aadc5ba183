"""Scoring lines against reality: pure, vectorised functions over numpy arrays.

A band at coverage c is read as a distribution: the band's ends are its (1−c)/2 and (1+c)/2
quantiles, so a normal distribution is fitted on linear metrics and a log-normal one on log
metrics. Against each observation y we compute:

- the line's median and the error: log10(y / median) on log metrics, (y − median)/|median|
  on linear ones;
- whether y is inside the band, and y's percentile in the fitted distribution;
- the interval score at the stated coverage (Gneiting & Raftery 2007), in the metric's unit;
- the continuous ranked probability score (CRPS), closed form for the normal and the
  log-normal (Baran & Lerch 2015), in the metric's unit: the headline proper score.

Per prediction: mean absolute error (log10 or relative), mean CRPS, observed vs stated band
coverage, and bias as the geometric mean of actual/predicted ("reality ran 2.3× ahead").
Threshold predictions get Brier and log scores; calibration groups bands by stated coverage
and probabilities into reliability bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

Floats = NDArray[np.float64]
SQRT_PI = math.sqrt(math.pi)
SQRT2 = math.sqrt(2.0)


def _f(x: ArrayLike) -> Floats:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------- distributions
def fit_from_band(low: ArrayLike, high: ArrayLike, coverage: float, log: bool):
    """(mu, sigma) of the normal (or the log of the log-normal) whose central `coverage`
    interval is [low, high]."""
    lo, hi = _f(low), _f(high)
    z = float(ndtri(0.5 + coverage / 2))
    if log:
        lo, hi = np.log(lo), np.log(hi)
    return (lo + hi) / 2, (hi - lo) / (2 * z)


def normal_pdf(z: Floats) -> Floats:
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def crps_normal(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> Floats:
    """CRPS of N(mu, sigma²) at y: σ [z(2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ."""
    y, mu, sigma = _f(y), _f(mu), _f(sigma)
    z = (y - mu) / sigma
    return sigma * (z * (2 * ndtr(z) - 1) + 2 * normal_pdf(z) - 1 / SQRT_PI)


def crps_lognormal(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> Floats:
    """CRPS of LogN(mu, sigma²) at y > 0:
    y [2Φ(ω) − 1] − 2 exp(μ + σ²/2) [Φ(ω − σ) + Φ(σ/√2) − 1], ω = (ln y − μ)/σ."""
    y, mu, sigma = _f(y), _f(mu), _f(sigma)
    w = (np.log(y) - mu) / sigma
    return y * (2 * ndtr(w) - 1) - 2 * np.exp(mu + sigma**2 / 2) * (
        ndtr(w - sigma) + ndtr(sigma / SQRT2) - 1
    )


def interval_score(y: ArrayLike, low: ArrayLike, high: ArrayLike, coverage: float) -> Floats:
    """(u − l) + 2/α (l − y) 1{y < l} + 2/α (y − u) 1{y > u}, α = 1 − coverage."""
    y, lo, hi = _f(y), _f(low), _f(high)
    alpha = 1 - coverage
    return (
        (hi - lo) + (2 / alpha) * np.clip(lo - y, 0, None) + (2 / alpha) * np.clip(y - hi, 0, None)
    )


# --------------------------------------------------------------------------- per point
@dataclass(frozen=True)
class PointScores:
    actual: Floats
    median: Floats
    low: Floats
    high: Floats
    error: Floats  # log10(y/median) on log metrics, relative error on linear ones
    inside: NDArray[np.bool_]
    percentile: Floats  # 0..100
    interval: Floats
    crps: Floats

    def __len__(self) -> int:
        return len(self.actual)


def score_points(
    actual: ArrayLike,
    median: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    coverage: float,
    log: bool,
) -> PointScores:
    y, m, lo, hi = _f(actual), _f(median), _f(low), _f(high)
    mu, sigma = fit_from_band(lo, hi, coverage, log)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            error = np.log10(y / m)
            z = (np.log(y) - mu) / sigma
            crps = crps_lognormal(y, mu, sigma)
        else:
            error = (y - m) / np.abs(m)
            z = (y - mu) / sigma
            crps = crps_normal(y, mu, sigma)
    return PointScores(
        actual=y,
        median=m,
        low=lo,
        high=hi,
        error=error,
        inside=(y >= lo) & (y <= hi),
        percentile=100 * ndtr(z),
        interval=interval_score(y, lo, hi, coverage),
        crps=crps,
    )


# --------------------------------------------------------------------------- per prediction
@dataclass(frozen=True)
class Summary:
    n: int
    mean_abs_error: float | None  # log10 (log metrics) or relative
    mean_crps: float | None
    mean_interval: float | None
    coverage_stated: float
    coverage_observed: float | None
    bias: float | None  # geometric mean of actual / predicted
    worst_error: float | None  # the largest |error|, signed

    @property
    def coverage_gap(self) -> float | None:
        if self.coverage_observed is None:
            return None
        return self.coverage_observed - self.coverage_stated


def _mean(x: Floats) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def geometric_bias(actual: ArrayLike, median: ArrayLike) -> float | None:
    """Geometric mean of actual/predicted; None unless every pair is positive."""
    y, m = _f(actual), _f(median)
    if y.size == 0 or (y <= 0).any() or (m <= 0).any():
        return None
    return float(np.exp(np.mean(np.log(y / m))))


def summarise(scores: PointScores, coverage: float) -> Summary:
    n = len(scores)
    if n == 0:
        return Summary(0, None, None, None, coverage, None, None, None)
    err = scores.error
    finite = err[np.isfinite(err)]
    worst = float(finite[np.argmax(np.abs(finite))]) if finite.size else None
    return Summary(
        n=n,
        mean_abs_error=_mean(np.abs(err)),
        mean_crps=_mean(scores.crps),
        mean_interval=_mean(scores.interval),
        coverage_stated=coverage,
        coverage_observed=float(scores.inside.mean()),
        bias=geometric_bias(scores.actual, scores.median),
        worst_error=worst,
    )


def bias_phrase(bias: float | None) -> str:
    """'reality ran 2.3× ahead of your median' (or behind); '' when unknown or on target."""
    if bias is None:
        return ""
    if 1 / 1.05 <= bias <= 1.05:
        return "reality ran close to your median"
    if bias > 1:
        return f"reality ran {bias:.2g}× ahead of your median"
    return f"reality ran {1 / bias:.2g}× behind your median"


# --------------------------------------------------------------------------- thresholds
def brier(probability: ArrayLike, outcome: ArrayLike) -> Floats:
    """(p − o)², 0 is perfect, 1 is confidently wrong."""
    p, o = _f(probability), _f(outcome)
    return (p - o) ** 2


def log_score(probability: ArrayLike, outcome: ArrayLike, eps: float = 1e-12) -> Floats:
    """−ln(probability given to what happened), in nats; 0 is perfect, lower is better."""
    p, o = np.clip(_f(probability), eps, 1 - eps), _f(outcome)
    return -np.log(np.where(o > 0.5, p, 1 - p))


def resolve_threshold(
    observed_days: ArrayLike,
    values: ArrayLike,
    *,
    after_day: float,
    deadline_day: float,
    threshold: float,
    above: bool = True,
) -> bool | None:
    """Has the metric reached `threshold` by the deadline?

    True when an observation in (after_day, deadline_day] reaches it; False when the first
    observation on or after the deadline shows it not reached (and none before did); None when
    the data do not settle it yet (or the first reading after the deadline has crossed, so
    when it crossed is unknown: resolve by hand).
    """
    t, v = _f(observed_days), _f(values)
    hit = v >= threshold if above else v <= threshold
    window = (t > after_day) & (t <= deadline_day)
    if (hit & window).any():
        return True
    later = t >= deadline_day
    if not later.any():
        return None
    first = np.argmin(np.where(later, t, np.inf))
    return None if hit[first] else False


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class BandCalibration:
    coverage_stated: float
    n_points: int
    n_predictions: int
    coverage_observed: float


def band_calibration(
    stated: Sequence[float], inside_counts: Sequence[int], totals: Sequence[int]
) -> list[BandCalibration]:
    """Group predictions by stated coverage; observed coverage = inside / total points."""
    groups: dict[float, list[int]] = {}
    for c, k, n in zip(stated, inside_counts, totals, strict=True):
        if n:
            g = groups.setdefault(round(float(c), 4), [0, 0, 0])
            g[0] += int(k)
            g[1] += int(n)
            g[2] += 1
    return [BandCalibration(c, n, preds, k / n) for c, (k, n, preds) in sorted(groups.items())]


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    n: int
    mean_probability: float | None
    observed_frequency: float | None


def reliability(
    probabilities: ArrayLike, outcomes: ArrayLike, bins: int = 10
) -> list[ReliabilityBin]:
    """Binned reliability diagram: per probability bin, mean forecast vs observed rate."""
    p, o = _f(probabilities), _f(outcomes)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                float(edges[b]),
                float(edges[b + 1]),
                n,
                float(p[mask].mean()) if n else None,
                float(o[mask].mean()) if n else None,
            )
        )
    return out
