"""Fiscal quarters. A team's fiscal year starts in a chosen month; quarters follow from it.

Convention: the fiscal year is named after the calendar year in which it *ends* when it
does not start in January (FY2027 with an April start runs 2026-04-01 … 2027-03-31), the
common convention for most companies. With a January start, FY == calendar year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planning.teams.models import Team

_LABEL = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int  # fiscal year
    number: int  # 1..4
    start_month: int = 1  # the team's fiscal-year start month

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        """What people read: "FY2027 Q4" for a fiscal year not starting in January (named
        after the year it ends in), "Q4 2026" for a calendar year. str() is the URL form."""
        if self.start_month == 1:
            return f"Q{self.number} {self.year}"
        return f"FY{self.year} Q{self.number}"

    @property
    def months(self) -> str:
        """The calendar months it covers: "Oct–Dec 2026", "Dec 2026–Feb 2027"."""
        first, last = self.start, self.end
        if first.year == last.year:
            return f"{first:%b}–{last:%b %Y}"
        return f"{first:%b %Y}–{last:%b %Y}"

    @property
    def start(self) -> date:
        months = self.start_month - 1 + (self.number - 1) * 3
        first_year = self.year if self.start_month == 1 else self.year - 1
        return date(first_year + months // 12, months % 12 + 1, 1)

    @property
    def end(self) -> date:
        """Last day of the quarter (inclusive)."""
        return self.next().start - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1, self.start_month)
        return Quarter(self.year, self.number + 1, self.start_month)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4, self.start_month)
        return Quarter(self.year, self.number - 1, self.start_month)


class QuarterConverter:
    """`<quarter:quarter>` in every URL that names a quarter ("2026-Q3"; the view parses it
    with the team's fiscal year). Registered once, in planning/urls.py."""

    regex = r"\d{4}-Q[1-4]"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)  # a label, or a Quarter


def quarter_of(day: date, start_month: int = 1) -> Quarter:
    offset = (day.month - start_month) % 12
    number = offset // 3 + 1
    fy_first_year = day.year if day.month >= start_month else day.year - 1
    year = fy_first_year if start_month == 1 else fy_first_year + 1
    return Quarter(year, number, start_month)


def parse_quarter(label: str, start_month: int = 1) -> Quarter:
    match = _LABEL.match(label.strip())
    if not match:
        raise ValueError(f"“{label}” is not a quarter like 2026-Q1.")
    if not 1900 <= int(match.group(1)) <= 2200:
        raise ValueError(f"“{label}” is outside the years 1900 to 2200.")
    return Quarter(int(match.group(1)), int(match.group(2)), start_month)


def current_quarter(team: Team) -> Quarter:
    """The quarter containing today in the team's time zone."""
    return quarter_of(team.today(), team.fiscal_year_start_month)


def quarter_boundaries(
    first: date, last: date, start_month: int = 1, limit: int = 400
) -> list[date]:
    """Start dates of the quarters that begin within [first, last] (chart gridlines): at most
    `limit` of them, and none past the last year a date can have."""
    q = quarter_of(first, start_month).next()
    out: list[date] = []
    while len(out) < limit and q.year <= date.max.year and q.start <= last:
        out.append(q.start)
        q = q.next()
    return out


def quarter_label(label: str, start_month: int = 1) -> tuple[str, str]:
    """(what people read, the calendar months) for a stored label like "2027-Q4"; a label that
    is not a quarter comes back as it is, with no months."""
    try:
        q = parse_quarter(str(label), start_month)
    except ValueError:
        return str(label), ""
    return q.label, q.months
