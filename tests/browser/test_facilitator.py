"""'Draft with Claude' on a review step in a real browser at phone width: the draft streams
into a live session beside the notes (real ASGI server, Celery worker and fake Messages API),
the finished draft replaces the stream without a reload, with its citations as links, and
Accept appends it to the notes marked AI-drafted."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from planning.facilitator.models import FacilitatorSetting
from planning.reviews import services as review_services
from tests.audits import fake  # points ANTHROPIC_BASE_URL at the fake before workers start
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.live import fixtures

uvicorn_server = fixtures.asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def fake_server(fake_api):
    """The session's fake Messages API (tests/conftest.py)."""
    return fake_api


def test_draft_streams_beside_the_notes_and_accept_appends(
    browser, uvicorn_server, fake_server, team, owner, celery_worker_process
):
    from audits.models import Model, Price
    from predictions import demo as predictions_demo

    Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
    Price.objects.create(model_id="sim-claude-4", input_per_mtok=3, output_per_mtok=15)
    FacilitatorSetting.objects.create(team=team, enabled=True)
    predictions_demo.seed(team, owner)
    review = review_services.start_review(team, owner)[0]
    review_services.save_step_note(review, 1, "Our own conclusions.", 0, owner)

    base = uvicorn_server.base_url
    page = logged_in_context(browser, base, owner, width=390, height=844).new_page()
    page.on("console", lambda msg: msg.type == "error" and print("console:", msg.text))
    page.goto(f"{base}{review.step_url(1)}")
    gate = fake.Gate()
    gate.close()
    try:
        page.get_by_role("button", name="Draft with Claude").click()
        expect(page.locator("#draft-panel [data-live]")).to_have_attribute(
            "data-live-state", "live"
        )
        assert wait_for(lambda: gate.waiting() == 1, 20)
        page.evaluate("window.__stillHere = true")
    finally:
        gate.open()
    citations = page.locator("#draft-panel a.citation")
    expect(citations.first).to_be_visible()
    assert page.evaluate("window.__stillHere === true")  # the panel swapped, no reload
    expect(page.locator("#step-note")).to_have_value("Our own conclusions.")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    href = citations.first.get_attribute("href")
    assert href and href.startswith(f"/t/{team.slug}/")

    page.get_by_role("button", name="Accept all (appends to the notes)").click()
    expect(page.locator("#step-note")).to_have_value(
        re.compile(r"^Our own conclusions\.\n\n.*AI-drafted", re.S)
    )
