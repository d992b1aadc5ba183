import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from planning.accounts.models import ApiToken, User
from tests.accounts.helpers import confirm_address, link_in_mail, sign_up
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_sends_a_verification_link_and_the_link_logs_in(client):
    response = sign_up(client, "Ada@Example.com", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "ada@example.com" and user.name == "Ada"
    assert not EmailAddress.objects.get(user=user).verified
    # Not signed in until the address is confirmed.
    assert client.get(reverse("team_list")).status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    confirm_address(client)
    assert EmailAddress.objects.get(user=user).verified
    assert client.get(reverse("team_list")).status_code == 200


def test_account_mails_speak_as_exponent_not_the_host(client):
    """allauth's default mails greet from the request's host name ("Hello from 127.0.0.1:8000!")
    and name the account by its username: ours speak as Exponent and name the address."""
    sign_up(client, "ada@example.com", PASSWORD)
    body = mail.outbox[-1].body
    assert body.startswith("Hello from Exponent,")
    assert "ada@example.com" in body and "as Ada" in body
    assert "Hello from testserver" not in body and "Thank you for using" not in body
    assert link_in_mail("/accounts/confirm-email/")


def test_signup_does_not_reveal_that_an_address_has_an_account(client):
    UserFactory(email="ada@example.com")
    taken = sign_up(Client(), "ADA@example.com", PASSWORD)
    fresh = sign_up(Client(), "new@example.com", PASSWORD)
    # Same answer either way; the owner of the taken address is told by mail instead.
    assert taken.status_code == fresh.status_code == 302
    assert taken.url == fresh.url == reverse("account_email_verification_sent")
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1
    to_taken = [
        m for m in mail.outbox if m.to == ["ADA@example.com"] or m.to == ["ada@example.com"]
    ]
    assert len(to_taken) == 1 and "already" in to_taken[0].body.lower()


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("password123", "too common"), ("12345678901", "entirely numeric")],
)
def test_signup_weak_password(client, password, message):
    response = sign_up(client, "bo@example.com", password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_signup_mismatched_passwords(client):
    response = client.post(
        reverse("signup"),
        {"email": "bo@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert "same password" in response.content.decode()
    assert not User.objects.exists()


def test_login_with_email_and_logout(client):
    UserFactory(email="cy@example.com")
    response = client.post(reverse("login"), {"login": "CY@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("team_list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("team_list")).status_code == 302


def test_login_wrong_password_shows_error(client):
    UserFactory(email="cy@example.com")
    response = client.post(reverse("login"), {"login": "cy@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()


def test_unverified_address_cannot_log_in(client):
    UserFactory(email="un@example.com", verified=False)
    response = client.post(reverse("login"), {"login": "un@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("team_list")).status_code == 302
    assert mail.outbox[-1].to == ["un@example.com"]


def test_password_reset_by_email_ends_sessions_and_revokes_tokens(client):
    user = UserFactory(email="di@example.com")
    _, raw = ApiToken.issue(user, "script")
    elsewhere = Client()
    elsewhere.force_login(user)
    assert elsewhere.get(reverse("team_list")).status_code == 200

    client.post(reverse("password_reset"), {"email": "di@example.com"})
    assert len(mail.outbox) == 1
    link = link_in_mail("/accounts/password/reset/key/")
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    new = "another-fine-passphrase-42"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    assert Client().login(username="di@example.com", password=new)
    # The other session is over and the token no longer works.
    assert elsewhere.get(reverse("team_list")).status_code == 302
    token = ApiToken.objects.get(user=user)
    assert token.revoked_at is not None and token.revoked_reason == "password reset"
    assert (
        Client().get("/api/v1/t/x/metrics/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    )


def test_password_reset_unknown_email_does_not_leak(client):
    UserFactory(email="known@example.com")
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    known = Client().post(reverse("password_reset"), {"email": "known@example.com"})
    assert unknown.status_code == known.status_code == 302
    assert unknown.url == known.url
    assert [m.to for m in mail.outbox] == [["known@example.com"]]


def test_password_change_keeps_this_session_ends_others_and_revokes_tokens(client_for):
    user = UserFactory()
    _, raw = ApiToken.issue(user, "script")
    here, elsewhere = client_for(user), client_for(user)
    # A fresh login counts as recent authentication for allauth's sensitive pages.
    here = Client()
    assert here.login(username=user.email, password=PASSWORD)
    page = here.get(reverse("account_change_password"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "logs you out everywhere else" in text and "revokes all your" in text
    new = "a-brand-new-passphrase-9"
    response = here.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert here.get(reverse("team_list")).status_code == 200
    assert elsewhere.get(reverse("team_list")).status_code == 302
    assert ApiToken.objects.get(user=user).revoked_reason == "password changed"
    assert ApiToken.objects.active().count() == 0
    assert (
        Client().get("/api/v1/t/x/metrics/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    )


def test_password_change_with_wrong_current_password_changes_nothing():
    user = UserFactory()
    ApiToken.issue(user)
    client = Client()
    client.login(username=user.email, password=PASSWORD)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "wrong",
            "password1": "x-new-passphrase-1",
            "password2": "x-new-passphrase-1",
        },
    )
    assert response.status_code == 200
    assert ApiToken.objects.active().count() == 1
    assert Client().login(username=user.email, password=PASSWORD)


def test_demo_seed_login_works(client):
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = client.post(
        reverse("login"), {"login": "demo@example.com", "password": "exponent-demo"}
    )
    assert response.status_code == 302
    assert client.get("/t/demo/").status_code == 200
