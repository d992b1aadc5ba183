import re

import pytest
from django.core import mail
from django.urls import reverse

from planning.accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_creates_user_and_logs_in(client):
    response = client.post(
        reverse("signup"),
        {"name": "Ada", "email": "Ada@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "ada@example.com"
    assert client.get(reverse("team_list")).status_code == 200


def test_signup_duplicate_email_is_rejected_case_insensitively(client):
    UserFactory(email="ada@example.com")
    response = client.post(
        reverse("signup"),
        {"name": "Ada", "email": "ADA@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "An account with this email already exists" in response.content.decode()
    assert User.objects.count() == 1
    # What the person typed is kept.
    assert 'value="ADA@example.com"' in response.content.decode()


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("password123", "too common"), ("12345678901", "entirely numeric")],
)
def test_signup_weak_password(client, password, message):
    response = client.post(
        reverse("signup"),
        {"name": "Bo", "email": "bo@example.com", "password1": password, "password2": password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_signup_mismatched_passwords(client):
    response = client.post(
        reverse("signup"),
        {"email": "bo@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert "do not match" in response.content.decode()
    assert not User.objects.exists()


def test_login_with_email_and_logout(client):
    UserFactory(email="cy@example.com")
    response = client.post(reverse("login"), {"username": "CY@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("team_list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("team_list")).status_code == 302


def test_login_wrong_password_shows_error(client):
    UserFactory(email="cy@example.com")
    response = client.post(reverse("login"), {"username": "cy@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()


def test_password_reset_by_email(client):
    UserFactory(email="di@example.com")
    client.post(reverse("password_reset"), {"email": "di@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    new = "another-fine-passphrase-42"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert client.login(username="di@example.com", password=new)


def test_password_reset_unknown_email_does_not_leak(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_api_tokens_create_use_and_revoke(client_for):
    from planning.accounts.models import ApiToken
    from tests.factories import MembershipFactory

    user = UserFactory()
    team = MembershipFactory(user=user).team
    metrics = f"/api/v1/t/{team.slug}/metrics/"
    client = client_for(user)
    response = client.post(reverse("api_tokens"), {"name": "import script"})
    token = ApiToken.objects.get(user=user)
    assert token.key in response.content.decode()
    # Listed afterwards without the full key.
    listing = client.get(reverse("api_tokens")).content.decode()
    assert "import script" in listing and token.key not in listing
    from django.test import Client

    api = Client()
    assert api.get(metrics, HTTP_AUTHORIZATION=f"Bearer {token.key}").status_code == 200
    client.post(reverse("api_token_revoke", kwargs={"pk": token.pk}))
    assert not ApiToken.objects.exists()
    assert api.get(metrics, HTTP_AUTHORIZATION=f"Bearer {token.key}").status_code == 401


def test_cannot_revoke_someone_elses_token(client_for):
    from planning.accounts.models import ApiToken

    token = ApiToken.objects.create(user=UserFactory(), name="theirs")
    response = client_for(UserFactory()).post(reverse("api_token_revoke", kwargs={"pk": token.pk}))
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_token_name_required(client_for):
    response = client_for(UserFactory()).post(reverse("api_tokens"), {"name": ""})
    assert response.status_code == 400
