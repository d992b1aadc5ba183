"""The team audit log: who changed access, tokens, webhooks, feeds and reviews, and when."""

from __future__ import annotations

from .models import AuditAction, AuditEvent, Team

MAX_SUMMARY = AuditEvent._meta.get_field("summary").max_length


def record(team: Team, actor, action: str, summary: str) -> AuditEvent:
    """Append one event to `team`'s log (`actor` is a user, or None for the system)."""
    AuditAction(action)  # an unknown action is a programming error
    return AuditEvent.objects.create(
        team=team,
        actor_id=getattr(actor, "pk", None),
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        summary=summary[:MAX_SUMMARY],
    )


def record_for_user_teams(user, action: str, summary: str) -> int:
    """Append an event about `user`'s own credentials to every team they belong to."""
    AuditAction(action)
    teams = list(Team.objects.filter(memberships__user=user))
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                team=team,
                actor_id=user.pk,
                actor_email=user.email,
                action=action,
                summary=summary[:MAX_SUMMARY],
            )
            for team in teams
        ]
    )
    return len(teams)


def webhook_summary(url: str) -> str:
    """How a webhook change reads in the log: the host only (webhook paths often carry a
    secret, e.g. Slack's)."""
    if not url:
        return "Removed the webhook"
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or "?"
    return f"Set the webhook to an address on {host}"
