"""Stage times measured from delivery history: pure, typed functions (no database).

Two kinds of CSV export are read:

- **GitHub pull requests**: one row per pull request with the timestamps it reached (created,
  first review, approved, merged, deployed). Each pair of consecutive timestamp columns the
  file has is a *segment* ("created → first review"); a pull request measures a segment when
  both of its timestamps are filled in and in order. A segment that ends before it starts
  (approved after an admin merge, clock skew) keeps its row: only the stage time it maps to
  is skipped for that pull request, and said so by line.
- **Issue-tracker status changes**: one row per item per change (item, status, timestamp).
  The time in a status runs from that change to the item's next change; an item's last status
  has no end yet and is not measured.

Each segment or status maps to a stage of a map, as active or waiting time (or is ignored).
Per item, the hours of everything mapped to one (stage, kind) add up; they count in the window
in which the last of them ended. Per (stage, kind), the items' hours form a Distribution:
n, median, p85 and the spread (quartiles, lowest, highest). Quantiles interpolate linearly
between the nearest ranks (a spreadsheet's PERCENTILE.INC, numpy's default).

Timestamps are ISO 8601: with an offset (`+02:00`) or `Z` they mean exactly that instant; with
none they are read in the team's time zone (an hour that the clocks skip is refused; an hour
that happens twice is read as the first one). Everything is compared in UTC.

Two windows (before and after a rollout date) compare stage by stage: the ratio of the medians
is the measured speed-up, but only when each window has at least MIN_ITEMS items; Amdahl's law
(analysis.py) then says what the stage speed-ups did to the whole.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from planning import csvimport
from planning.csvimport import Problem

from . import analysis

Source = Literal["github", "tracker"]
TimeKind = Literal["active", "waiting"]
StageKey = Hashable

MIN_ITEMS = 5  # per window, for a speed-up to be measured at all
MAX_STATUSES = 60  # different statuses in one tracker export
MAX_STATUS_CHARS = 100
MIN_SPEEDUP, MAX_SPEEDUP = 0.01, 10_000  # what a stage can store (models.SPEEDUP_VALIDATORS)
MIN_YEAR, MAX_YEAR = 1900, 2200


# --------------------------------------------------------------------------- columns
@dataclass(frozen=True)
class Column:
    name: str  # the field's own name
    label: str
    required: bool
    aliases: tuple[str, ...]  # normalised header names that mean this field


GITHUB_COLUMNS: tuple[Column, ...] = (
    Column(
        "id",
        "Pull request",
        False,
        ("number", "pr_number", "pr", "pull_request", "pull_request_number", "id", "url"),
    ),
    Column("created", "created", True, ("created", "created_at", "opened", "opened_at")),
    Column(
        "first_review",
        "first review",
        False,
        ("first_review", "first_review_at", "first_reviewed_at", "reviewed_at", "review"),
    ),
    Column(
        "approved",
        "approved",
        False,
        ("approved", "approved_at", "first_approved_at", "approval", "approval_at"),
    ),
    Column("merged", "merged", False, ("merged", "merged_at", "merge", "merge_at")),
    Column(
        "deployed",
        "deployed",
        False,
        ("deployed", "deployed_at", "deploy", "deployment", "released", "released_at"),
    ),
)
GITHUB_EVENTS = tuple(c.name for c in GITHUB_COLUMNS if c.name != "id")

TRACKER_COLUMNS: tuple[Column, ...] = (
    Column(
        "item",
        "Item",
        True,
        ("item", "item_id", "id", "key", "issue", "issue_key", "issue_id", "ticket", "number"),
    ),
    Column("status", "Status", True, ("status", "state", "to_status", "new_status", "to")),
    Column(
        "timestamp",
        "Changed at",
        True,
        (
            "timestamp",
            "changed_at",
            "transitioned_at",
            "status_changed_at",
            "changed",
            "time",
            "date",
            "at",
        ),
    ),
)

COLUMNS: dict[Source, tuple[Column, ...]] = {"github": GITHUB_COLUMNS, "tracker": TRACKER_COLUMNS}
SOURCE_LABELS: dict[Source, str] = {
    "github": "GitHub pull requests",
    "tracker": "Issue-tracker status changes",
}


def normalise(header: str) -> str:
    """A header's comparable form: camelCase and spaces become snake_case
    ("mergedAt" → "merged_at", "First review" → "first_review", "merged_at" stays)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", header.strip())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def guess_columns(source: Source, header: Sequence[str]) -> dict[str, str]:
    """For each field, the first column of `header` whose name means it (each column once)."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    names = {h: normalise(h) for h in header}
    for column in COLUMNS[source]:
        for alias in column.aliases:  # the likeliest name first
            h = next((h for h in header if h not in taken and names[h] == alias), None)
            if h is not None:
                out[column.name] = h
                taken.add(h)
                break
    return out


def column_problems(source: Source, columns: Mapping[str, str], header: Sequence[str]) -> list[str]:
    """What is wrong with a choice of columns (field → header name), in words."""
    problems = []
    names = {c.name: c for c in COLUMNS[source]}
    for field, h in columns.items():
        if field in names and h and h not in header:
            problems.append(f"{names[field].label}: the file has no column “{h}”.")
    for column in COLUMNS[source]:
        if column.required and not columns.get(column.name):
            problems.append(f"Choose the column that holds “{column.label}”.")
    used = [h for h in columns.values() if h]
    if len(set(used)) != len(used):
        problems.append("A column is chosen for two fields; choose each column once.")
    if source == "github" and sum(1 for e in GITHUB_EVENTS if columns.get(e)) < 2:
        problems.append("Choose at least two timestamp columns (for example created and merged).")
    return problems


# --------------------------------------------------------------------------- timestamps
class TimestampError(ValueError):
    pass


_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$"
)


# Seconds, an optional fraction of at most six digits, Z or ±HH:MM: what fromisoformat reads
# exactly as ISO 8601 means it, within the years MIN_YEAR–MAX_YEAR.
_PLAIN = re.compile(
    r"^(19\d\d|2[01]\d\d|2200)-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)?$"
)


def parse_timestamp(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime. With `Z` or an offset it means that
    instant; without, it is a wall-clock time in `tz` (a date alone is its midnight there).
    Raises TimestampError with a message for the person who wrote it."""
    raw = text.strip()
    if _PLAIN.match(raw):  # the common case, read as it is
        try:
            plain = datetime.fromisoformat(raw)
        except ValueError:
            plain = None  # not a real date (30 February): said in words below
        if plain is not None:
            return _aware(plain, raw, tz)
    example = "use ISO 8601, such as 2026-03-02T14:30:00Z or 2026-03-02 14:30+01:00"
    match = _ISO.match(raw)
    if not match:
        raise TimestampError(f"“{_clip(raw)}” is not an ISO 8601 timestamp; {example}.")
    day, clock, zone = match.groups()
    value = day
    if clock:
        # Python reads at most microseconds, and "+01:00" but not "+01".
        value += "T" + re.sub(r"[.,](\d{1,6})\d*$", r".\1", clock)
    if zone:
        zone = "+00:00" if zone in "Zz" else zone
        value += zone if len(zone) > 3 else zone + ":00"
    if not MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
        raise TimestampError(f"“{_clip(raw)}” is outside the years {MIN_YEAR}–{MAX_YEAR}.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TimestampError(f"“{_clip(raw)}” is not a real date and time; {example}.") from None
    return _aware(parsed, raw, tz)


def _aware(parsed: datetime, raw: str, tz: ZoneInfo) -> datetime:
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    moment = parsed.replace(tzinfo=tz).astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != parsed:
        raise TimestampError(
            f"“{_clip(raw)}” does not exist in {tz.key} (the clocks skip that hour); "
            "give the time with its offset."
        )
    return moment


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants (UTC) from the start of `start` to the end of `end`, both days in `tz`
    (the end is exclusive: midnight after `end`)."""
    first = datetime.combine(start, time(), tz).astimezone(UTC)
    last = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC)
    return first, last


# --------------------------------------------------------------------------- reading rows
@dataclass
class Export:
    """A CSV export as planning.csvimport reads it, with its header as written."""

    header: list[str]
    sheet: csvimport.Sheet

    @property
    def problems(self) -> list[Problem]:
        return self.sheet.problems


def read_export(raw: bytes | str) -> Export:
    """Any header is accepted here (the columns are chosen afterwards); the file's limits,
    encoding and per-row checks are planning.csvimport's."""
    text = csvimport.decode(raw)
    if isinstance(text, Problem):
        return Export([], csvimport.Sheet(problems=[text]))
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        first = []  # csvimport.read reports it
    header = [h.strip() for h in first]
    columns = [h.lower() for h in header]
    sheet = csvimport.read(text, columns=columns, required=[])
    return Export(header if sheet.columns else [], sheet)


@dataclass(frozen=True)
class Interval:
    """One stretch of one item's time: a segment of a pull request or a visit to a status."""

    item: str
    key: str  # segment key ("created→merged") or status (as first spelled in the file)
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class OutOfOrder:
    """A segment of a pull request that ends before it starts (an approval after an admin
    merge, clock skew): its row is kept, but this segment's stage is skipped for this item."""

    line: int
    name: str  # the pull request's number as in the file; "" when no column holds it
    interval: Interval  # end < start


@dataclass
class Parsed:
    intervals: list[Interval]
    keys: list[str]  # what can map to a stage: segments in order, or statuses as first seen
    problems: list[Problem]
    items: int  # items (pull requests, issues) read
    first: datetime | None = None  # the earliest and latest timestamps read
    last: datetime | None = None
    out_of_order: list[OutOfOrder] = dataclass_field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


RowLike = Any  # csvimport.Row: .line and .get(column)


def segment_key(a: str, b: str) -> str:
    return f"{a}→{b}"


def key_label(source: Source, key: str) -> str:
    """A segment key in words ("created → first review"); a status as it is."""
    if source != "github":
        return key
    labels = {c.name: c.label for c in GITHUB_COLUMNS}
    a, _, b = key.partition("→")
    return f"{labels.get(a, a)} → {labels.get(b, b)}"


def _cell(row: RowLike, columns: Mapping[str, str], field: str) -> str:
    header = columns.get(field)
    return row.get(header.strip().lower()) if header else ""


def parse_pull_requests(
    rows: Iterable[RowLike], columns: Mapping[str, str], tz: ZoneInfo
) -> Parsed:
    """Segments between the chosen timestamp columns, in their order, for every row; a
    segment whose end is before its start goes to `out_of_order` instead."""
    events = [e for e in GITHUB_EVENTS if columns.get(e)]
    keys = [segment_key(a, b) for a, b in zip(events, events[1:], strict=False)]
    out = Parsed([], keys, [], 0)
    seen: dict[str, int] = {}
    for row in rows:
        problems: list[str] = []
        item = _cell(row, columns, "id")
        if not columns.get("id"):
            item = f"line {row.line}"
        else:
            if not item:
                problems.append(f"{columns['id']}: the pull request has no number.")
            elif item in seen:
                problems.append(f"{columns['id']}: {_clip(item)} is already on line {seen[item]}.")
        stamps: list[tuple[str, datetime]] = []
        for event in events:
            text = _cell(row, columns, event)
            if not text:
                continue
            try:
                stamps.append((event, parse_timestamp(text, tz)))
            except TimestampError as error:
                problems.append(f"{columns[event]}: {error}")
        if not problems and not any(e == "created" for e, _ in stamps):
            problems.append(f"{columns['created']}: the pull request has no creation time.")
        if problems:
            out.problems.extend(Problem(row.line, p) for p in problems)
            continue
        seen[item] = row.line
        out.items += 1
        _extend_range(out, [t for _, t in stamps])
        present = dict(stamps)
        for a, b in zip(events, events[1:], strict=False):
            if a in present and b in present:
                interval = Interval(item, segment_key(a, b), present[a], present[b])
                if interval.end < interval.start:
                    name = item if columns.get("id") else ""
                    out.out_of_order.append(OutOfOrder(row.line, name, interval))
                else:
                    out.intervals.append(interval)
    return out


def parse_status_changes(
    rows: Iterable[RowLike], columns: Mapping[str, str], tz: ZoneInfo
) -> Parsed:
    """Visits to statuses: each change lasts until the same item's next change."""
    out = Parsed([], [], [], 0)
    spelled: dict[str, str] = {}  # casefolded status → first spelling
    changes: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    seen: dict[tuple[str, datetime, str], int] = {}
    for row in rows:
        problems: list[str] = []
        item = _cell(row, columns, "item")
        status = _cell(row, columns, "status")
        if not item:
            problems.append(f"{columns['item']}: the row names no item.")
        if not status:
            problems.append(f"{columns['status']}: the row has no status.")
        elif len(status) > MAX_STATUS_CHARS:
            problems.append(
                f"{columns['status']}: a status is at most {MAX_STATUS_CHARS} characters."
            )
        moment = None
        text = _cell(row, columns, "timestamp")
        if not text:
            problems.append(f"{columns['timestamp']}: the change has no time.")
        else:
            try:
                moment = parse_timestamp(text, tz)
            except TimestampError as error:
                problems.append(f"{columns['timestamp']}: {error}")
        if problems or moment is None:
            out.problems.extend(Problem(row.line, p) for p in problems)
            continue
        fold = status.casefold()
        key = (item, moment, fold)
        if key in seen:
            out.problems.append(
                Problem(
                    row.line, f"the same change of {_clip(item)} is already on line {seen[key]}."
                )
            )
            continue
        seen[key] = row.line
        if fold not in spelled:
            if len(spelled) >= MAX_STATUSES:
                out.problems.append(
                    Problem(
                        row.line,
                        f"{columns['status']}: more than {MAX_STATUSES} different statuses; "
                        "export one workflow at a time.",
                    )
                )
                continue
            spelled[fold] = status
            out.keys.append(status)
        changes[item].append((moment, row.line, spelled[fold]))
    out.items = len(changes)
    for item, visits in changes.items():
        visits.sort()
        _extend_range(out, [m for m, _, _ in visits])
        for (start, _, status), (end, _, _) in zip(visits, visits[1:], strict=False):
            out.intervals.append(Interval(item, status, start, end))
    return out


def _extend_range(out: Parsed, moments: Sequence[datetime]) -> None:
    if not moments:
        return
    low, high = min(moments), max(moments)
    out.first = low if out.first is None else min(out.first, low)
    out.last = high if out.last is None else max(out.last, high)


def parse(source: Source, rows: Iterable[RowLike], columns: Mapping[str, str], tz: ZoneInfo):
    if source == "github":
        return parse_pull_requests(rows, columns, tz)
    return parse_status_changes(rows, columns, tz)


# --------------------------------------------------------------------------- statistics
def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted `values`, interpolating linearly between the nearest ranks:
    h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])."""
    if not values:
        raise ValueError("No values.")
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1.")
    h = (len(values) - 1) * q
    low = math.floor(h)
    if low + 1 >= len(values):
        return float(values[-1])
    return values[low] + (h - low) * (values[low + 1] - values[low])


@dataclass(frozen=True)
class Distribution:
    """Hours per item for one stage and kind, in one window."""

    n: int
    median: float
    p85: float
    p25: float
    p75: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution | None:
        xs = sorted(values)
        if not xs:
            return None
        return cls(
            n=len(xs),
            median=quantile(xs, 0.5),
            p85=quantile(xs, 0.85),
            p25=quantile(xs, 0.25),
            p75=quantile(xs, 0.75),
            low=xs[0],
            high=xs[-1],
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "median": self.median,
            "p85": self.p85,
            "p25": self.p25,
            "p75": self.p75,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Distribution | None:
        if not data:
            return None
        try:
            return cls(
                n=int(data["n"]),
                **{k: float(data[k]) for k in ("median", "p85", "p25", "p75", "low", "high")},
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Target:
    stage: StageKey
    kind: TimeKind


@dataclass(frozen=True)
class Sample:
    """One item's hours in one stage and kind, and when the last of them ended."""

    item: str
    stage: StageKey
    kind: TimeKind
    hours: float
    end: datetime


