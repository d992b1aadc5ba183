"""Pure schedule logic: occurrences on the team's wall clock, across DST and fiscal years."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from planning.cadences import schedule as sched
from planning.cadences.schedule import Schedule, ScheduleError, Timeline


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_due_time_stays_on_the_wall_clock_across_both_dst_changes():
    s = Schedule("FREQ=WEEKLY;BYDAY=MO", "Europe/London", time(9), date(2026, 3, 1))
    # London: BST starts Sun 29 Mar 2026, ends Sun 25 Oct 2026.
    spring = s.after(utc(2026, 3, 20), 3)
    assert spring == [utc(2026, 3, 23, 9), utc(2026, 3, 30, 8), utc(2026, 4, 6, 8)]
    autumn = s.after(utc(2026, 10, 15), 3)
    assert autumn == [utc(2026, 10, 19, 8), utc(2026, 10, 26, 9), utc(2026, 11, 2, 9)]


def test_new_york_and_sydney_dst_in_opposite_directions():
    ny = Schedule("FREQ=DAILY", "America/New_York", time(10), date(2026, 3, 6))
    assert ny.after(utc(2026, 3, 7), 2) == [utc(2026, 3, 7, 15), utc(2026, 3, 8, 14)]
    syd = Schedule("FREQ=DAILY", "Australia/Sydney", time(10), date(2026, 4, 1))
    # AEDT (+11) ends Sun 5 Apr 2026 03:00 -> AEST (+10).
    assert syd.after(utc(2026, 4, 3), 3) == [
        utc(2026, 4, 3, 23),
        utc(2026, 4, 5, 0),
        utc(2026, 4, 6, 0),
    ]


def test_a_due_time_in_the_spring_forward_gap_moves_forward():
    s = Schedule("FREQ=DAILY", "Europe/London", time(1, 30), date(2026, 3, 28))
    got = s.after(utc(2026, 3, 28), 3)
    # 28 Mar 01:30 GMT; 29 Mar 01:30 does not exist -> 02:30 BST (01:30 UTC); 30 Mar 01:30 BST.
    assert got == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]


@pytest.mark.parametrize(
    ("start_month", "months"),
    [(1, [1, 4, 7, 10]), (4, [1, 4, 7, 10]), (2, [2, 5, 8, 11]), (11, [2, 5, 8, 11])],
)
def test_fiscal_quarter_preset_follows_the_fiscal_year(start_month, months):
    rule = sched.preset_rrule("quarter_first_monday", start_month)
    s = Schedule(rule, "Europe/London", time(10), date(2026, 1, 1))
    got = s.after(utc(2026, 1, 1), 4)
    assert [d.month for d in got] == months
    assert all(d.astimezone(s.tz).weekday() == 0 and d.astimezone(s.tz).day <= 7 for d in got)


def test_first_monday_of_fiscal_quarter_february_start_crosses_year_end():
    rule = sched.preset_rrule("quarter_first_monday", 2)
    s = Schedule(rule, "UTC", time(10), date(2026, 1, 1))
    got = s.after(utc(2026, 11, 3), 2)
    assert got == [utc(2027, 2, 1, 10), utc(2027, 5, 3, 10)]


def test_last_friday_of_fiscal_quarter_uses_the_last_month():
    rule = sched.preset_rrule("quarter_last_friday", 4)  # quarters end Jun, Sep, Dec, Mar
    assert "BYMONTH=3,6,9,12" in rule


def test_every_two_weeks_keeps_the_parity_of_the_start_date():
    s = Schedule(sched.preset_rrule("biweekly_thursday"), "UTC", time(9), date(2026, 1, 1))
    got = s.after(utc(2026, 1, 10), 3)
    assert got == [utc(2026, 1, 15, 9), utc(2026, 1, 29, 9), utc(2026, 2, 12, 9)]


def test_monthly_day_one_and_preset_recognition():
    rule = sched.preset_rrule("monthly_day_1")
    s = Schedule(rule, "Europe/Berlin", time(9), date(2026, 1, 1))
    assert s.after(utc(2026, 1, 15), 2) == [utc(2026, 2, 1, 8), utc(2026, 3, 1, 8)]
    assert sched.preset_for("rrule:freq=monthly;bymonthday=1", 1) == "monthly_day_1"
    assert sched.preset_for("FREQ=MONTHLY;BYMONTHDAY=2", 1) == sched.CUSTOM


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        ("FREQ=SOMETIMES", "rrule", "not a valid RRULE"),
        ("BYDAY=MO", "rrule", "not a valid RRULE"),
        ("FREQ=HOURLY", "rrule", "at most daily"),
        ("FREQ=DAILY;UNTIL=20200101T000000Z", "rrule", "no future occurrences"),
        ("FREQ=WEEKLY;COUNT=2", "rrule", "no future occurrences"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "rrule", "DTSTART"),
        ("FREQ=DAILY;BYHOUR=9,17", "rrule", "at most daily"),
        ("FREQ=WEEKLY;BYDAY=MO;BYMINUTE=0,30", "rrule", "BYMINUTE"),
        ("FREQ=DAILY;INTERVAL=0", "rrule", "INTERVAL must be 1 or more"),  # used to hang
        ("FREQ=DAILY;INTERVAL=-1", "rrule", "INTERVAL must be 1 or more"),  # used to be a 500
        ("garbage", "rrule", "“GARBAGE” is not NAME=VALUE"),  # "not enough values to unpack"
        ("FREQ=DAILY;", "rrule", "an empty part (a stray semicolon) is not NAME=VALUE"),
        ("FREQ==DAILY", "rrule", "“FREQ==DAILY” is not NAME=VALUE"),  # "too many values"
    ],
)
def test_invalid_rules_get_clear_messages(rule, field, fragment):
    """Each message is the app's or dateutil's own words, never Python's ("unpack")."""
    s = Schedule(rule, "UTC", time(9), date(2024, 1, 1))
    with pytest.raises(ScheduleError) as err:
        sched.validate(s, [], utc(2026, 1, 1))
    assert err.value.field == field
    assert fragment in err.value.message


