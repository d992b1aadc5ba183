"""Benchmark of steering a draft (issue 19), in this process against the fake Messages API
streaming at --tps tokens per second (a real model streams about 50-150). Prints, with the load
average:

- steer -> pickup: from the steer's commit (its `steer` event) to the worker continuing with it
  (its `steer_applied` event), p50 and worst, over --runs drafts steered mid-stream;
- stop during a steered continuation: from the stop request to the `cancelled` event.

The task runs in a thread of this process (draft_step.apply), as a worker would run it. Uses
the configured DATABASE_URL / REDIS_URL (migrates it), creates a throw-away team and deletes it.

    .venv/bin/python bench/steer.py [--runs 10] [--tps 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")

import django  # noqa: E402

django.setup()

from decimal import Decimal  # noqa: E402

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from audits.models import Model, Price  # noqa: E402
from devtools.fakeapi import make_server  # noqa: E402
from planning.accounts.models import User  # noqa: E402
from planning.facilitator.models import Draft, FacilitatorSetting  # noqa: E402
from planning.facilitator.tasks import draft_step  # noqa: E402
from planning.live import services as live  # noqa: E402
from planning.live.models import LiveEvent  # noqa: E402
from planning.reviews import services as review_services  # noqa: E402
from planning.teams.models import Membership, Role, Team  # noqa: E402


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.005)
    raise TimeoutError


def event(session, type_: str):
    return LiveEvent.objects.filter(session=session, type=type_).order_by("seq").first()


def one_run(team, review, user, stop: bool) -> float:
    session = live.create_session(team, kind="review_draft", user=user)
    draft = Draft.objects.create(
        team=team, review=review, step=1, session=session, model="sim-claude-4", created_by=user
    )
    worker = threading.Thread(
        target=lambda: (draft_step.apply(args=[draft.pk]), connection.close())
    )
    worker.start()
    try:
        wait(lambda: event(session, "token"))
        steer = live.steer(session.pk, "focus on the security risk", user).event
        applied = wait(lambda: event(session, "steer_applied"))
        if not stop:
            return (applied.created_at - steer.created_at).total_seconds() * 1000
        asked = time.monotonic()
        live.request_cancel(session.pk, user)
        wait(lambda: event(session, "cancelled"))
        return (time.monotonic() - asked) * 1000
    finally:
        worker.join(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tps", type=float, default=100.0, help="tokens per second")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    server = make_server(latency=0.2, tokens_per_second=args.tps)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ANTHROPIC_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.ANTHROPIC_API_KEY = "bench"
    Price.objects.get_or_create(
        model_id="sim-claude-4", defaults={"input_per_mtok": Decimal(3), "output_per_mtok": 15}
    )
    Model.objects.get_or_create(model_id="sim-claude-4-20260115")
    team = Team.objects.create(name="Steer bench", slug=f"steer-bench-{os.getpid()}")
    user = User.objects.create_user(email=f"steer-bench-{os.getpid()}@example.com", password="x")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=100)
    review = review_services.start_review(team, user)[0]
    print(f"start: {load()} on {os.cpu_count()} cores; fake model at {args.tps:g} tokens/s")
    try:
        pickups = [one_run(team, review, user, stop=False) for _ in range(args.runs)]
        print(f"steer -> pickup: p50 {statistics.median(pickups):.0f} ms, worst "
              f"{max(pickups):.0f} ms over {args.runs} drafts  [{load()}]")  # fmt: skip
        stops = [one_run(team, review, user, stop=True) for _ in range(max(3, args.runs // 3))]
        p50, worst = statistics.median(stops), max(stops)
        print(f"stop during a steered continuation -> cancelled: p50 {p50:.0f} ms, "
              f"worst {worst:.0f} ms  [{load()}]")  # fmt: skip
    finally:
        server.shutdown()
        team.delete()
        user.delete()
        print(f"end: {load()}")


if __name__ == "__main__":
    main()
