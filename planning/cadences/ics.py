"""The team's calendar feed: each cadence as one recurring event (RRULE), with stable UIDs
and an alarm at each reminder offset."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from icalendar import Alarm, Calendar, Event, vRecur

from planning.teams.models import Team

from .models import Cadence

EVENT_LENGTH = timedelta(hours=1)


def uid(cadence: Cadence, site: str) -> str:
    host = site.split("://", 1)[-1].split("/", 1)[0] or "exponent"
    return f"cadence-{cadence.pk}@{host}"


def event(cadence: Cadence, team: Team, site: str, stamp: datetime) -> Event:
    tz = team.tz
    start = datetime.combine(cadence.starts_on, cadence.due_time, tzinfo=tz)
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
        f"{cadence.get_kind_display()} for {team.name}. Open in Exponent: "
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
        cal.add_component(event(cadence, team, site, stamp))
    cal.add_missing_timezones()
    return cal.to_ical()
