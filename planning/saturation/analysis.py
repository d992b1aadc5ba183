"""Saturation analysis: is a form factor still turning model gains into product gains?

Pure, typed functions over plain values (no Django). Three independent signals, then a
combined verdict with its reasons written out in words:

1. Elasticity of the product metric to capability over trailing windows:
   ε = Δln y / Δln c on a log scale, or relative differences on a linear scale
   (Δy / mean(y)) / (Δc / mean(c)). Saturating when ε stays below a threshold (default 0.1)
   for K consecutive windows while capability keeps rising.
2. A logistic fit of product against capability (scipy's curve_fit, bounded, several
   starting points): the ceiling, the share of it already reached and the ceiling's
   confidence interval. Withheld when the interval is too wide or there are too few readings.
3. A model-upgrade event study: the product change at each of the last K releases compared
   with the noise level (the residual spread around the fitted curve).

"Not enough evidence" is a legitimate answer. Every number handed out is finite or None, so
nothing downstream can print NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit

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


@dataclass(frozen=True)
class Thresholds:
    elasticity: float = 0.1  # ε below this counts as "no longer responding"
    consecutive: int = 2  # K: consecutive elasticity windows that must stay below it
    window: int = 2  # model generations spanned by one elasticity window
    min_readings: int = 4  # below this the verdict is withheld
    saturated_share: float = 0.9  # share of the fitted ceiling that counts as "at the ceiling"
    max_ceiling_ci: float = 0.25  # ceiling CI half-width, relative to the ceiling
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
    windows: list[Window]
    vote: Vote
    reason: str


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
    points: list[Point]  # the comparable series the signals used, oldest first
    elasticity: ElasticitySignal
    logistic: LogisticSignal
    events: EventSignal
    scale: Scale = "linear"
    metric: str = ""
    source: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.kind]

    @property
    def signals(self) -> list[tuple[str, Vote, str]]:
        return [
            ("Elasticity", self.elasticity.vote, self.elasticity.reason),
            ("Logistic ceiling", self.logistic.vote, self.logistic.reason),
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
    if pct >= 10 or pct == 0:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"


def plain_change(before: float, after: float) -> float | None:
    """Simple percent change (after/before - 1), None when the base is zero or negative."""
    if before <= 0:
        return None
    return after / before - 1


def _describe_change(label: str, before: float, after: float) -> str:
    change = plain_change(before, after)
    if change is None:
        return f"moved {label} from {number(before)} to {number(after)}"
    if abs(change) < 0.0005:
        return f"left {label} unchanged"
    verb = "raised" if change > 0 else "lowered"
    return f"{verb} {label} {percent(change)}"


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


# ----------------------------------------------------------------------------- series
def comparable_series(points: Sequence[Point]) -> tuple[list[Point], list[str]]:
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
    kept: list[Point] = []
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
        if latest.scale == "log" and (p.capability <= 0 or p.product <= 0):  # type: ignore[operator]
            notes.append(
                f"{p.model} has a zero or negative value, which a log scale cannot show; "
                "it is left out."
            )
            continue
        seen.add(key)
        kept.append(p)
    for earlier, later in zip(kept, kept[1:], strict=False):
        if later.capability < earlier.capability:  # type: ignore[operator]
            notes.append(
                f"Capability went down from {earlier.model} to {later.model}; that step says "
                "nothing about saturation and is not counted."
            )
    return kept, notes


# ----------------------------------------------------------------------------- elasticity
def elasticity_windows(points: Sequence[Point], scale: Scale, window: int = 1) -> list[Window]:
    """ε for each trailing window of `window` generations, oldest first."""
    threshold_free: list[Window] = []
    for i in range(window, len(points)):
        a, b = points[i - window], points[i]
        dc = relative_change(a.capability, b.capability, scale)  # type: ignore[arg-type]
        dy = relative_change(a.product, b.product, scale)  # type: ignore[arg-type]
        eps = _finite(dy / dc) if dc > 0 else None
        threshold_free.append(Window(a.model, b.model, dc, dy, eps, False))
    return threshold_free


def elasticity_signal(
    points: Sequence[Point], scale: Scale, t: Thresholds = Thresholds()
) -> ElasticitySignal:
    windows = [
        Window(
            w.start,
            w.end,
            w.capability_change,
            w.product_change,
            w.elasticity,
            w.elasticity is not None and w.elasticity < t.elasticity,
        )
        for w in elasticity_windows(points, scale, t.window)
    ]
    k = t.consecutive
    phrase = (
        _plural(k, "upgrade")
        if t.window == 1
        else f"{_plural(k, 'window')} of {t.window} generations"
    )
    if len(windows) < k:
        return ElasticitySignal(
            windows,
            None,
            f"Needs {t.window + k} readings for {phrase}; there "
            f"{'is' if len(points) == 1 else 'are'} {len(points)}.",
        )
    last = windows[-k:]
    flat = [w for w in last if w.elasticity is None]
    if flat:
        w = flat[-1]
        return ElasticitySignal(
            windows,
            None,
            f"Capability did not rise from {w.start} to {w.end}, so elasticity cannot be read "
            "there.",
        )
    values = ", ".join(number(w.elasticity) for w in last)
    if all(w.below for w in last):
        return ElasticitySignal(
            windows,
            True,
            f"Elasticity stayed below {number(t.elasticity)} over the last {phrase} "
            f"({values}) while capability kept rising.",
        )
    latest = last[-1]
    return ElasticitySignal(
        windows,
        False,
        f"Elasticity over the last {phrase} was {values}, not all below "
        f"{number(t.elasticity)}; up to {latest.end} it was {number(latest.elasticity)}.",
    )


# ----------------------------------------------------------------------------- logistic fit
def _logistic_value(c: float, ceiling: float, steepness: float, midpoint: float) -> float:
    z = max(-500.0, min(500.0, -steepness * (c - midpoint)))
    return ceiling / (1.0 + math.exp(z))


def _logistic(x: np.ndarray, ceiling: float, k: float, x0: float) -> np.ndarray:
    return ceiling / (1.0 + np.exp(np.clip(-k * (x - x0), -500, 500)))


def logistic_signal(points: Sequence[Point], t: Thresholds = Thresholds()) -> LogisticSignal:
    n = len(points)
    if n < t.min_readings:
        return LogisticSignal(
            None, f"A curve needs at least {t.min_readings} readings; there are {n}."
        )
    c = np.array([p.capability for p in points], dtype=float)
    y = np.array([p.product for p in points], dtype=float)
    if np.any(y <= 0):
        return LogisticSignal(None, "The curve is fitted to positive product values only.")
    c_min, spread = float(c.min()), float(c.max() - c.min())
    if spread <= 0:
        return LogisticSignal(None, "Capability never changed, so there is no curve to fit.")
    x = (c - c_min) / spread
    y_max = float(y.max())
    if float(y.max() - y.min()) <= 1e-12 * y_max:
        return LogisticSignal(
            None, "The product metric never moved; the curve's shape cannot be estimated."
        )
    lower = [0.5 * y_max, 0.01, -5.0]
    upper = [20.0 * y_max, 200.0, 6.0]
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for l0 in (1.05, 1.5, 3.0):
            for x00 in (0.0, 0.5, 1.0):
                try:
                    params, cov = curve_fit(
                        _logistic,
                        x,
                        y,
                        p0=[l0 * y_max, 4.0, x00],
                        bounds=(lower, upper),
                        maxfev=5000,
                    )
                except (RuntimeError, ValueError):
                    continue
                ssr = float(np.sum((y - _logistic(x, *params)) ** 2))
                if best is None or ssr < best[0]:
                    best = (ssr, params, cov)
    if best is None:
        return LogisticSignal(None, "The logistic curve did not converge on these readings.")
    ssr, (ceiling, k, x0), cov = best
    dof = n - 3
    residual_sd = _finite(math.sqrt(ssr / dof)) if dof > 0 else None
    steepness, midpoint = float(k) / spread, c_min + float(x0) * spread
    share = _finite(_logistic_value(float(c[-1]), ceiling, steepness, midpoint) / ceiling)
    sd = math.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0]) and cov[0, 0] >= 0 else math.inf
    half = float(stats.t.ppf(0.975, dof)) * sd if dof > 0 else math.inf
    at_bound = ceiling >= 0.99 * upper[0]
    fitted = {
        "ceiling": _finite(ceiling),
        "steepness": _finite(steepness),
        "midpoint": _finite(midpoint),
        "share": share,
        "residual_sd": residual_sd,
    }
    if at_bound:
        return LogisticSignal(
            None,
            "No ceiling is in sight: the readings still climb as if unbounded.",
            **fitted,
        )
    if not math.isfinite(half) or half > t.max_ceiling_ci * ceiling:
        interval = (
            f"anywhere from {number(max(ceiling - half, 0))} to {number(ceiling + half)}"
            if math.isfinite(half)
            else "not pinned down at all"
        )
        return LogisticSignal(
            None,
            f"The ceiling is too uncertain to judge: {interval} (best guess {number(ceiling)}).",
            **fitted,
        )
    fitted.update(ceiling_low=_finite(ceiling - half), ceiling_high=_finite(ceiling + half))
    reached = f"{percent(share or 0)} of a ceiling of {number(ceiling)} (95% CI " + (
        f"{number(ceiling - half)}–{number(ceiling + half)})"
    )
    if share is not None and share >= t.saturated_share:
        return LogisticSignal(True, f"The latest model reaches {reached}.", **fitted)
    return LogisticSignal(False, f"The latest model reaches only {reached}.", **fitted)


# ----------------------------------------------------------------------------- event study
def _linear_residual_sd(points: Sequence[Point]) -> float | None:
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
    points: Sequence[Point],
    noise_sd: float | None,
    t: Thresholds = Thresholds(),
    unit: Callable[[float], str] = number,
) -> EventSignal:
    k = t.span
    upgrades: list[Upgrade] = []
    for a, b in zip(points, points[1:], strict=False):
        dc = relative_change(a.capability, b.capability, "linear")  # type: ignore[arg-type]
        dy = float(b.product - a.product)  # type: ignore[operator]
        if noise_sd is None:
            z, significant = None, False
        elif noise_sd > 0:
            z = _finite(dy / (noise_sd * math.sqrt(2)))
            significant = z is not None and z > t.noise_z
        else:
            z, significant = None, dy > 1e-12 * max(abs(a.product), abs(b.product), 1.0)  # type: ignore[arg-type]
        upgrades.append(Upgrade(a.model, b.model, dc, dy, z, significant))
    if len(upgrades) < k:
        return EventSignal(
            upgrades,
            noise_sd,
            None,
            f"Needs {k} model upgrades to judge; there are {len(upgrades)}.",
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
        f"None of the last {k} releases moved the product beyond the noise ({noise}).",
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
    elasticity = elasticity_signal(series, scale, t)
    logistic = logistic_signal(series, t)
    noise = logistic.residual_sd if logistic.fitted else None
    if noise is None:
        noise = _linear_residual_sd(series)
    if noise is not None and series:
        level = sum(abs(p.product) for p in series) / len(series)  # type: ignore[arg-type]
        noise = max(noise, t.noise_floor * level)
    events = event_signal(series, noise, t)

    def verdict(kind: VerdictKind, headline: str, reasons: list[str]) -> Verdict:
        return Verdict(
            kind, headline, reasons, notes, series, elasticity, logistic, events, scale, metric,
            source, t,
        )  # fmt: skip

    n = len(series)
    if n < t.min_readings:
        have = "no comparable readings" if n == 0 else f"only {_plural(n, 'comparable reading')}"
        return verdict(
            "insufficient",
            f"Not enough evidence yet: {have}; at least {t.min_readings} are needed.",
            [f"Add a reading for each model generation; {t.min_readings} or more let the "
             "signals speak."],
        )  # fmt: skip

    span = min(t.span, n - 1)
    first, last = series[-1 - span], series[-1]
    generations = "model generation" if span == 1 else f"{span} model generations"
    story = (
        f"The last {generations} ({first.model} → {last.model}) "
        f"{_describe_change(capability_label, first.capability, last.capability)} and "  # type: ignore[arg-type]
        f"{_describe_change(product_label, first.product, last.product)}."  # type: ignore[arg-type]
    )
    # Elasticity leads (it is the definition of saturation); the logistic ceiling and the
    # event study corroborate or contradict it.
    others = [logistic.vote, events.vote]
    yes, no = others.count(True), others.count(False)
    signals = [elasticity, logistic, events]
    reasons = [s.reason for want in (True, False, None) for s in signals if s.vote is want]

    def agreement(count: int) -> str:
        return "all three signals agree" if count == 3 else f"{count} of 3 signals point this way"

    if elasticity.vote is True:
        if yes:
            return verdict("saturating", f"{story} Saturating: {agreement(1 + yes)}.", reasons)
        why = "the ceiling and the releases contradict it" if no else "nothing corroborates it yet"
        return verdict("unclear", f"{story} Mixed signals: elasticity is low, but {why}.", reasons)
    if elasticity.vote is False:
        if yes == 2:
            return verdict(
                "unclear",
                f"{story} Mixed signals: elasticity is still high, but the ceiling is near and "
                "releases stay within the noise.",
                reasons,
            )
        return verdict("growing", f"{story} Still growing: {agreement(1 + no)}.", reasons)
    if no and not yes:
        return verdict("growing", f"{story} Still growing: {agreement(no)}.", reasons)
    if yes and not no:
        return verdict(
            "unclear",
            f"{story} Mixed signals: elasticity cannot be read yet to confirm saturation.",
            reasons,
        )
    if yes and no:
        return verdict("unclear", f"{story} Mixed signals: the signals disagree.", reasons)
    return verdict(
        "insufficient", f"{story} Not enough evidence: every signal is withheld.", reasons
    )
