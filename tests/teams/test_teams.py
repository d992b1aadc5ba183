from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from planning.teams.models import Invitation, Membership, Role, Team
from tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_team_makes_creator_owner(client_for):
    user = UserFactory()
    client = client_for(user)
    response = client.post(
        reverse("team_create"),
        {"name": "Frontier Lab", "slug": "", "time_zone": "America/New_York",
         "fiscal_year_start_month": 2},
    )  # fmt: skip
    team = Team.objects.get()
    assert response.status_code == 302
    assert response.url == f"/t/{team.slug}/"
    assert team.slug == "frontier-lab"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER


@pytest.mark.parametrize("slug", ["Bad Slug", "-leading", "UPPER!", "admin"])
def test_invalid_team_slug_is_rejected(client_for, slug):
    client = client_for(UserFactory())
    response = client.post(
        reverse("team_create"),
        {"name": "X", "slug": slug, "time_zone": "UTC", "fiscal_year_start_month": 1},
    )
    assert response.status_code == 400  # like every refused form (planning.http.render_form)
    assert "field-error" in response.content.decode()
    assert not Team.objects.exists()
    assert not Membership.objects.exists()


def test_duplicate_slug_is_rejected(client_for, team):
    client = client_for(UserFactory())
    response = client.post(
        reverse("team_create"),
        {"name": "X", "slug": team.slug, "time_zone": "UTC", "fiscal_year_start_month": 1},
    )
    assert "already uses this address" in response.content.decode()


def test_a_second_team_of_the_same_name_is_refused_for_the_same_person(client_for):
    """The team menu could not tell two "Acme AI" apart: the second is refused with a
    message (another person may use the name; a rename to one's other team's name is
    refused too)."""
    user = UserFactory()
    client = client_for(user)
    fields = {"name": "Acme AI", "time_zone": "UTC", "fiscal_year_start_month": 1}
    assert client.post(reverse("team_create"), fields).status_code == 302
    again = client.post(reverse("team_create"), {**fields, "name": " acme ai "})
    assert again.status_code == 400
    assert "You already have a team called “acme ai”" in again.content.decode()
    assert Team.objects.count() == 1
    assert client_for(UserFactory()).post(reverse("team_create"), fields).status_code == 302
    assert client.post(reverse("team_create"), {**fields, "name": "Beta"}).status_code == 302
    beta = Team.objects.get(name="Beta")
    url = reverse("teams:settings", kwargs={"team": beta.slug})
    renamed = client.post(url, {**fields, "name": "ACME AI"})
    assert "You already have a team called" in renamed.content.decode()
    assert client.post(url, {**fields, "name": "Beta"}).status_code == 302  # its own name


def test_htmx_create_team_errors_render_the_form_partial(client_for):
    client = client_for(UserFactory())
    response = client.post(
        reverse("team_create"),
        {"name": "", "time_zone": "UTC", "fiscal_year_start_month": 1},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith("<form")
    assert "<html" not in body


def test_team_settings_owner_can_change(owner_client, team):
    url = reverse("teams:settings", kwargs={"team": team.slug})
    response = owner_client.post(
        url, {"name": "Renamed", "time_zone": "Asia/Tokyo", "fiscal_year_start_month": 7}
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.time_zone, team.fiscal_year_start_month) == ("Renamed", "Asia/Tokyo", 7)


def test_team_settings_unknown_time_zone(owner_client, team):
    url = reverse("teams:settings", kwargs={"team": team.slug})
    response = owner_client.post(
        url, {"name": "Renamed", "time_zone": "Mars/Olympus", "fiscal_year_start_month": 7}
    )
    assert response.status_code == 400
    team.refresh_from_db()
    assert team.name != "Renamed"


@pytest.mark.parametrize("who", ["editor_client", "viewer_client"])
def test_team_settings_owner_only(request, team, who):
    client = request.getfixturevalue(who)
    url = reverse("teams:settings", kwargs={"team": team.slug})
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "Hijack"}).status_code == 403


def test_owner_invites_and_invitee_accepts(owner_client, team, client_for):
    url = reverse("teams:invite", kwargs={"team": team.slug})
    response = owner_client.post(url, {"email": "New@Example.com", "role": "viewer"})
    assert response.status_code == 200
    invitation = Invitation.objects.get()
    assert invitation.email == "new@example.com"
    invitee = UserFactory(email="new@example.com")
    client = client_for(invitee)
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=invitee).role == Role.VIEWER
    # Reused invitation
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 400
    assert "already been used" in response.content.decode()