def samples(
    intervals: Iterable[Interval],
    mapping: Mapping[str, Target],
    skipped: Iterable[OutOfOrder] = (),
) -> list[Sample]:
    """Per item, the hours of every interval mapped to the same (stage, kind), added up.
    Keys match case-insensitively; unmapped keys are left out. An item's (stage, kind) with a
    `skipped` segment is left out whole (part of its time would be missing)."""
    folded = {k.casefold(): t for k, t in mapping.items()}
    left_out = {
        (s.interval.item, t.stage, t.kind)
        for s in skipped
        if (t := folded.get(s.interval.key.casefold())) is not None
    }
    total: dict[tuple[str, StageKey, TimeKind], float] = defaultdict(float)
    ends: dict[tuple[str, StageKey, TimeKind], datetime] = {}
    for iv in intervals:
        target = folded.get(iv.key.casefold())
        if target is None:
            continue
        k = (iv.item, target.stage, target.kind)
        if k in left_out:
            continue
        total[k] += iv.hours
        ends[k] = max(ends[k], iv.end) if k in ends else iv.end
    return [Sample(i, s, kind, h, ends[(i, s, kind)]) for (i, s, kind), h in total.items()]


def out_of_order_notes(
    skipped: Iterable[OutOfOrder],
    mapping: Mapping[str, Target],
    stage_names: Mapping[StageKey, str],
) -> list[Problem]:
    """Per skipped segment that maps to a stage, by line, what was out of order and which
    stage time was left out for that pull request (ignored segments skip nothing)."""
    folded = {k.casefold(): t for k, t in mapping.items()}
    labels = {c.name: c.label for c in GITHUB_COLUMNS}
    out = []
    for s in skipped:
        iv = s.interval
        target = folded.get(iv.key.casefold())
        if target is None:
            continue
        a, _, b = iv.key.partition("→")
        who = f"pull request {_clip(s.name)}: " if s.name else ""
        stage = stage_names.get(target.stage, str(target.stage))
        out.append(
            Problem(
                s.line,
                f"{who}{labels.get(a, a)} ({iv.start:%Y-%m-%d %H:%M} UTC) is after "
                f"{labels.get(b, b)} ({iv.end:%Y-%m-%d %H:%M} UTC) — {stage} ({target.kind} time) "
                "skipped for this pull request.",
            )
        )
    return sorted(out, key=lambda p: p.line or 0)


