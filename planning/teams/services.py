"""Team operations that change several rows at once, each in one transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Invitation, Membership, Role, Team


@transaction.atomic
def create_team(*, owner, **fields) -> Team:
    team = Team.objects.create(**fields)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path in getattr(settings, "TEAM_CREATED_HOOKS", []):
        import_string(path)(team)
    return team


def accept_invitation(invitation: Invitation, user) -> Membership:
    """Accept an invitation for `user`.

    Raises ValidationError with a message a person can act on.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
        )
        if invitation.accepted_at:
            raise ValidationError("This invitation has already been used.")
        if invitation.revoked_at:
            raise ValidationError("This invitation was withdrawn by the team.")
        if invitation.is_expired:
            raise ValidationError("This invitation has expired. Ask the team for a new one.")
        if invitation.email.lower() != user.email.lower():
            raise ValidationError(
                f"This invitation was sent to {invitation.email}, but you are signed in as "
                f"{user.email}. Sign in with the invited address."
            )
        if Membership.objects.filter(team=invitation.team, user=user).exists():
            raise ValidationError(f"You are already a member of {invitation.team}.")
        try:
            membership = Membership.objects.create(
                team=invitation.team, user=user, role=invitation.role
            )
        except IntegrityError:  # pragma: no cover - a concurrent accept
            raise ValidationError("You are already a member of this team.") from None
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        return membership


def change_role(membership: Membership, role: str) -> None:
    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            team=membership.team, role=Role.OWNER
        )
        if membership.role == Role.OWNER and role != Role.OWNER and owners.count() <= 1:
            raise ValidationError("A team needs at least one owner. Make someone else owner first.")
        membership.role = role
        membership.save(update_fields=["role"])


def remove_member(membership: Membership) -> None:
    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            team=membership.team, role=Role.OWNER
        )
        if membership.role == Role.OWNER and owners.count() <= 1:
            raise ValidationError("The last owner cannot be removed.")
        membership.delete()
