"""Benchmark of one cadence beat tick that falls due for many teams at once, sent for real.

Builds N due occurrences in N teams (5 members each, a webhook each: 11 messages per
occurrence = 5 emails + 5 in-app + 1 webhook), starts a local SMTP sink and webhook target
that take 20 ms per message, and 4 Celery worker processes. Then one tick claims everything
(in this process, counting its SQL queries), sends the in-app messages at once and enqueues
the email/webhook chunks, which the workers send. Prints the wall time until every message is
recorded as sent, the claim's query count for two sizes (it must not grow), duplicates seen
by the sink, and the load average (the machine is shared: figures vary with it).

Uses the configured DATABASE_URL (migrates it) and CELERY_BROKER_URL; everything it creates is
deleted at the end.

    DATABASE_URL=postgresql://…/bench_cadences .venv/bin/python bench/cadences.py [--due 910]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")
os.environ["NETGUARD_ALLOW_LOOPBACK"] = "1"  # the bench's own webhook target is on 127.0.0.1
QUEUE = f"bench-cadences-{uuid.uuid4().hex[:6]}"
os.environ["CELERY_QUEUE"] = QUEUE

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from planning.accounts.models import User  # noqa: E402
from planning.cadences import services  # noqa: E402
from planning.cadences.models import (  # noqa: E402
    Cadence,
    Occurrence,
    Reminder,
    ReminderStatus,
    TeamCadenceSettings,
)
from planning.cadences.tasks import enqueue  # noqa: E402
from planning.celery import app  # noqa: E402
from planning.teams.models import Membership, Role, Team  # noqa: E402
from tests.cadences.sinks import SmtpSink, WebhookTarget  # noqa: E402

PREFIX = "bench-cad-"
MEMBERS = 5
WORKERS = 4


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def build(due: int, hook_url: str) -> None:
    now = timezone.now()
    teams = Team.objects.bulk_create(
        [Team(name=f"Bench {i}", slug=f"{PREFIX}{i}", time_zone="Europe/London")
         for i in range(due)]
    )  # fmt: skip
    users = User.objects.bulk_create(
        [User(email=f"{PREFIX}{i}@example.com", name=f"Bench {i}") for i in range(due * MEMBERS)],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [Membership(team=teams[i // MEMBERS], user=u, role=Role.EDITOR)
         for i, u in enumerate(users)],
        batch_size=2000,
    )  # fmt: skip
    TeamCadenceSettings.objects.bulk_create(
        [TeamCadenceSettings(team=t, webhook_url=hook_url, weekly_digest=False) for t in teams]
    )
    cadences = Cadence.objects.bulk_create(
        [Cadence(team=t, title="Quarterly capability audit", rrule="FREQ=WEEKLY;BYDAY=MO",
                 starts_on=date(2026, 1, 1), due_time=dtime(10, 0), reminder_days=[],
                 next_due_at=now + timedelta(days=7), materialize_at=now + timedelta(days=6))
         for t in teams]
    )  # fmt: skip
    at = now - timedelta(minutes=1)
    Occurrence.objects.bulk_create(
        [Occurrence(cadence=c, due_at=at, overdue_at=at + timedelta(days=2), next_reminder_at=at)
         for c in cadences]
    )  # fmt: skip


def clean() -> None:
    Team.objects.filter(slug__startswith=PREFIX).delete()
    User.objects.filter(email__startswith=PREFIX).delete()


def start_workers(sink: SmtpSink, log: Path) -> subprocess.Popen:
    env = dict(os.environ, EMAIL_URL=sink.url(), CELERY_QUEUE=QUEUE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "planning", "worker", "-Q", QUEUE,
         "--concurrency", str(WORKERS), "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"],
        cwd=BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited:\n{log.read_text()[-3000:]}")
        if app.control.ping(timeout=0.5):
            return proc
    raise SystemExit(f"worker did not start:\n{log.read_text()[-3000:]}")


def run(due: int, sink: SmtpSink, hook: WebhookTarget) -> tuple[int, int]:
    clean()
    build(due, hook.url)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sink.messages.clear()
    hook.received.clear()
    before = load()
    reminders = Reminder.objects.filter(occurrence__cadence__team__slug__startswith=PREFIX)
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        result = services.tick(dispatch=enqueue)
    claimed = time.perf_counter() - t0
    expected = due * (2 * MEMBERS + 1)
    assert result["claimed"] == expected, result
    while reminders.filter(status=ReminderStatus.SENT).count() < expected:
        if time.perf_counter() - t0 > 600:
            raise SystemExit("not all sent after 600 s")
        time.sleep(0.25)
    elapsed = time.perf_counter() - t0
    failed = reminders.exclude(status=ReminderStatus.SENT).count()
    dup_mail = len(sink.messages) - len(sink.message_ids())
    dup_hook = len(hook.received) - len(hook.by_key())
    print(
        f"{due:>5,} due occurrences -> {expected:,} messages ({due * MEMBERS:,} emails, "
        f"{due * MEMBERS:,} in-app, {due:,} webhooks) at 20 ms each, {WORKERS} worker processes:\n"
        f"      all sent in {elapsed:,.1f} s (claim + in-app {claimed:,.1f} s, "
        f"{len(ctx.captured_queries)} queries); {failed} not sent, duplicates: {dup_mail} "
        f"emails, {dup_hook} webhooks  [{before} at start, {load()} at end]"
    )
    return len(ctx.captured_queries), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=910, help="due occurrences (x11 messages)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    reverse("home")  # load the URLconf once, as a running worker already has
    sink = SmtpSink().up()
    sink.gate.set("slow", delay=0.02)
    hook = WebhookTarget().up()
    hook.gate.set("slow", delay=0.02)
    log = BASE_DIR / "var" / "bench-cadences-worker.log"
    log.parent.mkdir(exist_ok=True)
    worker = start_workers(sink, log)
    try:
        big, _ = run(args.due, sink, hook)
        small, _ = run(max(args.due // 10, 1), sink, hook)
        print(f"      claim queries: {big} for {args.due} occurrences, {small} for "
              f"{max(args.due // 10, 1)} (constant per claim)")  # fmt: skip
        t0 = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            services.tick(dispatch=enqueue)
        print(f"      next tick with nothing due: {(time.perf_counter() - t0) * 1000:,.0f} ms, "
              f"{len(ctx.captured_queries)} queries")  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(30)
        app.control.purge()
        sink.down()
        hook.down()
        clean()
    print(f"(settings: chunk {settings.CADENCE_SEND_CHUNK} messages per task)")


if __name__ == "__main__":
    main()