def in_window(found: Iterable[Sample], start: datetime, end: datetime) -> list[Sample]:
    """The samples that ended in [start, end)."""
    return [s for s in found if start <= s.end < end]


Distributions = dict[tuple[StageKey, TimeKind], Distribution]


def distributions(found: Iterable[Sample]) -> Distributions:
    values: dict[tuple[StageKey, TimeKind], list[float]] = defaultdict(list)
    for s in found:
        values[(s.stage, s.kind)].append(s.hours)
    out = {}
    for key, xs in values.items():
        dist = Distribution.of(xs)
        if dist is not None:
            out[key] = dist
    return out


def items_in(found: Iterable[Sample]) -> int:
    return len({s.item for s in found})


# --------------------------------------------------------------------------- two windows
@dataclass(frozen=True)
class Change:
    """One stage's active or waiting time, before and after."""

    before: Distribution | None
    after: Distribution | None

    @property
    def measured(self) -> bool:
        return self.before is not None or self.after is not None

    @property
    def comparable(self) -> bool:
        return (
            self.before is not None
            and self.after is not None
            and self.before.n >= MIN_ITEMS
            and self.after.n >= MIN_ITEMS
            and not (self.before.median == 0 and self.after.median > 0)
        )

    @property
    def ratio(self) -> float | None:
        """before median / after median (inf when it went to zero), when comparable."""
        if not self.comparable:
            return None
        assert self.before is not None and self.after is not None
        if self.before.median == 0:
            return 1.0  # zero before and after
        if self.after.median == 0:
            return math.inf
        return self.before.median / self.after.median

    @property
    def speedup(self) -> float:
        """The ratio within what a stage can store; 1 when there is nothing to compare."""
        r = self.ratio
        return 1.0 if r is None else min(max(r, MIN_SPEEDUP), MAX_SPEEDUP)

    @property
    def overlaps(self) -> bool:
        """Whether the middle halves (p25–p75) of the two windows overlap."""
        if self.before is None or self.after is None:
            return False
        return self.before.p25 <= self.after.p75 and self.after.p25 <= self.before.p75


