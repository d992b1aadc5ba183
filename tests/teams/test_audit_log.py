"""The team audit log: owners read it under the team's settings; PostgreSQL keeps it
append-only."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from planning.accounts.models import ApiToken
from planning.reviews import services as reviews
from planning.reviews.models import Review
from planning.teams import audit
from planning.teams.models import AuditEvent, Invitation, Membership, Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _log(team) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.actor_email, e.summary)
        for e in AuditEvent.objects.filter(team=team).order_by("at", "pk")
    ]


def test_access_changes_tokens_feeds_and_reopens_are_logged(team, owner, owner_client, editor):
    t = team.slug
    owner_client.post(
        reverse("teams:invite", kwargs={"team": t}), {"email": "new@example.com", "role": "viewer"}
    )
    invitation = Invitation.objects.get(email="new@example.com")
    owner_client.post(
        reverse("teams:invite", kwargs={"team": t}), {"email": "x@example.com", "role": "editor"}
    )
    withdrawn = Invitation.objects.get(email="x@example.com")
    owner_client.post(reverse("teams:revoke_invitation", kwargs={"team": t, "pk": withdrawn.pk}))
    newcomer = UserFactory(email="new@example.com")
    invitee = Client()
    invitee.force_login(newcomer)
    invitee.post(invitation.get_absolute_url())
    editing = Membership.objects.get(team=team, user=editor)
    owner_client.post(
        reverse("teams:change_role", kwargs={"team": t, "pk": editing.pk}), {"role": "viewer"}
    )
    joined = Membership.objects.get(team=team, user=newcomer)
    owner_client.post(reverse("teams:remove_member", kwargs={"team": t, "pk": joined.pk}))
    owner_client.post(reverse("api_tokens"), {"name": "sync script"})
    token = ApiToken.objects.get(user=owner)
    owner_client.post(reverse("api_token_revoke", kwargs={"pk": token.pk}))
    owner_client.post(reverse("cadences:rotate_webhook_secret", kwargs={"team": t}))
    owner_client.post(reverse("cadences:rotate_feed_token", kwargs={"team": t}))
    review = Review.objects.create(team=team, quarter="2025-Q4", started_by=owner)
    reviews.close_review(review, owner)
    owner_client.post(reverse("reviews:reopen", kwargs={"team": t, "quarter": "2025-Q4"}))

    o = owner.email
    assert _log(team) == [
        ("invitation.sent", o, "Invited new@example.com as viewer"),
        ("invitation.sent", o, "Invited x@example.com as editor"),
        ("invitation.revoked", o, "Withdrew the invitation to x@example.com"),
        ("invitation.accepted", "new@example.com",
         "new@example.com accepted the invitation and joined as viewer"),
        ("member.role_changed", o, f"{editor.email}: editor → viewer"),
        ("member.removed", o, "new@example.com removed (was viewer)"),
        ("token.created", o, "API token “sync script”"),
        ("token.revoked", o, "API token “sync script”"),
        ("webhook.changed", o, "Replaced the signing secret"),
        ("calendar_feed.changed", o, "Made a new calendar link (the old one stopped working)"),
        ("review.reopened", o, "Reopened the 2025-Q4 review"),
    ]  # fmt: skip

    page = owner_client.get(reverse("teams:audit_log", kwargs={"team": t}))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Withdrew the invitation to x@example.com" in text and "Review reopened" in text


def test_a_password_change_logs_the_token_revocation_in_each_team(team, owner):
    other = MembershipFactory(user=owner, role=Role.VIEWER).team
    ApiToken.issue(owner)
    client = Client()
    client.login(username=owner.email, password=PASSWORD)
    new = "a-brand-new-passphrase-9"
    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    for t in (team, other):
        assert _log(t)[-1] == ("token.revoked", owner.email, "All API tokens (password changed)")


def test_only_owners_read_the_log(team, owner, editor_client, viewer_client, outsider_client):
    url = reverse("teams:audit_log", kwargs={"team": team.slug})
    assert editor_client.get(url).status_code == 403
    assert viewer_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404


def test_the_log_is_append_only_in_the_database(team, owner):
    event = audit.record(team, owner, "team.settings", "Changed name")
    for sql in (
        "UPDATE teams_auditevent SET summary = 'nothing happened' WHERE id = %s",
        "DELETE FROM teams_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).summary == "Changed name"
    # The log outlives its actor.
    owner.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_email == owner.email
