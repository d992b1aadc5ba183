"""Which email addresses count for a person: only the verified ones."""

from __future__ import annotations

from allauth.account.models import EmailAddress


def verified_addresses(user) -> set[str]:
    """The user's verified addresses, lower-cased (empty for an anonymous user)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }


def verify_by_invitation(user, email: str) -> bool:
    """Mark `email` verified for `user` because they followed a link sent to it.

    Only an address the user already has is verified; returns whether it now is.
    """
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        return False
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    return True


def add_verified_address(user) -> EmailAddress:
    """The user's own address as primary and verified (demo data, admin-made accounts)."""
    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=user.email.lower(), defaults={"verified": True, "primary": True}
    )
    return address
