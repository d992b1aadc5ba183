"""In a real browser: add readings one by one and watch the saturation verdict change."""

import re

import pytest
from playwright.sync_api import expect

from planning.teams.models import Membership, Role
from tests.browser.helpers import log_in
from tests.factories import FormFactorFactory, TeamFactory, UserFactory
from tests.saturation.conftest import SATURATING

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def add_reading(page, model, released, capability, product):
    form = page.locator("#reading-form")
    form.get_by_label("Model").fill(model)
    form.get_by_label("Released").fill(released)
    form.get_by_label("Capability", exact=True).fill(capability)
    form.get_by_label("Product value").fill(product)
    form.get_by_role("button", name="Add reading").click()


def test_add_readings_and_watch_the_verdict_change(live_server, new_page):
    team = TeamFactory(name="Form Team", slug="form-team")
    user = UserFactory(email="pm@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    chat = FormFactorFactory(team=team, name="Chat", readings=SATURATING[:3])
    base = live_server.url
    page = new_page()
    log_in(page, base, user.email)

    page.goto(f"{base}/t/{team.slug}/saturation/")
    page.get_by_role("link", name="Chat").click()
    verdict = page.locator("#verdict [data-verdict]")
    expect(verdict).to_have_text("Not enough evidence")
    expect(page.locator("#verdict")).to_contain_text("only 3 comparable readings")
    # The source, metric and scale are carried over from the last reading.
    expect(page.locator("#reading-form").get_by_label("Product metric")).to_have_value(
        "Task success (%)"
    )

    # A mistake is explained next to the field, and what was typed stays.
    add_reading(page, "model 2", "2025-01-10", "60", "66.5")
    expect(page.locator("#reading-form")).to_contain_text("model 2 already has a reading here")
    expect(page.locator("#reading-form").get_by_label("Capability", exact=True)).to_have_value("60")

    add_reading(page, "Model 3", "2025-01-10", "60", "66.5")
    expect(page.locator("#readings table")).to_contain_text("Model 3")
    expect(page.locator("#verdict")).to_contain_text("only 4 comparable readings")  # 5 needed
    expect(page.locator("#sat-scatter[data-drawn='1']")).to_be_visible()

    for i, (capability, product) in enumerate(SATURATING[4:], start=4):
        add_reading(page, f"Model {i}", f"2025-0{i}-10", str(capability), str(product))
        expect(page.locator("#readings table")).to_contain_text(f"Model {i}")
    expect(verdict).to_have_text("Saturating")
    expect(page.locator("#verdict")).to_contain_text("The last 3 model generations")
    expect(page.locator("#sat-scatter")).to_contain_text("Ceiling")  # drawn legend
    assert chat.readings.count() == len(SATURATING)

    # The prompt opens a new form factor linked to the old one.
    page.get_by_role("button", name="Consider the next form factor").click()
    expect(page.get_by_role("heading", name="The form factor after Chat")).to_be_visible()
    page.get_by_label("Name").fill("Support agent")
    page.get_by_role("button", name="Start tracking").click()
    expect(page.get_by_role("heading", name="Support agent")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/saturation/\d+/$"))
    chat.refresh_from_db()
    assert chat.next_form_factor.name == "Support agent"


def test_a_long_unbroken_name_fits_a_phone(live_server, browser):
    from tests.browser.helpers import logged_in_context

    team = TeamFactory(name="Form Team", slug="form-team")
    user = UserFactory(email="pm@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    ff = FormFactorFactory(team=team, name="Supercalifragilistic" * 5, readings=SATURATING[:2])
    context = logged_in_context(browser, live_server.url, user, width=390, height=844)
    page = context.new_page()
    page.goto(f"{live_server.url}{ff.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    context.close()


def test_a_wide_readings_table_scrolls_in_its_box_not_the_page(live_server, browser):
    from tests.browser.helpers import logged_in_context

    team = TeamFactory(name="Form Team", slug="form-team")
    user = UserFactory(email="pm@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    ff = FormFactorFactory(team=team, name="Chat", readings=SATURATING[:2])
    first = ff.readings.order_by("release_date").first()
    first.model_name = "Supercalifragilistic" * 4  # one long unbroken name
    first.save()
    context = logged_in_context(browser, live_server.url, user, width=1280, height=900)
    page = context.new_page()
    page.goto(f"{live_server.url}{ff.get_absolute_url()}")
    expect(page.locator("#readings table")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width} px wide at 1,280 px"
    context.close()
