"""Real workers, a real SMTP sink and webhook target: kill -9 mid-batch, a hanging mail server.

Workers run with test-only short settings (lease 3 s, mail timeout 1 s, chunks of 4) so
each fault resolves in seconds; the test waits on conditions, never on the clock.
"""

from __future__ import annotations

import os
import signal
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from planning.cadences.models import (
    Notification,
    Occurrence,
    Reminder,
    ReminderStatus,
    TeamCadenceSettings,
)
from planning.cadences.tasks import tick
from planning.teams.models import Role
from tests.cadences.sinks import SmtpSink, WebhookTarget
from tests.conftest import wait_for
from tests.factories import CadenceFactory, MembershipFactory
from tests.processes import start_worker, stop, wait_until_answering, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def smtp_sink():
    smtp = SmtpSink().up()
    yield smtp
    smtp.down()


@pytest.fixture
def webhook_target():
    target = WebhookTarget().up()
    yield target
    target.down()


@pytest.fixture
def workers(tmp_path, smtp_sink):
    """start(name, pool) -> a worker process on a private queue, mailing to the sink."""
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        CELERY_QUEUE=queue,
        EMAIL_URL=smtp_sink.url(),
        EMAIL_TIMEOUT="1",
        CADENCE_LEASE_SECONDS="3",
        CADENCE_RETRY_SECONDS="1",
        CADENCE_SEND_CHUNK="4",
        CADENCE_WEBHOOK_TIMEOUT="1",
        NETGUARD_ALLOW_LOOPBACK="1",  # test-only: the sink and target listen on 127.0.0.1
    )
    procs = []

    def start(name: str, *, solo: bool = False, concurrency: int = 2):
        extra = ["--without-heartbeat", *(["-P", "solo"] if solo else [])]
        proc = start_worker(
            queue, f"{name}-{uuid.uuid4().hex[:6]}@%h", tmp_path / f"{name}.log", env,
            concurrency=concurrency, extra=extra, new_session=True,
        )  # fmt: skip
        procs.append(proc)
        wait_until_answering([proc])
        return proc

    start.queue = queue
    yield start
    for proc in procs:
        if proc.poll() is None:
            stop(proc)


def _due_now(cadence) -> None:
    now = timezone.now()
    Occurrence.objects.filter(cadence=cadence).update(
        due_at=now - timedelta(minutes=1),
        overdue_at=now + timedelta(days=1),
        next_reminder_at=now - timedelta(minutes=1),
    )


def _logs(tmp_path) -> str:
    return "\n".join(p.read_text()[-2000:] for p in tmp_path.glob("*.log"))


def test_kill_9_mid_batch_resends_at_most_the_message_in_flight(team, smtp_sink, workers, tmp_path):
    for _ in range(12):
        MembershipFactory(team=team, role=Role.EDITOR)
    cadence = CadenceFactory(team=team, reminder_days=[])
    _due_now(cadence)
    smtp_sink.gate.set("slow", delay=0.25)
    doomed = workers("doomed", solo=True)
    tick.apply_async(queue=workers.queue)
    assert wait_for(lambda: len(smtp_sink.messages) >= 2, timeout=60), _logs(tmp_path)
    os.killpg(doomed.pid, signal.SIGKILL)  # kill -9, mid-batch
    doomed.wait(10)
    sent_before = Reminder.objects.filter(channel="email", status=ReminderStatus.SENT).count()
    assert sent_before < 12  # it really died with work left

    smtp_sink.gate.set("ok")
    workers("survivor")

    def settled():
        if Reminder.objects.exclude(status=ReminderStatus.SENT).exists():
            tick.apply_async(queue=workers.queue)  # the beat's job: re-claim after the lease
            return False
        return True

    assert wait_for(settled, timeout=90, interval=0.5), _logs(tmp_path)
    keys = {str(k) for k in Reminder.objects.filter(channel="email").values_list(
        "idempotency_key", flat=True)}  # fmt: skip
    assert len(keys) == 12 and set(smtp_sink.by_key()) == keys
    assert len(smtp_sink.message_ids()) == 12  # exactly once by Message-ID
    assert len(smtp_sink.messages) <= 13  # at most the one message in flight went twice
    assert Notification.objects.filter(team=team).count() == 12


def test_a_hanging_mail_server_holds_up_neither_in_app_nor_webhooks(
    team, smtp_sink, webhook_target, workers, tmp_path
):
    for _ in range(8):
        MembershipFactory(team=team, role=Role.EDITOR)
    TeamCadenceSettings.objects.update_or_create(
        team=team, defaults={"webhook_url": webhook_target.url}
    )
    cadence = CadenceFactory(team=team, reminder_days=[])
    _due_now(cadence)
    smtp_sink.gate.set("hang")
    workers("w", concurrency=2)
    tick.apply_async(queue=workers.queue)

    def others_delivered():
        return (
            Notification.objects.filter(team=team).count() == 8
            and Reminder.objects.get(channel="webhook").status == ReminderStatus.SENT
        )

    assert wait_for(others_delivered, timeout=60), _logs(tmp_path)
    # The mail server's hang ends in the timeout: failed, to be retried, workers free.
    assert wait_for(
        lambda: Reminder.objects.filter(channel="email", status=ReminderStatus.FAILED).count() == 8,
        timeout=60,
    ), _logs(tmp_path)
    errors = set(Reminder.objects.filter(channel="email").values_list("last_error", flat=True))
    assert errors == {"Email: the mail server did not answer in time"}
    assert len(webhook_target.received) == 1
