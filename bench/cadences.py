"""Benchmark of one cadence beat tick. Prints the wall time and SQL query count of a tick over
10,000 cadences of which 250 occurrences are due (one member each: email + in-app = 500
reminders) and 250 cadences need their next occurrence stored; then the same with 1,000
cadences, to show the query count does not grow with the number of cadences.

Uses the configured DATABASE_URL (migrates it), mail goes to Django's in-memory backend,
and everything it creates is deleted at the end.

    DATABASE_URL=postgresql://…/bench_cadences .venv/bin/python bench/cadences.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ.pop("EMAIL_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from planning.accounts.models import User  # noqa: E402
from planning.cadences import services  # noqa: E402
from planning.cadences.models import Cadence, Occurrence, Reminder  # noqa: E402
from planning.teams.models import Membership, Role, Team  # noqa: E402

PREFIX = "bench-cad-"


def build(n_cadences: int, due: int, to_materialise: int, per_team: int = 10) -> list[int]:
    now = timezone.now()
    n_teams = n_cadences // per_team
    teams = Team.objects.bulk_create(
        [Team(name=f"Bench {i}", slug=f"{PREFIX}{i}", time_zone="Europe/London")
         for i in range(n_teams)]
    )  # fmt: skip
    users = User.objects.bulk_create(
        [User(email=f"{PREFIX}{i}@example.com", name=f"Bench {i}") for i in range(n_teams)]
    )
    Membership.objects.bulk_create(
        [Membership(team=t, user=u, role=Role.OWNER) for t, u in zip(teams, users, strict=True)]
    )
    future = now + timedelta(days=30)
    cadences = []
    for i in range(n_cadences):
        materialise_now = i < to_materialise
        cadences.append(
            Cadence(
                team=teams[i // per_team],
                title=f"Cadence {i}",
                rrule="FREQ=MONTHLY;BYMONTHDAY=1" if i % 2 else "FREQ=WEEKLY;BYDAY=MO",
                starts_on=date(2026, 1, 1),
                due_time=dtime(9, 0),
                reminder_days=[2],
                next_due_at=future + timedelta(days=7),
                materialize_at=now - timedelta(minutes=1) if materialise_now else future,
            )
        )
    cadences = Cadence.objects.bulk_create(cadences, batch_size=2000)
    # Spread the due occurrences over distinct teams (one member each: email + in-app).
    due_idx = set(range(0, n_cadences, max(n_cadences // due, 1))[:due])
    occurrences = []
    for i, c in enumerate(cadences):
        is_due = i in due_idx
        at = now - timedelta(minutes=1) if is_due else future
        occurrences.append(
            Occurrence(
                cadence=c,
                due_at=at,
                overdue_at=at + timedelta(days=2),
                next_reminder_at=at if is_due else future - timedelta(days=2),
            )
        )
    Occurrence.objects.bulk_create(occurrences, batch_size=2000)
    return [t.pk for t in teams]


def clean() -> None:
    Team.objects.filter(slug__startswith=PREFIX).delete()
    User.objects.filter(email__startswith=PREFIX).delete()


def measure(n_cadences: int, due: int, to_materialise: int) -> None:
    clean()
    t0 = time.perf_counter()
    build(n_cadences, due, to_materialise)
    built = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        result = services.tick()
        elapsed = time.perf_counter() - t0
    reminders = Reminder.objects.filter(occurrence__cadence__team__slug__startswith=PREFIX)
    print(
        f"{n_cadences:>6,} cadences, {due} due occurrences -> {reminders.count()} reminders, "
        f"{result['occurrences']} occurrences stored: one tick {elapsed * 1000:,.0f} ms, "
        f"{len(ctx.captured_queries)} queries (setup {built:.1f} s)"
    )
    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        services.tick()
        idle = time.perf_counter() - t0
    print(f"{'':>6} next tick with nothing due: {idle * 1000:,.0f} ms, "
          f"{len(ctx.captured_queries)} queries")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cadences", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=250)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    reverse("home")  # load the URLconf once, as a running worker already has
    try:
        measure(args.cadences, args.due, args.due)
        measure(args.cadences // 10, args.due, args.due)
    finally:
        clean()


if __name__ == "__main__":
    main()