def test_offsets_longer_than_the_period_are_refused():
    s = Schedule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "UTC", time(9), date(2026, 1, 1))
    with pytest.raises(ScheduleError) as err:
        sched.validate(s, [14], utc(2026, 1, 1))
    assert err.value.field == "reminder_days"
    assert "14 days" in err.value.message
    assert len(sched.validate(s, [13], utc(2026, 1, 1))) == 24


def test_unknown_time_zone():
    s = Schedule("FREQ=DAILY", "Mars/Olympus_Mons", time(9), date(2026, 1, 1))
    with pytest.raises(ScheduleError) as err:
        sched.validate(s, [], utc(2026, 1, 1))
    assert err.value.field == "time_zone"


def test_parse_days():
    assert sched.parse_days("7, 1, 0, 7d, 2 days") == [7, 2, 1]
    assert sched.parse_days("") == []
    with pytest.raises(ScheduleError):
        sched.parse_days("soon")
    with pytest.raises(ScheduleError):
        sched.parse_days("-1")


def test_timeline_sends_only_the_latest_point_and_nags():
    due = utc(2026, 4, 6, 9)
    t = Timeline(
        due_at=due,
        overdue_at=due + timedelta(days=2),
        reminder_days=(7, 1),
        nag_every=timedelta(days=3),
        escalate_at=due + timedelta(days=9),
    )
    assert t.due_now(due - timedelta(days=8)) == []
    assert t.next_point(due - timedelta(days=8)) == due - timedelta(days=7)
    assert t.due_now(due - timedelta(days=3)) == [("before", 7)]
    assert t.due_now(due - timedelta(hours=1)) == [("before", 1)]
    assert t.due_now(due) == [("due", 0)]
    assert t.next_point(due) == due + timedelta(days=2)
    assert t.due_now(due + timedelta(days=2)) == [("overdue", 0)]
    assert t.due_now(due + timedelta(days=5, hours=1)) == [("overdue", 1)]
    assert t.next_point(due + timedelta(days=5, hours=1)) == due + timedelta(days=8)
    assert t.due_now(due + timedelta(days=9)) == [("overdue", 2), ("escalation", 0)]
    assert t.next_point(due + timedelta(days=9)) == due + timedelta(days=11)


def test_timeline_without_nagging_ends():
    due = utc(2026, 4, 6, 9)
    t = Timeline(due_at=due, overdue_at=due + timedelta(days=1))
    assert t.next_point(due + timedelta(days=1)) is None
    assert t.due_now(due + timedelta(days=30)) == [("overdue", 0)]
