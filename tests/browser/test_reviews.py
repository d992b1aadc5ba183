import re

import pytest
from playwright.sync_api import expect

from planning.reviews.models import PlanSnapshot, Review, StepNote
from planning.teams.models import Membership, Role
from tests.browser.helpers import log_in
from tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_full_review_in_the_browser(live_server, new_page):
    team = TeamFactory(name="Review Team", slug="review-team")
    user = UserFactory(email="lead@example.com", name="Lena Lead")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    base = live_server.url
    page = new_page()
    log_in(page, base, user.email)

    page.goto(f"{base}/t/{team.slug}/reviews/")
    expect(page.get_by_text("No quarterly review yet")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Start the (FY\d{4} Q\d|Q\d \d{4}) review")).click()
    expect(page.get_by_role("heading", name="1. Look back")).to_be_visible()

    # Notes autosave as the team types.
    page.wait_for_load_state("load")  # htmx has bound the autosave triggers
    notes = page.get_by_label("Notes for step 1")
    notes.fill("Reality ran ahead of our medians again.")
    notes.press("Tab")  # leaving the field saves at once; typing alone saves after a pause
    expect(page.locator("#note-status")).to_contain_text("Saved")
    review = Review.objects.get(team=team)
    assert StepNote.objects.get(review=review, step=1).text.startswith("Reality ran ahead")

    # Step 7: a free backlog item.
    page.get_by_role("link", name=re.compile("Prioritised backlog")).click()
    page.get_by_label("New backlog item").fill("Agentic triage of support tickets")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".backlog-item")).to_contain_text("Agentic triage")

    # Step 8 shows the light/shade block.
    page.get_by_role("link", name=re.compile("Commitments")).click()
    expect(page.get_by_text("Closing is blocked")).to_be_visible()
    expect(page.get_by_role("button", name="Close and freeze the plan")).to_be_disabled()

    # Step 6: answer both sides.
    page.get_by_role("link", name=re.compile("Light and shade")).click()
    bet = page.locator(".bet").first
    bet.get_by_label("New light or shade note").fill("Halves first-response time")
    bet.get_by_role("button", name="+ Light").click()
    expect(page.locator(".bet .ls-light")).to_contain_text("Halves first-response time")
    expect(bet.get_by_text("one side missing")).to_be_visible()  # redrawn: still one side
    # typed at once, while the bet's header redraws: nothing typed is swapped away
    bet.get_by_label("New light or shade note").fill("Wrong refunds")
    bet.get_by_role("button", name="+ Shade").click()
    expect(page.locator(".bet .ls-shade")).to_contain_text("Wrong refunds")
    expect(bet.get_by_text("one side missing")).to_have_count(0)  # both sides: badge gone
    expect(bet.locator(".waive-form")).to_have_count(0)

    # Step 8: a commitment, then close.
    page.get_by_role("link", name=re.compile("Commitments")).click()
    page.get_by_label("What will change").fill("Weekly eval review of the triage agent")
    page.get_by_label("Owner").select_option(label="Lena Lead (lead@example.com)")
    page.get_by_label("By when").fill("2027-02-01")
    page.get_by_role("button", name="Add commitment").click()
    expect(page.locator("#commitments")).to_contain_text("Weekly eval review")
    page.get_by_role("button", name="Close and freeze the plan").click()
    dialog = page.get_by_role("dialog", name=re.compile("Close and freeze the .* plan"))
    expect(dialog).to_contain_text("become read-only")
    dialog.get_by_role("button", name="Close and freeze").click()
    expect(page.locator(".plan-hash")).to_be_visible()

    snapshot = PlanSnapshot.objects.get(review=review)
    expect(page.locator(".plan-hash")).to_contain_text(snapshot.content_hash)
    expect(page.locator(".plan-doc")).to_contain_text("Weekly eval review of the triage agent")
    expect(page.locator(".plan-doc")).to_contain_text("Halves first-response time")


