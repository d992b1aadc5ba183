"""Team operations that change several rows at once, each in one transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from planning import sections

from .models import Invitation, Membership, Role, Team


@transaction.atomic
def create_team(*, owner, **fields) -> Team:
    team = Team.objects.create(**fields)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    for section in sections.in_app_order():  # e.g. the default cadences
        section.team_created(team)
    return team


def accept_invitation(invitation: Invitation, user, *, by_link: bool = False) -> Membership:
    """Accept an invitation for `user`.

    The invited address must be one of the user's verified addresses. `by_link`: the user
    followed the invitation's own link (its single-use token), which was mailed to that
    address, so an unverified address of theirs that matches is verified by it.
    Raises ValidationError with a message a person can act on.
    """
    from planning.accounts.addresses import verified_addresses, verify_by_invitation

    from . import audit

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
        email = invitation.email.lower()
        if by_link and email not in verified_addresses(user):
            verify_by_invitation(user, email)
        if email not in verified_addresses(user):
            raise ValidationError(
                f"This invitation was sent to {invitation.email}, but you are signed in as "
                f"{user.email}. Sign in with the invited address."
            )
        if Membership.objects.for_team(invitation.team).filter(user=user).exists():
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
        role = invitation.get_role_display().lower()
        audit.record(
            invitation.team,
            user,
            "invitation.accepted",
            f"{user.email} accepted the invitation and joined as {role}",
        )
        return membership


def change_role(membership: Membership, role: str, *, actor=None) -> None:
    from . import audit

    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            team=membership.team, role=Role.OWNER
        )
        if membership.role == Role.OWNER and role != Role.OWNER and owners.count() <= 1:
            raise ValidationError("A team needs at least one owner. Make someone else owner first.")
        before = membership.get_role_display().lower()
        membership.role = role
        membership.save(update_fields=["role"])
        if membership.get_role_display().lower() != before:
            audit.record(
                membership.team,
                actor,
                "member.role_changed",
                f"{membership.user.email}: {before} → {membership.get_role_display().lower()}",
            )


def remove_member(membership: Membership, *, actor=None) -> None:
    from . import audit

    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            team=membership.team, role=Role.OWNER
        )
        if membership.role == Role.OWNER and owners.count() <= 1:
            raise ValidationError("The last owner cannot be removed.")
        membership.delete()
        audit.record(
            membership.team,
            actor,
            "member.removed",
            f"{membership.user.email} removed (was {membership.get_role_display().lower()})",
        )
