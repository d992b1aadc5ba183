"""API tokens for the JSON API: look-up by hash, revocation and a per-token rate limit.

The API (whatever serves it) authenticates with `authenticate(raw_token)`, refuses writes with
`token.allows(request.method)` and limits requests with `consume_api_rate(request, token)`.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.core.internal import ratelimit
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from .models import ApiToken, hash_token

# last_used_at is written at most this often per token (one UPDATE, not one per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_RAW_TOKEN_LENGTH = 200


def authenticate(raw_token: str) -> ApiToken | None:
    """The active token for `raw_token` (with its user loaded), or None.

    Unknown, revoked and expired tokens, and tokens of inactive users, are all None. Records
    the time of use (at most once a minute).
    """
    raw = (raw_token or "").strip()
    if not raw or len(raw) > MAX_RAW_TOKEN_LENGTH:
        return None
    token = (
        ApiToken.objects.active().select_related("user").filter(key_hash=hash_token(raw)).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def bearer_token(request: HttpRequest) -> str | None:
    """The raw token from `Authorization: Bearer <token>`, or None."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


def consume_api_rate(request: HttpRequest, token: ApiToken) -> bool:
    """Count one request against the token's limit (settings.API_RATE_LIMIT, e.g. "600/m").

    False when the token is over its limit: answer 429.
    """
    usage = ratelimit.consume(
        request,
        app="planning.accounts",
        action="api",
        config={"api": _per_key(settings.API_RATE_LIMIT)},
        key=f"token:{token.pk}",
        limit_get=True,
    )
    return usage is not None


def _per_key(rate: str) -> str:
    return ",".join(r if r.count("/") == 2 else f"{r}/key" for r in rate.split(",") if r.strip())


API_RATE_MESSAGE = "Too many requests with this API token. Wait a minute and try again."


def revoke_user_tokens(user, reason: str) -> int:
    """Revoke every active token of `user` (after a password change or reset)."""
    return (
        ApiToken.objects.active()
        .filter(user=user)
        .update(revoked_at=timezone.now(), revoked_reason=reason)
    )
