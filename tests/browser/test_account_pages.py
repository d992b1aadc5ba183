"""Account pages at 390 px: no page wider than the phone, forms usable."""

import re

import pytest
from django.urls import resolve
from playwright.sync_api import expect

from planning.teams import audit
from tests.browser.helpers import logged_in_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_account_pages_fit_a_phone(live_server, browser, team, owner):
    resolve("/")  # import every view before the first page's timeout starts
    audit.record(
        team, owner, "invitation.sent", "Invited a-rather-long-address@example.com as editor"
    )
    base = live_server.url
    anonymous = browser.new_context(viewport={"width": 390, "height": 844})
    anonymous.set_default_timeout(20_000)
    page = anonymous.new_page()
    for path, heading in [
        ("/accounts/login/", "Log in"),
        ("/accounts/signup/", "Create your account"),
        ("/accounts/password/reset/", "Reset your password"),
    ]:
        page.goto(base + path)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        _fits(page)
    anonymous.close()

    context = logged_in_context(browser, base, owner, width=390, height=844)
    page = context.new_page()
    page.goto(base + "/accounts/tokens/")
    page.get_by_label("Token name").fill("nightly import")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("New API token")).to_have_value(re.compile(r"^exp_[A-Za-z0-9]{40}$"))
    _fits(page)
    for path, heading in [
        ("/accounts/password/change/", "Change password"),
        (f"/t/{team.slug}/settings/audit-log/", "Audit log"),
    ]:
        page.goto(base + path)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        _fits(page)
    expect(page.locator("#audit-log")).to_contain_text("API token “nightly import”")
    context.close()
