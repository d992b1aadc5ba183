"""Live sessions in a real browser against the real ASGI server and a real worker: tabs share
one stream, a reloaded tab catches up without duplicates, Stop in one tab stops all, and ten
tabs (more than HTTP/1.1's six connections per origin) all stream."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from planning.live import services
from planning.live.models import LiveEvent, Status
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.live import fixtures

uvicorn_server = fixtures.asgi_server  # the real ASGI server, as a fixture of this module


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def final_text(session) -> str:
    """The main stream's text in the log (after the last restart), i.e. what a tab must show."""
    text = ""
    for event in LiveEvent.objects.filter(session=session).order_by("seq"):
        if event.type == "started":
            text = ""
        elif event.type == "token" and "stream" not in event.data:
            text += event.data["text"]
    return text


def output(page) -> str:
    return page.locator('[data-live-stream="main"]').text_content()


def roles(pages) -> list[str]:
    return sorted(p.locator("[data-live]").get_attribute("data-live-role") or "" for p in pages)


def test_two_tabs_reload_catches_up_and_stop_stops_both(
    browser, uvicorn_server, team, owner, celery_worker_process
):
    base_url = uvicorn_server.base_url
    session = services.start_demo(team, owner, words=400, delay=0.03)
    context = logged_in_context(browser, base_url, owner, 1100, 800)
    url = base_url + session.get_absolute_url()
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(url)
        expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    expect(first.locator('[data-live-stream="main"]')).not_to_be_empty()
    assert roles([first, second]) == ["follower", "leader"]  # one stream for both tabs

    leader = (
        first
        if first.locator("[data-live]").get_attribute("data-live-role") == "leader"
        else second
    )
    other = second if leader is first else first
    leader.reload()  # the other tab takes over the stream; the reloaded one catches up
    expect(leader.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    before = len(output(leader))
    assert wait_for(lambda: len(output(leader)) > before + 20), "the reloaded tab is stuck"
    assert roles([first, second]) == ["follower", "leader"]

    other.get_by_role("button", name="Stop").click()
    for page in (first, second):
        expect(page.locator("[data-live-state-label]")).to_have_text(
            "Finished · Cancelled", timeout=5000
        )
        expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    expected = final_text(session)
    assert 0 < len(expected) < 400 * 12
    assert output(first) == expected and output(second) == expected  # no gap, no duplicate
    assert first.locator(".live-log-stopping").count() == 1
    context.close()


def test_ten_tabs_all_stream(browser, uvicorn_server, team, owner, celery_worker_process):
    base_url = uvicorn_server.base_url
    # Long enough that the tenth tab opens while the session is still live on a busy machine.
    session = services.start_demo(team, owner, words=600, delay=0.03)
    context = logged_in_context(browser, base_url, owner, 1100, 800)
    url = base_url + session.get_absolute_url()
    pages = []
    for _ in range(10):
        page = context.new_page()
        page.goto(url)
        pages.append(page)
    # Each tab is following the stream, or (on a machine so busy that opening ten tabs took
    # longer than the generation) has already caught up to its end; both end in full text.
    for page in pages:
        expect(page.locator("[data-live]")).to_have_attribute(
            "data-live-state", re.compile(r"^(live|finished)$")
        )
    assert roles(pages).count("leader") <= 1
    for page in pages:
        expect(page.locator("[data-live-state-label]")).to_have_text(
            "Finished · Completed", timeout=60_000
        )
    session.refresh_from_db()
    expected = final_text(session)
    assert len(expected.split()) == 600
    assert all(output(page) == expected for page in pages)
    context.close()


def test_a_finished_tab_stays_finished_when_another_tab_says_live(browser, uvicorn_server,
                                                                   team, owner):  # fmt: skip
    """The ten-tabs race, made certain: when the leader finishes it lets go of the stream,
    and a tab that has not read the end yet takes over, opens the stream and tells every tab
    "live". A tab that has finished must stay finished (it went back to "Live" and stayed
    there: the end shared next was old news to it)."""
    from planning.live import writer

    base_url = uvicorn_server.base_url
    session = services.create_session(team, kind="demo", title="Race", user=owner)
    writer.end_session(session.pk, Status.COMPLETED, {})
    context = logged_in_context(browser, base_url, owner, 390, 800)
    finished, other = context.new_page(), context.new_page()
    finished.goto(base_url + session.get_absolute_url())
    label = finished.locator("[data-live-state-label]")
    expect(label).to_have_text(re.compile(r"^Finished"))
    # a listener made after the tab's own channel hears each message after the tab has
    finished.evaluate(
        """id => { window.heardLive = new Promise((resolve) => {
             new BroadcastChannel(`live:${id}`).onmessage = (m) => {
               if (m.data.kind === "state") resolve();
             };
           }); }""",
        str(session.pk),
    )
    other.goto(base_url + session.get_absolute_url())
    other.evaluate(
        "id => new BroadcastChannel(`live:${id}`).postMessage({kind: 'state', state: 'live'})",
        str(session.pk),
    )
    finished.evaluate("() => window.heardLive")
    expect(label).to_have_text(re.compile(r"^Finished"))
    assert finished.locator("[data-live]").get_attribute("data-live-state") == "finished"
    context.close()
