"""Demo data: the default cadences (if missing), a completed past occurrence, a notification."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from . import services
from .models import Cadence, Notification, Occurrence, State, TeamCadenceSettings


def seed(team, user) -> None:
    TeamCadenceSettings.objects.get_or_create(team=team)
    if not Cadence.objects.for_team(team).exists():
        services.create_default_cadences(team)
    retro = Cadence.objects.for_team(team).filter(kind="retrospective").first()
    # One completed retro, whenever the seed runs again (its due time moves with the clock).
    if retro is not None and not retro.occurrences.filter(state=State.DONE).exists():
        last = (timezone.now() - timedelta(days=20)).replace(second=0, microsecond=0, minute=0)
        Occurrence.objects.create(
            cadence=retro,
            due_at=last,
            overdue_at=last + timedelta(days=3),
            state=State.DONE,
            completed_by=user,
            completed_at=last + timedelta(hours=2),
            note="Agreed to re-run the failed summarisation ideas next audit.",
        )
    if not Notification.objects.for_team(team).filter(user=user).exists():
        Notification.objects.create(
            team=team,
            user=user,
            text="Welcome: Exponent will remind the team before each audit and review.",
            url=reverse("cadences:cadence_list", kwargs={"team": team.slug}),
        )
