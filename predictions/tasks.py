from __future__ import annotations

from celery import shared_task

from . import fetching


@shared_task(ignore_result=True)
def fetch_sources() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): fetch the metric sources that are due. The claim
    (fetching.claim_due) makes each due source go to one worker even when ticks overlap."""
    return fetching.fetch_due()
