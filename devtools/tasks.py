"""Celery tasks that only the test suite sends. A test worker imports this module through
settings.CELERY_IMPORTS (EXPONENT_DEV_TASK_MODULES=devtools.tasks, set by tests/processes.py)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_prerun

from planning.live.writer import LiveWriter


@shared_task
def emit_burst(session_id: str, epoch: int, count: int, label: str = "") -> int:
    """Append `count` progress events under `epoch` (the concurrent-writer test)."""
    w = LiveWriter.join(session_id, epoch)
    for i in range(count):
        w.emit("progress", {"writer": label, "i": i})
    return count


@task_prerun.connect
def _fresh_content_types(**_kwargs) -> None:
    """The test suite flushes the database between transactional tests, and the content types
    come back with new ids; a worker that lives through several tests must not keep the old
    ids cached (light and shade notes are found by content type)."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
