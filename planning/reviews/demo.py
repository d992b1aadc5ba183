"""Demo: last quarter's review closed with a plan, this quarter's in progress."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType

from planning.notes.models import Note
from planning.quarters import current_quarter

from . import services
from .models import BacklogItem, Review, Step


def _note(item: BacklogItem, team, user, kind: str, text: str) -> None:
    ct = ContentType.objects.get_for_model(item)
    Note.objects.get_or_create(
        team=team,
        content_type=ct,
        object_id=item.pk,
        kind=kind,
        text=text,
        defaults={"author": user},
    )


def seed(team, user) -> None:
    now_q = current_quarter(team)
    last_q = now_q.previous()
    if not Review.objects.for_team(team).filter(quarter=str(last_q)).exists():
        last = Review.objects.create(team=team, quarter=str(last_q), started_by=user)
        services.save_step_note(
            last,
            Step.LOOK_BACK,
            "Our METR line was too conservative: reality ran ~2x ahead.",
            0,
            user,
        )
        item = services.add_backlog_item(last, "Automate first-pass code review with an agent")
        _note(item, team, user, "light", "Review is the new bottleneck; an agent halves it.")
        _note(item, team, user, "shade", "Subtle bugs slip through if humans rubber-stamp.")
        services.add_commitment(
            last,
            owner=user,
            what="Run the capability audit in the first week of the quarter",
            due_date=last_q.end + timedelta(days=10),
        )
        services.close_review(last, user)
    current, _ = services.start_review(team, user, str(now_q))
    if not current.backlog.exists() and not current.is_closed:
        services.save_step_note(
            current, 1, "Draft: capability predictions mostly inside the band this time.", 0, user
        )
        item = services.add_backlog_item(current, "Move support from chat to an agent form factor")
        _note(item, team, user, "light", "Agents resolve whole tickets, not just answer questions.")