@dataclass(frozen=True)
class StageChange:
    key: StageKey
    name: str
    active: Change
    waiting: Change
    map_active: float  # the map's hours, used where the data has nothing
    map_waiting: float

    @property
    def measured(self) -> bool:
        return self.active.measured or self.waiting.measured

    def hours_before(self) -> tuple[float, float]:
        """(active, waiting) before: the before medians where measured, else the map's."""
        a = self.active.before.median if self.active.before else self.map_active
        w = self.waiting.before.median if self.waiting.before else self.map_waiting
        return a, w


@dataclass(frozen=True)
class Comparison:
    stages: list[StageChange]
    result: analysis.Analysis  # the map with before medians and the measured speed-ups
    items_before: int
    items_after: int

    @property
    def comparable(self) -> list[StageChange]:
        return [s for s in self.stages if s.active.comparable or s.waiting.comparable]


StageRow = tuple[StageKey, str, float, float]  # key, name, map's active and waiting hours


def compare(
    stages: Sequence[StageRow],
    edges: Iterable[analysis.Edge],
    before: Distributions,
    after: Distributions,
    items_before: int,
    items_after: int,
) -> Comparison:
    """Stage by stage, the measured change; then Amdahl on the before medians with the
    measured speed-ups (1× where a window has too few items: no measured change)."""
    changes = []
    inputs = []
    for key, name, map_active, map_waiting in stages:
        change = StageChange(
            key,
            name,
            Change(before.get((key, "active")), after.get((key, "active"))),
            Change(before.get((key, "waiting")), after.get((key, "waiting"))),
            map_active,
            map_waiting,
        )
        changes.append(change)
        active, waiting = change.hours_before()
        inputs.append(
            analysis.StageInput(
                key=key,
                name=name,
                active=active,
                waiting=waiting,
                speedup_active=change.active.speedup,
                speedup_waiting=change.waiting.speedup,
            )
        )
    return Comparison(changes, analysis.analyse(inputs, edges), items_before, items_after)


