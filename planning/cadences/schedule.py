"""When a cadence falls due: pure, typed schedule logic (no database).

A schedule is an RFC 5545 RRULE (without DTSTART) that repeats in the team's time zone at a
local due time, anchored on a start date. Occurrences are computed on the wall clock of the
team's zone (09:00 stays 09:00 across daylight-saving changes) and returned in UTC.

Reminders follow a timeline per occurrence: "before" reminders at the offsets (days before
the due time), "due" at the due time, "overdue" when the grace period ends, then nags at the
nag interval (sequence 1, 2, …), and an escalation to owners after N days overdue.
"""

from __future__ import annotations

import re
import types
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from dateutil import rrule as dateutil_rrule
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

MAX_CATCH_UP = 50  # occurrences materialised per cadence in one go
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z")
_SUB_DAILY = re.compile(r"(^|;)BY(HOUR|MINUTE|SECOND)=")
SEARCH_YEARS = 10  # how far ahead a rule is searched for its next occurrence
COUNT_LOOKBACK_YEARS = 10  # a rule with COUNT is counted from its start: no older starts
# Calendar days dateutil may examine for one search: the look-back of a COUNT rule, the
# search window and a year of slack (a yearly period is examined whole). About 8,000 days
# take a few milliseconds; without a cap an impossible rule (30 February) spins to year 9999.
MAX_DAYS_EXAMINED = 366 * (COUNT_LOOKBACK_YEARS + SEARCH_YEARS + 2)
EARLIEST_START, LATEST_START = date(1900, 1, 1), date(2200, 12, 31)


if TYPE_CHECKING:

    class Rule(rrule):
        """dateutil's rrule with the parsed parts it keeps (private, so absent from its stubs),
        which this module reads to describe, shift and bound a rule."""

        _dtstart: datetime
        _until: datetime | None
        _count: int | None
        _freq: int
        _interval: int
        _wkst: int
        _original_rule: dict[str, Any]
        _bymonth: tuple[int, ...] | None
        _bymonthday: tuple[int, ...]
        _bynmonthday: tuple[int, ...]
        _byweekno: tuple[int, ...] | None
        _byyearday: tuple[int, ...] | None
        _byweekday: tuple[int, ...] | None
        _bynweekday: tuple[tuple[int, int], ...] | None
        _bysetpos: tuple[int, ...] | None

        def _iter(self) -> Iterator[datetime]: ...

else:
    Rule = rrule


