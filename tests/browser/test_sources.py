"""In a real browser at 390 px: connect a metric to a CSV source, test it (rows shown, nothing
saved), fix a bad filter shown next to its field, save, see the values arrive and the metric
list's "Connected" badge; and the buttons waiting while a slow source is tested. Tests run
on the suite's Celery worker; the page polls for their outcome."""

import pytest
from playwright.sync_api import expect

from planning.teams.models import Membership, Role
from predictions import fetching
from predictions.models import MetricSource, Observation
from tests.browser.helpers import logged_in_context
from tests.factories import MetricFactory, TeamFactory, UserFactory
from tests.predictions.sourceserver import SourceServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_connect_test_and_save_a_source_on_a_phone(
    live_server, browser, settings, celery_worker_process
):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the source listens on 127.0.0.1
    team = TeamFactory(name="Feed Team", slug="feed-team")
    user = UserFactory(email="feeds@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    metric = MetricFactory(team=team, created_by=user, name="Benchmark", unit="%", scale="linear")
    base = live_server.url
    page = logged_in_context(browser, base, user, width=390, height=844).new_page()
    with SourceServer() as server:
        page.goto(base + metric.get_absolute_url())
        page.get_by_role("link", name="Connect a source").click()
        page.get_by_role("textbox", name="URL", exact=True).fill(server.url("/csv"))
        page.get_by_label("Date column or field").fill("date")
        page.get_by_label("Value column or field").fill("score")
        page.get_by_label("Filter").fill("model = best")
        page.get_by_label("Unit conversion factor").fill("100")
        page.get_by_role("button", name="Test the source").click()
        expect(page.locator("#source-form .field-error")).to_contain_text("Cannot read")
        assert page.get_by_role("textbox", name="URL", exact=True).input_value() == server.url(
            "/csv"
        )  # kept
        page.get_by_label("Filter").fill('model == "best"')
        page.get_by_role("button", name="Test the source").click()
        expect(page.locator("#source-trial")).to_contain_text("2 rows read")
        expect(page.locator("#source-trial")).to_contain_text("62.5%")
        assert not MetricSource.objects.exists() and not Observation.objects.exists()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.get_by_role("button", name="Save source").click()
        expect(page.locator("#source-status")).to_contain_text("Updated automatically from")
        expect(page.locator("#source-status")).to_contain_text("Last fetched: not yet")
        assert fetching.fetch_due()["fetched"] == 1  # what the beat task does each minute
        page.reload()
        expect(page.locator("#source-status")).to_contain_text("2 rows: 2 new")
        expect(page.locator(".obs-table")).to_contain_text("62.5%")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        # The metric list badges it as connected, with when it was last fetched.
        page.goto(f"{base}/t/{team.slug}/metrics/")
        badge = page.locator(".metric-table .connected")
        expect(badge).to_contain_text("Connected · 127.0.0.1")
        expect(badge).to_contain_text("last fetched just now")
        box = badge.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_buttons_wait_while_a_slow_source_is_tested(
    live_server, browser, settings, celery_worker_process
):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the source listens on 127.0.0.1
    team = TeamFactory(name="Slow Team", slug="slow-team")
    user = UserFactory(email="slow@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    metric = MetricFactory(team=team, created_by=user, name="Slow", unit="%", scale="linear")
    base = live_server.url
    page = logged_in_context(browser, base, user, width=390, height=844).new_page()
    with SourceServer() as server:
        page.goto(f"{base}/t/{team.slug}/metrics/{metric.pk}/source/")
        page.get_by_role("textbox", name="URL", exact=True).fill(server.url("/slow"))
        page.get_by_label("Date column or field").fill("date")
        page.get_by_label("Value column or field").fill("score")
        page.get_by_role("button", name="Test the source").click()
        # The worker fetches; the page polls and says so, its buttons waiting.
        expect(page.locator("#source-trial")).to_contain_text(
            "Fetching 127.0.0.1… this can take up to 10 s."
        )
        expect(page.get_by_role("button", name="Save source")).to_be_disabled()
        expect(page.get_by_role("button", name="Test the source")).to_be_disabled()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        server.release.set()
        expect(page.locator("#source-trial")).to_contain_text("row")
        expect(page.get_by_role("button", name="Save source")).to_be_enabled()
        expect(page.locator("#source-testing")).to_have_css("opacity", "0")
