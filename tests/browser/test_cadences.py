"""A person creates a cadence from a preset and sees the live preview in the team's zone."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from planning.cadences.models import Cadence, Occurrence
from planning.teams.models import Role
from tests.factories import MembershipFactory, TeamFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def logged_in_page(new_page, live_server, user):
    client = Client()
    client.force_login(user)
    page = new_page()
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return page


def test_create_cadence_from_preset_with_live_preview(live_server, new_page):
    team = TeamFactory(name="Frontier", slug="frontier", time_zone="America/New_York")
    user = MembershipFactory(team=team, role=Role.EDITOR).user
    page = logged_in_page(new_page, live_server, user)
    page.goto(f"{live_server.url}/t/frontier/cadences/")
    expect(page.get_by_text("No cadences yet")).to_be_visible()
    page.get_by_role("button", name="Create the first cadence").click()

    preview = page.locator("#cadence-preview")
    expect(preview.locator("li")).to_have_count(8)  # the default preset, before any change
    page.get_by_label("Title").fill("Team retrospective")
    page.get_by_label("Kind").select_option("retrospective")
    page.get_by_label("Repeats").select_option("biweekly_thursday")
    page.get_by_label("Remind days before").fill("2")
    page.get_by_label("Due time").fill("16:00")
    page.get_by_label("Due time").blur()
    expect(preview.locator("li").first).to_contain_text(re.compile(r"Thu .* 16:00 E[SD]T"))
    expect(preview.locator("li")).to_have_count(8)

    page.get_by_label("Remind days before").fill("15")
    page.get_by_label("Remind days before").blur()
    expect(preview).to_contain_text("not shorter than the 14 days")
    page.get_by_label("Remind days before").fill("2")
    page.get_by_role("button", name="Create cadence").click()

    expect(page.get_by_role("heading", name="Team retrospective")).to_be_visible()
    cadence = Cadence.objects.get(team=team)
    assert cadence.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH" and cadence.reminder_days == [2]
    assert Occurrence.objects.filter(cadence=cadence).count() == 1
    page.get_by_role("link", name="Cadences").first.click()
    expect(page.locator("table.cadence-table")).to_contain_text("Team retrospective")
    expect(page.locator("table.cadence-table")).to_contain_text("Upcoming")


def test_a_long_unbroken_title_fits_a_phone(live_server, browser):
    """A commitment's follow-up is titled from free text: 120 characters with no space made
    the cadence page's breadcrumb 1,049 px wide at 390, and the list 1,449 px at 1,280."""
    from django.utils import timezone

    from tests.browser.helpers import logged_in_context
    from tests.factories import CadenceFactory

    team = TeamFactory(name="Long", slug="long")
    user = MembershipFactory(team=team, role=Role.EDITOR).user
    cadence = CadenceFactory(team=team, now=timezone.now(), title="Commitment: " + "z" * 108)
    context = logged_in_context(browser, live_server.url, user, 390, 844)
    page = context.new_page()
    for path in (f"cadences/{cadence.pk}/", f"cadences/{cadence.pk}/edit/", "cadences/"):
        page.goto(f"{live_server.url}/t/long/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide"
    context.close()
    context = logged_in_context(browser, live_server.url, user, 1280, 900)
    page = context.new_page()
    page.goto(f"{live_server.url}/t/long/cadences/")  # the table made it 1,449 px wide
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    context.close()
