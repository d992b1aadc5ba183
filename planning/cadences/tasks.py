from __future__ import annotations

import uuid

from celery import shared_task

from . import delivery, services


def enqueue(channel: str, ids: list[int], token: uuid.UUID) -> None:
    """services.tick's dispatch on a worker: every chunk of a channel is its own task."""
    deliver.apply_async(args=(channel, ids, str(token)))


@shared_task(ignore_result=True)
def tick() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): materialise and claim; in-app messages go at once,
    email, webhook and digest chunks as `deliver` tasks."""
    return services.tick(dispatch=enqueue)


@shared_task(ignore_result=True)
def deliver(channel: str, ids: list[int], token: str) -> dict:
    """Send one claimed chunk; a lost claim (token re-issued by a later tick) sends nothing."""
    outcome = delivery.deliver(channel, ids, token)
    return {"sent": outcome.sent, "failed": outcome.failed, "skipped": outcome.skipped}