class ScheduleError(ValueError):
    """A schedule a person has to fix; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    fiscal: bool  # months follow the team's fiscal year
    rule: str  # with {months} for fiscal presets


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in [
        Preset(
            "quarter_first_monday",
            "First Monday of each fiscal quarter",
            True,
            "FREQ=YEARLY;BYMONTH={months};BYDAY=1MO",
        ),
        Preset(
            "quarter_first_tuesday",
            "First Tuesday of each fiscal quarter",
            True,
            "FREQ=YEARLY;BYMONTH={months};BYDAY=1TU",
        ),
        Preset(
            "quarter_second_monday",
            "Second Monday of each fiscal quarter",
            True,
            "FREQ=YEARLY;BYMONTH={months};BYDAY=2MO",
        ),
        Preset(
            "quarter_last_friday",
            "Last Friday of each fiscal quarter",
            True,
            "FREQ=YEARLY;BYMONTH={last_months};BYDAY=-1FR",
        ),
        Preset("monthly_day_1", "Monthly on day 1", False, "FREQ=MONTHLY;BYMONTHDAY=1"),
        Preset(
            "monthly_last_friday", "Last Friday of each month", False, "FREQ=MONTHLY;BYDAY=-1FR"
        ),
        Preset(
            "monthly_last_working_thursday",
            "Last Thursday of each month, a week earlier when that is the 24th–26th or "
            "31st (never on Christmas or New Year's Eve)",
            False,
            "FREQ=MONTHLY;BYDAY=TH;BYMONTHDAY="
            + ",".join(map(str, [*range(1, 24), 27, 28, 29, 30]))
            + ";BYSETPOS=-1",
        ),
        Preset(
            "biweekly_thursday",
            "Every 2 weeks on Thursday",
            False,
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        ),
        Preset("weekly_monday", "Every Monday", False, "FREQ=WEEKLY;BYDAY=MO"),
    ]
}
CUSTOM = "custom"


def quarter_start_months(fiscal_year_start_month: int) -> list[int]:
    """The first month of each fiscal quarter, e.g. April start -> [1, 4, 7, 10]."""
    return sorted((fiscal_year_start_month - 1 + 3 * i) % 12 + 1 for i in range(4))


def preset_rrule(key: str, fiscal_year_start_month: int = 1) -> str:
    preset = PRESETS[key]
    if not preset.fiscal:
        return preset.rule
    firsts = quarter_start_months(fiscal_year_start_month)
    lasts = sorted((m + 1) % 12 + 1 for m in firsts)
    return preset.rule.format(
        months=",".join(map(str, firsts)), last_months=",".join(map(str, lasts))
    )


def preset_for(rule: str, fiscal_year_start_month: int) -> str:
    """The preset key that produces `rule` for this fiscal year, or "custom"."""
    normalised = normalise_rrule(rule)
    for key in PRESETS:
        if preset_rrule(key, fiscal_year_start_month) == normalised:
            return key
    return CUSTOM


def normalise_rrule(text: str) -> str:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return text.strip().upper()


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("time_zone", f"“{name}” is not a known time zone.") from None


# --------------------------------------------------------------------------- bounded search
class SearchBudgetSpent(Exception):
    """dateutil examined MAX_DAYS_EXAMINED days without the search ending."""


class _CountingIterinfo(dateutil_rrule._iterinfo):
    """dateutil's per-period day sets, counting the days each search examines.

    dateutil checks UNTIL only on dates that pass every BYxxx filter, so a rule that never
    matches loops until year 9999. Every period (day, week, month or year) goes through one
    of these methods, which makes them the one place a cap can be enforced.
    """

    rrule: BoundedRule

    def _spend(self, dayset: tuple) -> tuple:
        rule = self.rrule
        rule.days_examined += max(dayset[2] - dayset[1], 1)
        if rule.days_examined > rule.max_days:
            raise SearchBudgetSpent
        return dayset

    def ydayset(self, year: int, month: int, day: int) -> tuple:
        return self._spend(super().ydayset(year, month, day))

    def mdayset(self, year: int, month: int, day: int) -> tuple:
        return self._spend(super().mdayset(year, month, day))

    def wdayset(self, year: int, month: int, day: int) -> tuple:
        return self._spend(super().wdayset(year, month, day))

    def ddayset(self, year: int, month: int, day: int) -> tuple:
        return self._spend(super().ddayset(year, month, day))


# dateutil's own iteration code, run with the counting day sets (no global is patched).
_counting_iter = types.FunctionType(
    Rule._iter.__code__,
    {**vars(dateutil_rrule), "_iterinfo": _CountingIterinfo},
    "_counting_iter",
    Rule._iter.__defaults__,
    Rule._iter.__closure__,
)


class BoundedRule(Rule):
    """An rrule whose every iteration examines at most `max_days` calendar days, then raises
    SearchBudgetSpent."""

    def __init__(self, *args: Any, max_days: int = MAX_DAYS_EXAMINED, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_days = max_days
        self.days_examined = 0

    def _iter(self) -> Iterator[datetime]:
        self.days_examined = 0
        yield from _counting_iter(self)


def _explicit_defaults(rule: Rule) -> dict:
    """The rule's BYxxx parts with dateutil's dtstart-derived defaults written out, so a later
    DTSTART keeps the same dates (a monthly rule without BYMONTHDAY repeats on the start day)."""
    parts = dict(rule._original_rule)
    start = rule._dtstart
    if parts.get("bymonth", ()) is None:
        parts["bymonth"] = start.month
    if parts.get("bymonthday", ()) is None:
        parts["bymonthday"] = start.day
    if parts.get("byweekday", ()) is None:
        parts["byweekday"] = start.weekday()
    return parts


def shifted_start(rule: Rule, before: datetime) -> datetime:
    """The latest DTSTART on or before `before` that gives `rule` the same dates from there
    on: whole periods (INTERVAL days, weeks, months or years) after the rule's own start.

    A start in year 1 would otherwise make every search walk two thousand years. A rule with
    COUNT is counted from its real start and is never shifted.
    """
    start = rule._dtstart
    if rule._count is not None or before <= start:
        return start
    interval = rule._interval
    if rule._freq in (DAILY, WEEKLY):
        step = interval * (7 if rule._freq == WEEKLY else 1)
        periods = (before.date() - start.date()).days // step
        return start + timedelta(days=periods * step)
    if rule._freq == MONTHLY:
        months = (before.year - start.year) * 12 + before.month - start.month
        shift = months // interval * interval
        if shift <= 0:
            return start
        year, month0 = divmod(start.month - 1 + shift, 12)
        return start.replace(year=start.year + year, month=month0 + 1, day=1)
    if rule._freq == YEARLY:
        shift = (before.year - start.year) // interval * interval
        if shift <= 0:
            return start
        return start.replace(year=start.year + shift, month=1, day=1)
    return start  # pragma: no cover - sub-daily rules are refused


def bounded_search(rule: Rule, begin: datetime, horizon: datetime) -> BoundedRule:
    """`rule` limited to dates before `horizon` and starting as late as `begin` allows, with
    a cap on the days examined (so any search costs milliseconds, whatever the rule)."""
    until = rule._until if rule._until is not None and rule._until < horizon else horizon
    start = shifted_start(rule, begin)
    kwargs = {
        "freq": rule._freq,
        "dtstart": start,
        "interval": rule._interval,
        "wkst": rule._wkst,
        "count": rule._count,
        **_explicit_defaults(rule),
    }
    if rule._count is None:
        kwargs["until"] = until
    # The days from the start to the horizon, and a year of slack (a yearly period is
    # examined whole), never more than MAX_DAYS_EXAMINED.
    budget = min(max((horizon - start).days, 0) + 366, MAX_DAYS_EXAMINED)
    return BoundedRule(**kwargs, max_days=budget)


@dataclass(frozen=True)
class Schedule:
    rrule: str
    time_zone: str
    due_time: time
    starts_on: date

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return time_zone(self.time_zone)

    def rule(self) -> Rule:
        text = normalise_rrule(self.rrule)
        if not text:
            raise ScheduleError("rrule", "Enter a repeat rule, e.g. FREQ=MONTHLY;BYMONTHDAY=1.")
        if "DTSTART" in text:
            raise ScheduleError("rrule", "Leave DTSTART out: the start date is set separately.")
        for part in text.split(";"):
            if part.count("=") != 1:  # dateutil's own message would be Python's ("unpack")
                what = f"“{part}”" if part else "an empty part (a stray semicolon)"
                raise ScheduleError(
                    "rrule",
                    f"This is not a valid RRULE: {what} is not NAME=VALUE. Separate the "
                    "parts with semicolons, e.g. FREQ=WEEKLY;BYDAY=MO.",
                )
        dtstart = datetime.combine(self.starts_on, self.due_time)
        text = _UNTIL_UTC.sub(lambda m: self._local_until(m.group(1)), text)
        try:
            parsed = rrulestr(f"RRULE:{text}", dtstart=dtstart)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ScheduleError("rrule", f"This is not a valid RRULE: {exc}.") from None
        if not isinstance(parsed, Rule):  # pragma: no cover - a set needs several lines
            raise ScheduleError("rrule", "Use a single RRULE line.")
        if parsed._freq > DAILY or _SUB_DAILY.search(text):  # HOURLY …, or BYHOUR=9,17
            raise ScheduleError(
                "rrule",
                "Cadences repeat at most daily (FREQ=DAILY or slower), at the due time: "
                "leave BYHOUR, BYMINUTE and BYSECOND out.",
            )
        if parsed._interval < 1:  # dateutil would loop for ever on INTERVAL=0
            raise ScheduleError("rrule", "INTERVAL must be 1 or more.")
        return parsed

    def _local_until(self, stamp: str) -> str:
        """UNTIL=…Z (UTC, as RFC 5545 wants with a zoned start) on the team's wall clock."""
        try:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return f"UNTIL={stamp}Z"
        return "UNTIL=" + moment.astimezone(self.tz).strftime("%Y%m%dT%H%M%S")

    def to_utc(self, local: datetime) -> datetime:
        """A wall-clock time in the team's zone as UTC.

        A time in a spring-forward gap moves forward by the gap; an ambiguous autumn time
        takes its first (summer-time) instance.
        """
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def after(self, moment: datetime, count: int, *, inclusive: bool = False) -> list[datetime]:
        """The next `count` due times (UTC) after `moment` (an aware datetime), searching at
        most SEARCH_YEARS ahead and examining at most MAX_DAYS_EXAMINED days."""
        rule = self.search_rule(moment)
        local = moment.astimezone(self.tz).replace(tzinfo=None) - timedelta(days=1)
        out: list[datetime] = []
        if rule._until is not None and rule._dtstart > rule._until:
            return out  # starts after the search window (or after its own UNTIL)
        try:
            for candidate in rule.xafter(local, count=None, inc=True):
                at = self.to_utc(candidate)
                if at > moment or (inclusive and at == moment):
                    out.append(at)
                    if len(out) >= count:
                        break
        except SearchBudgetSpent:
            pass  # nothing more within reach: what was found stands
        except (ValueError, OverflowError) as exc:  # dateutil fails some rules only lazily
            raise ScheduleError("rrule", f"This rule cannot be computed: {exc}.") from None
        return out

    def search_rule(self, moment: datetime) -> BoundedRule:
        """The rule as searched from `moment`: a late-enough start, an UNTIL at most
        SEARCH_YEARS ahead and a cap on the days examined."""
        rule = self.rule()
        # Start a day early on the local clock; the exact bound is checked in UTC.
        local = moment.astimezone(self.tz).replace(tzinfo=None) - timedelta(days=1)
        if rule._count is not None and (local - rule._dtstart).days > 366 * COUNT_LOOKBACK_YEARS:
            raise ScheduleError(
                "starts_on",
                f"A rule with COUNT is counted from its start date: start it within the last "
                f"{COUNT_LOOKBACK_YEARS} years, or leave COUNT out.",
            )
        try:
            return bounded_search(rule, local, local + timedelta(days=366 * SEARCH_YEARS))
        except (ValueError, OverflowError) as exc:
            raise ScheduleError("rrule", f"This rule cannot be computed: {exc}.") from None

    def first_local(self) -> datetime | None:
        """The first occurrence on or after the start date, on the team's wall clock (naive),
        or None when there is none within SEARCH_YEARS of the start."""
        rule = self.rule()
        start = rule._dtstart
        try:
            bounded = bounded_search(rule, start, start + timedelta(days=366 * SEARCH_YEARS))
            return next(iter(bounded), None)
        except SearchBudgetSpent:
            return None
        except (ValueError, OverflowError) as exc:
            raise ScheduleError("rrule", f"This rule cannot be computed: {exc}.") from None

    def next_after(self, moment: datetime, *, inclusive: bool = False) -> datetime | None:
        found = self.after(moment, 1, inclusive=inclusive)
        return found[0] if found else None


