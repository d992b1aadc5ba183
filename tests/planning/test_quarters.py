from datetime import date
from types import SimpleNamespace

import pytest

from planning.quarters import (
    Quarter,
    current_quarter,
    parse_quarter,
    quarter_boundaries,
    quarter_label,
    quarter_of,
)


@pytest.mark.parametrize(
    ("day", "start", "label", "qstart", "qend"),
    [
        (date(2026, 1, 1), 1, "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 12, 31), 1, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 4, 1), 4, "2027-Q1", date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 3, 31), 4, "2026-Q4", date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 11, 25), 2, "2027-Q4", date(2026, 11, 1), date(2027, 1, 31)),
        (date(2024, 2, 29), 12, "2024-Q1", date(2023, 12, 1), date(2024, 2, 29)),
    ],
)
def test_quarter_of(day, start, label, qstart, qend):
    q = quarter_of(day, start)
    assert str(q) == label
    assert (q.start, q.end) == (qstart, qend)
    assert q.contains(day)


def test_next_previous_and_parse():
    q = parse_quarter("2026-Q4", 4)
    assert q.next() == Quarter(2027, 1, 4)
    assert q.next().previous() == q
    with pytest.raises(ValueError, match="not a quarter"):
        parse_quarter("2026-Q5")


def test_quarters_tile_the_year_without_gaps():
    for start in range(1, 13):
        q = quarter_of(date(2025, 6, 15), start)
        for _ in range(8):
            assert q.next().start == q.end.fromordinal(q.end.toordinal() + 1)
            q = q.next()


def test_boundaries():
    assert quarter_boundaries(date(2026, 1, 15), date(2026, 12, 31)) == [
        date(2026, 4, 1),
        date(2026, 7, 1),
        date(2026, 10, 1),
    ]


def test_labels_and_months_read_as_people_write_them():
    assert Quarter(2026, 4).label == "Q4 2026"
    assert Quarter(2027, 4, 4).label == "FY2027 Q4"
    assert Quarter(2026, 4).months == "Oct–Dec 2026"
    assert Quarter(2027, 4, 12).months == "Sep–Nov 2027"
    assert Quarter(2027, 1, 12).months == "Dec 2026–Feb 2027"


def test_previous_of_a_first_quarter_is_last_years_fourth():
    assert Quarter(2027, 1, 4).previous() == Quarter(2026, 4, 4)


def test_parse_refuses_far_years():
    with pytest.raises(ValueError, match="outside the years"):
        parse_quarter("2500-Q1")
    assert parse_quarter(" 2026-Q2 ", 7) == Quarter(2026, 2, 7)


def test_quarter_label_of_stored_labels():
    assert quarter_label("2027-Q4", 4) == ("FY2027 Q4", "Jan–Mar 2027")
    assert quarter_label("someday") == ("someday", "")


def test_current_quarter_follows_the_teams_day_and_fiscal_year():
    team = SimpleNamespace(today=lambda: date(2026, 4, 1), fiscal_year_start_month=4)
    assert current_quarter(team) == Quarter(2027, 1, 4)


def test_boundaries_stop_at_the_limit():
    assert len(quarter_boundaries(date(2000, 1, 1), date(2100, 1, 1), limit=5)) == 5
