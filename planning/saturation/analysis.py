"""Saturation analysis: is a form factor still turning model gains into product gains?

Pure, typed functions over plain values (no Django). The verdict rests on a comparison of
models fitted to all readings (planning.saturation.fitting): a curve that levels off
(logistic) against steady or accelerating growth (linear, exponential) and against no response
at all (a flat line), by AICc. Saturating means the levelling curve (or the flat line) is
clearly the better explanation and the latest model sits near the fitted ceiling. Two
signals support it in words:

1. Elasticity over the trailing window: a regression of the product on capability across the
   last third of the readings (at least 4), as relative changes (logs on a log scale), with
   its 95% interval, and the fitted curve's elasticity at the latest model.
2. A model-upgrade event study: the product change at each of the last releases compared
   with the noise level (the residual spread around the best model).

"Not enough evidence" is a legitimate answer (fewer than 5 readings). Every number handed out
is finite or None, so nothing downstream can print NaN. A ceiling and its interval are given
only when the fit supports them: the levelling curve beats both growth and a flat line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol, TypedDict, cast

import numpy as np

from . import fitting

Scale = Literal["linear", "log"]
Vote = bool | None  # True: saturating, False: still growing, None: withheld
VerdictKind = Literal["insufficient", "growing", "unclear", "saturating"]


@dataclass(frozen=True)
class Point:
    """One reading: a model generation with its capability and product metric values."""

    model: str
    capability: float | None
    product: float | None
    released: date | None = None
    scale: Scale = "linear"
    metric: str = ""
    source: str = ""


class Reading(Protocol):
    """A Point that `comparable_series` kept: its capability and product are finite numbers."""

    @property
    def model(self) -> str: ...
    @property
    def capability(self) -> float: ...
    @property
    def product(self) -> float: ...
    @property
    def released(self) -> date | None: ...
    @property
    def scale(self) -> Scale: ...
    @property
    def metric(self) -> str: ...
    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class Thresholds:
    elasticity: float = 0.1  # ε below this counts as "no longer responding"
    consecutive: int = 2  # releases looked at by the event study: window + consecutive - 1
    window: int = 2  # model generations spanned by one (displayed) elasticity window
    min_readings: int = 5  # below this the verdict is withheld
    saturated_share: float = 0.9  # share of the fitted ceiling that counts as "at the ceiling"
    max_ceiling_ci: float = 0.25  # ceiling CI half-width, relative to the ceiling
    evidence: float = 2.0  # AICc difference that counts as evidence for one model over another
    noise_z: float = 2.0  # a release's gain must exceed this many noise SDs to count
    noise_floor: float = 0.005  # readings are never taken as more precise than this share

    @property
    def span(self) -> int:
        """Model upgrades covered by the last K windows (and by the event study)."""
        return self.window + self.consecutive - 1


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    capability_change: float  # relative (log ratio on log scale)
    product_change: float
    elasticity: float | None  # None when capability did not rise
    below: bool  # elasticity below the threshold while capability rose


@dataclass(frozen=True)
class ElasticitySignal:
    windows: list[Window]  # generation to generation, shown per reading (not voted on)
    vote: Vote
    reason: str
    value: float | None = None  # regression over the trailing window
    low: float | None = None
    high: float | None = None
    readings: int = 0  # in the trailing window
    at_latest: float | None = None  # of the best-fitting curve, at the latest model


@dataclass(frozen=True)
class Comparison:
    """The models fitted to all readings, compared by AICc (lower is better)."""

    vote: Vote
    reason: str
    aicc: dict[str, float] = field(default_factory=dict)
    best: str | None = None
    best_growing: str | None = None
    delta_growing: float | None = None  # AICc(best growing) - AICc(logistic): > 0 favours it
    delta_flat: float | None = None  # AICc(flat) - AICc(logistic)
    residual_sd: float | None = None  # of the best model, in the metric's units


class _ComparisonFigures(TypedDict):
    aicc: dict[str, float]
    best: str
    best_growing: str | None
    delta_growing: float | None
    delta_flat: float | None
    residual_sd: float | None


@dataclass(frozen=True)
class LogisticSignal:
    vote: Vote
    reason: str
    ceiling: float | None = None
    ceiling_low: float | None = None
    ceiling_high: float | None = None
    steepness: float | None = None  # per unit of capability
    midpoint: float | None = None  # capability at half the ceiling
    share: float | None = None  # fitted product at the latest capability / ceiling
    residual_sd: float | None = None
    supported: bool = False  # beats both growth and a flat line: ceiling shown

    @property
    def fitted(self) -> bool:
        return self.ceiling is not None

    def curve(self, capability: float) -> float | None:
        if self.ceiling is None or self.steepness is None or self.midpoint is None:
            return None
        return _finite(_logistic_value(capability, self.ceiling, self.steepness, self.midpoint))


@dataclass(frozen=True)
class Upgrade:
    previous: str
    model: str
    capability_change: float  # relative
    product_change: float  # in the metric's units
    z: float | None  # product change / noise SD of a difference
    significant: bool  # a gain beyond the noise


@dataclass(frozen=True)
class EventSignal:
    upgrades: list[Upgrade]
    noise_sd: float | None
    vote: Vote
    reason: str


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    headline: str
    reasons: list[str]
    notes: list[str]  # data problems: readings left out and why
    points: list[Reading]  # the comparable series the signals used, oldest first
    elasticity: ElasticitySignal
    logistic: LogisticSignal
    events: EventSignal
    scale: Scale = "linear"
    metric: str = ""
    source: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    comparison: Comparison = field(default_factory=lambda: Comparison(None, ""))

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.kind]

    @property
    def signals(self) -> list[tuple[str, Vote, str]]:
        return [
            ("Model comparison", self.comparison.vote, self.comparison.reason),
            ("Ceiling", self.logistic.vote, self.logistic.reason),
            ("Elasticity", self.elasticity.vote, self.elasticity.reason),
            ("Model-upgrade events", self.events.vote, self.events.reason),
        ]


VERDICT_LABELS: dict[str, str] = {
    "insufficient": "Not enough evidence",
    "growing": "Still growing",
    "unclear": "Mixed signals",
    "saturating": "Saturating",
}


# ----------------------------------------------------------------------------- helpers
def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _is_number(value: float | None) -> bool:
    return value is not None and math.isfinite(float(value))


def relative_change(before: float, after: float, scale: Scale) -> float:
    """ln(after/before) on a log scale; the arc (midpoint) relative difference otherwise."""
    if scale == "log":
        return math.log(after / before)
    mean = (abs(before) + abs(after)) / 2
    if mean == 0:
        return 0.0
    return (after - before) / mean


def percent(value: float) -> str:
    """A magnitude in words-friendly percent: 0.4 -> '40%', 0.012 -> '1.2%'."""
    pct = abs(value) * 100
    if 99.5 <= pct < 100:  # 0.9986 is not "100%"
        return f"{math.floor(pct * 10) / 10:.1f}%"
    if pct >= 10 or pct == 0:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"


def plain_change(before: float, after: float) -> float | None:
    """Simple percent change (after/before - 1), None when the base is zero or negative."""
    if before <= 0:
        return None
    return _finite(after / before - 1)  # a tiny base can overflow: 'inf%' says nothing


def _describe_change(label: str, before: float, after: float, points: bool = False) -> str:
    """'raised task success 4.2 percentage points (7.0% relative)' for a metric in percent,
    'raised capability 38% (relative)' otherwise: never a bare, ambiguous '7.0%'."""
    change = plain_change(before, after)
    if change is None:
        return f"moved {label} from {number(before)} to {number(after)}"
    if abs(change) < 0.0005:
        return f"left {label} unchanged"
    verb = "raised" if change > 0 else "lowered"
    if points:
        gap = abs(after - before)
        unit = "percentage point" if gap == 1 else "percentage points"
        return f"{verb} {label} {number(gap)} {unit} ({percent(change)} relative)"
    return f"{verb} {label} {percent(change)} (relative)"


def in_metric(value: float, metric: str, difference: bool = False) -> str:
    """A product value (or a difference of two) with the metric's unit: '10 tasks per week',
    '64%' or '0.5 percentage points' for a metric in percent, the bare number without one."""
    if in_percent(metric):
        return f"{number(value)} percentage points" if difference else f"{number(value)}%"
    return f"{number(value)} {metric}" if metric else number(value)


def in_percent(metric: str) -> bool:
    """A metric measured in percent ('Task success (%)', 'CSAT percent')."""
    text = metric.casefold()
    return "%" in text or "percent" in text


def number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _there_are(n: int) -> str:
    return "there are none" if n == 0 else "there is only 1" if n == 1 else f"there are {n}"


# ----------------------------------------------------------------------------- series
def comparable_series(points: Sequence[Point]) -> tuple[list[Reading], list[str]]:
    """The readings that can be compared with each other, oldest first, and notes on the rest.

    The latest reading fixes the product metric, its scale and the capability source;
    readings measured differently, with missing or non-finite values, non-positive values on
    a log scale, or repeating a model generation are left out with a note.
    """
    notes: list[str] = []
    ordered = sorted(
        points,
        key=lambda p: (p.released or date.max, p.capability if _is_number(p.capability) else 0),
    )
    if not ordered:
        return [], notes
    latest = ordered[-1]
    kept: list[Reading] = []
    seen: set[str] = set()
    for p in ordered:
        key = p.model.strip().casefold()
        if key in seen:
            notes.append(f"{p.model} appears more than once; only its first reading is used.")
            continue
        if p.metric.strip().casefold() != latest.metric.strip().casefold():
            notes.append(f"{p.model} measures “{p.metric}”, not “{latest.metric}”; it is left out.")
            continue
        if p.source.strip().casefold() != latest.source.strip().casefold():
            notes.append(
                f"{p.model}'s capability comes from “{p.source}”, not “{latest.source}”; "
                "it is left out."
            )
            continue
        if p.scale != latest.scale:
            notes.append(f"{p.model} uses a {p.scale} scale, not {latest.scale}; it is left out.")
            continue
        if not _is_number(p.capability) or not _is_number(p.product):
            notes.append(f"{p.model} has no capability or product value; it is left out.")
            continue
        reading = cast(Reading, p)  # both values are finite numbers, checked just above
        if latest.scale == "log" and (reading.capability <= 0 or reading.product <= 0):
            notes.append(
                f"{p.model} has a zero or negative value, which a log scale cannot show; "
                "it is left out."
            )
            continue
        seen.add(key)
        kept.append(reading)
    for earlier, later in zip(kept, kept[1:], strict=False):
        if later.capability < earlier.capability:
            notes.append(
                f"Capability went down from {earlier.model} to {later.model}; that step says "
                "nothing about saturation and is not counted."
            )
    return kept, notes


# ----------------------------------------------------------------------------- elasticity
def elasticity_windows(points: Sequence[Reading], scale: Scale, window: int = 1) -> list[Window]:
    """ε for each trailing window of `window` generations, oldest first."""
    threshold_free: list[Window] = []
    for i in range(window, len(points)):
        a, b = points[i - window], points[i]
        dc = relative_change(a.capability, b.capability, scale)
        dy = relative_change(a.product, b.product, scale)
        eps = _finite(dy / dc) if dc > 0 else None
        threshold_free.append(Window(a.model, b.model, dc, dy, eps, False))
    return threshold_free


def _trailing(n: int) -> int:
    """Readings in the trailing window: the last third, at least 4 (all of a short series)."""
    return min(n, max(4, math.ceil(n / 3)))


def elasticity_signal(
    points: Sequence[Reading],
    scale: Scale,
    t: Thresholds = Thresholds(),
    at_latest: float | None = None,
) -> ElasticitySignal:
    """Elasticity over the trailing window by regression on all its readings (not two-point
    differences): the slope of ln(product) on ln(capability) on a log scale, of
    product/mean on capability/mean on a linear one, with its 95% interval."""
    windows = [
        Window(
            w.start,
            w.end,
            w.capability_change,
            w.product_change,
            w.elasticity,
            w.elasticity is not None and w.elasticity < t.elasticity,
        )
        for w in elasticity_windows(points, scale, 1)
    ]
    m = _trailing(len(points))
    tail = points[-m:]
    if len(tail) < 4:
        return ElasticitySignal(
            windows, None, f"Needs 4 readings; {_there_are(len(points))}.", at_latest=at_latest
        )
    c = np.array([p.capability for p in tail], dtype=float)
    y = np.array([p.product for p in tail], dtype=float)
    first, last = tail[0].model, tail[-1].model
    if not c[-1] > c[0] or c.min() <= 0:
        return ElasticitySignal(
            windows,
            None,
            f"Capability did not rise from {first} to {last}, so elasticity cannot be read there.",
            readings=m,
            at_latest=at_latest,
        )
    if scale == "log":
        xs, ys = np.log(c), np.log(y)
    else:
        level = float(np.mean(y))
        if abs(level) <= 1e-12 or np.any(y <= 0):
            return ElasticitySignal(
                windows,
                None,
                "Elasticity is a ratio of relative changes; it cannot be read on values at or "
                "below zero.",
                readings=m,
                at_latest=at_latest,
            )
        xs, ys = c / float(np.mean(c)), y / level
    estimate = fitting.slope_interval(xs, ys)
    if estimate is None:
        return ElasticitySignal(windows, None, "Elasticity could not be estimated.", readings=m)
    value, low, high = (_finite(v) for v in estimate)
    curve = (
        f" The fitted curve's elasticity at {last} is {number(at_latest)}."
        if at_latest is not None
        else ""
    )
    span = f"over the last {m} readings ({first} → {last})"
    interval = f"{number(value)} (95% interval {number(low)} to {number(high)})"
    if high is not None and high < t.elasticity:
        vote: Vote = True
        reason = f"Elasticity {span} is {interval}: below {number(t.elasticity)}.{curve}"
    elif low is not None and low > t.elasticity:
        vote = False
        reason = f"Elasticity {span} is {interval}: above {number(t.elasticity)}.{curve}"
    else:
        vote = None
        reason = (
            f"Elasticity {span} is {interval}: too uncertain to say whether it is below "
            f"{number(t.elasticity)}.{curve}"
        )
    return ElasticitySignal(windows, vote, reason, value, low, high, m, _finite(at_latest))


# ----------------------------------------------------------------------------- model fits
@dataclass(frozen=True)
class _Fitted:
    fits: dict[str, fitting.Fit]
    c_min: float
    spread: float
    c_last: float
    y_max: float


def _logistic_value(c: float, ceiling: float, steepness: float, midpoint: float) -> float:
    z = max(-500.0, min(500.0, -steepness * (c - midpoint)))
    return ceiling / (1.0 + math.exp(z))


def _fit(points: Sequence[Reading], scale: Scale) -> _Fitted | str:
    """Every model fitted to all readings, or why none can be."""
    c = np.array([p.capability for p in points], dtype=float)
    y = np.array([p.product for p in points], dtype=float)
    c_min, spread = float(c.min()), float(c.max() - c.min())
    if spread <= 0:
        return "Capability never changed, so there is no curve to fit."
    if scale == "log" and np.any(y <= 0):
        return "A log scale needs positive product values."
    fits = fitting.fit_all((c - c_min) / spread, y, scale)
    return _Fitted(fits, c_min, spread, float(c[-1]), float(y.max()))


_MODEL_WORDS = {
    "constant": "a flat line (no response)",
    "linear": "steady (linear) growth",
    "exponential": "accelerating (exponential) growth",
    "logistic": "a curve that levels off (logistic)",
}


def _ratio(delta: float) -> str:
    ratio = fitting.evidence_ratio(abs(delta))
    return "over 1,000 to 1" if ratio > 1000 else f"about {ratio:.0f} to 1"


def compare(fitted: _Fitted | str, t: Thresholds = Thresholds()) -> Comparison:
    if isinstance(fitted, str):
        return Comparison(None, fitted)
    aicc = {name: f.aicc for name, f in fitted.fits.items() if math.isfinite(f.aicc)}
    if "logistic" not in aicc:
        n = next(iter(fitted.fits.values())).n
        return Comparison(
            None,
            "Too few readings to compare a levelling curve with growth "
            f"(a curve with a ceiling needs at least {t.min_readings})."
            if n < t.min_readings
            else "No curve that levels off fits these readings, so it cannot be compared "
            "with growth.",
            aicc,
        )
    best = min(aicc, key=aicc.__getitem__)
    growing: list[str] = [m for m in fitting.GROWING if m in aicc]
    best_growing = min(growing, key=aicc.__getitem__) if growing else None
    d_grow = aicc[best_growing] - aicc["logistic"] if best_growing else None
    d_flat = aicc["constant"] - aicc["logistic"] if "constant" in aicc else None
    sd = fitted.fits[best].residual_sd
    common: _ComparisonFigures = {
        "aicc": aicc,
        "best": best,
        "best_growing": best_growing,
        "delta_growing": d_grow,
        "delta_flat": d_flat,
        "residual_sd": _finite(sd),
    }
    n = next(iter(fitted.fits.values())).n
    if best == "constant":
        rival = best_growing or "logistic"
        gap = aicc[rival] - aicc["constant"]
        return Comparison(
            True,
            f"Of the models fitted to all {n} readings, {_MODEL_WORDS['constant']} fits best: "
            f"AICc {number(gap)} lower than {_MODEL_WORDS[rival]} (evidence {_ratio(gap)}).",
            **common,
        )
    if best == "logistic":
        assert d_grow is not None
        strong = d_grow >= t.evidence and (d_flat is None or d_flat >= t.evidence)
        return Comparison(
            True if strong else None,
            f"Of the models fitted to all {n} readings, {_MODEL_WORDS['logistic']} fits best: "
            f"AICc {number(d_grow)} lower than {_MODEL_WORDS[best_growing or 'linear']} "
            f"(evidence {_ratio(d_grow)})"
            + ("." if strong else f", below the {number(t.evidence)} that counts as evidence."),
            **common,
        )
    gap = -(d_grow or 0.0)
    return Comparison(
        False if gap >= t.evidence else None,
        f"Of the models fitted to all {n} readings, {_MODEL_WORDS[best]} fits best: AICc "
        f"{number(gap)} lower than {_MODEL_WORDS['logistic']} (evidence {_ratio(gap)}).",
        **common,
    )


def logistic_signal(
    points: Sequence[Reading],
    t: Thresholds = Thresholds(),
    fitted: _Fitted | str | None = None,
    comparison: Comparison | None = None,
    scale: Scale | None = None,
) -> LogisticSignal:
    """The ceiling, shown only when the fit supports it: the levelling curve beats both growth
    and a flat line by the evidence margin, and its 95% interval is narrow enough."""
    n = len(points)
    if n < t.min_readings:
        return LogisticSignal(
            None, f"A curve needs at least {t.min_readings} readings; {_there_are(n)}."
        )
    scale = scale or points[-1].scale
    fitted = _fit(points, scale) if fitted is None else fitted
    if isinstance(fitted, str):
        return LogisticSignal(None, fitted)
    comparison = comparison or compare(fitted, t)
    fit = fitted.fits.get("logistic")
    if fit is None:
        return LogisticSignal(None, "The levelling curve could not be fitted to these readings.")
    ceiling, k, x0 = fit.params
    steepness, midpoint = k / fitted.spread, fitted.c_min + x0 * fitted.spread
    share = _finite(_logistic_value(fitted.c_last, ceiling, steepness, midpoint) / ceiling)
    half = fitting.ceiling_interval(fit)
    if comparison.best == "constant":
        return LogisticSignal(
            None,
            "The product never rose with capability, so the readings show no ceiling: only "
            "a level of about "
            f"{in_metric(float(np.mean([p.product for p in points])), points[-1].metric)}.",
        )
    if comparison.best != "logistic" or comparison.vote is not True:
        at_bound = ceiling >= 0.99 * fitting.MAX_CEILING * fitted.y_max
        if comparison.best in fitting.GROWING and (at_bound or (share or 0) < t.saturated_share):
            return LogisticSignal(
                False, "No ceiling is in sight: growth explains the readings better."
            )
        return LogisticSignal(
            None,
            "The readings do not support a ceiling: a levelling curve does not fit them "
            "clearly better than growth.",
        )
    if half is None or half > t.max_ceiling_ci * ceiling:
        interval = (
            f"anywhere from {number(max(ceiling - half, 0))} to {number(ceiling + half)}"
            if half is not None
            else "not pinned down"
        )
        return LogisticSignal(None, f"The curve levels off, but its ceiling is {interval}.")
    shown: _CeilingFigures = {
        "ceiling": _finite(ceiling),
        "ceiling_low": _finite(ceiling - half),
        "ceiling_high": _finite(ceiling + half),
        "steepness": _finite(steepness),
        "midpoint": _finite(midpoint),
        "share": share,
        "residual_sd": _finite(fit.residual_sd),
        "supported": True,
    }
    reached = (
        f"{percent(share or 0)} of a ceiling of {number(ceiling)} "
        f"(95% CI {number(ceiling - half)}–{number(ceiling + half)})"
    )
    if share is not None and share >= t.saturated_share:
        return LogisticSignal(True, f"The latest model reaches {reached}.", **shown)
    return LogisticSignal(False, f"The latest model reaches only {reached}.", **shown)


class _CeilingFigures(TypedDict):
    ceiling: float | None
    ceiling_low: float | None
    ceiling_high: float | None
    steepness: float | None
    midpoint: float | None
    share: float | None
    residual_sd: float | None
    supported: bool


def _elasticity_at_latest(fitted: _Fitted | str, best: str | None) -> float | None:
    """d ln(product) / d ln(capability) of the best-fitting curve at the latest model."""
    if isinstance(fitted, str) or best not in fitted.fits:
        return None
    fit = fitted.fits[best]
    x = np.array([(fitted.c_last - fitted.c_min) / fitted.spread])
    value = float(fitting.predict(fit.model, fit.params, x)[0])
    slope = float(fitting.slope(fit.model, fit.params, x)[0]) / fitted.spread
    if value <= 0:
        return None
    return _finite(slope * fitted.c_last / value)


# ----------------------------------------------------------------------------- event study
def _linear_residual_sd(points: Sequence[Reading]) -> float | None:
    n = len(points)
    if n < 3:
        return None
    c = np.array([p.capability for p in points], dtype=float)
    y = np.array([p.product for p in points], dtype=float)
    if float(c.max() - c.min()) <= 0:
        return _finite(float(np.std(y, ddof=1)))
    slope, intercept = np.polyfit(c, y, 1)
    residuals = y - (slope * c + intercept)
    return _finite(math.sqrt(float(np.sum(residuals**2)) / (n - 2)))


def event_signal(
    points: Sequence[Reading],
    noise_sd: float | None,
    t: Thresholds = Thresholds(),
    unit: Callable[[float], str] = number,
) -> EventSignal:
    k = t.span
    upgrades: list[Upgrade] = []
    for a, b in zip(points, points[1:], strict=False):
        dc = relative_change(a.capability, b.capability, "linear")
        dy = float(b.product - a.product)
        if noise_sd is None:
            z, significant = None, False
        elif noise_sd > 0:
            z = _finite(dy / (noise_sd * math.sqrt(2)))
            significant = z is not None and z > t.noise_z
        else:
            z, significant = None, dy > 1e-12 * max(abs(a.product), abs(b.product), 1.0)
        upgrades.append(Upgrade(a.model, b.model, dc, dy, z, significant))
    if len(upgrades) < k:
        return EventSignal(
            upgrades,
            noise_sd,
            None,
            f"Needs {k} model upgrades to judge; {_there_are(len(upgrades))}.",
        )
    if noise_sd is None:
        return EventSignal(upgrades, None, None, "Too few readings to estimate the noise level.")
    last = upgrades[-k:]
    if not any(u.capability_change > 0 for u in last):
        return EventSignal(
            upgrades, noise_sd, None, f"Capability did not rise over the last {k} upgrades."
        )
    gains = [u for u in last if u.significant]
    noise = f"noise ±{unit(noise_sd)}"
    if gains:
        names = ", ".join(u.model for u in gains)
        return EventSignal(
            upgrades,
            noise_sd,
            False,
            f"{_plural(len(gains), 'release')} of the last {k} lifted the product beyond the "
            f"noise ({names}; {noise}).",
        )
    return EventSignal(
        upgrades,
        noise_sd,
        True,
        f"None of the last {k} releases lifted the product beyond the noise ({noise}).",
    )


# ----------------------------------------------------------------------------- verdict
def analyse(
    points: Sequence[Point],
    t: Thresholds = Thresholds(),
    capability_label: str = "capability",
    product_label: str = "the product metric",
) -> Verdict:
    series, notes = comparable_series(points)
    scale: Scale = series[-1].scale if series else "linear"
    metric = series[-1].metric if series else ""
    source = series[-1].source if series else ""
    n = len(series)
    if n >= t.min_readings:
        fitted: _Fitted | str = _fit(series, scale)
    else:
        fitted = f"A comparison needs at least {t.min_readings} readings; {_there_are(n)}."
    comparison = compare(fitted, t)
    logistic = logistic_signal(series, t, fitted, comparison, scale)
    elasticity = elasticity_signal(series, scale, t, _elasticity_at_latest(fitted, comparison.best))
    noise = comparison.residual_sd
    if noise is not None and scale == "log":  # residuals of ln(product): back to its units
        noise = _finite(abs(series[-1].product) * (math.exp(noise) - 1))
    if noise is None:
        noise = _linear_residual_sd(series)
    if noise is not None and series:
        level = sum(abs(p.product) for p in series) / len(series)
        noise = max(noise, t.noise_floor * level)
    events = event_signal(series, noise, t, lambda v: in_metric(v, metric, difference=True))

    def verdict(kind: VerdictKind, headline: str, reasons: list[str]) -> Verdict:
        return Verdict(
            kind,
            headline,
            reasons,
            notes,
            series,
            elasticity,
            logistic,
            events,
            scale,
            metric,
            source,
            t,
            comparison,
        )

    if n < t.min_readings:
        have = "no comparable readings" if n == 0 else f"only {_plural(n, 'comparable reading')}"
        return verdict(
            "insufficient",
            f"Not enough evidence yet: {have}; at least {t.min_readings} are needed.",
            [
                f"Add a reading for each model generation; {t.min_readings} or more let the "
                "models be compared."
            ],
        )

    span = min(t.span, n - 1)
    first, last = series[-1 - span], series[-1]
    generations = "model generation" if span == 1 else f"{span} model generations"
    capability_change = _describe_change(
        capability_label,
        first.capability,
        last.capability,
        in_percent(source),
    )
    product_change = _describe_change(
        product_label,
        first.product,
        last.product,
        in_percent(metric),
    )
    story = (
        f"The last {generations} ({first.model} → {last.model}) {capability_change} and "
        f"{product_change}."
    )
    signals: list[Comparison | LogisticSignal | ElasticitySignal | EventSignal]
    signals = [comparison, logistic, elasticity, events]
    reasons = [s.reason for want in (True, False, None) for s in signals if s.vote is want]
    support = _support(elasticity, events)
    best = comparison.best

    if isinstance(fitted, str):
        return verdict("insufficient", f"{story} Not enough evidence: {fitted}", reasons)
    window = series[-elasticity.readings :] if elasticity.readings else series
    if not window[-1].capability > window[0].capability:
        return verdict(
            "unclear",
            f"{story} Mixed signals: capability did not rise over the last {len(window)} "
            f"readings ({window[0].model} → {window[-1].model}), so they cannot show whether "
            "more capability still helps.",
            reasons,
        )
    if best == "constant":
        if elasticity.vote is True or (elasticity.high is not None and elasticity.high < 0.5):
            return verdict(
                "saturating",
                f"{story} Saturating: {product_label} has not responded to capability; a flat "
                f"line explains the readings best{support}.",
                reasons,
            )
        return verdict(
            "unclear",
            f"{story} Mixed signals: a flat line fits best, but the readings are too noisy to "
            "rule out slow growth.",
            reasons,
        )
    if best == "logistic":
        near = logistic.share is not None and logistic.share >= t.saturated_share
        if comparison.vote is True and logistic.supported and near:
            return verdict(
                "saturating",
                f"{story} Saturating: a curve that levels off fits all {n} readings better "
                f"than growth, and the latest model is at {percent(logistic.share or 0)} of its "
                f"ceiling of {number(logistic.ceiling)}{support}.",
                reasons,
            )
        if comparison.vote is True and logistic.supported:
            return verdict(
                "growing",
                f"{story} Still growing: the readings follow a curve that levels off, but the "
                f"latest model is only at {percent(logistic.share or 0)} of its ceiling.",
                reasons,
            )
        share = _fitted_share(fitted)
        if share is not None and share < t.saturated_share:
            return verdict(
                "growing",
                f"{story} Still growing: the best curve that levels off puts the latest model "
                f"at only {percent(share)} of a ceiling the readings do not pin down.",
                reasons,
            )
        why = (
            "its ceiling is too uncertain"
            if comparison.vote is True
            else "not by enough to count as evidence"
        )
        return verdict(
            "unclear",
            f"{story} Mixed signals: a curve that levels off fits best, but {why}.",
            reasons,
        )
    if _falling(fitted, best):
        return verdict(
            "unclear",
            f"{story} Mixed signals: {product_label} falls as capability rises, which is "
            "neither growth nor a curve that levels off; look for what else changed.",
            reasons,
        )
    if comparison.vote is False:
        return verdict(
            "growing",
            f"{story} Still growing: {_MODEL_WORDS[best or 'linear']} explains the readings "
            "better than a curve that levels off.",
            reasons,
        )
    share = _fitted_share(fitted)
    if share is not None and share < t.saturated_share:
        return verdict(
            "growing",
            f"{story} Still growing: {_MODEL_WORDS[best or 'linear']} fits best, and even the "
            f"best levelling curve puts the latest model at only {percent(share)} of its "
            "ceiling.",
            reasons,
        )
    return verdict(
        "unclear",
        f"{story} Mixed signals: growth fits best, but not clearly better than a curve that "
        "levels off.",
        reasons,
    )


def _falling(fitted: _Fitted | str, best: str | None) -> bool:
    """Whether the best fit is a 'growth' model whose slope at the latest reading is not
    positive: the product falls as capability rises, so calling it growth would be untrue."""
    if isinstance(fitted, str):
        return False
    if best is None:  # no levelling curve to compare with: the best of the others
        finite = {m: f.aicc for m, f in fitted.fits.items() if math.isfinite(f.aicc)}
        best = min(finite, key=finite.__getitem__) if finite else None
    if best not in fitting.GROWING:
        return False
    fit = fitted.fits[best]
    x = np.array([(fitted.c_last - fitted.c_min) / fitted.spread])
    return not float(fitting.slope(fit.model, fit.params, x)[0]) > 0


def _fitted_share(fitted: _Fitted | str) -> float | None:
    """The latest model's share of the fitted logistic ceiling, supported or not."""
    if isinstance(fitted, str) or "logistic" not in fitted.fits:
        return None
    ceiling, k, x0 = fitted.fits["logistic"].params
    x = (fitted.c_last - fitted.c_min) / fitted.spread
    return _finite(_logistic_value(x, 1.0, k, x0))


def _support(elasticity: ElasticitySignal, events: EventSignal) -> str:
    """The supporting signals that agree, as a clause ('' when none does)."""
    parts = []
    if elasticity.vote is True and elasticity.high is not None:
        parts.append(
            f"elasticity over the last {elasticity.readings} readings is at most "
            f"{number(elasticity.high)}"
        )
    if events.vote is True:
        parts.append("no recent release lifted the product beyond the noise")
    return "; " + " and ".join(parts) if parts else ""