# --------------------------------------------------------------------------- in words
_UNITS = {YEARLY: "year", MONTHLY: "month", WEEKLY: "week", DAILY: "day"}
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ORDINALS = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    5: "fifth",
    -1: "last",
    -2: "second-to-last",
    -3: "third-to-last",
}


def _ordinal(n: int) -> str:
    if n in _ORDINALS:
        return _ORDINALS[n]
    if n < 0:
        return f"{_ordinal(-n)}-to-last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _ranges(numbers: Iterable[int]) -> list[str]:
    """[1, 2, 3, 5] -> ['1–3', '5']."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(numbers):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}–{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
        run = [n]
    if run:
        out.append(f"{run[0]}–{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
    return out


def describe(schedule: Schedule) -> str:
    """The rule in plain words, e.g. "Every 2 weeks on Thursday" or "Every year in January
    and July on the first Monday, 4 times". Never the raw RRULE."""
    try:
        rule = schedule.rule()
    except ScheduleError:
        return "A rule that cannot be read"
    if rule._count == 1:  # a commitment's follow-up: "Every day, once" said nothing useful
        try:
            first = schedule.first_local()  # bounded: a rule that never matches costs little
        except ScheduleError:
            first = None
        if first is not None:
            return f"Once, on {first:%a %-d %b %Y}"
    unit = _UNITS.get(rule._freq, "day")
    interval = rule._interval
    words = f"Every {unit}" if interval == 1 else f"Every {interval} {unit}s"
    yearly_default = rule._freq == YEARLY and rule._original_rule.get("bymonthday", ()) is None
    if yearly_default and rule._bymonth and rule._bymonthday:  # the start's day and month
        words += f" on {rule._bymonthday[0]} {_MONTHS[rule._bymonth[0] - 1]}"
        return words + _count_until(rule)
    if rule._bymonth:
        words += " in " + _join([_MONTHS[m - 1] for m in rule._bymonth])
    if rule._byweekno:
        words += " in week " + _join([str(w) for w in rule._byweekno])
    if rule._byyearday:
        words += " on day " + _join([str(d) for d in rule._byyearday]) + " of the year"
    weekdays = [_DAYS[d] for d in rule._byweekday or ()]
    nth = [f"the {_ordinal(n)} {_DAYS[d]}" for d, n in rule._bynweekday or ()]
    monthdays = [*(rule._bymonthday or ()), *(rule._bynmonthday or ())]
    setpos = list(rule._bysetpos or ())
    days = ""
    if monthdays:
        positive = [d for d in monthdays if d > 0]
        negative = [f"the {_ordinal(d)} day" for d in sorted(monthdays) if d < 0]
        listed = (
            [("day " if len(positive) == 1 else "days ") + _join(_ranges(positive), "or")]
            if positive
            else []
        )
        days = _join(listed + negative, "or")
    if setpos:
        what = _join(weekdays, "or") if weekdays else "day"
        where = f" falling on {days}" if days else ""
        words += f" on the {_join([_ordinal(p) for p in setpos])} {what}{where}"
    else:
        if nth:
            words += " on " + _join(nth)
        elif weekdays and not (
            rule._freq == WEEKLY
            and len(weekdays) == 1
            and rule._original_rule.get("byweekday") is None
        ):
            words += " on " + _join(weekdays)
        elif weekdays:
            words += " on " + weekdays[0]
        if days:
            words += (" falling on " if nth or weekdays else " on ") + days
    return words + _count_until(rule)


