"""Rate limits answer 429 with a message a person can act on (counters in the real Redis)."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from planning.accounts.models import ApiToken
from tests.accounts.helpers import sign_up
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, email, password="wrong-password", ip="10.0.0.1"):
    return client.post(reverse("login"), {"login": email, "password": password}, REMOTE_ADDR=ip)


def test_fifty_wrong_passwords_in_a_row_are_refused_with_429():
    UserFactory(email="target@example.com")
    client = Client()
    responses = [_login(client, "target@example.com") for _ in range(50)]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [200] * 5  # the form with "wrong password"
    assert set(statuses[5:]) == {429}
    # The login form says why, and when to come back …
    assert "Too many failed log-in attempts" in responses[5].content.decode()
    assert responses[5]["Retry-After"] == "300"
    # … and past 30 attempts a minute from one IP the page itself is refused.
    assert "Too many log-in attempts from your network" in responses[-1].content.decode()
    # Even the right password is refused while the address is locked.
    assert _login(client, "target@example.com", PASSWORD).status_code == 429


def test_failed_logins_are_limited_per_account_across_addresses():
    UserFactory(email="target@example.com")
    ips = [f"10.0.1.{n}" for n in range(6)]
    statuses = [_login(Client(), "target@example.com", ip=ip).status_code for ip in ips]
    assert statuses == [200] * 5 + [429]
    # Another account is not affected.
    UserFactory(email="other@example.com")
    assert _login(Client(), "other@example.com", PASSWORD, ip="10.0.1.99").status_code == 302


def test_failed_logins_are_limited_per_ip_across_accounts():
    emails = [f"p{n}@example.com" for n in range(11)]
    statuses = [_login(Client(), e, ip="10.0.2.1").status_code for e in emails]
    assert statuses == [200] * 10 + [429]
    # Another network can still try.
    assert _login(Client(), "p0@example.com", ip="10.0.2.2").status_code == 200


def test_a_successful_login_does_not_reset_the_failed_count():
    UserFactory(email="target@example.com")
    for _ in range(4):
        _login(Client(), "target@example.com")
    assert _login(Client(), "target@example.com", PASSWORD).status_code == 302
    assert _login(Client(), "target@example.com").status_code == 200
    assert _login(Client(), "target@example.com").status_code == 429


def test_signups_are_limited_per_ip():
    statuses = [
        sign_up(Client(), f"s{n}@example.com", PASSWORD, REMOTE_ADDR="10.0.3.1").status_code
        for n in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    response = sign_up(Client(), "late@example.com", PASSWORD, REMOTE_ADDR="10.0.3.1")
    assert response.status_code == 429
    assert "Too many accounts were created from your network" in response.content.decode()


def test_password_reset_mails_are_limited_per_address():
    UserFactory(email="di@example.com")
    statuses = [
        Client()
        .post(reverse("password_reset"), {"email": "di@example.com"}, REMOTE_ADDR=f"10.0.4.{n}")
        .status_code
        for n in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    refused = Client().post(reverse("password_reset"), {"email": "di@example.com"})
    assert "Several reset links were already sent" in refused.content.decode()


def test_api_requests_are_limited_per_token(settings):
    settings.API_RATE_LIMIT = "5/m"
    member = MembershipFactory()
    url = f"/api/v1/t/{member.team.slug}/metrics/"
    _, raw = ApiToken.issue(member.user)
    _, other = ApiToken.issue(member.user)
    api = Client()
    statuses = [api.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = api.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert refused.json() == {
        "error": "Too many requests with this API token. Wait a minute and try again."
    }
    # The limit is per token.
    assert api.get(url, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200
