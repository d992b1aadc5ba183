"""Every schedule computation is bounded (issue 14): an impossible rule or a start in year 1
costs a few thousand examined days, never a walk to year 9999; and rules read as words."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.rrule import rrulestr

from planning.cadences import schedule as sched
from planning.cadences.schedule import Schedule, ScheduleError

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
IMPOSSIBLE = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31",
    "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=31",
    "FREQ=MONTHLY;INTERVAL=12;BYMONTH=6",  # a January start only ever visits January
]


@pytest.mark.parametrize("rule", IMPOSSIBLE)
@pytest.mark.parametrize("start", [date(2026, 1, 1), date(1, 1, 1), date(9000, 1, 1)])
def test_a_rule_that_never_matches_stops_at_the_cap(rule, start):
    s = Schedule(rule, "Europe/London", time(9), start)
    assert s.after(NOW, 24) == []
    bounded = s.search_rule(NOW)
    assert bounded.max_days <= sched.MAX_DAYS_EXAMINED
    with pytest.raises(sched.SearchBudgetSpent):
        list(bounded)
    assert bounded.days_examined <= bounded.max_days + 366  # one period past the cap at most
    with pytest.raises(ScheduleError) as err:
        sched.validate(s, [], NOW)
    assert err.value.field in ("rrule", "starts_on")


def test_the_cap_is_about_ten_years_of_days_for_a_daily_rule():
    s = Schedule(IMPOSSIBLE[0], "UTC", time(9), date(1, 1, 1))
    bounded = s.search_rule(NOW)
    with pytest.raises(sched.SearchBudgetSpent):
        list(bounded)
    # Searched from a day before now (shifted from year 1), for SEARCH_YEARS and a year slack.
    assert bounded._dtstart.date() >= (NOW - timedelta(days=2)).date()
    assert 366 * sched.SEARCH_YEARS <= bounded.days_examined <= 366 * (sched.SEARCH_YEARS + 2)


RULES = [
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY;INTERVAL=7;BYMONTH=2",
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;WKST=SU",
    "FREQ=MONTHLY",
    "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1",
    "FREQ=YEARLY",
    "FREQ=YEARLY;INTERVAL=3",
    "FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO",
    "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
    sched.preset_rrule("monthly_last_working_thursday"),
]
STARTS = [date(1999, 1, 31), date(2000, 2, 29), date(2019, 8, 31), date(2024, 12, 30)]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("start", STARTS)
def test_a_shifted_start_gives_exactly_the_dates_of_the_real_start(rule, start):
    """The search starts late (whole periods after the real start), with the same dates."""
    s = Schedule(rule, "UTC", time(9), start)
    got = s.after(NOW, 12)
    plain = rrulestr(f"RRULE:{rule}", dtstart=datetime.combine(start, time(9)))
    horizon = NOW + timedelta(days=366 * sched.SEARCH_YEARS - 1)  # the search's window
    expected = [
        d.replace(tzinfo=UTC)
        for d in plain.xafter(NOW.replace(tzinfo=None), count=12)
        if d.replace(tzinfo=UTC) < horizon
    ]
    assert got == expected and got  # (a Feb 29 start every 3 years: once in ten years)
    assert s.search_rule(NOW)._dtstart >= datetime.combine(start, time(9))


def test_a_count_rule_is_counted_from_its_real_start():
    s = Schedule("FREQ=WEEKLY;COUNT=600", "UTC", time(9), date(2020, 1, 2))
    plain = rrulestr("RRULE:FREQ=WEEKLY;COUNT=600", dtstart=datetime(2020, 1, 2, 9))
    assert s.after(NOW, 3) == [
        d.replace(tzinfo=UTC) for d in plain.xafter(NOW.replace(tzinfo=None), count=3)
    ]
    old = Schedule("FREQ=DAILY;COUNT=100000", "UTC", time(9), date(1, 1, 1))
    with pytest.raises(ScheduleError) as err:
        old.after(NOW, 1)
    assert err.value.field == "starts_on" and "COUNT" in err.value.message


def test_start_dates_outside_1900_to_2200_are_refused():
    for start in (date(1, 1, 1), date(1899, 12, 31), date(2201, 1, 1)):
        with pytest.raises(ScheduleError) as err:
            sched.validate(Schedule("FREQ=DAILY", "UTC", time(9), start), [], NOW)
        assert err.value.field == "starts_on"


def test_first_local_is_the_first_real_occurrence():
    s = Schedule("FREQ=MONTHLY;BYDAY=-1FR", "UTC", time(15), date(2026, 12, 2))
    assert s.first_local() == datetime(2026, 12, 25, 15)
    assert Schedule(IMPOSSIBLE[0], "UTC", time(9), date(2026, 1, 1)).first_local() is None


def test_default_retrospective_avoids_the_year_end_holidays():
    rule = sched.preset_rrule("monthly_last_working_thursday")
    s = Schedule(rule, "Europe/London", time(15), date(2026, 1, 1))
    dates = [d.date() for d in s.after(datetime(2026, 1, 1, tzinfo=UTC), 12 * 9)]
    assert len(dates) == 108  # every month of nine years
    assert all(d.weekday() == 3 for d in dates)
    assert not [d for d in dates if (d.month, d.day) in {(12, 24), (12, 25), (12, 26), (12, 31)}]
    # Otherwise it is the month's last Thursday (or the one a week before it).
    assert all(d.day >= 17 for d in dates)
    assert date(2030, 12, 19) in dates  # last Thursday would be Boxing Day
    assert date(2025, 12, 18) not in dates and date(2026, 12, 24) not in dates
    assert date(2026, 12, 17) in dates  # 24 and 31 December 2026 are Thursdays
    assert date(2027, 12, 30) in dates  # a plain last Thursday


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=1", "Every month on day 1"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "Every 2 weeks on Thursday"),
        ("FREQ=YEARLY;BYMONTH=1,7;BYDAY=1MO;COUNT=4",
         "Every year in January and July on the first Monday, 4 times"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Every month on the last Friday"),
        ("FREQ=MONTHLY", "Every month on day 15"),
        ("FREQ=YEARLY", "Every year on 15 January"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "Every month on the last day"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "Every day in February on day 30"),
        ("FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20270101T090000Z",
         "Every week on Monday and Thursday, until 1 Jan 2027"),
        ("FREQ=DAILY;COUNT=1", "Once, on Thu 15 Jan 2026"),  # was "Every day, once"
        ("FREQ=WEEKLY;BYDAY=MO;COUNT=1", "Once, on Mon 19 Jan 2026"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=1",
         "Every year in February on day 30, once"),  # no date to name
        (sched.preset_rrule("monthly_last_working_thursday"),
         "Every month on the last Thursday falling on days 1–23 or 27–30"),
    ],
)  # fmt: skip
def test_rules_read_as_words(rule, words):
    assert sched.describe(Schedule(rule, "UTC", time(9), date(2026, 1, 15))) == words
