"""The team's calendar feed: each cadence as one recurring event (RRULE), with stable UIDs
and an alarm at each reminder offset."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from icalendar import Alarm, Calendar, Event, vRecur

from planning.teams.models import Team

from .models import Cadence
from .schedule import ScheduleError

EVENT_LENGTH = timedelta(hours=1)


def uid(cadence: Cadence, site: str) -> str:
    host = site.split("://", 1)[-1].split("/", 1)[0] or "exponent"
    return f"cadence-{cadence.pk}@{host}"


def event(cadence: Cadence, team: Team, site: str, stamp: datetime) -> Event | None:
    """One recurring event, or None when the rule has no occurrence to start it on.

    DTSTART is the rule's first real occurrence on or after the start date: RFC 5545 counts
    DTSTART as an event, so a start date the rule does not match would show a false one.
    """
    try:
        first = cadence.schedule(team).first_local()
    except ScheduleError:
        return None
    if first is None:
        return None
    start = first.replace(tzinfo=team.tz)
    ev = Event()
    ev.add("uid", uid(cadence, site))
    ev.add("dtstamp", stamp)
    ev.add("summary", cadence.title)
    ev.add("dtstart", start)
    ev.add("duration", EVENT_LENGTH)
    ev.add("rrule", vRecur.from_ical(cadence.rrule))
    ev.add("url", site + cadence.activity_path())
    ev.add(
        "description",
        f"{cadence.get_kind_display()} for {team.name}: {cadence.schedule_label} at "
        f"{cadence.due_time:%H:%M}. Open in Exponent: "
        f"{site}{cadence.get_absolute_url()}",
    )
    ev.add("last-modified", cadence.updated_at)
    for days in sorted(set(cadence.reminder_days or []), reverse=True) + [0]:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{cadence.title} is due")
        alarm.add("trigger", -timedelta(days=days))
        ev.add_component(alarm)
    return ev


def calendar(team: Team, cadences, site: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Exponent//Cadences//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{team.name} cadences")
    cal.add("x-wr-timezone", team.time_zone)
    stamp = timezone.now()
    for cadence in cadences:
        cadence.team = team
        ev = event(cadence, team, site, stamp)
        if ev is not None:
            cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
