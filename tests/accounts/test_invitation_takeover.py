"""Issue 14: anyone who signed up with an invited address joined the team. An address counts
only once verified; the invitation's own link (mailed to that address) verifies it."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from planning.teams.models import Invitation, Membership
from tests.accounts.helpers import confirm_address, sign_up
from tests.factories import PASSWORD, InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(team, owner):
    return InvitationFactory(team=team, email="new.hire@example.com", invited_by=owner)


def test_signing_up_with_an_invited_address_does_not_reveal_or_grant_the_invitation(
    invitation,
):
    attacker = Client()
    response = sign_up(attacker, "new.hire@example.com", PASSWORD, name="Mallory")
    assert response.url == reverse("account_email_verification_sent")
    # Not signed in, so /teams/ is a login redirect …
    assert attacker.get(reverse("team_list")).status_code == 302
    # … and even with a session (an unverified account), the invitation is neither listed
    # nor can it be accepted without its link.
    user = EmailAddress.objects.get(email="new.hire@example.com").user
    attacker.force_login(user)
    listing = attacker.get(reverse("team_list")).content.decode()
    assert invitation.team.name not in listing and invitation.token not in listing
    assert not Membership.objects.filter(user=user).exists()
    # The only way in is the emailed link, whose token the attacker does not have.
    assert attacker.post("/invitations/guess/").status_code == 404
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_after_verification_the_invitation_is_listed_and_accepted(invitation):
    invitee = Client()
    sign_up(invitee, "new.hire@example.com", PASSWORD)
    confirm_address(invitee)
    listing = invitee.get(reverse("team_list")).content.decode()
    assert invitation.team.name in listing and invitation.get_absolute_url() in listing
    response = invitee.post(invitation.get_absolute_url())
    assert response.status_code == 302
    assert Membership.objects.get(user__email="new.hire@example.com").role == invitation.role


def test_signing_up_from_the_invitation_link_verifies_the_address_at_once(invitation):
    invitee = Client()
    assert invitee.get(invitation.get_absolute_url()).status_code == 200
    response = sign_up(invitee, "new.hire@example.com", PASSWORD, name="Nina")
    assert response.status_code == 302 and response.url == reverse("home")
    assert mail.outbox == []  # no verification mail needed: the link was the proof
    assert EmailAddress.objects.get(email="new.hire@example.com").verified
    assert invitee.post(invitation.get_absolute_url()).status_code == 302
    assert Membership.objects.filter(user__email="new.hire@example.com").exists()


def test_the_invitation_link_does_not_verify_a_different_address(invitation):
    someone = Client()
    someone.get(invitation.get_absolute_url())
    sign_up(someone, "other@example.com", PASSWORD)
    assert not EmailAddress.objects.get(email="other@example.com").verified
    assert not EmailAddress.objects.filter(email="new.hire@example.com").exists()
    assert someone.get(reverse("team_list")).status_code == 302


def test_the_link_accepts_for_an_unverified_account_of_the_invited_address(invitation):
    """Following the mailed link proves the mailbox: acceptance works and verifies it."""
    user = UserFactory(email="new.hire@example.com", verified=False)
    client = Client()
    client.force_login(user)
    assert invitation.token not in client.get(reverse("team_list")).content.decode()
    assert client.post(invitation.get_absolute_url()).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert Membership.objects.filter(user=user, team=invitation.team).exists()


def test_the_link_is_single_use(invitation):
    first = UserFactory(email="new.hire@example.com")
    client = Client()
    client.force_login(first)
    assert client.post(invitation.get_absolute_url()).status_code == 302
    again = client.post(invitation.get_absolute_url())
    assert again.status_code == 400
    assert "already been used" in again.content.decode()


def test_a_verified_account_of_another_address_cannot_use_the_link(invitation):
    client = Client()
    client.force_login(UserFactory(email="someone.else@example.com"))
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 400
    assert not Membership.objects.filter(user__email="someone.else@example.com").exists()
