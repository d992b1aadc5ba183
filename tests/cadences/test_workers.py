"""Exactly once on real Redis + PostgreSQL: two worker processes, racing ticks, real beat."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from planning.cadences.models import Kind, Notification, Occurrence, Reminder, ReminderStatus
from planning.cadences.tasks import tick
from planning.teams.models import Role
from tests.cadences.conftest import read_outbox
from tests.conftest import wait_for
from tests.factories import CadenceFactory, MembershipFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _due_now(cadence) -> Occurrence:
    """Make the cadence's stored occurrence due a minute ago (workers run on the real clock)."""
    now = timezone.now()
    occ = Occurrence.objects.filter(cadence=cadence).order_by("due_at").first()
    Occurrence.objects.filter(pk=occ.pk).update(
        due_at=now - timedelta(minutes=1),
        overdue_at=now + timedelta(days=1),
        next_reminder_at=now - timedelta(minutes=1),
    )
    return occ


def finished_ticks(stack) -> set[str]:
    """Ids of the tick tasks the workers have finished (from their logs)."""
    logs = "".join(p.read_text() for p in stack.logs)
    return set(re.findall(r"tasks\.tick\[([0-9a-f-]+)\] (?:succeeded|raised)", logs))


@pytest.fixture
def outbox(cadence_stack):
    shutil.rmtree(cadence_stack.outbox)
    cadence_stack.outbox.mkdir()
    return cadence_stack.outbox


def test_two_workers_and_racing_ticks_send_each_reminder_once(team, cadence_stack, outbox):
    members = [MembershipFactory(team=team, role=Role.EDITOR).user for _ in range(3)]
    cadences = [
        CadenceFactory(team=team, title=f"Cadence {i}", reminder_days=[]) for i in range(20)
    ]
    for cadence in cadences:
        _due_now(cadence)
    expected = len(cadences) * len(members) * 2

    results = [tick.apply_async(queue=cadence_stack.queue) for _ in range(8)]
    assert len({r.id for r in results}) == 8

    def settled():
        return (
            Reminder.objects.filter(status=ReminderStatus.SENT).count() == expected
            and len(read_outbox(outbox)) >= expected // 2
        )

    assert wait_for(settled, timeout=60), [p.read_text()[-3000:] for p in cadence_stack.logs]
    # every tick has finished, the stragglers too
    assert wait_for(lambda: finished_ticks(cadence_stack) >= {r.id for r in results}, timeout=60)
    reminders = Reminder.objects.all()
    assert reminders.count() == expected
    assert set(reminders.values_list("status", "attempts")) == {("sent", 1)}
    messages = read_outbox(outbox)
    keys = [m["X-Exponent-Idempotency-Key"] for m in messages]
    assert len(keys) == len(set(keys)) == expected // 2
    assert Notification.objects.count() == expected // 2
    # Both workers took part in the race.
    logs = [p.read_text() for p in cadence_stack.logs]
    assert all("planning.cadences.tasks.tick" in log for log in logs)


def test_end_to_end_beat_to_worker_to_email_outbox(
    team, owner, cadence_stack, outbox, beat_process
):
    cadence = CadenceFactory(team=team, kind=Kind.CAPABILITY_AUDIT, title="Quarterly audit")
    _due_now(cadence)
    beat = beat_process()

    def delivered():
        return [m for m in read_outbox(outbox) if "Quarterly audit" in m["Subject"]]

    found = wait_for(delivered, timeout=60)
    assert found, (cadence_stack.root / "beat.log").read_text()[-3000:]
    assert beat.poll() is None
    message = found[0]
    assert message["To"] == owner.email
    key = message["X-Exponent-Idempotency-Key"]
    # the message is written before its reminder is marked sent: wait for the mark
    sent = Reminder.objects.filter(idempotency_key=key, status=ReminderStatus.SENT)
    assert wait_for(sent.exists, timeout=30)
    body = message.get_content()
    assert "https://exponent.example.com/t/" in body and "is due now" in body
    # Several more beats pass: still one message per reminder.
    ticks = len(finished_ticks(cadence_stack))
    assert wait_for(lambda: len(finished_ticks(cadence_stack)) >= ticks + 2, timeout=30)
    assert len(delivered()) == 1
