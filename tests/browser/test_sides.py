""" "Find the missing side" in a real browser at phone width, in two tabs: each bet's part
(its own Celery task) grows under its bet's label in both tabs while the other bets are still
held at the fake Messages API's gate; when the last part ends both panels swap to the
proposals without a reload; an edited proposal accepted becomes the bet's missing side."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from planning.facilitator.models import FacilitatorSetting, SideProposal, SideRun
from planning.notes.models import Note
from planning.reviews import services as review_services
from planning.reviews.models import BacklogItem
from tests.audits import fake  # points ANTHROPIC_BASE_URL at the fake before workers start
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.live import fixtures

uvicorn_server = fixtures.asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def fake_server(fake_api):
    return fake_api


def test_each_bets_part_grows_under_its_bet_in_two_tabs_then_accept(
    browser, uvicorn_server, fake_server, team, owner, celery_worker_process
):
    from audits.models import Model, Price

    Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")
    Price.objects.create(model_id="sim-claude-4", input_per_mtok=3, output_per_mtok=15)
    FacilitatorSetting.objects.create(team=team, enabled=True)
    review = review_services.start_review(team, owner)[0]
    bets = []
    for i in range(3):
        bet = BacklogItem.objects.create(team=team, review=review, title=f"Agent bet {i}")
        Note.objects.create(team=team, target=bet, kind="light", text="Ships faster.")
        bets.append(bet)

    base = uvicorn_server.base_url
    context = logged_in_context(browser, base, owner, width=390, height=844)
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.on("console", lambda msg: msg.type == "error" and print("console:", msg.text))
    url = f"{base}{review.step_url(6)}"
    first.goto(url)
    gate = fake.Gate()
    gate.close()
    try:
        first.get_by_role("button", name="Find the missing side with Claude (3 bets)").click()
        expect(first.locator("#sides-panel [data-live]")).to_have_attribute(
            "data-live-state", "live"
        )
        second.goto(url)  # a second tab follows the running session
        second.evaluate("window.__stillHere = true")
        first.evaluate("window.__stillHere = true")
        assert wait_for(lambda: gate.waiting() == 1, 30)  # the first bet's call, alone
        gate.release(1)
        assert wait_for(lambda: gate.waiting() == 2, 30)  # the others, once it has begun
        gate.release(1)  # the second bet's part runs; the third stays held
        run = SideRun.objects.get(review=review)
        done = wait_for(
            lambda: run.proposals.filter(status=SideProposal.Status.READY).count() == 2, 30
        )
        assert done
        ready = list(run.proposals.filter(status=SideProposal.Status.READY).select_related("bet"))
        held = run.proposals.exclude(pk__in=[p.pk for p in ready]).get()
        for page in (first, second):
            for p in ready:
                part = page.locator(".live-part", has_text=f"The shade (risk) of “{p.bet.title}”")
                expect(part.locator("[data-live-stream]")).to_have_text(p.text)
            held_part = page.locator(".live-part", has_text=f"“{held.bet.title}”")
            expect(held_part.locator("[data-live-stream]")).to_have_text("")
            expect(page.locator("#sides-panel [data-live]")).to_have_attribute(
                "data-live-state", "live"
            )
        second.locator("#sides-panel").screenshot(path="test-results/sides-live-390.png")
    finally:
        gate.open()
    for page in (first, second):  # the last part ends the session: both panels swap
        expect(page.get_by_text("Proposal: not accepted")).to_have_count(3)
        assert page.evaluate("window.__stillHere === true")  # no reload
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    first.locator("#sides-panel").screenshot(path="test-results/sides-proposals-390.png")
    target = run.proposals.get(bet=bets[0])
    box = first.locator(f"#side-text-{target.pk}")
    box.fill("The risk: agents merge code nobody reviewed.")
    first.locator(f"#proposal-{target.pk}").get_by_role(
        "button", name="Accept as the bet's shade"
    ).click()
    bet_box = first.locator(f"#bet-{bets[0].pk} .ls-shade")
    expect(bet_box).to_contain_text("The risk: agents merge code nobody reviewed.")
    expect(bet_box).to_contain_text("AI-drafted with sim-claude-4-20260115")
    expect(first.locator(f"#proposal-{target.pk}")).to_contain_text("Accepted")
