"""Scoring lines against reality: pure, vectorised functions over numpy arrays.

A band at coverage c around a stated median m is read as a distribution whose median is m and
whose band ends are its (1−c)/2 and (1+c)/2 quantiles: a two-piece normal (each side of the
median a half-normal with its own spread, each holding half the probability) on linear metrics,
and the same on the logarithm (a two-piece log-normal) on log metrics. A symmetric band gives
the ordinary normal (log-normal). An observation on the median scores percentile 50 and one on
a band end scores at that end's stated quantile. Against each observation y we compute:

- the line's median and the error: log10(y / median) on log metrics, (y − median)/|median|
  on linear ones;
- whether y is inside the band, and y's percentile in the fitted distribution;
- the interval score at the stated coverage (Gneiting & Raftery 2007), in the metric's unit;
- the continuous ranked probability score (CRPS), in the metric's unit, in closed form: the
  normal and log-normal (Baran & Lerch 2015) for symmetric bands, the two-piece normal and
  two-piece log-normal (derived below) for asymmetric ones: the headline proper score.

Per prediction: mean absolute error (log10 or relative), mean CRPS, observed vs stated band
coverage, the bias (geometric mean of actual/predicted: its direction) and the typical miss
(exp of the mean |ln(actual/predicted)|: its size). `BiasReport` puts lines together and says
in words how far off and which way, so misses in opposite directions never read as "close".
Threshold predictions get Brier and log scores; calibration groups bands by stated coverage
and probabilities into reliability bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import bdtr, bdtrc, log_ndtr, ndtr, ndtri

Floats = NDArray[np.float64]
SQRT_PI = math.sqrt(math.pi)
SQRT2 = math.sqrt(2.0)


def _f(x: ArrayLike) -> Floats:
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------- distributions
def fit_from_band(
    low: ArrayLike, high: ArrayLike, coverage: float, log: bool
) -> tuple[Floats, Floats]:
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


# --------------------------------------------------------------------------- two-piece
PHI0 = 1 / math.sqrt(2 * math.pi)  # φ(0)


def two_piece_from_band(
    median: ArrayLike, low: ArrayLike, high: ArrayLike, coverage: float, log: bool
) -> tuple[Floats, Floats, Floats]:
    """(centre, sigma_low, sigma_high) of the two-piece normal (on ln on log metrics) whose
    median is `median` and whose (1−c)/2 and (1+c)/2 quantiles are `low` and `high`."""
    m, lo, hi = _f(median), _f(low), _f(high)
    z = float(ndtri(0.5 + coverage / 2))
    if log:
        m, lo, hi = np.log(m), np.log(lo), np.log(hi)
    return m, (m - lo) / z, (hi - m) / z


def two_piece_cdf(y: ArrayLike, centre: ArrayLike, s_low: ArrayLike, s_high: ArrayLike) -> Floats:
    """P(X ≤ y) for the two-piece normal: Φ((y − c)/σ_low) below c, Φ((y − c)/σ_high) above."""
    d = _f(y) - _f(centre)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(d < 0, d / _f(s_low), d / _f(s_high))
    return ndtr(np.where(d == 0, 0.0, z))


def _side_abs(w: Floats) -> Floats:
    """E|Z − w| restricted to the half of Z on w's side, less φ(0): w(2Φ(w) − 1) + 2φ(w) − φ(0)
    for w ≥ 0 (the expected distance from the half-normal side plus the far side's φ(0))."""
    return w * (2 * ndtr(w) - 1) + 2 * normal_pdf(w) - PHI0


def crps_two_piece_normal(
    y: ArrayLike, centre: ArrayLike, s_low: ArrayLike, s_high: ArrayLike
) -> Floats:
    """CRPS of the two-piece normal X = c + σ_low·Z (Z < 0), c + σ_high·Z (Z ≥ 0) at y.

    CRPS = E|X − y| − ½E|X − X'|. With d = y − c ≥ 0 and w = d/σ_high,
    E|X − y| = σ_high[w(2Φ(w) − 1) + 2φ(w) − φ(0)] + σ_low·φ(0) (mirrored for d < 0), and
    ½E|X − X'| = (σ_low + σ_high)/(2√π). With σ_low = σ_high it is the normal's CRPS."""
    y, c = _f(y), _f(centre)
    sl, sh = np.maximum(_f(s_low), 1e-300), np.maximum(_f(s_high), 1e-300)
    d = y - c
    near = np.where(d >= 0, sh, sl)  # the side y falls on
    far = np.where(d >= 0, sl, sh)
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.abs(d) / near
        e_abs = np.where(np.isfinite(w), near * _side_abs(w), np.abs(d) - near * PHI0)
    return e_abs + far * PHI0 - (sl + sh) / (2 * SQRT_PI)


def _bvn_tail(a: Floats) -> Floats:
    """Φ₂(a/√2, −a; ρ = −1/√2), closed form through Owen's T(h, 1) = ½Φ(h)(1 − Φ(h))."""
    h = a / SQRT2
    ph = ndtr(h)
    return 0.5 * ph + 0.5 * ndtr(-a) + 0.5 * ph * (1 - ph) - 0.5


def crps_two_piece_lognormal(
    y: ArrayLike, mu: ArrayLike, s_low: ArrayLike, s_high: ArrayLike
) -> Floats:
    """CRPS (in the metric's unit) of X = exp(μ + σ_low·Z) for Z < 0, exp(μ + σ_high·Z) for
    Z ≥ 0, at y > 0.

    CRPS = E|X − y| − ½E|X − X'| with E|X − X'| = 4E[X F(X)] − 2E[X] and F(X) = Φ(Z):
      E[X] = e^μ [e^{σl²/2} Φ(−σl) + e^{σh²/2} Φ(σh)],
      E[X 1{X<y}] from the tilted normal, E[X F(X)] = e^μ [I(σl) + J(σh)] with
      I(a) = e^{a²/2} Φ₂(a/√2, −a; −1/√2) and J(a) = e^{a²/2} [Φ(a/√2) − Φ₂(a/√2, −a; −1/√2)].
    With σ_low = σ_high it equals the log-normal's CRPS (tested)."""
    y, mu = _f(y), _f(mu)
    sl, sh = np.maximum(_f(s_low), 1e-12), np.maximum(_f(s_high), 1e-12)
    em = np.exp(mu)
    el, eh = np.exp(sl**2 / 2), np.exp(sh**2 / 2)
    mean = em * (el * ndtr(-sl) + eh * ndtr(sh))
    s = np.log(y) - mu
    below = s < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        zl, zh = s / sl, s / sh
    cdf = np.where(below, ndtr(zl), ndtr(zh))
    partial = np.where(
        below,
        em * el * ndtr(zl - sl),
        em * (el * ndtr(-sl) + eh * (ndtr(zh - sh) - ndtr(-sh))),
    )
    e_abs = mean - y + 2 * (y * cdf - partial)
    xfx = em * (el * _bvn_tail(sl) + eh * (ndtr(sh / SQRT2) - _bvn_tail(sh)))
    return e_abs - 2 * xfx + mean


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
    """Scores of each observation against the line's median and band.

    Symmetric bands (on the metric's own axis: offsets ±a, or factors ×1/k…×k) use the normal
    (log-normal) in closed form. Asymmetric ones use the two-piece distribution, so the median
    stays the stated median. A band drawn (with explicit points) that does not hold the median
    cannot honour both: there the distribution is fitted to the band's ends alone."""
    y, m, lo, hi = _f(actual), _f(median), _f(low), _f(high)
    n = y.shape[0] if y.ndim else 1
    y, m, lo, hi = (np.broadcast_to(a, (n,)).astype(np.float64) for a in (y, m, lo, hi))
    crps, pct = np.empty(n), np.empty(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.log10(y / m) if log else (y - m) / np.abs(m)
        centre, s_low, s_high = two_piece_from_band(m, lo, hi, coverage, log)
        holds = (lo <= m) & (m <= hi) & np.isfinite(centre)
        symmetric = holds & np.isclose(s_low, s_high, rtol=1e-9, atol=0)
        two_piece = holds & ~symmetric
        fitted = ~holds
        if symmetric.any():
            k = symmetric
            sigma = (s_low[k] + s_high[k]) / 2
            if log:
                crps[k] = crps_lognormal(y[k], centre[k], sigma)
                pct[k] = 100 * ndtr((np.log(y[k]) - centre[k]) / sigma)
            else:
                crps[k] = crps_normal(y[k], centre[k], sigma)
                pct[k] = 100 * ndtr((y[k] - centre[k]) / sigma)
        if two_piece.any():
            k = two_piece
            at = np.log(y[k]) if log else y[k]
            pct[k] = 100 * two_piece_cdf(at, centre[k], s_low[k], s_high[k])
            crps[k] = (
                crps_two_piece_lognormal(y[k], centre[k], s_low[k], s_high[k])
                if log
                else crps_two_piece_normal(y[k], centre[k], s_low[k], s_high[k])
            )
        if fitted.any():
            k = fitted
            mu, sigma = fit_from_band(lo[k], hi[k], coverage, log)
            if log:
                crps[k] = crps_lognormal(y[k], mu, sigma)
                pct[k] = 100 * ndtr((np.log(y[k]) - mu) / sigma)
            else:
                crps[k] = crps_normal(y[k], mu, sigma)
                pct[k] = 100 * ndtr((y[k] - mu) / sigma)
    return PointScores(
        actual=y,
        median=m,
        low=lo,
        high=hi,
        error=error,
        inside=(y >= lo) & (y <= hi),
        percentile=pct,
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
    bias: float | None  # geometric mean of actual / predicted: the direction
    worst_error: float | None  # the largest |error|, signed
    typical_miss: float | None = None  # exp(mean |ln(actual / predicted)|) ≥ 1: the size
    band_reach: float | None = None  # typical factor from the median to the band's end
    n_inside: int = 0

    @property
    def coverage_gap(self) -> float | None:
        if self.coverage_observed is None:
            return None
        return self.coverage_observed - self.coverage_stated

    @property
    def report(self) -> BiasReport:
        return bias_report([self])


def _mean(x: Floats) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def _log_ratios(actual: ArrayLike, median: ArrayLike) -> Floats | None:
    y, m = _f(actual), _f(median)
    if y.size == 0 or (y <= 0).any() or (m <= 0).any():
        return None
    return np.log(y / m)


def geometric_bias(actual: ArrayLike, median: ArrayLike) -> float | None:
    """Geometric mean of actual/predicted; None unless every pair is positive."""
    r = _log_ratios(actual, median)
    return None if r is None else float(np.exp(np.mean(r)))


def typical_miss(actual: ArrayLike, median: ArrayLike) -> float | None:
    """exp(mean |ln(actual/predicted)|): how far off, whichever way (1 = on the median)."""
    r = _log_ratios(actual, median)
    return None if r is None else float(np.exp(np.mean(np.abs(r))))


def band_reach(
    actual: ArrayLike, median: ArrayLike, low: ArrayLike, high: ArrayLike
) -> float | None:
    """The typical factor the band allows from the median, on the side each observation fell
    (high/median above it, median/low below it): a miss beyond it is outside the band."""
    y, m, lo, hi = _f(actual), _f(median), _f(low), _f(high)
    if y.size == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(y >= m, hi / m, m / lo)
    ok = np.isfinite(reach) & (reach >= 1) & (m > 0)
    if not ok.any():
        return None
    return float(np.exp(np.mean(np.log(reach[ok]))))


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
        typical_miss=typical_miss(scores.actual, scores.median),
        band_reach=band_reach(scores.actual, scores.median, scores.low, scores.high),
        n_inside=int(scores.inside.sum()),
    )


# --------------------------------------------------------------------------- bias in words
CLOSE = 1.1  # a typical miss within 10% (and within the band) reads as "close"
ON_TARGET = 1.05  # a lean within 5% has no direction worth naming


def _factor(x: float) -> str:
    return f"{x:.2g}×" if x < 10 else f"{x:.0f}×"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _way(bias: float) -> str:
    return f"{_factor(bias)} ahead" if bias >= 1 else f"{_factor(1 / bias)} behind"


def _lean(bias: float) -> str:
    return _way(bias) + (" of" if bias >= 1 else "")


@dataclass(frozen=True)
class BiasReport:
    """Direction and size of the misses of one or more lines, kept apart.

    `bias` is the geometric mean of each line's actual/predicted (the lean: 2 = reality ran
    2× ahead); `typical_miss` is exp(mean over lines of their mean |ln(actual/predicted)|)
    (the size: 2.6 = typically off by 2.6×, whichever way); `band_reach` the typical factor
    the bands allowed; `hit_rate` the share of observations inside the bands against
    `stated` coverage. Lines weigh equally, whatever their number of observations."""

    n_lines: int
    n_points: int
    bias: float | None
    typical_miss: float | None
    band_reach: float | None
    hit_rate: float | None
    stated: float | None
    lowest: float | None = None  # the line furthest behind (its bias)
    highest: float | None = None  # the line furthest ahead

    @property
    def beyond_band(self) -> bool:
        return (
            self.typical_miss is not None
            and self.band_reach is not None
            and self.typical_miss > self.band_reach
        )

    @property
    def close(self) -> bool:
        return self.typical_miss is not None and self.typical_miss <= CLOSE and not self.beyond_band

    @property
    def both_ways(self) -> bool:
        """Misses in opposite directions that (partly) cancel in the lean."""
        if self.bias is None or self.typical_miss is None or self.close:
            return False
        lean, size = abs(math.log(self.bias)), math.log(self.typical_miss)
        return lean < 0.5 * size

    @property
    def phrase(self) -> str:
        """Short, for a table cell: 'reality ran 12× behind your median', 'typically off by
        2.2×, in both directions', 'close to your median'; '' when unknown."""
        if self.bias is None:
            return ""
        if self.close:
            return "reality ran close to your median"
        if self.typical_miss is not None and (
            self.both_ways or (1 / ON_TARGET <= self.bias <= ON_TARGET)
        ):
            return f"typically off by {_factor(self.typical_miss)}, in both directions"
        return f"reality ran {_lean(self.bias)} your median"

    @property
    def sentence(self) -> str:
        """A plain sentence about size, direction and the bands; '' when nothing is scored."""
        if not self.n_lines or self.bias is None or self.typical_miss is None:
            return self._hits_sentence()
        one = self.n_lines == 1
        start = "Reality" if one else f"Across {self.n_lines} lines, reality"
        median, bands = ("your median", "band") if one else ("your medians", "bands")
        if self.close:
            # Rounded up: a 0.3% miss is "within 1%", never "within 0%".
            within = math.ceil(round((self.typical_miss - 1) * 100, 6))
            text = f"{start} ran close to {median} (typically within {within}%)"
        else:
            text = f"{start} was typically off by {_factor(self.typical_miss)}"
            if self.beyond_band:
                text += f" (your {bands} allowed about ×{self.band_reach:.2g})"
            if self.both_ways:
                spread = ""
                if not one and self.lowest is not None and self.highest is not None:
                    spread = f": from {_way(self.lowest)} to {_way(self.highest)}"
                text += (
                    f", in both directions{spread}, so the misses cancel out in the average "
                    f"({self.bias:.2g}×)"
                )
            elif 1 / ON_TARGET <= self.bias <= ON_TARGET:
                text += ", with no overall lean"
            else:
                text += f", and ran {_lean(self.bias)} {median} on average"
        return (text + ". " + self._hits_sentence()).strip()

    def _hits_sentence(self) -> str:
        if self.hit_rate is None or self.stated is None or not self.n_points:
            return ""
        bands = "band" if self.n_lines == 1 else "bands"
        text = (
            f"{self.hit_rate:.0%} of {_plural(self.n_points, 'observation')} fell inside the "
            f"{bands}, against the {self.stated:.0%} stated"
        )
        were = "was" if self.n_lines == 1 else "were"
        narrow = self.hit_rate < self.stated - 0.15
        wide = self.hit_rate > min(1.0, self.stated + 0.15)
        if (narrow or wide) and not coverage_departs(self.n_points, self.hit_rate, self.stated):
            are = "is" if self.n_points == 1 else "are"
            text += f": {_plural(self.n_points, 'observation')} {are} too few to judge the {bands}"
        elif narrow:
            text += f": the {bands} {were} too narrow"
        elif wide:
            text += f": the {bands} {were} wider than needed"
        return text + "."


def sigma_in_nats(z: float) -> float:
    """A miss of z standard deviations as −ln of its two-sided probability (3σ ≈ 5.9 nats),
    so it ranks beside a threshold's log score: a 0.7% call that happened is 4.96 nats."""
    return -(math.log(2.0) + float(log_ndtr(-abs(z))))


def coverage_departs(n: int, hit_rate: float, stated: float, alpha: float = 0.05) -> bool:
    """Is `hit_rate` of `n` observations inside the bands unlikely (one-sided binomial tail
    below `alpha`) if the bands really held `stated`? 1 of 1 inside an 80% band happens 80%
    of the time: it says nothing about the band; 0 of 8 inside happens 0.00026% of the time."""
    if n <= 0 or not 0 < stated < 1:
        return False
    hits = round(hit_rate * n)
    if hit_rate < stated:
        return float(bdtr(hits, n, stated)) < alpha  # P(at most `hits` inside)
    return float(bdtrc(hits - 1, n, stated)) < alpha  # P(at least `hits` inside)


def bias_report(summaries: Sequence[Summary | None]) -> BiasReport:
    """One report over several lines' summaries (lines without scored points are skipped)."""
    used = [s for s in summaries if s is not None and s.n]
    n_points = sum(s.n for s in used)
    hits = sum(s.n_inside for s in used)
    stated = (sum(s.coverage_stated * s.n for s in used) / n_points) if n_points else None
    biased = [s for s in used if s.bias and s.typical_miss]
    if not biased:
        return BiasReport(
            len(used), n_points, None, None, None, hits / n_points if n_points else None, stated
        )
    logs = [math.log(s.bias) for s in biased if s.bias]
    reaches = [math.log(s.band_reach) for s in biased if s.band_reach]
    return BiasReport(
        n_lines=len(used),
        n_points=n_points,
        bias=math.exp(sum(logs) / len(logs)),
        typical_miss=math.exp(
            sum(math.log(s.typical_miss) for s in biased if s.typical_miss) / len(biased)
        ),
        band_reach=math.exp(sum(reaches) / len(reaches)) if reaches else None,
        hit_rate=hits / n_points,
        stated=stated,
        lowest=math.exp(min(logs)),
        highest=math.exp(max(logs)),
    )


def bias_phrase(bias: float | None) -> str:
    """The lean alone, for callers that only have a bias (prefer `BiasReport.phrase`)."""
    if bias is None:
        return ""
    if 1 / ON_TARGET <= bias <= ON_TARGET:
        return "no overall lean"
    return f"reality ran {_lean(bias)} your median"


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
