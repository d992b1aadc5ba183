"""What the draft panel beside a step's notes shows (one function for the page and htmx)."""

from __future__ import annotations

from typing import Any

from planning.reviews.models import Review

from . import services
from .citations import resolve
from .models import Draft

SHOWN = (Draft.Status.RUNNING, Draft.Status.READY, Draft.Status.FAILED)  # what the panel shows


def revision_of(draft: Draft) -> Draft | None:
    """The newest revision of `draft` the panel would now show in its place (None while there
    is none): what tabs still showing the finished draft link to."""
    return (
        Draft.objects.filter(follows=draft, status__in=SHOWN)
        .select_related("created_by")
        .order_by("-created_at")
        .first()
    )


def context(review: Review, step: int, membership, **extra: Any) -> dict[str, Any]:
    setting = services.settings_for(review.team)
    drafts = list(
        Draft.objects.filter(review=review, step=step)
        .select_related("session", "decided_by")
        .order_by("-created_at")[:10]
    )
    current = next((d for d in drafts if d.status in SHOWN), None)
    running = bool(
        current
        and current.status == Draft.Status.RUNNING
        and current.session
        and not current.session.is_finished
    )
    stopped = bool(current and current.status == Draft.Status.RUNNING and not running)
    paragraphs = resolve(current.text, current.items) if current and current.text else []
    return {
        "review": review,
        "step": step,
        "setting": setting,
        "draft": current,
        "running": running,
        "stopped": stopped,
        "paragraphs": paragraphs,
        "flagged": sum(1 for p in paragraphs if p.flagged),
        "accepted": [d for d in drafts if d.status == Draft.Status.ACCEPTED],
        "can_draft": membership.can_edit and not review.is_closed,
        "is_owner": membership.is_owner,
        "spent": services.spent_this_month(review.team) if setting.enabled else None,
        **extra,
    }
