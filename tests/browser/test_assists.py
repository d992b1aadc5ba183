"""Probes from an idea and the critique on the prediction form, in a real browser at phone width
(real ASGI server, Celery worker and fake Messages API): the answer streams into a live
session, the parsed result replaces it without a reload, a proposal is tried once right there,
and the critique appears beside the outside view without touching the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from audits.models import Idea
from planning.facilitator.models import FacilitatorSetting
from tests.audits import fake  # points ANTHROPIC_BASE_URL at the fake before workers start
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.factories import MetricFactory
from tests.live import fixtures

uvicorn_server = fixtures.asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def enabled(team):
    from audits.models import Model, Price

    Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
    Price.objects.create(model_id="sim-claude-4", input_per_mtok=3, output_per_mtok=15)
    return FacilitatorSetting.objects.create(team=team, enabled=True)


def _phone(browser, base, user):
    page = logged_in_context(browser, base, user, width=390, height=844).new_page()
    page.on("console", lambda msg: msg.type == "error" and print("console:", msg.text))
    return page


def test_propose_probes_streams_then_try_one_at_390px(
    browser, uvicorn_server, fake_api, team, owner, enabled, celery_worker_process
):
    idea = Idea.objects.create(
        team=team,
        title="Reconcile invoices",
        description="Match supplier invoices against purchase orders.",
        why_failed="It misread totals on scanned invoices.",
    )
    base = uvicorn_server.base_url
    page = _phone(browser, base, owner)
    page.goto(f"{base}{idea.get_absolute_url()}")
    gate = fake.Gate()
    gate.close()
    try:
        page.get_by_role("button", name="Propose probes with Claude").click()
        expect(page.locator("#proposals [data-live]")).to_have_attribute("data-live-state", "live")
        assert wait_for(lambda: gate.waiting() == 1, 20)
        page.evaluate("window.__stillHere = true")
    finally:
        gate.open()
    proposals = page.locator("#proposals article.proposal")
    expect(proposals).to_have_count(4, timeout=20_000)
    assert page.evaluate("window.__stillHere === true")  # the panel swapped, no reload
    expect(page.locator("#proposals")).to_contain_text("Review and save")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    proposals.nth(0).get_by_role("button", name="Try once").click()
    expect(page.locator("#proposal-try-0 [data-try-grade]")).not_to_be_empty(timeout=20_000)
    expect(proposals).to_have_count(4)  # the try did not reload the proposals away
    assert page.evaluate("window.__stillHere === true")


def test_critique_appears_beside_the_outside_view_at_390px(
    browser, uvicorn_server, fake_api, team, owner, enabled, celery_worker_process
):
    metric = MetricFactory(team=team, created_by=owner)
    base = uvicorn_server.base_url
    page = _phone(browser, base, owner)
    page.goto(f"{base}/t/{team.slug}/metrics/{metric.pk}/predict/")
    page.get_by_label("Claim").fill("Doubling every 7 months")
    page.get_by_label("Rationale").fill("Labs keep scaling compute.")
    page.get_by_label("Horizon").fill("2027-12-31")
    page.fill("[name=baseline_date]", "2026-01-01")
    page.fill("[name=baseline_value]", "60")
    page.fill("[name=doubling_months]", "7")
    # An invalid form first: the panel says so (the preview's own requests do not cancel it).
    page.fill("[name=coverage]", "7")
    page.get_by_role("button", name="Ask Claude to critique the rationale").click()
    expect(page.locator("#critique-panel")).to_contain_text("Fix the highlighted fields")
    page.fill("[name=coverage]", "0.8")
    page.get_by_role("button", name="Ask Claude to critique the rationale").click()
    critique = page.locator("#critique-panel [data-critique]")
    expect(critique).to_contain_text(f"Base rates: {metric.name}", timeout=20_000)
    expect(page.locator("#critique-panel")).to_contain_text("A critique, not a change")
    expect(page.get_by_label("Rationale")).to_have_value("Labs keep scaling compute.")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