def test_invite_existing_member_is_rejected(owner_client, team, editor):
    url = reverse("teams:invite", kwargs={"team": team.slug})
    response = owner_client.post(url, {"email": editor.email.upper(), "role": "viewer"})
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_invite_twice_is_rejected(owner_client, team):
    url = reverse("teams:invite", kwargs={"team": team.slug})
    owner_client.post(url, {"email": "x@example.com", "role": "viewer"})
    response = owner_client.post(url, {"email": "x@example.com", "role": "editor"})
    assert "already pending" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_expired_invitation(client_for, team):
    invitation = InvitationFactory(team=team, expires_at=timezone.now() - timedelta(minutes=1))
    client = client_for(UserFactory(email=invitation.email))
    assert "expired" in client.get(invitation.get_absolute_url()).content.decode()
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(team=team).exists()


def test_invitation_for_another_address(client_for, team):
    invitation = InvitationFactory(team=team, email="right@example.com")
    client = client_for(UserFactory(email="wrong@example.com"))
    response = client.post(invitation.get_absolute_url())
    assert "sent to right@example.com" in response.content.decode()
    assert not Membership.objects.filter(team=team).exists()


def test_revoked_invitation(owner_client, team, client_for):
    invitation = InvitationFactory(team=team)
    owner_client.post(
        reverse("teams:revoke_invitation", kwargs={"team": team.slug, "pk": invitation.pk})
    )
    client = client_for(UserFactory(email=invitation.email))
    assert client.post(invitation.get_absolute_url()).status_code == 400


def test_viewer_and_editor_cannot_invite(viewer_client, editor_client, team):
    url = reverse("teams:invite", kwargs={"team": team.slug})
    for client in (viewer_client, editor_client):
        assert client.post(url, {"email": "x@example.com", "role": "owner"}).status_code == 403
    assert not Invitation.objects.exists()


def test_last_owner_cannot_be_demoted(owner_client, owner, team):
    m = Membership.objects.get(user=owner, team=team)
    owner_client.post(
        reverse("teams:change_role", kwargs={"team": team.slug, "pk": m.pk}), {"role": "viewer"}
    )
    m.refresh_from_db()
    assert m.role == Role.OWNER


def test_owner_changes_role_and_removes(owner_client, editor, team):
    m = Membership.objects.get(user=editor, team=team)
    owner_client.post(
        reverse("teams:change_role", kwargs={"team": team.slug, "pk": m.pk}), {"role": "viewer"}
    )
    m.refresh_from_db()
    assert m.role == Role.VIEWER
    owner_client.post(reverse("teams:remove_member", kwargs={"team": team.slug, "pk": m.pk}))
    assert not Membership.objects.filter(pk=m.pk).exists()


def test_role_change_of_other_teams_membership_is_404(owner_client, outsider, other_team, team):
    m = Membership.objects.get(user=outsider, team=other_team)
    url = reverse("teams:change_role", kwargs={"team": team.slug, "pk": m.pk})
    assert owner_client.post(url, {"role": "viewer"}).status_code == 404


def test_switcher_lists_all_my_teams(client_for, team, other_team):
    user = UserFactory()
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    Membership.objects.create(team=other_team, user=user, role=Role.OWNER)
    client = client_for(user)
    body = client.get(reverse("teams:dashboard", kwargs={"team": team.slug})).content.decode()
    assert f"/t/{other_team.slug}/" in body and f"/t/{team.slug}/" in body
    # Home goes to the last team visited.
    assert client.get("/").url == f"/t/{team.slug}/"


def test_dashboard_explains_framework(owner_client, team, django_assert_max_num_queries):
    # The base page needs ~8 queries; each module's summary adds a constant one or two.
    with django_assert_max_num_queries(20):
        body = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    text = body.content.decode()
    for title in ["Lines on Graphs", "Capability Lighting-Up", "Bottleneck maps", "Saturation",
                  "Cadences", "Quarterly review"]:  # fmt: skip
        assert title in text


def test_anonymous_is_sent_to_login(client, team):
    response = client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_seed_demo_is_idempotent():
    from django.core.management import call_command

    call_command("seed_demo")
    team = Team.objects.get(slug="demo")
    counts = (team.memberships.count(), Invitation.objects.count())
    call_command("seed_demo")
    assert (team.memberships.count(), Invitation.objects.count()) == counts
    assert team.memberships.filter(user__email="demo@example.com", role=Role.OWNER).count() == 1


def test_htmx_is_served_locally_without_the_debug_page_replacer(owner_client, team, settings):
    # django-htmx's DEBUG script swaps the whole document on any 400, which would turn every
    # inline validation error into a bare fragment under `make run` (DEBUG on).
    settings.DEBUG = True
    body = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug})).content
    assert b"/static/django_htmx/htmx-2.min.js" in body
    assert b"django-htmx.js" not in body