# --------------------------------------------------------------------------- in words
def fmt_hours(value: float) -> str:
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} h"


def fmt_times(value: float) -> str:
    if math.isinf(value):
        return "∞×"
    text = f"{value:,.0f}" if value >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}×"


def change_sentence(name: str, kind: TimeKind, change: Change) -> str:
    """One true sentence about one stage's active or waiting time across the two windows."""
    what = f"{name}, {kind} time"
    b, a = change.before, change.after
    if b is None and a is None:
        return f"{what}: no items in either window."
    if not change.comparable:
        nb, na = (b.n if b else 0), (a.n if a else 0)
        if b is not None and a is not None and b.median == 0 and a.median > 0:
            return (
                f"{what}: took no time before (median 0 h, n = {nb}) and a median of "
                f"{fmt_hours(a.median)} after (n = {na}); no speed-up can express that."
            )
        return (
            f"{what}: too few items to compare (n = {nb} before, {na} after; at least "
            f"{MIN_ITEMS} in each window are needed)."
        )
    assert b is not None and a is not None
    ratio = change.ratio
    assert ratio is not None
    medians = f"median {fmt_hours(b.median)} → {fmt_hours(a.median)} (n = {b.n} → {a.n})"
    if 0.995 <= ratio <= 1.005:
        verdict = "no change in the median"
    elif ratio > 1:
        verdict = f"{fmt_times(ratio)} faster"
    else:
        verdict = f"{fmt_times(1 / ratio)} slower"
    text = f"{what}: {medians}, {verdict}"
    if change.overlaps and verdict != "no change in the median":
        text += "; the middle halves of the two windows overlap, so this may be noise"
    return text + "."