def _count_until(rule: Rule) -> str:
    words = ""
    if rule._count:
        words += ", once" if rule._count == 1 else f", {rule._count} times"
    if rule._until:
        words += f", until {rule._until:%-d %b %Y}"
    return words


def shortest_gap(times: Iterable[datetime]) -> timedelta | None:
    gaps = [b - a for a, b in pairwise(times)]
    return min(gaps) if gaps else None


def validate(
    schedule: Schedule, reminder_days: Iterable[int], now: datetime, *, sample: int = 24
) -> list[datetime]:
    """Check a schedule a person entered; return its next `sample` due times (UTC).

    Raises ScheduleError for an unknown time zone, an invalid RRULE, a rule with no future
    occurrences, or a reminder offset as long as the time between two occurrences.
    """
    schedule.tz  # noqa: B018 - raises for an unknown zone
    if not EARLIEST_START <= schedule.starts_on <= LATEST_START:
        raise ScheduleError(
            "starts_on",
            f"Choose a start date between {EARLIEST_START.year} and {LATEST_START.year}.",
        )
    upcoming = schedule.after(now, sample)
    if not upcoming:
        raise ScheduleError(
            "rrule",
            f"This rule has no future occurrences in the next {SEARCH_YEARS} years: check the "
            "months and days it names (30 February never comes), UNTIL and COUNT.",
        )
    longest = max((d for d in reminder_days), default=0)
    gap = shortest_gap(upcoming)
    if longest and gap is not None and timedelta(days=longest) >= gap:
        raise ScheduleError(
            "reminder_days",
            f"A reminder {longest} days before is not shorter than the "
            f"{_human_days(gap)} between two occurrences.",
        )
    return upcoming


