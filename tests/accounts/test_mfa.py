"""Two-factor authentication (allauth.mfa: TOTP and recovery codes) and the team setting that
requires it."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp
from django.test import Client
from django.urls import reverse

from planning.teams.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    return totp.format_hotp_value(
        totp.hotp_value(secret, next(totp.yield_hotp_counters_from_time()))
    )


def _login(client, user, password=PASSWORD):
    return client.post(reverse("login"), {"login": user.email, "password": password})


def _activate_totp(client) -> str:
    # A sensitive page: allauth asks for the password again first.
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 302 and page.url.startswith(reverse("account_reauthenticate"))
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.content.decode())
    secret = secret or re.search(r'value="([A-Z2-7]{32})"', page.content.decode())
    secret = secret.group(1)
    response = client.post(reverse("mfa_activate_totp"), {"code": _code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


def test_totp_is_set_up_from_the_account_pages_and_then_asked_at_login():
    user = UserFactory()
    client = Client()
    assert _login(client, user).status_code == 302
    _activate_totp(client)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    # Recovery codes were generated with it.
    codes = RecoveryCodes(
        Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()
    assert len(codes) >= 8

    fresh = Client()
    response = _login(fresh, user)
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")
    assert fresh.get(reverse("team_list")).status_code == 302  # not in yet
    wrong = fresh.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    assert fresh.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert fresh.get(reverse("team_list")).status_code == 200
    # A recovery code works once.
    again = Client()
    _login(again, user)
    assert again.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 200


def test_team_requiring_two_factor_sends_members_without_it_to_set_it_up(team, owner, editor):
    team.require_2fa = True
    team.save()
    client = Client()
    _login(client, editor)
    response = client.get(team.get_absolute_url())
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    assert client.get(f"/t/{team.slug}/metrics/").status_code == 302
    page = client.get(reverse("mfa_activate_totp"), follow=True)
    assert "requires two-factor authentication" in page.content.decode()
    _activate_totp(client)
    assert client.get(team.get_absolute_url()).status_code == 200


def test_owner_turns_the_requirement_on_in_team_settings(team, owner):
    client = Client()
    client.force_login(owner)
    response = client.post(
        reverse("teams:settings", kwargs={"team": team.slug}),
        {"name": team.name, "time_zone": team.time_zone, "fiscal_year_start_month": 1,
         "require_2fa": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.require_2fa
    event = AuditEvent.objects.get(team=team, action="team.settings")
    assert "two-factor" in event.summary and event.actor_email == owner.email
    # The owner has no authenticator yet: the team's pages now wait for one.
    assert client.get(team.get_absolute_url()).url == reverse("mfa_activate_totp")