def summary_sentences(comparison: Comparison, rollout: str) -> list[str]:
    """The whole in a few true sentences: how many items, what Amdahl says, the bottleneck."""
    out = [
        f"{comparison.items_before} items ended a measured stage before {rollout} and "
        f"{comparison.items_after} from {rollout} on."
    ]
    compared = comparison.comparable
    result = comparison.result
    if not compared:
        out.append(
            f"No stage has at least {MIN_ITEMS} items in both windows: too few to measure a "
            "speed-up, so none is claimed."
        )
    else:
        names = _and([s.name for s in compared])
        moved = [
            c
            for s in compared
            for c in (s.active, s.waiting)
            if c.ratio is not None and not 0.995 <= c.ratio <= 1.005
        ]
        noise = (
            "; every change it rests on may be noise (the middle halves of the two windows overlap)"
            if moved and all(c.overlaps for c in moved)
            else ""
        )
        out.append(
            f"Amdahl's law on the medians: the measured change in {names} makes the whole "
            f"{_overall(result.speedup)} ({fmt_hours(result.t_before)} → "
            f"{fmt_hours(result.t_after)} per item on the critical path){noise}."
        )
        rest = [s.name for s in comparison.stages if s not in compared]
        if rest:
            out.append(f"Counted as unchanged (no measured change): {_and(rest)}.")
    before, after = result.bottleneck_before, result.bottleneck
    if compared and before is not None and after is not None:
        if before.key == after.key:
            out.append(
                f"{after.stage.name} was the bottleneck before and still is "
                f"({after.share_after:.0%} of the time after)."
            )
        else:
            out.append(
                f"The bottleneck moved from {before.stage.name} ({before.share_before:.0%} of "
                f"the time before) to {after.stage.name} ({after.share_after:.0%} after)."
            )
    elif before is not None:
        out.append(f"The bottleneck before was {before.stage.name}.")
    return out