def _human_days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days.is_integer() or days > 3:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''}"
    return f"{days:.1f} days"


def parse_days(text: str) -> list[int]:
    """'7, 1, 0' -> [7, 1] (days before; 0 is the due reminder, always sent)."""
    out: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip().lower().removesuffix("days").removesuffix("day").removesuffix("d")
        if not part.strip():
            continue
        try:
            value = int(part)
        except ValueError:
            raise ScheduleError(
                "reminder_days", f"“{part.strip()}” is not a number of days."
            ) from None
        if value < 0 or value > 366:
            raise ScheduleError("reminder_days", "Offsets are between 0 and 366 days before.")
        if value:
            out.add(value)
    return sorted(out, reverse=True)


# --------------------------------------------------------------------------- reminder timeline
BEFORE, DUE, OVERDUE, ESCALATION = "before", "due", "overdue", "escalation"


def wall(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` on the wall clock of `tz` (naive)."""
    return moment.astimezone(tz).replace(tzinfo=None)


def from_wall(local: datetime, tz: tzinfo) -> datetime:
    """A naive wall-clock time in `tz` as UTC (a gap moves forward, a fold takes summer time)."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def shift_days(moment: datetime, days: int, tz: tzinfo) -> datetime:
    """`days` calendar days later (earlier if negative) at the same local time in `tz`.

    "1 day before 09:00" is 09:00 the day before, even when a DST change lies between
    (24 hours would give 08:00 or 10:00).
    """
    return from_wall(wall(moment, tz) + timedelta(days=days), tz)


@dataclass(frozen=True)
class Timeline:
    """Reminder points of one occurrence, on the calendar of the team's zone `tz`."""

    due_at: datetime
    overdue_at: datetime
    reminder_days: tuple[int, ...] = ()
    nag_every: timedelta | None = None  # whole days
    escalate_at: datetime | None = None
    tz: tzinfo = UTC

    def main_points(self) -> list[tuple[datetime, str, int]]:
        """Before, due and overdue points (nags are computed lazily)."""
        points = [
            (shift_days(self.due_at, -d, self.tz), BEFORE, d)
            for d in sorted(set(self.reminder_days), reverse=True)
            if d > 0
        ]
        points.append((self.due_at, DUE, 0))
        points.append((self.overdue_at, OVERDUE, 0))
        return points

    def _nag(self, seq: int) -> datetime:
        assert self.nag_every is not None
        return from_wall(wall(self.overdue_at, self.tz) + seq * self.nag_every, self.tz)

    def _nags_before(self, now: datetime) -> int:
        """How many nag intervals have passed since overdue (on the local wall clock)."""
        assert self.nag_every is not None
        seq = int((wall(now, self.tz) - wall(self.overdue_at, self.tz)) / self.nag_every)
        while seq > 0 and self._nag(seq) > now:  # a DST fold can put the wall clock ahead
            seq -= 1
        return max(seq, 0)

    def latest_main(self, now: datetime) -> tuple[datetime, str, int] | None:
        """The most recent main-track point at or before `now` (older ones are superseded)."""
        latest = None
        for point in self.main_points():
            if point[0] <= now:
                latest = point
        if latest and latest[1] == OVERDUE and self.nag_every:
            seq = self._nags_before(now)
            if seq:
                return (self._nag(seq), OVERDUE, seq)
        return latest

    def due_now(self, now: datetime) -> list[tuple[str, int]]:
        """The (kind, seq) reminders that should exist by `now`."""
        out = []
        latest = self.latest_main(now)
        if latest:
            out.append((latest[1], latest[2]))
        if self.escalate_at is not None and self.escalate_at <= now:
            out.append((ESCALATION, 0))
        return out

    def next_point(self, now: datetime) -> datetime | None:
        """When the next reminder after `now` falls due (None: nothing more to send)."""
        candidates = [at for at, _, _ in self.main_points() if at > now]
        if now >= self.overdue_at and self.nag_every:
            candidates.append(self._nag(self._nags_before(now) + 1))
        if self.escalate_at is not None and self.escalate_at > now:
            candidates.append(self.escalate_at)
        return min(candidates, default=None)


# --------------------------------------------------------------------------- the weekly digest
DIGEST_WEEKDAY = 0  # Monday
DIGEST_TIME = time(8, 0)


def next_digest_at(tz: tzinfo, now: datetime) -> datetime:
    """The next Monday 08:00 in the team's zone strictly after `now`, in UTC."""
    local = now.astimezone(tz)
    days = (DIGEST_WEEKDAY - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days), DIGEST_TIME, tzinfo=tz)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate.astimezone(zoneinfo.ZoneInfo("UTC"))
