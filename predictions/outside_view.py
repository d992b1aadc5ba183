"""The outside view on a new line, before it is committed: pure maths, no model call.

Three figures a forecaster should see next to their own line:

- the growth the line implies from its start to its horizon (×/year and doubling time on a
  log metric, change per year on a linear one), whatever its shape;
- the growth the metric's own history shows: a least-squares fit of ln(value) (log metrics)
  or value (linear metrics) against time over the observations of the current definition;
- how the two compare, in one sentence that is true of the numbers.

The author's own calibration (how far reality ran from their past medians) comes from
`services.calibration` and is phrased by `scoring.BiasReport`; this module only joins it in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import ArrayLike

from .trajectory import DAYS_PER_MONTH, DAYS_PER_YEAR, Trajectory, format_number, format_value

MIN_POINTS = 3  # observations needed for a trend
MIN_SPAN_DAYS = 60  # and the span they must cover
SIMILAR = 1.25  # rates within this factor of each other read as "in line with"


@dataclass(frozen=True)
class Growth:
    """A rate of growth: on a log metric `rate` is ln(multiple) per year, on a linear one the
    change per year in the metric's unit."""

    rate: float
    log: bool

    @property
    def multiple_per_year(self) -> float | None:
        return math.exp(self.rate) if self.log else None

    @property
    def doubling_months(self) -> float | None:
        """Months to double (negative: to halve); None when flat or on a linear metric."""
        if not self.log or abs(self.rate) < 1e-9:
            return None
        return math.log(2) / self.rate * DAYS_PER_YEAR / DAYS_PER_MONTH

    def phrase(self, unit: str = "") -> str:
        """'×3.2 per year (doubling every 7.1 months)', 'falls by 12 minutes per year'."""
        if self.log:
            months = self.doubling_months
            multiple = self.multiple_per_year or 1.0
            if months is None or abs(months) > 1200:
                return "flat (×1.0 per year)"
            verb = "doubling" if months > 0 else "halving"
            return f"×{format_number(multiple)} per year ({verb} every {abs(months):.1f} months)"
        if abs(self.rate) < 1e-12:
            return "flat (no change per year)"
        verb = "rises" if self.rate > 0 else "falls"
        return f"{verb} by {format_value(abs(self.rate), unit)} per year"


@dataclass(frozen=True)
class History:
    growth: Growth
    n: int
    first: date
    last: date


def implied_growth(traj: Trajectory, horizon: date) -> Growth | None:
    """The line's average growth from its start to its horizon."""
    t0, t1 = float(traj.start.toordinal()), float(horizon.toordinal())
    if t1 <= t0:
        return None
    v0, v1 = (float(x) for x in traj.median(np.array([t0, t1])))
    years = (t1 - t0) / DAYS_PER_YEAR
    log = traj.scale == "log"
    if log:
        if not (v0 > 0 and v1 > 0 and math.isfinite(v0) and math.isfinite(v1)):
            return None
        return Growth(math.log(v1 / v0) / years, log=True)
    if not (math.isfinite(v0) and math.isfinite(v1)):
        return None
    return Growth((v1 - v0) / years, log=False)


def _usable(
    t: ArrayLike, values: ArrayLike, versions: ArrayLike | None, *, log: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The observations a trend may use: finite, of the latest definition, above 0 on log."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(t) & np.isfinite(y)
    if versions is not None and len(t):
        v = np.asarray(versions)
        keep &= v == v.max()
    if log:
        keep &= y > 0
    return t[keep], y[keep]


def historical_growth(
    t: ArrayLike, values: ArrayLike, versions: ArrayLike | None = None, *, log: bool
) -> History | None:
    """A least-squares trend over the observations of the latest definition version, or None
    when there are fewer than MIN_POINTS of them or they span less than MIN_SPAN_DAYS."""
    t, y = _usable(t, values, versions, log=log)
    if len(t) < MIN_POINTS or np.ptp(t) < MIN_SPAN_DAYS:
        return None
    years = (t - t.mean()) / DAYS_PER_YEAR
    target = np.log(y) if log else y
    slope = float(np.dot(years, target - target.mean()) / np.dot(years, years))
    return History(
        Growth(slope, log=log),
        n=len(t),
        first=date.fromordinal(int(t.min())),
        last=date.fromordinal(int(t.max())),
    )


def comparison(line: Growth, history: Growth) -> str:
    """How the line's growth compares with the history's, in words true of the two rates."""
    a, b = line.rate, history.rate
    if a > 0 >= b:
        return "Your line grows, but the metric's own history is flat or falling."
    if a < 0 <= b:
        return "Your line falls, but the metric's own history is flat or growing."
    if a == 0:
        trend = "grows" if b > 0 else "falls" if b < 0 else "is flat too"
        return f"Your line is flat; the metric's own history {trend}."
    ratio = a / b  # same sign from here on
    if max(ratio, 1 / ratio) <= SIMILAR:
        return "Your line is in line with the metric's own history."
    factor = max(ratio, 1 / ratio)
    speed = "faster" if ratio > 1 else "slower"
    if a > 0:
        what = "growth rate" if line.log else "yearly rise"
        return (
            f"Your line assumes a {what} {format_number(factor)}× {speed} than the "
            "metric's own history."
        )
    return f"Your line falls {format_number(factor)}× {speed} than the metric's own history."


@dataclass(frozen=True)
class OutsideView:
    line: Growth | None
    history: History | None
    sentence: str | None  # the comparison, when both are known
    line_note: str  # the line's growth in words
    history_note: str  # what the history is (or why there is none)


def outside_view(
    traj: Trajectory,
    horizon: date,
    t: ArrayLike,
    values: ArrayLike,
    versions: ArrayLike | None = None,
    *,
    unit: str = "",
) -> OutsideView:
    line = implied_growth(traj, horizon)
    history = historical_growth(t, values, versions, log=traj.scale == "log")
    if history is None:
        used, _ = _usable(t, values, versions, log=traj.scale == "log")
        n = len(used)
        # "3 observations over 51 days": says which of the two conditions is not met.
        span = f" over {int(np.ptp(used))} days" if n > 1 else ""
        note = (
            f"Not enough history for a trend: {n} observation{'s' if n != 1 else ''}{span} "
            f"(a trend needs at least {MIN_POINTS} over {MIN_SPAN_DAYS} days or more)."
        )
    else:
        note = (
            f"{history.growth.phrase(unit)}, fitted to {history.n} observations from "
            f"{history.first:%-d %b %Y} to {history.last:%-d %b %Y}."
        )
    sentence = comparison(line, history.growth) if line and history else None
    line_note = (
        f"{line.phrase(unit)}, on average from its start to its horizon"
        if line
        else "No average growth can be computed for this line (it must end after it starts "
        "and, on a log metric, stay above zero)"
    )
    return OutsideView(line, history, sentence, line_note, note)