ITEM_WORDS: dict[Source, tuple[str, str]] = {
    "github": ("pull request", "pull requests"),
    "tracker": ("tracker item", "tracker items"),
}


def measured_bottleneck_sentence(
    source: Source,
    items: int,
    start: date,
    end: date,
    rollout: date | None,
    stage: str,
    active: Distribution | None,
    waiting: Distribution | None,
) -> str:
    """ "Measured from 12 pull requests, 1 Sep 2026 to 31 Oct 2026: the bottleneck is Deploy
    (median 24 h waiting per pull request)." `active` and `waiting` are the bottleneck's
    measured distributions (after the rollout, when there is one); None where not measured."""
    one, many = ITEM_WORDS.get(source, ("item", "items"))
    window = f"{_day(start)} to {_day(end)}"
    if rollout is not None:
        window += f", compared before and after {_day(rollout)}"
    parts = [
        f"{fmt_hours(dist.median)} {kind}"
        for kind, dist in (("active", active), ("waiting", waiting))
        if dist is not None
    ]
    if parts:
        when = f" from {_day(rollout)} on" if rollout is not None else ""
        detail = f"median {' and '.join(parts)} per {one}{when}"
    elif rollout is not None:
        detail = f"no items measured from {_day(rollout)} on"
    else:
        detail = "not measured: the map's own hours"
    return (
        f"Measured from {items} {one if items == 1 else many}, {window}: "
        f"the bottleneck is {stage} ({detail})."
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _and(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _overall(speedup: float) -> str:
    if math.isinf(speedup):
        return "take no time at all"
    if 0.995 <= speedup <= 1.005:
        return "no faster and no slower"
    if speedup > 1:
        return f"{fmt_times(speedup)} faster"
    return f"{fmt_times(1 / speedup)} slower"
