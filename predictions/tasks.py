"""Celery tasks of predictions: fetching metric sources (fetching.py) and the Claude critique
of a rationale (critiques.py)."""

from __future__ import annotations

from celery import shared_task

from . import fetching


@shared_task(ignore_result=True)
def fetch_sources() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): fetch the metric sources that are due. The claim
    (fetching.claim_due) makes each due source go to one worker even when ticks overlap."""
    return fetching.fetch_due()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def critique_rationale(self, critique_id: int) -> str:
    from . import critiques

    return critiques.generate(critique_id, task_id=self.request.id or "")
