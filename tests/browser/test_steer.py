"""Steering a draft in a real browser (real ASGI server, Celery worker, fake Messages API) with
two tabs of one editor: a steer sent from either tab appears in both as an event in words, the
worker continues the draft with it, both tabs show exactly the text in the log (no token lost
or shown twice) and exactly one terminal event; Stop during a steered continuation ends it in
both tabs. The fake's hold pauses each stream after its 3rd delta so the test steers mid-way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from planning.facilitator.models import Draft, FacilitatorSetting
from planning.live.models import TERMINAL, LiveEvent
from planning.reviews import services as review_services
from tests.audits import fake
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.live import fixtures

uvicorn_server = fixtures.asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

RECORD = """
window.__live = [];
document.addEventListener("live:event", (e) => window.__live.push(e.detail));
"""


@pytest.fixture
def review(team, owner):
    from audits.models import Model, Price
    from predictions import demo as predictions_demo

    Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
    Price.objects.create(model_id="sim-claude-4", input_per_mtok=3, output_per_mtok=15)
    FacilitatorSetting.objects.create(team=team, enabled=True)
    predictions_demo.seed(team, owner)
    return review_services.start_review(team, owner)[0]


@pytest.fixture
def gate(fake_api):
    gate = fake.Gate()
    gate.hold(3)
    yield gate
    gate.hold(0)


@pytest.fixture
def tabs(browser, uvicorn_server, owner):
    context = logged_in_context(browser, uvicorn_server.base_url, owner, width=390, height=844)
    context.add_init_script(RECORD)
    pages = [context.new_page(), context.new_page()]
    for page in pages:
        page.on("console", lambda msg: msg.type == "error" and print("console:", msg.text))
    yield pages
    context.close()


def held(gate):
    assert wait_for(lambda: gate.held() == 1, 30), "the stream never reached the hold"


def logged_text(session) -> str:
    events = LiveEvent.objects.filter(session=session, type="token").order_by("seq")
    return "".join(e.data["text"] for e in events)


def send(page, text):
    page.get_by_label("Steer while it writes").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("[data-live-steer-sent]")).to_contain_text(f"Sent “{text}”")


def seen_once_each(page) -> list[dict]:
    events = page.evaluate("window.__live")
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "an event was applied twice or out of order"
    assert sum(e["type"] in TERMINAL for e in events) == 1, "not exactly one terminal event"
    return events


def test_two_tabs_see_the_steers_and_the_continued_text(
    tabs, gate, review, owner, celery_worker_process, uvicorn_server
):
    base = uvicorn_server.base_url
    first, second = tabs
    first.goto(base + review.step_url(1))
    first.get_by_role("button", name="Draft with Claude").click()
    held(gate)
    draft = Draft.objects.get(review=review, step=1)
    second.goto(base + review.step_url(1))
    for page in tabs:
        expect(page.locator("#draft-panel [data-live]")).to_have_attribute(
            "data-live-state", "live"
        )

    send(first, "focus on the security risk")
    said = f"Steer from {owner.display_name}: “focus on the security risk”"
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text(said)
    gate.resume()  # the next token: the worker ends the stream there and continues
    held(gate)
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text("Continuing with “focus on the")
    text = logged_text(draft.session)  # the worker waits at the hold: the log is still
    for page in tabs:
        expect(page.locator('#draft-panel [data-live-stream="main"]')).to_have_text(text)

    send(second, "shorter")
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text("“shorter”")
    gate.resume()
    held(gate)
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text("Continuing with “shorter”")
    text = logged_text(draft.session)
    assert text.count("[Applying “focus") == 1
    for page in tabs:
        expect(page.locator('#draft-panel [data-live-stream="main"]')).to_have_text(text)

    gate.hold(0)
    for page in tabs:  # the finished draft replaces the stream in both tabs
        expect(page.locator(".draft-text")).to_contain_text("[Applying “shorter”]")
        expect(page.locator(".draft-steers")).to_contain_text("“focus on the security risk”")
        seen_once_each(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    draft.refresh_from_db()
    assert draft.status == "ready" and draft.text == logged_text(draft.session)
    assert draft.text.count("[Applying “shorter”]") == 1


def test_stop_during_a_steered_continuation_stops_both_tabs(
    tabs, gate, review, celery_worker_process, uvicorn_server
):
    base = uvicorn_server.base_url
    first, second = tabs
    first.goto(base + review.step_url(1))
    first.get_by_role("button", name="Draft with Claude").click()
    held(gate)
    second.goto(base + review.step_url(1))
    expect(second.locator("#draft-panel [data-live]")).to_have_attribute("data-live-state", "live")
    send(second, "focus on the security risk")
    gate.resume()
    held(gate)  # the steered continuation streams
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text("Continuing with")
    first.get_by_role("button", name="Stop").click()
    for page in tabs:
        expect(page.locator(".live-log")).to_contain_text("Stopping…")
    gate.resume()  # its next token: the worker sees the stop
    for page in tabs:
        expect(page.locator("#draft-panel")).to_contain_text("The draft did not finish: Stopped.")
        events = seen_once_each(page)
        assert [e["type"] for e in events if e["type"] in TERMINAL] == ["cancelled"]
    draft = Draft.objects.get(review=review, step=1)
    assert draft.status == "failed" and "[Applying “focus" in draft.text


def test_after_the_end_the_box_asks_for_a_revision_that_streams_in_place(
    tabs, review, owner, fake_api, celery_worker_process, uvicorn_server
):
    base = uvicorn_server.base_url
    page = tabs[0]
    page.goto(base + review.step_url(1))
    page.get_by_role("button", name="Draft with Claude").click()
    expect(page.locator(".draft-text")).to_be_visible()
    page.evaluate("window.__stillHere = true")
    page.get_by_label("Ask Claude for a revision").fill("shorter")
    page.get_by_role("button", name="Revise").click()
    expect(page.locator(".draft-text")).to_contain_text("Revised as asked (“shorter”)")
    expect(page.locator(".draft-revision")).to_contain_text(
        f"asked by {owner.display_name}: “shorter”"
    )
    assert page.evaluate("window.__stillHere === true")  # swapped in place, no reload
    revision = Draft.objects.get(review=review, follows__isnull=False)
    assert revision.status == "ready" and revision.follows.status == "ready"


def test_another_tab_on_the_finished_draft_learns_of_a_revision_without_reload(
    tabs, review, owner, fake_api, celery_worker_process, uvicorn_server
):
    base = uvicorn_server.base_url
    first, second = tabs
    first.goto(base + review.step_url(1))
    first.get_by_role("button", name="Draft with Claude").click()
    expect(first.locator(".draft-text")).to_be_visible()
    second.goto(base + review.step_url(1))
    expect(second.locator(".draft-text")).to_be_visible()
    second.evaluate("window.__stillHere = true")

    first.get_by_label("Ask Claude for a revision").fill("shorter")
    first.get_by_role("button", name="Revise").click()
    line = second.locator(".draft-revised")
    expect(line).to_have_text(f"Revised by {owner.display_name} — open the revision")
    assert second.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    second.screenshot(path="test-results/steer-revised-390.png", full_page=True)
    line.get_by_role("link", name="open the revision").click()
    expect(second.locator(".draft-revision")).to_contain_text(
        f"asked by {owner.display_name}: “shorter”"
    )
    expect(second.locator(".draft-text")).to_contain_text("Revised as asked (“shorter”)")
    assert second.evaluate("window.__stillHere === true")  # swapped in place, no reload
