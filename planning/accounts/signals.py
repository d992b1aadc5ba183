"""A changed or reset password ends the person's other sessions (Django's session hash does
that) and revokes their API tokens (here)."""

from __future__ import annotations

from allauth.account.signals import password_changed, password_reset, password_set
from django.dispatch import receiver

from .tokens import revoke_user_tokens


@receiver(password_changed)
@receiver(password_set)
def _revoke_after_change(sender, request, user, **kwargs) -> None:
    _revoke(user, "password changed")


@receiver(password_reset)
def _revoke_after_reset(sender, request, user, **kwargs) -> None:
    _revoke(user, "password reset")


def _revoke(user, reason: str) -> None:
    if revoke_user_tokens(user, reason):
        from planning.teams.audit import record_for_user_teams

        record_for_user_teams(user, "token.revoked", f"All API tokens ({reason})")
