import re

import pytest
from django.core import mail
from django.urls import resolve
from playwright.sync_api import expect

from planning.teams.models import Invitation, Membership

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a-long-and-unusual-passphrase-7"


def sign_up(page, base, name, email, path="/accounts/signup/"):
    page.goto(base + path)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def test_signup_team_invite_accept_both_see_dashboard(live_server, new_page):
    base = live_server.url
    resolve("/")  # import every view (seconds on a busy machine) before the first page's timeout
    owner = new_page()
    sign_up(owner, base, "Olive Owner", "olive@example.com")
    # The address is confirmed through the link mailed to it before it counts.
    expect(owner.get_by_role("heading", name="Check your email")).to_be_visible()
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    owner.goto(link)
    owner.get_by_role("button", name="Confirm").click()
    expect(owner.get_by_text("You are not in a team yet")).to_be_visible()
    owner.get_by_role("button", name="Create a team").click()
    owner.get_by_label("Name").fill("Frontier Product")
    owner.get_by_label("Time zone").select_option("Europe/Berlin")
    owner.get_by_role("button", name="Create team").click()
    expect(owner).to_have_url(re.compile(r"/t/frontier-product/$"))
    expect(owner.get_by_role("heading", name="Frontier Product")).to_be_visible()
    expect(owner.get_by_text("Capability Lighting-Up")).to_be_visible()

    owner.get_by_role("link", name="Members").click()
    owner.get_by_label("Email").fill("ivan@example.com")
    owner.locator("#invite-form #id_role").select_option("editor")
    owner.get_by_role("button", name="Send invitation").click()
    link_box = owner.get_by_label("Invitation link for ivan@example.com")
    expect(link_box).to_be_visible()
    link = link_box.input_value()
    assert Invitation.objects.filter(email="ivan@example.com").exists()

    invitee = new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Frontier Product")).to_be_visible()
    invitee.get_by_role("button", name="Create account").click()
    expect(invitee.get_by_label("Email")).to_have_value("ivan@example.com")
    invitee.get_by_label("Your name").fill("Ivan Invitee")
    invitee.locator("#id_password1").fill(PASSWORD)
    invitee.get_by_label("Confirm password").fill(PASSWORD)
    invitee.get_by_role("button", name="Create account").click()
    # Signing up from the invitation link with the invited address needs no confirmation mail.
    invitee.get_by_role("button", name="Accept and join Frontier Product").click()
    expect(invitee).to_have_url(re.compile(r"/t/frontier-product/$"))
    expect(invitee.get_by_role("heading", name="Frontier Product")).to_be_visible()
    assert Membership.objects.get(user__email="ivan@example.com").role == "editor"

    owner.reload()
    expect(owner.locator("#people table").first).to_contain_text("ivan@example.com")
    owner.goto(base + "/t/frontier-product/")
    expect(owner.get_by_role("heading", name="Frontier Product")).to_be_visible()
