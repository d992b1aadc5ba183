from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def tick() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): materialise, claim, send and record reminders."""
    return services.tick()
