from datetime import date

import pytest

from planning.quarters import Quarter, parse_quarter, quarter_boundaries, quarter_of


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
