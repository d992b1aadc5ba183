"""API tokens: stored hashed with a display prefix, shown once, optional expiry and read-only
scope, last use recorded, revocable."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planning.accounts import tokens
from planning.accounts.models import ApiToken, hash_token
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def membership():
    return MembershipFactory()


def _metrics(membership):
    return f"/api/v1/t/{membership.team.slug}/metrics/"


def _all_token_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        return repr(cursor.fetchall())


def test_token_is_shown_once_and_stored_only_as_a_hash(client_for, membership):
    client = client_for(membership.user)
    response = client.post(reverse("api_tokens"), {"name": "import script"})
    raw = re.search(r'value="(exp_[A-Za-z0-9]{40})"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=membership.user)
    assert token.key_hash == hash_token(raw) and raw.startswith(token.prefix)
    assert raw not in _all_token_text()  # nowhere in the table
    listing = client.get(reverse("api_tokens")).content.decode()
    assert "import script" in listing and token.prefix in listing and raw not in listing
    api = Client()
    assert api.get(_metrics(membership), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    client.post(reverse("api_token_revoke", kwargs={"pk": token.pk}))
    token.refresh_from_db()
    assert token.state == "revoked"
    assert api.get(_metrics(membership), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert "revoked" in client.get(reverse("api_tokens")).content.decode()


def test_expired_token_is_refused(membership):
    _, raw = ApiToken.issue(membership.user, expires_at=timezone.now() + timedelta(days=1))
    assert tokens.authenticate(raw) is not None
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.authenticate(raw) is None
    response = Client().get(_metrics(membership), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401


def test_expiry_chosen_in_the_form(client_for, membership):
    client_for(membership.user).post(
        reverse("api_tokens"), {"name": "ci", "expires_in_days": "30", "read_only": "on"}
    )
    token = ApiToken.objects.get()
    assert token.read_only
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_read_only_token_reads_but_cannot_write(membership):
    _, raw = ApiToken.issue(membership.user, read_only=True)
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get(_metrics(membership)).status_code == 200
    response = api.post(
        _metrics(membership), {"name": "Latency", "unit": "ms"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "This API token is read-only."


def test_authenticate_refuses_inactive_users_and_junk(membership):
    _, raw = ApiToken.issue(membership.user)
    assert tokens.authenticate(raw).user == membership.user
    assert tokens.authenticate(" " + raw + " ").user == membership.user
    for junk in ["", "exp_", raw[:-1], "x" * 10_000, "exp_\x00\ud800"]:
        assert tokens.authenticate(junk) is None
    membership.user.is_active = False
    membership.user.save()
    assert tokens.authenticate(raw) is None


def test_new_tokens_have_a_recognisable_prefix():
    raws = {ApiToken.issue(UserFactory())[1] for _ in range(3)}
    assert len(raws) == 3
    assert all(re.fullmatch(r"exp_[A-Za-z0-9]{40}", r) for r in raws)


def test_cannot_revoke_someone_elses_token(client_for):
    token, _ = ApiToken.issue(UserFactory(), "theirs")
    response = client_for(UserFactory()).post(reverse("api_token_revoke", kwargs={"pk": token.pk}))
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=token.pk).state == "active"


def test_token_name_required(client_for):
    response = client_for(UserFactory()).post(reverse("api_tokens"), {"name": ""})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
