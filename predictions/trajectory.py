"""Lines on graphs as plain data: growth models, uncertainty bands, and their validation.

Everything here is pure: no database, no Django. A prediction stores its trajectory and band
as JSON (see `Trajectory.to_json` / `Band.to_json`); `parse_line` turns that JSON back into
typed objects, or raises `LineError` with a message per field, which both the web form and
the JSON API show next to the field that is wrong.

Time is measured in days (`date.toordinal()`), so every function takes and returns numpy
arrays and works on 10 points or 100,000 alike.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from planning.inputs import MAX_YEAR, MIN_YEAR

Scale = Literal["linear", "log"]
Floats = NDArray[np.float64]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
MODELS = ("exponential", "linear", "logistic", "points")


class LineError(ValueError):
    """Invalid trajectory, band or horizon: `errors` maps a field name to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def days(values: Any) -> Floats:
    """Dates (or one date) as float day numbers."""
    if isinstance(values, date):
        return np.array([float(values.toordinal())])
    return np.fromiter((d.toordinal() for d in values), dtype=np.float64)


def from_day(day: float) -> date:
    return date.fromordinal(round(day))


# --------------------------------------------------------------------------- formatting
_CURRENCY = {"$", "€", "£", "USD", "EUR", "GBP"}


def format_number(value: float | None) -> str:
    """Three significant figures, compact for large numbers (1.2M, 35k, 0.004)."""
    if value is None or not math.isfinite(value):
        return "–"
    a = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e4, "k")):
        if a >= limit:
            return f"{value / limit:.3g}{suffix}"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_value(value: float | None, unit: str = "") -> str:
    text = format_number(value)
    unit = unit.strip()
    if not unit or text == "–":
        return text
    if unit in _CURRENCY:
        return f"{'$' if unit == 'USD' else unit}{text}" if len(unit) == 1 else f"{text} {unit}"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}"


def format_probability(p: float) -> str:
    """A stated probability as the percent it was typed: 0.007 is '0.7%' (never rounded up
    to '1%'), 0.999 is '99.9%' (never '100%')."""
    return f"{round(p * 100, 6):g}%"


