"""Celery tasks of predictions: fetching metric sources and emailing their failures
(fetching.py), and the Claude critique of a rationale (critiques.py)."""

from __future__ import annotations

import smtplib

from celery import shared_task

from . import fetching


@shared_task(ignore_result=True)
def fetch_sources() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): fetch the metric sources that are due. The claim
    (fetching.claim_due) makes each due source go to one worker even when ticks overlap."""
    return fetching.fetch_due()


@shared_task(
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    max_retries=5,
    retry_backoff=60,  # 1, 2, 4, 8, 16 minutes (jittered) while the mail server is down
    retry_backoff_max=30 * 60,
)
def email_source_failure(notification_id: int, source_id: int | None = None) -> str:
    """Email the owner that a metric source has been failing (fetching._notify_failure queues
    it once per run of failures, with its in-app notice); skipped if the source has recovered
    by the time it runs (a retry may come half an hour later)."""
    return fetching.send_failure_email(notification_id, source_id)


@shared_task(ignore_result=True)
def run_source_test(trial_id: str, fields: dict, positive_only: bool, today: str) -> str:
    """ "Test the source": fetch and parse once for the page that polls `trial_id`, saving
    nothing. `fields` holds the credential encrypted, as the database does (trials.py)."""
    from . import trials

    return trials.run(trial_id, fields, positive_only, today)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def critique_rationale(self, critique_id: int) -> str:
    from . import critiques

    return critiques.generate(critique_id, task_id=self.request.id or "")
