"""In a real browser: create a metric, add observations, write and commit a prediction, and
see its line on the chart."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from planning.teams.models import Membership, Role
from predictions.models import Metric, Prediction
from tests.browser.helpers import log_in
from tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def chart_trace_names(page, chart_id):
    page.wait_for_selector(f"#{chart_id}[data-drawn='1']")
    return page.evaluate(f"document.getElementById('{chart_id}').data.map(t => t.name)")


def test_metric_observations_prediction_commit_and_chart(live_server, new_page):
    team = TeamFactory(name="Lines Team", slug="lines-team")
    user = UserFactory(email="pm@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    base = live_server.url
    page = new_page()
    log_in(page, base, user.email)

    page.goto(f"{base}/t/lines-team/metrics/")
    expect(page.get_by_text("No metrics yet")).to_be_visible()
    page.get_by_role("button", name="Add your first metric").click()
    page.get_by_label("Name").fill("METR time horizon")
    page.get_by_label("Unit").fill("minutes")
    page.get_by_label("Scale").select_option("log")
    page.get_by_role("button", name="Add metric").click()
    expect(page.get_by_role("heading", name="METR time horizon")).to_be_visible()
    metric = Metric.objects.get(team=team)

    for day, value in [("2024-10-22", "28"), ("2025-02-24", "54"), ("2025-04-16", "92")]:
        form = page.locator("form.obs-add")
        form.get_by_label("Date").fill(day)
        form.get_by_label("Value (minutes)").fill(value)
        form.get_by_label("Source").fill("METR")
        form.get_by_role("button", name="Add observation").click()
        expect(page.locator(".obs-table")).to_contain_text(day)
    # inline edit: the row becomes a form, saving swaps the row back and keeps history
    page.get_by_role("button", name="Edit the observation of 2025-02-24").click()
    page.get_by_label("Value", exact=True).fill("55")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".obs-table")).to_contain_text("55 minutes")
    assert metric.observations.get(observed_at="2025-02-24").changes.count() == 1
    # a bad value is refused next to the field, nothing saved
    form = page.locator("form.obs-add")
    form.get_by_label("Date").fill("2025-05-01")
    form.get_by_label("Value (minutes)").fill("-4")
    form.get_by_role("button", name="Add observation").click()
    expect(page.locator("form.obs-add .field-error")).to_contain_text("greater than zero")
    assert metric.observations.count() == 3
    assert "Observed" in chart_trace_names(page, "metric-chart")

    page.get_by_role("button", name="+ Draw a line").click()
    expect(page.get_by_label("Baseline value (minutes)")).to_have_value("92.0")
    page.get_by_label("Claim").fill("Horizons double every 7 months")
    page.get_by_label("Horizon").fill((date.today() + timedelta(days=365)).isoformat())
    page.get_by_label("Doubling time (months)").fill("7")
    # the live preview redraws with the line and the existing observations
    expect(page.locator("#preview [data-preview='ok']")).to_be_visible()
    names = chart_trace_names(page, "preview-chart")
    assert "Horizons double every 7 months" in names and "Observed" in names
    page.get_by_role("button", name="Save as draft").click()

    expect(page.get_by_role("heading", name="Horizons double every 7 months")).to_be_visible()
    expect(page.get_by_text("doubles every 7 months from 92 minutes on 2025-04-16")).to_be_visible()
    # Committing is irreversible: a dialog says what becomes permanent; Cancel changes nothing.
    page.get_by_role("button", name="Commit prediction").click()
    dialog = page.get_by_role("dialog", name="Commit this prediction?")
    expect(dialog).to_contain_text("can no longer be edited")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert not Prediction.objects.get().is_committed
    page.get_by_role("button", name="Commit prediction").click()
    dialog.get_by_role("button", name="Commit prediction").click()
    expect(page.get_by_text("SHA-256")).to_be_visible()
    prediction = Prediction.objects.get()
    assert prediction.is_committed
    expect(page.locator("code.hash")).to_have_text(prediction.content_hash)

    page.get_by_role("link", name=re.compile("METR time horizon")).first.click()
    names = chart_trace_names(page, "metric-chart")
    assert "Horizons double every 7 months" in names
    expect(page.locator("#metric-chart .legendtext", has_text="Horizons double")).to_be_visible()
    expect(page.locator(".prediction-table")).to_contain_text("committed")


def test_metric_names_stay_readable_on_a_phone(live_server, browser):
    """The list's name column kept one word a line ('Share / of / merged / code …') at 390 px."""
    from tests.browser.helpers import logged_in_context
    from tests.factories import MetricFactory

    team = TeamFactory(name="Phone Team", slug="phone-team")
    user = UserFactory(email="phone@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    metric = MetricFactory(team=team, name="Share of merged code written by AI", unit="%")
    context = logged_in_context(browser, live_server.url, user, width=390, height=844)
    page = context.new_page()
    page.goto(live_server.url + "/t/phone-team/metrics/")
    cell = page.locator(".metric-table tbody td").first
    assert cell.bounding_box()["width"] >= 150
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    # the same on the quarter page and the metric's own table of predictions
    from django.utils import timezone

    from tests.factories import ObservationFactory, PredictionFactory

    PredictionFactory(
        metric=metric, author=user, title="Share doubles every 9 months",
        committed_at=timezone.now() - timedelta(days=200),
        horizon=date.today() + timedelta(days=300),
    )  # fmt: skip
    ObservationFactory(metric=metric, observed_at=date.today() - timedelta(days=1), value=40)
    for path, table in [("/t/phone-team/predictions/quarter/", ".quarter-table"),
                        (metric.get_absolute_url(), ".prediction-table")]:  # fmt: skip
        page.goto(live_server.url + path)
        assert page.locator(f"{table} tbody td").first.bounding_box()["width"] >= 150, path
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), path
    context.close()


def test_a_refused_inline_edit_shows_its_message_on_a_phone(live_server, browser):
    """At 390 px the row's Save sits past the sticky date column: the table scrolled to it, and
    a refused value's message stayed out of sight. The refused input takes the focus (in view)."""
    from tests.browser.helpers import logged_in_context
    from tests.factories import MetricFactory, ObservationFactory

    team = TeamFactory(name="Edit Team", slug="edit-team")
    user = UserFactory(email="edit@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    metric = MetricFactory(team=team, name="Weekly active users", unit="users", scale="linear")
    ObservationFactory(
        metric=metric, observed_at=date.today() - timedelta(days=3), value=1700,
        source="Mixpanel, weekly export",
    )  # fmt: skip
    context = logged_in_context(browser, live_server.url, user, width=390, height=844)
    page = context.new_page()
    page.goto(live_server.url + metric.get_absolute_url())
    page.locator(".obs-table .row-actions button").first.click()
    page.locator("tr.editing input[name=value]").fill("1e309")
    page.locator("tr.editing").get_by_role("button", name="Save").click()
    error = page.locator("tr.editing .field-error")
    expect(error).to_contain_text("Enter a number")
    expect(page.locator("tr.editing input[name=value]")).to_be_focused()
    box, table = error.bounding_box(), page.locator(".obs-table").bounding_box()
    first = page.locator("tr.editing td").first.bounding_box()
    assert box["x"] >= first["x"] + first["width"] - 1  # not under the sticky date column
    assert box["x"] + box["width"] <= table["x"] + table["width"] + 1  # and not past the edge
    context.close()
