"""Audit throughput: 200 probes × 2 models × 1 sample against the fake Messages API at 1 s
latency with a team concurrency of 20, through the real path (Celery fan-out on a worker with
20 threads, Redis semaphore, PostgreSQL result writes, live-session events).

Prints the wall time from start to the run's final state and the ratio to the ideal
(calls × latency / concurrency). Uses the configured database (it must be migrated); the
bench team it creates is deleted afterwards.

    .venv/bin/python bench/audits.py [--probes 200] [--latency 1.0] [--concurrency 20]
                                     [--threads 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=20, help="the team's call limit")
    parser.add_argument("--threads", type=int, default=0,
                        help="worker threads (default: the concurrency)")  # fmt: skip
    args = parser.parse_args()

    port = free_port()
    queue = f"bench-audits-{uuid.uuid4().hex[:6]}"
    os.environ.update(
        ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}", ANTHROPIC_API_KEY="bench",
        AUDITS_TEAM_CONCURRENCY=str(args.concurrency), CELERY_QUEUE=queue, CONN_MAX_AGE="60",
        DJANGO_SETTINGS_MODULE="planning.settings",
    )  # fmt: skip

    from audits.fakeapi import make_server

    server = make_server(port=port, latency=args.latency, tokens_per_second=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    import django

    django.setup()
    from audits import runs
    from audits.models import AuditRun, Idea, Model, Probe
    from planning.celery import app
    from planning.teams.models import Team

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "planning", "worker", "-Q", queue, "-P", "threads",
         "-c", str(args.threads or args.concurrency), "-n", f"{queue}@%h", "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=os.environ.copy(),
    )  # fmt: skip
    team = Team.objects.create(name="Bench audits", slug=f"bench-{uuid.uuid4().hex[:8]}")
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the bench worker did not start")
        models = [Model.objects.get_or_create(model_id=m)[0]
                  for m in ("sim-claude-4-20260115", "sim-claude-3-20250610")]  # fmt: skip
        ideas = Idea.objects.bulk_create(
            Idea(team=team, title=f"Bench idea {i}") for i in range(args.probes)
        )
        Probe.objects.bulk_create(
            Probe(
                idea=idea,
                name="p",
                user_message=f"say yes {i}",
                grader="contains",
                grader_config={"expected": "yes"},
                max_tokens=16,
            )  # fmt: skip
            for i, idea in enumerate(ideas)
        )
        run = runs.create_run(team, None, models=models, ideas=ideas)
        calls = args.probes * len(models)
        from django.utils import timezone

        started_at = timezone.now()
        started = time.monotonic()
        runs.start_run(run)
        while AuditRun.objects.get(pk=run.pk).is_active:
            time.sleep(0.1)
            if time.monotonic() - started > calls * args.latency + 60:
                raise SystemExit("the run did not finish in time")
        wall = time.monotonic() - started
        run.refresh_from_db()
        ideal = calls * args.latency / args.concurrency
        print(f"calls: {calls} ({run.done_calls} done, {run.error_calls} errors), "
              f"status {run.status}, fake server saw {server.api.requests} requests")  # fmt: skip
        print(f"latency {args.latency:.2f} s, concurrency {args.concurrency}, "
              f"{args.threads or args.concurrency} worker threads")  # fmt: skip
        from django.db.models import Avg

        mean = run.results.aggregate(m=Avg("latency_ms"))["m"]
        print(f"mean call time (incl. waiting for a slot): {mean:.0f} ms; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
        # where the time went: before the first call, calls in flight, after the last one
        rows = list(run.results.values_list("created_at", "latency_ms"))
        first = min(done - timedelta(milliseconds=ms) for done, ms in rows)
        last = max(done for done, _ in rows)
        busy = sum(ms for _, ms in rows) / 1000
        print(f"first call after {(first - started_at).total_seconds():.2f} s; calls (with "
              f"their wait for a slot) under way on average: "
              f"{busy / (last - first).total_seconds():.1f}; run final "
              f"{(run.finished_at - last).total_seconds():.2f} s after the last call")  # fmt: skip
        print(f"wall time: {wall:.2f} s   ideal: {ideal:.2f} s   "
              f"ratio to ideal: {ideal / wall:.3f}")  # fmt: skip
    finally:
        team.delete()
        worker.terminate()
        worker.wait(20)
        server.shutdown()


if __name__ == "__main__":
    main()
