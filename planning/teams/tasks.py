from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invitation


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def send_invitation_email(self, invitation_id: int) -> str:
    """Email an invitation link; records sent_at so the owner sees it went out."""
    invitation = (
        Invitation.objects.select_related("team", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or invitation.state != "pending":
        return "skipped"
    link = settings.SITE_URL.rstrip("/") + invitation.get_absolute_url()
    context = {"invitation": invitation, "link": link}
    try:
        send_mail(
            subject=f"You are invited to {invitation.team.name} on Exponent",
            message=render_to_string("teams/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except OSError as exc:  # SMTP down: retry with backoff
        raise self.retry(exc=exc) from exc
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
    return "sent"


@shared_task
def expire_invitations() -> int:
    """Housekeeping: drop invitations that expired more than 30 days ago."""
    cutoff = timezone.now() - timedelta(days=30)
    deleted, _ = Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff).delete()
    return deleted