def test_review_on_a_phone_keeps_next_in_view_and_ranks_by_keyboard(live_server, browser):
    """At 390×844 every step's primary action is on the first screen (the step bar stays in
    view while the step scrolls), and the backlog is ranked with the keyboard alone: focus
    stays on the item that moved, visibly."""
    from planning.reviews import services
    from planning.reviews.models import BacklogItem
    from tests.browser.helpers import logged_in_context

    team = TeamFactory(name="Phone Team", slug="phone-team")
    user = UserFactory(email="phone@example.com")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    review = services.start_review(team, user)[0]
    for rank, title in enumerate(["Alpha", "Bravo", "Charlie"], start=1):
        BacklogItem.objects.create(team=team, review=review, title=title, rank=rank)
    context = logged_in_context(browser, live_server.url, user, 390, 844)
    page = context.new_page()
    base = f"{live_server.url}/t/{team.slug}/reviews/{review.quarter}/step"

    for n in range(1, 9):
        page.goto(f"{base}/{n}/")
        primary = page.locator(".step-nav [role=button]").last
        expect(primary).to_be_in_viewport()
        rail = page.locator(".review-rail ol").bounding_box()
        assert rail["height"] < 60, f"step {n}: the step list takes {rail['height']} px"
        # The numbers sit side by side inside the page's margin (pico's nav links have
        # negative margins: they overlapped and the current one touched the screen's edge).
        boxes = page.locator(".review-rail li a").evaluate_all(
            "links => links.map(a => a.getBoundingClientRect().toJSON())"
        )
        assert boxes[0]["left"] >= 8, f"step {n}: the rail starts at {boxes[0]['left']} px"
        assert all(b["left"] >= a["right"] for a, b in zip(boxes, boxes[1:], strict=False))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.locator(".step-nav [role=button]").last).to_have_text("Close the review ↓")

    page.goto(f"{base}/7/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Move Charlie up").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".backlog-title")).to_have_text(["Alpha", "Charlie", "Bravo"])
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("aria-label", "Move Charlie up")
    page.keyboard.press("Enter")  # again, without touching the mouse
    expect(page.locator(".backlog-title")).to_have_text(["Charlie", "Alpha", "Bravo"])
    # Charlie is first now: no ↑, so focus moves to its ↓ and is drawn.
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Move Charlie down")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator(".backlog-title")).to_have_text(["Alpha", "Charlie", "Bravo"])
    titles = list(BacklogItem.objects.filter(review=review).values_list("title", flat=True))
    assert titles == ["Alpha", "Charlie", "Bravo"]
    context.close()


def test_long_unbroken_titles_fit_a_phone(live_server, browser):
    """A 200-character title with no space (a pasted URL, a hostile input) wraps inside its
    bet and backlog row instead of widening the page to 2,000 px."""
    from planning.reviews import services
    from tests.browser.helpers import logged_in_context

    team = TeamFactory(name="Long Team", slug="long-team")
    user = UserFactory(email="long@example.com")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    review = services.start_review(team, user)[0]
    services.add_backlog_item(review, "y" * 200)
    services.add_commitment(review, owner=user, what="z" * 300, due_date=team.today())
    context = logged_in_context(browser, live_server.url, user, 390, 844)
    page = context.new_page()
    for n in (6, 7, 8):
        page.goto(f"{live_server.url}/t/{team.slug}/reviews/{review.quarter}/step/{n}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"step {n} is {width} px wide"
    context.close()
    context = logged_in_context(browser, live_server.url, user, 1280, 900)
    page = context.new_page()
    previous = Review.objects.create(team=team, quarter="2020-Q1", started_by=user)
    services.add_commitment(previous, owner=user, what="w" * 300, due_date=team.today())
    services.close_review(previous, user)
    for n in (1, 6, 7, 8):  # step 8's commitments were 3,027 px wide, step 1's 4,533
        page.goto(f"{live_server.url}/t/{team.slug}/reviews/{review.quarter}/step/{n}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"step {n} is {width} px wide on a desktop"
    context.close()
