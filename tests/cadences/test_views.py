"""Cadence pages, notifications and the calendar feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from planning.cadences import services
from planning.cadences.models import Cadence, Notification, Occurrence, State, TeamCadenceSettings
from tests.factories import CadenceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def url(name, team, **kw):
    return reverse(f"cadences:{name}", kwargs={"team": team.slug, **kw})


def form_data(**over):
    data = {
        "title": "Quarterly audit", "kind": "capability_audit", "preset": "quarter_first_monday",
        "rrule": "", "starts_on": "2026-01-01", "due_time": "09:30", "reminder_days": "7, 1",
        "grace_days": "2", "nag_every_days": "", "escalate_after_days": "",
        "recipients": "all", "recipient_role": "",
    }  # fmt: skip
    data.update(over)
    return data


@time_machine.travel(NOW, tick=False)
def test_create_from_preset_then_list_shows_next_due(editor_client, team):
    team.fiscal_year_start_month = 4
    team.save()
    response = editor_client.post(url("cadence_create", team), form_data())
    assert response.status_code == 302
    cadence = Cadence.objects.get(team=team)
    assert cadence.rrule == "FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO"
    assert cadence.reminder_days == [7, 1]
    occ = Occurrence.objects.get(cadence=cadence)
    assert occ.due_at == datetime(2026, 4, 6, 8, 30, tzinfo=UTC)  # 09:30 BST
    page = editor_client.get(url("cadence_list", team)).content.decode()
    assert "Quarterly audit" in page and "Mon 6 Apr 2026, 09:30" in page and "Upcoming" in page


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"preset": "custom", "rrule": "FREQ=NEVER"}, "rrule", "not a valid RRULE"),
        ({"preset": "custom", "rrule": ""}, "rrule", "choose one of the presets"),
        ({"preset": "custom", "rrule": "FREQ=DAILY;COUNT=1"}, "rrule", "no future occurrences"),
        ({"preset": "biweekly_thursday", "reminder_days": "20"}, "reminder_days", "not shorter"),
        ({"reminder_days": "soon"}, "reminder_days", "not a number"),
        ({"recipients": "role"}, "recipient_role", "Choose which role"),
        ({"preset": "custom", "rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule", "INTERVAL"),
        ({"preset": "custom", "rrule": "FREQ=DAILY;BYHOUR=9,17"}, "rrule", "at most daily"),
        # A rule typed while a preset is chosen is no longer replaced by the preset silently.
        ({"rrule": "FREQ=WEEKLY;BYDAY=FR"}, "rrule", "choose “Custom rule (RRULE)” there"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_bad_input_gets_a_message_next_to_the_field(editor_client, team, over, field, message):
    response = editor_client.post(
        url("cadence_create", team), form_data(**over), headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert Cadence.objects.count() == 0
    assert 'value="Quarterly audit"' in response.content.decode()  # what was typed is kept


@time_machine.travel(NOW, tick=False)
def test_preview_lists_next_eight_in_team_time_zone(viewer_client, team):
    response = viewer_client.get(
        url("cadence_preview", team), form_data(preset="monthly_day_1", due_time="09:00")
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<li>") == 8
    assert "Wed 1 Apr 2026, 09:00 BST" in body and "Thu 1 Oct 2026, 09:00 BST" in body
    assert "Sun 1 Nov 2026, 09:00 GMT" in body
    bad = viewer_client.get(url("cadence_preview", team), form_data(preset="custom", rrule="X"))
    assert "not a valid RRULE" in bad.content.decode()


@time_machine.travel(NOW, tick=False)
def test_edit_and_history_and_mark_done(editor_client, team, editor):
    cadence = CadenceFactory(team=team, now=NOW)
    response = editor_client.post(
        url("cadence_edit", team, pk=cadence.pk),
        form_data(
            title="Renamed", preset="custom", rrule="FREQ=WEEKLY;BYDAY=TU", reminder_days="1"
        ),
    )
    assert response.status_code == 302
    occ = Occurrence.objects.get(cadence=cadence)
    assert occ.due_at.weekday() == 1
    response = editor_client.post(
        url("occurrence_mark", team, pk=occ.pk, state="done"), {"note": "All probes run"}
    )
    assert response.status_code == 302
    occ.refresh_from_db()
    assert occ.state == State.DONE and occ.completed_by == editor
    page = editor_client.get(url("cadence_detail", team, pk=cadence.pk)).content.decode()
    assert "All probes run" in page and editor.display_name in page


@time_machine.travel(NOW, tick=False)
def test_a_note_too_long_is_refused_not_dropped(editor_client, team):
    occ = Occurrence.objects.get(cadence=CadenceFactory(team=team, now=NOW))
    response = editor_client.post(
        url("occurrence_mark", team, pk=occ.pk, state="done"), {"note": "x" * 2001}, follow=True
    )
    occ.refresh_from_db()
    assert occ.is_open and occ.note == ""
    assert "at most 2000 characters" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_list_and_detail_query_counts_are_constant(editor_client, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert editor_client.get(path).status_code == 200
        return len(ctx.captured_queries)

    CadenceFactory(team=team, now=NOW, title="C0")
    cadence = Cadence.objects.get()
    editor_client.get(url("cadence_list", team))  # creates the settings row once
    few = count(url("cadence_list", team))
    detail_few = count(url("cadence_detail", team, pk=cadence.pk))
    for i in range(1, 7):
        CadenceFactory(team=team, now=NOW, title=f"C{i}")
    for week in range(1, 6):
        with time_machine.travel(NOW + timedelta(weeks=week), tick=False):
            services.tick()
    assert count(url("cadence_list", team)) == few <= 10
    assert count(url("cadence_detail", team, pk=cadence.pk)) == detail_few <= 12


def test_other_teams_cadence_is_404_and_viewer_gets_403(
    team, other_team, outsider_client, viewer_client, editor_client
):
    theirs = CadenceFactory(team=other_team)
    mine = CadenceFactory(team=team)
    occ = Occurrence.objects.filter(cadence=theirs).first()
    assert editor_client.get(url("cadence_detail", team, pk=theirs.pk)).status_code == 404
    assert editor_client.get(url("cadence_edit", team, pk=theirs.pk)).status_code == 404
    response = editor_client.post(url("occurrence_mark", team, pk=occ.pk, state="done"))
    assert response.status_code == 404
    assert outsider_client.get(url("cadence_detail", team, pk=mine.pk)).status_code == 404
    assert viewer_client.get(url("cadence_detail", team, pk=mine.pk)).status_code == 200
    mine_occ = Occurrence.objects.filter(cadence=mine).first()
    assert viewer_client.post(url("cadence_edit", team, pk=mine.pk), form_data()).status_code == 403
    assert (
        viewer_client.post(url("occurrence_mark", team, pk=mine_occ.pk, state="done")).status_code
        == 403
    )
    assert viewer_client.post(url("cadence_create", team), form_data()).status_code == 403


def test_notifications_bell_and_mark_read(team, viewer, viewer_client, editor):
    mine = Notification.objects.create(team=team, user=viewer, text="Audit is due", url="/x")
    Notification.objects.create(team=team, user=editor, text="Not for the viewer")
    bell = viewer_client.get(url("bell", team)).content.decode()
    assert '<span class="bell-count">1</span>' in bell
    page = viewer_client.get(url("notifications", team)).content.decode()
    assert "Audit is due" in page and "Not for the viewer" not in page
    response = viewer_client.post(
        url("notification_read", team, pk=mine.pk), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert "bell-count" not in viewer_client.get(url("bell", team)).content.decode()
    other = Notification.objects.get(user=editor)
    assert viewer_client.post(url("notification_read", team, pk=other.pk)).status_code == 404


def test_webhook_must_be_https_and_owner_only(team, owner_client, editor_client):
    bad = owner_client.post(url("settings", team), {"webhook_url": "http://hooks.example.com/x"})
    assert bad.status_code == 400 and "https://" in bad.content.decode()
    ok = owner_client.post(
        url("settings", team), {"webhook_url": "https://hooks.example.com/x", "weekly_digest": "on"}
    )
    assert ok.status_code == 302
    assert TeamCadenceSettings.objects.get(team=team).webhook_url == "https://hooks.example.com/x"
    assert editor_client.post(url("settings", team), {"webhook_url": ""}).status_code == 403


@pytest.mark.parametrize(
    "address", ["https://127.0.0.1/x", "https://10.0.0.8/x", "https://169.254.169.254/x",
                "https://localhost/x", "https://[::1]/x"],
)  # fmt: skip
def test_webhook_to_an_internal_address_is_refused_in_the_form(team, owner_client, address):
    response = owner_client.post(url("settings", team), {"webhook_url": address})
    body = response.content.decode()
    assert response.status_code == 400
    assert "use a public address" in body or "localhost is not reachable" in body
    assert TeamCadenceSettings.objects.get(team=team).webhook_url == ""


def test_webhook_secret_is_shown_to_owners_only_and_rotates(team, owner_client, editor_client):
    page = owner_client.get(url("settings", team)).content.decode()
    secret = TeamCadenceSettings.objects.get(team=team).webhook_secret
    assert secret.startswith("whsec_") and secret in page
    assert secret not in editor_client.get(url("settings", team)).content.decode()
    assert editor_client.post(url("rotate_webhook_secret", team)).status_code == 403
    assert owner_client.post(url("rotate_webhook_secret", team)).status_code == 302
    assert TeamCadenceSettings.objects.get(team=team).webhook_secret != secret


@time_machine.travel(NOW, tick=False)
def test_calendar_feed_parses_back_and_token_rotates(client, owner_client, team):
    cadence = CadenceFactory(
        team=team, now=NOW, title="Quarterly audit", rrule="FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        reminder_days=[7, 1],
    )  # fmt: skip
    paused = CadenceFactory(team=team, now=NOW, title="Paused one")
    paused.paused = True
    paused.save()
    token = TeamCadenceSettings.of(team).feed_token
    response = client.get(f"/cal/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    ev = events[0]
    assert str(ev["SUMMARY"]) == "Quarterly audit"
    assert str(ev["UID"]) == f"cadence-{cadence.pk}@testserver"
    assert ev["RRULE"]["FREQ"] == ["YEARLY"] and ev["RRULE"]["BYDAY"] == ["1MO"]
    assert ev["DTSTART"].dt.tzinfo.key == "Europe/London"
    assert ev["DTSTART"].dt.hour == 9
    triggers = sorted(a["TRIGGER"].dt for a in ev.walk("VALARM"))
    assert triggers == [-timedelta(days=7), -timedelta(days=1), timedelta(0)]
    assert cal.walk("VTIMEZONE")
    # Stable UID across requests; rotating the token kills the old link.
    again = Calendar.from_ical(client.get(f"/cal/{token}.ics").content)
    assert str(again.walk("VEVENT")[0]["UID"]) == str(ev["UID"])
    owner_client.post(url("rotate_feed_token", team))
    assert client.get(f"/cal/{token}.ics").status_code == 404
    new = TeamCadenceSettings.objects.get(team=team).feed_token
    assert client.get(f"/cal/{new}.ics").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_dashboard_summary_shows_what_is_due(owner_client, team):
    CadenceFactory(
        team=team, now=NOW - timedelta(days=10), title="Retro", rrule="FREQ=WEEKLY;BYDAY=FR"
    )
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        services.tick()
    page = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    text = page.content.decode()
    assert "Retro" in text and ("Due" in text or "Overdue" in text)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"preset": "custom", "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "rrule",
         "no future occurrences in the next 10 years"),
        ({"starts_on": "0001-01-01"}, "starts_on", "between the years 1900 and 2200"),
        ({"preset": "custom", "rrule": "FREQ=DAILY;COUNT=100000", "starts_on": "1950-01-01"},
         "starts_on", "COUNT"),
    ],
)  # fmt: skip
def test_a_rule_that_cannot_be_computed_cheaply_is_a_field_error(
    viewer_client, editor_client, team, over, field, message
):
    preview = viewer_client.get(url("cadence_preview", team), form_data(**over))
    assert preview.status_code == 200 and message in preview.content.decode()
    response = editor_client.post(
        url("cadence_create", team), form_data(**over), headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Cadence.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_preview_and_pages_say_the_rule_in_words(editor_client, team):
    preview = editor_client.get(
        url("cadence_preview", team),
        form_data(preset="custom", rrule="FREQ=WEEKLY;BYDAY=MO,TH", reminder_days="1"),
    )
    assert "Every week on Monday and Thursday" in preview.content.decode()
    cadence = CadenceFactory(
        team=team, now=NOW, title="Syncs", rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
    )
    listing = editor_client.get(url("cadence_list", team)).content.decode()
    detail = editor_client.get(cadence.get_absolute_url()).content.decode()
    assert "Every 2 weeks on Thursday" in listing and "Every 2 weeks on Thursday" in detail


@time_machine.travel(NOW, tick=False)
def test_feed_events_start_on_their_first_real_occurrence_and_head_answers(client, team):
    from dateutil.rrule import rrulestr

    from planning.cadences.schedule import preset_rrule

    # 20 March 2026 (the start date, a Friday) is not the first Monday of a quarter, nor the
    # last Thursday of a month; calendar apps show DTSTART as an event.
    rules = {
        "Audit": "FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        "Retro": preset_rrule("monthly_last_working_thursday"),
        "Fortnightly": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;COUNT=5",
    }
    cadences = {
        title: CadenceFactory(team=team, now=NOW, title=title, rrule=rule, starts_on=NOW.date())
        for title, rule in rules.items()
    }
    CadenceFactory(team=team, now=NOW, title="Never", rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    token = TeamCadenceSettings.of(team).feed_token
    response = client.get(f"/cal/{token}.ics")
    cal = Calendar.from_ical(response.content)
    events = {str(ev["SUMMARY"]): ev for ev in cal.walk("VEVENT")}
    assert set(events) == set(rules)  # a rule with no date is left out, not invented
    for title, ev in events.items():
        start = ev["DTSTART"].dt
        assert start.tzinfo.key == "Europe/London"
        expected = cadences[title].schedule(team).after(NOW, 6)
        assert start == expected[0]  # the first real occurrence, not the day the feed was built
        # Expanding the feed's own DTSTART + RRULE (RFC 5545: DTSTART is the first event)
        # gives the rule's dates.
        expanded = list(rrulestr(ev["RRULE"].to_ical().decode(), dtstart=start))[:6]
        assert expanded == expected
    assert events["Audit"]["DTSTART"].dt.date().isoformat() == "2026-04-06"
    # 26 March would be the 26th: a week earlier is the 19th, before the start.
    assert events["Retro"]["DTSTART"].dt.date().isoformat() == "2026-04-30"
    assert "Every 2 weeks on Thursday, 5 times" in str(events["Fortnightly"]["DESCRIPTION"])
    head = client.head(f"/cal/{token}.ics")
    assert head.status_code == 200 and head["Content-Type"] == response["Content-Type"]
    assert head["Content-Disposition"] == response["Content-Disposition"]
    assert client.post(f"/cal/{token}.ics").status_code == 405


@time_machine.travel(NOW, tick=False)
def test_changing_the_preset_of_a_custom_looking_rule_still_saves(editor_client, team):
    """On edit, the rule field holds the old rule: choosing another preset is not 'typing'."""
    cadence = CadenceFactory(team=team, now=NOW)
    cadence.rrule = "FREQ=WEEKLY;BYDAY=MO"
    cadence.save()
    data = form_data(preset="monthly_day_1", rrule="FREQ=WEEKLY;BYDAY=MO")
    response = editor_client.post(url("cadence_edit", team, pk=cadence.pk), data)
    assert response.status_code == 302
    cadence.refresh_from_db()
    assert cadence.rrule == "FREQ=MONTHLY;BYMONTHDAY=1"


@time_machine.travel(NOW, tick=False)
def test_occurrence_and_notification_times_name_the_teams_zone(editor_client, team, editor):
    team.time_zone = "America/Los_Angeles"
    team.save()
    cadence = CadenceFactory(team=team, now=NOW)
    occ = Occurrence.objects.get(cadence=cadence)
    editor_client.post(url("occurrence_mark", team, pk=occ.pk, state="done"), {"note": "ok"})
    page = editor_client.get(url("cadence_detail", team, pk=cadence.pk)).content.decode()
    due = page.split(f'<time datetime="{occ.due_at.astimezone(team.tz).isoformat()}">')[1]
    assert due.split("</time>")[0].endswith((" PST", " PDT"))
    completed = page.split(f"{editor.display_name}, ")[1].split("<")[0]
    assert completed.endswith((" PST", " PDT"))
    Notification.objects.create(team=team, user=editor, text="Audit is due", url="/x")
    page = editor_client.get(url("notifications", team)).content.decode()
    assert re.search(r"\d\d:\d\d P[SD]T</small>", page)


@time_machine.travel(NOW, tick=False)
def test_open_the_activity_only_where_there_is_one(editor_client, team):
    """A custom cadence has no section of its own: no button that reloads the same page."""
    custom = CadenceFactory(team=team, now=NOW, kind="custom")
    page = editor_client.get(url("cadence_detail", team, pk=custom.pk)).content.decode()
    assert "Open the activity" not in page
    audit = CadenceFactory(team=team, now=NOW, kind="capability_audit")
    page = editor_client.get(url("cadence_detail", team, pk=audit.pk)).content.decode()
    assert f'href="{audit.activity_path()}" role="button" class="outline">Open the activity' in page
    assert audit.activity_path() != url("cadence_detail", team, pk=audit.pk)


def test_the_overdue_repeat_field_reads_as_a_sentence(editor_client, team):
    page = editor_client.get(url("cadence_create", team)).text
    assert "Repeat the overdue reminder (days)" in page and "Nag every days" not in page