# --------------------------------------------------------------------------- trajectories
@dataclass(frozen=True)
class Trajectory:
    """A growth model. Which fields matter depends on `model`.

    exponential: baseline + doubling_months (negative halves) or multiple_per_year
    linear:      baseline + change_per_year (in the metric's unit)
    logistic:    baseline + ceiling + midpoint (date) or steepness (per year)
    points:      explicit (date, value) points, interpolated linearly (in log space on log
                 metrics); flat beyond the first and last point
    """

    model: str
    scale: Scale = "linear"
    baseline_date: date | None = None
    baseline_value: float | None = None
    doubling_months: float | None = None
    multiple_per_year: float | None = None
    change_per_year: float | None = None
    ceiling: float | None = None
    midpoint: date | None = None
    steepness: float | None = None
    points: tuple[tuple[date, float], ...] = ()

    @property
    def start(self) -> date:
        if self.model == "points":
            return self.points[0][0]
        assert self.baseline_date is not None
        return self.baseline_date

    @property
    def logistic_params(self) -> tuple[float, float]:
        """(steepness per year, midpoint day) with the curve passing through the baseline."""
        assert self.ceiling is not None and self.baseline_value is not None
        assert self.baseline_date is not None
        lead = math.log(self.ceiling / self.baseline_value - 1)  # k * (t_mid - t_base) / year
        t0 = float(self.baseline_date.toordinal())
        if self.midpoint is not None:
            k = lead * DAYS_PER_YEAR / (self.midpoint.toordinal() - t0)
            return k, float(self.midpoint.toordinal())
        assert self.steepness is not None
        return self.steepness, t0 + lead / self.steepness * DAYS_PER_YEAR

    def median(self, t: Floats) -> Floats:
        """The line's value at day numbers `t`."""
        t = np.asarray(t, dtype=np.float64)
        if self.model == "points":
            xs = days(p[0] for p in self.points)
            ys = np.array([p[1] for p in self.points], dtype=np.float64)
            if self.scale == "log":
                return 10 ** np.interp(t, xs, np.log10(ys))
            return np.interp(t, xs, ys)
        assert self.baseline_date is not None and self.baseline_value is not None
        b = self.baseline_value
        dt = t - self.baseline_date.toordinal()
        if self.model == "exponential":
            if self.doubling_months is not None:
                return b * np.exp2(dt / (self.doubling_months * DAYS_PER_MONTH))
            assert self.multiple_per_year is not None
            return b * np.power(self.multiple_per_year, dt / DAYS_PER_YEAR)
        if self.model == "linear":
            assert self.change_per_year is not None
            return b + self.change_per_year * dt / DAYS_PER_YEAR
        if self.model == "logistic":
            assert self.ceiling is not None
            k, t_mid = self.logistic_params
            return self.ceiling / (1 + np.exp(-k * (t - t_mid) / DAYS_PER_YEAR))
        raise ValueError(f"unknown model {self.model!r}")

    def describe(self, unit: str = "") -> str:
        """The line in words: "doubles every 7 months from 60 min on 2025-03-01"."""
        v = lambda x: format_value(x, unit)  # noqa: E731
        if self.model == "points":
            shown = ", ".join(f"{d.isoformat()} → {v(y)}" for d, y in self.points[:6])
            more = f" and {len(self.points) - 6} more" if len(self.points) > 6 else ""
            space = " (interpolated in log space)" if self.scale == "log" else ""
            return f"through {len(self.points)} points: {shown}{more}{space}"
        assert self.baseline_date is not None  # every model but "points" has its baseline
        origin = f"from {v(self.baseline_value)} on {self.baseline_date.isoformat()}"
        if self.model == "exponential":
            if self.doubling_months is not None:
                verb = "doubles" if self.doubling_months > 0 else "halves"
                return f"{verb} every {abs(self.doubling_months):.3g} months {origin}"
            return f"grows {self.multiple_per_year:.3g}× per year {origin}"
        if self.model == "linear":
            change = self.change_per_year or 0.0
            verb = "rises" if change >= 0 else "falls"
            return f"{verb} by {v(abs(change))} per year {origin}"
        k, t_mid = self.logistic_params
        return (
            f"S-curve {origin} towards a ceiling of {v(self.ceiling)}, half-way on "
            f"{from_day(t_mid).isoformat()} (steepness {k:.3g} per year)"
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"model": self.model}
        if self.model == "points":
            data["points"] = [[d.isoformat(), y] for d, y in self.points]
            return data
        assert self.baseline_date is not None  # every model but "points" has its baseline
        data["baseline_date"] = self.baseline_date.isoformat()
        data["baseline_value"] = self.baseline_value
        for name in ("doubling_months", "multiple_per_year", "change_per_year", "ceiling"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.midpoint is not None:
            data["midpoint"] = self.midpoint.isoformat()
        if self.steepness is not None:
            data["steepness"] = self.steepness
        return data


# --------------------------------------------------------------------------- bands
@dataclass(frozen=True)
class Band:
    """An uncertainty band holding `coverage` of the probability around the line.

    On log metrics `low`/`high` are factors (0.5 and 2: from half to double the line); on
    linear metrics they are offsets in the metric's unit (−5 and +5). Or explicit
    (date, low, high) points, interpolated like a points trajectory.
    """

    coverage: float = 0.8
    low: float | None = None
    high: float | None = None
    points: tuple[tuple[date, float, float], ...] = ()

    def bounds(self, median: Floats, t: Floats, scale: Scale) -> tuple[Floats, Floats]:
        if self.points:
            xs = days(p[0] for p in self.points)
            lo = np.array([p[1] for p in self.points], dtype=np.float64)
            hi = np.array([p[2] for p in self.points], dtype=np.float64)
            if scale == "log":
                return 10 ** np.interp(t, xs, np.log10(lo)), 10 ** np.interp(t, xs, np.log10(hi))
            return np.interp(t, xs, lo), np.interp(t, xs, hi)
        assert self.low is not None and self.high is not None
        if scale == "log":
            return median * self.low, median * self.high
        return median + self.low, median + self.high

    def describe(self, unit: str = "", scale: Scale = "linear") -> str:
        pct = f"{self.coverage * 100:.3g}%"
        if self.points:
            return f"{pct} band through {len(self.points)} explicit low/high points"
        if scale == "log":
            return f"{pct} band from ×{self.low:.3g} to ×{self.high:.3g} the line"
        lo = format_value(self.low, unit)
        hi = format_value(self.high, unit)
        return f"{pct} band from {lo} to +{hi} around the line"

    def to_json(self) -> dict[str, Any]:
        if self.points:
            return {
                "coverage": self.coverage,
                "points": [[d.isoformat(), lo, hi] for d, lo, hi in self.points],
            }
        return {"coverage": self.coverage, "low": self.low, "high": self.high}


# --------------------------------------------------------------------------- parsing
def _number(data: dict, key: str, errors: dict, *, required: bool = True) -> float | None:
    raw = data.get(key)
    if raw is None or raw == "":
        if required:
            errors[key] = "This field is required."
        return None
    if isinstance(raw, bool):
        errors[key] = "Enter a number."
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[key] = f"“{raw}” is not a number."
        return None
    if not math.isfinite(value):
        errors[key] = "Enter a finite number."
        return None
    return value


def _date(data: dict, key: str, errors: dict, *, required: bool = True) -> date | None:
    raw = data.get(key)
    if raw is None or raw == "":
        if required:
            errors[key] = "This field is required."
        return None
    try:
        return _row_date(raw)
    except OutOfRange:
        errors[key] = f"Use a date between the years {MIN_YEAR} and {MAX_YEAR}."
    except ValueError:
        errors[key] = f"“{raw}” is not a date like 2026-03-31."
    return None


class OutOfRange(ValueError):
    pass


def _row_date(raw: Any) -> date:
    """A date in the years the app works with (1900-2200), else ValueError."""
    value = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise OutOfRange(f"{value} is outside {MIN_YEAR}-{MAX_YEAR}")
    return value


def parse_trajectory(data: dict[str, Any], scale: Scale) -> Trajectory:
    errors: dict[str, str] = {}
    model = data.get("model")
    if model not in MODELS:
        raise LineError({"model": f"Choose one of: {', '.join(MODELS)}."})
    positive = scale == "log"

    def check_positive(key: str, value: float | None) -> None:
        if positive and value is not None and value <= 0 and key not in errors:
            errors[key] = "Values on a log-scale metric must be greater than zero."

    if model == "points":
        raw = data.get("points")
        points: list[tuple[date, float]] = []
        if not isinstance(raw, list | tuple) or len(raw) < 2:
            errors["points"] = "Give at least two points (date, value)."
        else:
            for i, row in enumerate(raw, start=1):
                try:
                    d, y = _row_date(row[0]), float(row[1])
                    if not math.isfinite(y):
                        raise ValueError
                except (TypeError, ValueError, IndexError):
                    errors["points"] = f"Point {i} is not a date and a number: {row!r}."
                    break
                if positive and y <= 0:
                    errors["points"] = (
                        f"Point {i}: values on a log-scale metric must be greater than zero."
                    )
                    break
                points.append((d, y))
            if "points" not in errors:
                points.sort()
                dates = [d for d, _ in points]
                if len(set(dates)) != len(dates):
                    errors["points"] = "Two points share a date; give one value per date."
        if errors:
            raise LineError(errors)
        return Trajectory(model="points", scale=scale, points=tuple(points))

    baseline_date = _date(data, "baseline_date", errors)
    baseline_value = _number(data, "baseline_value", errors)
    check_positive("baseline_value", baseline_value)
    kwargs: dict[str, Any] = {}
    if model == "exponential":
        doubling = _number(data, "doubling_months", errors, required=False)
        multiple = _number(data, "multiple_per_year", errors, required=False)
        if (
            doubling is None
            and multiple is None
            and not errors.keys()
            & {
                "doubling_months",
                "multiple_per_year",
            }
        ):
            errors["doubling_months"] = "Give a doubling time (or a multiple per year)."
        elif doubling is not None and multiple is not None:
            errors["multiple_per_year"] = "Give a doubling time or a multiple per year, not both."
        elif doubling is not None and doubling == 0:
            errors["doubling_months"] = "A doubling time cannot be zero."
        elif multiple is not None and multiple <= 0:
            errors["multiple_per_year"] = "The multiple per year must be greater than zero."
        if positive is False and baseline_value is not None and baseline_value <= 0:
            errors.setdefault("baseline_value", "Exponential growth needs a positive baseline.")
        kwargs.update(doubling_months=doubling, multiple_per_year=multiple)
    elif model == "linear":
        kwargs["change_per_year"] = _number(data, "change_per_year", errors)
    else:  # logistic
        ceiling = _number(data, "ceiling", errors)
        midpoint = _date(data, "midpoint", errors, required=False)
        steepness = _number(data, "steepness", errors, required=False)
        if (
            midpoint is None
            and steepness is None
            and not errors.keys()
            & {
                "midpoint",
                "steepness",
            }
        ):
            errors["midpoint"] = "Give the half-way date (or a steepness)."
        elif midpoint is not None and steepness is not None:
            errors["steepness"] = "Give a half-way date or a steepness, not both."
        elif steepness is not None and steepness <= 0:
            errors["steepness"] = "The steepness must be greater than zero."
        if ceiling is not None and baseline_value is not None and "baseline_value" not in errors:
            if baseline_value <= 0:
                errors["baseline_value"] = "An S-curve starts above zero."
            elif ceiling <= baseline_value:
                errors["ceiling"] = (
                    "The ceiling must be above the baseline value "
                    f"({format_number(baseline_value)})."
                )
        if (
            not errors  # so ceiling and baseline_value are numbers (required)
            and ceiling is not None
            and baseline_value is not None
            and midpoint is not None
            and baseline_date is not None
        ):
            lead = math.log(ceiling / baseline_value - 1)
            span = midpoint.toordinal() - baseline_date.toordinal()
            if lead == 0 and span != 0:
                errors["midpoint"] = (
                    "The baseline is exactly half the ceiling, so the half-way date is the "
                    "baseline date: give a steepness instead."
                )
            elif span == 0 or lead / span <= 0:
                when = "after" if lead > 0 else "before"
                errors["midpoint"] = (
                    f"With this baseline the half-way date must fall {when} "
                    f"{baseline_date.isoformat()}."
                )
        kwargs.update(ceiling=ceiling, midpoint=midpoint, steepness=steepness)
    if errors:
        raise LineError(errors)
    return Trajectory(
        model=model,
        scale=scale,
        baseline_date=baseline_date,
        baseline_value=baseline_value,
        **kwargs,
    )


def parse_band(data: dict[str, Any], scale: Scale) -> Band:
    errors: dict[str, str] = {}
    coverage = _number(data, "coverage", errors, required=False)
    if coverage is None and "coverage" not in errors:
        coverage = 0.8
    if coverage is not None and not 0 < coverage < 1:
        errors["coverage"] = "Coverage must be between 0 and 1 (exclusive), for example 0.8."
    raw_points = data.get("points")
    if raw_points:
        points: list[tuple[date, float, float]] = []
        for i, row in enumerate(raw_points, start=1):
            try:
                d, lo, hi = _row_date(row[0]), float(row[1]), float(row[2])
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    raise ValueError
            except (TypeError, ValueError, IndexError):
                errors["points"] = f"Band point {i} is not a date, a low and a high: {row!r}."
                break
            if lo >= hi:
                errors["points"] = f"Band point {i} ({d.isoformat()}): low must be below high."
                break
            if scale == "log" and lo <= 0:
                errors["points"] = (
                    f"Band point {i}: values on a log-scale metric must be greater than zero."
                )
                break
            points.append((d, lo, hi))
        if "points" not in errors and len(points) < 2:
            errors["points"] = "Give at least two band points (date, low, high)."
        if errors:
            raise LineError(errors)
        return Band(coverage=coverage or 0.8, points=tuple(sorted(points)))
    low = _number(data, "low", errors)
    high = _number(data, "high", errors)
    if low is not None and high is not None and not errors.keys() & {"low", "high"}:
        if scale == "log":
            if low <= 0:
                errors["low"] = (
                    "On a log-scale metric the low factor must be above zero (e.g. 0.5)."
                )
            elif low > 1:
                errors["low"] = "The low factor must be at most 1 so the band holds the line."
            if high < 1:
                errors["high"] = "The high factor must be at least 1 so the band holds the line."
        else:
            if low > 0:
                errors["low"] = "The low offset must be zero or negative (e.g. −5)."
            if high < 0:
                errors["high"] = "The high offset must be zero or positive (e.g. 5)."
        if low >= high and not errors:
            errors["high"] = "Low must be below high."
        if low > high:
            errors["low"] = "Low is above high."
    if errors:
        raise LineError(errors)
    # _number records an error for each missing required value, so all three are numbers here.
    assert coverage is not None and low is not None and high is not None
    return Band(coverage=coverage, low=low, high=high)


def parse_line(
    trajectory: dict[str, Any], band: dict[str, Any], horizon: date | None, scale: Scale
) -> tuple[Trajectory, Band]:
    """Validate a whole line; errors for trajectory fields, `band.<field>` and `horizon`."""
    errors: dict[str, str] = {}
    traj = parse_band_result = None
    try:
        traj = parse_trajectory(trajectory, scale)
    except LineError as e:
        errors.update(e.errors)
    try:
        parse_band_result = parse_band(band, scale)
    except LineError as e:
        errors.update({f"band.{k}": v for k, v in e.errors.items()})
    if horizon is None:
        errors["horizon"] = "This field is required."
    elif traj is not None and horizon <= traj.start:
        errors["horizon"] = f"The horizon must be after the start of the line ({traj.start})."
    if errors:
        raise LineError(errors)
    assert traj is not None and parse_band_result is not None
    return traj, parse_band_result


# --------------------------------------------------------------------------- sampling
def sample_days(start: date, end: date, n: int = 120, extra: list[date] | None = None) -> Floats:
    """Evenly spaced day numbers across [start, end], plus any `extra` dates (sorted)."""
    t = np.linspace(start.toordinal(), end.toordinal(), max(2, n))
    if extra:
        t = np.union1d(t, days(d for d in extra if start <= d <= end))
    return t


@dataclass(frozen=True)
class Line:
    """A sampled line ready to draw: day numbers, median, low and high."""

    t: Floats
    median: Floats
    low: Floats
    high: Floats
    dates: list[date] = field(default_factory=list)


def is_straight(traj: Trajectory) -> bool:
    """True when the line is straight on its metric's own axis (exponential on a log axis,
    linear on a linear one, or explicit points): a few samples draw it exactly."""
    return (
        traj.model == "points"
        or (traj.model == "exponential" and traj.scale == "log")
        or (traj.model == "linear" and traj.scale == "linear")
    )


def sample_line(traj: Trajectory, band: Band, horizon: date, n: int | None = None) -> Line:
    """The line sampled for drawing: finely where it curves, sparsely (still enough points
    to hover over) where it is straight on the chart."""
    if n is None:
        n = 12 if is_straight(traj) else 80
    extra = [d for d, _ in traj.points] + [p[0] for p in band.points]
    t = sample_days(traj.start, horizon, n, extra)
    median = traj.median(t)
    low, high = band.bounds(median, t, traj.scale)
    return Line(t, median, low, high, [from_day(x) for x in t])


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON (sorted keys, no whitespace, UTF-8)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
