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
    page.locator(".bet").first.get_by_label("New light or shade note").fill("Wrong refunds")
    page.locator(".bet").first.get_by_role("button", name="+ Shade").click()
    expect(page.locator(".bet .ls-shade")).to_contain_text("Wrong refunds")

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
