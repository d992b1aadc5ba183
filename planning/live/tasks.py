"""Celery tasks of the live layer: the demo generation, the cancel watchdog, the reaper and
retention compaction (the last two run from CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import itertools
import random
import time

from celery import shared_task

from . import services
from .writer import run

DEMO_PARAGRAPH = (
    "Draw the line before the evidence arrives. Write down where the metric will be next "
    "quarter, commit it, and let reality score it. Keep the ideas that failed because the "
    "model was not good enough, and try them again when the next model ships: some of them "
    "light up. Map the delivery workflow and look for the stage that AI did not speed up, "
    "because that stage now sets the pace. Watch each product form factor for the moment it "
    "stops showing model gains. Hold the opportunity and the risk of every bet together, and "
    "come back to all of it on a steady cadence."
)
DEMO_WORDS = DEMO_PARAGRAPH.split()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def demo_generation(self, session_id: str, words: int = 600, delay: float = 0.03) -> str:
    """A long fake generation: one token per word, progress every 50 words, obeys stop."""
    rng = random.Random(session_id)
    source = itertools.cycle(DEMO_WORDS)
    with run(session_id, task_id=self.request.id) as w:
        for i in range(words):
            if w.should_stop():
                break
            if i % 50 == 0:
                w.emit("progress", {"done": i, "total": words, "label": "Generating"})
            w.token(next(source) + " ")
            time.sleep(delay * rng.uniform(0.5, 1.5))
        else:
            w.emit("progress", {"done": words, "total": words, "label": "Generated"})
            w.emit("result", {"words": words})
    return session_id


@shared_task
def cancel_watchdog(session_id: str) -> bool:
    return services.enforce_cancel(session_id)


@shared_task
def reap_stale_sessions() -> int:
    return services.reap_stale_sessions()


@shared_task
def compact_finished_sessions() -> int:
    return services.compact_finished_sessions()
