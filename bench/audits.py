"""Audit throughput against the fake Messages API, the runner beside the thinnest client.

Two measurements of the same calls on the same fake server process (streaming, fixed
latency), one after the other:

- **bare**: the SDK's AsyncAnthropic (the raw event stream, text deltas joined), asyncio and
  a semaphore of `--concurrency` in one process: the limit this machine reaches right now;
- **runner**: the real path (start_run; the fan-out on a general worker, as the Procfile
  runs it; the calls on `--workers` thread-pool audits workers; the Redis semaphore,
  PostgreSQL result rows and run counters, live-session events).

For each it prints the ideal (calls × latency / concurrency), the wall time, their ratio, the
CPU per call of the processes that made the calls (the workers, the general one included,
for the runner; their kernel share too), the calls in flight on average (sampled from the fake
server every 50 ms: the concurrency actually reached), the requests the fake server saw and
the fake server's own CPU per call (it shares the machine: if it were the cap, both figures
would show it); for the runner also when its first result arrived (the fan-out's start-up,
latency included) and how a call's share of a slot's time splits between the model client
and the rest; then the runner's ratio to the bare client's. The load average is printed next
to the figures: the machine is shared, and ratios are only meaningful on a quiet one (CPU per
call is robust to load).

    .venv/bin/python bench/audits.py [--calls 400] [--models 2] [--concurrency 20]
                                     [--latency 1.0] [--workers 1] [--threads N] [--skip-bare]

The issue's three targets (run each on a quiet machine; `make bench` runs the default):

    .venv/bin/python -m planning.devstack exec -- .venv/bin/python bench/audits.py \
        --calls 400 --concurrency 20                # >= 0.95 of ideal
    ... bench/audits.py --calls 400 --concurrency 50 --workers 2     # >= 0.92 of ideal
    ... bench/audits.py --calls 2000 --concurrency 200 --workers 2   # >= 0.85 of ideal

and the worker's CPU at most 8 ms per call in each. With DATABASE_URL, CELERY_BROKER_URL and
REDIS_URL set, `.venv/bin/python bench/audits.py ...` alone does (devstack starts them
otherwise). Uses the configured database (it must be migrated); the bench team is deleted
afterwards. The audits worker gets DB_POOL=10 connections unless DB_POOL says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

MODELS = ("sim-claude-4-20260115", "sim-claude-3-20250610", "sim-claude-2-20240901")
PROMPT = "say yes {i}"  # the fake server's default answer; a contains grader checks it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def requests_seen(url: str) -> int:
    import httpx

    return httpx.get(f"{url}/healthz", timeout=5).json()["requests"]


class InFlight:
    """Samples the fake server's calls in flight (inside their latency) every 50 ms in a
    thread, while a measurement runs: their mean is the concurrency actually reached."""

    def __init__(self, url: str) -> None:
        import threading

        self.url, self.samples = url, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import httpx

        with httpx.Client(timeout=5) as client:
            while not self._done.wait(0.05):
                self.samples.append(client.get(f"{self.url}/healthz").json()["in_flight"])

    def __enter__(self) -> InFlight:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def mean(self) -> float:
        busy = [n for n in self.samples if n]  # from the first call to the last
        return sum(busy) / len(busy) if busy else 0.0


def plan(calls: int, n_models: int) -> list[tuple[int, str]]:
    """(probe number, model) for every call: calls / models probes, one sample each."""
    probes = calls // n_models
    return [(i, model) for i in range(probes) for model in MODELS[:n_models]]


# ----------------------------------------------------------------------------- bare client
async def _bare(url: str, calls: int, n_models: int, concurrency: int) -> dict:
    import anthropic

    client = anthropic.AsyncAnthropic(base_url=url, api_key="bench", max_retries=4)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, model: str) -> str:
        messages = [{"role": "user", "content": PROMPT.format(i=i)}]
        async with gate:
            stream = await client.messages.create(
                model=model, max_tokens=16, messages=messages, stream=True
            )
            async with stream:
                return "".join(
                    [e.delta.text async for e in stream if e.type == "content_block_delta"]
                )

    cpu, started = time.process_time(), time.monotonic()
    answers = await asyncio.gather(*(one(i, m) for i, m in plan(calls, n_models)))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    await client.close()
    return {"wall": wall, "cpu": cpu, "calls": len(answers)}


def run_bare(args, url: str) -> dict:
    """The bare client in its own process, so its CPU is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--bare-child", url, "--calls", str(args.calls),
         "--models", str(args.models), "--concurrency", str(args.concurrency)],
        cwd=BASE_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the runner
def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its children (a prefork worker's) so far."""
    import psutil

    process = psutil.Process(pid)
    times = [p.cpu_times() for p in (process, *process.children(recursive=True))]
    return sum(t.user for t in times), sum(t.system for t in times)


def run_runner(args, url: str, server_pid: int) -> dict:
    import logging

    import django
    from django.db.models import Avg, Max, Min

    django.setup()
    logging.disable(logging.INFO)
    from audits import runs
    from audits.models import AuditRun, Idea, Model, Probe
    from planning.celery import app
    from planning.teams.models import Team

    threads = args.threads or -(-args.concurrency // args.workers)
    queue, default_queue = os.environ["AUDITS_QUEUE"], os.environ["CELERY_QUEUE"]
    host = os.uname().nodename
    names = [f"{queue}-{i}@{host}" for i in range(args.workers)]
    # as in production (Procfile): the audits workers (threads) take the calls, the general
    # worker (prefork, here one process) the run's dispatch, so the fan-out is not published
    # by a process whose threads are already making the first calls
    commands = [
        ["-Q", queue, "-P", "threads", "-c", str(threads), "-n", name] for name in names
    ] + [["-Q", default_queue, "-c", "1", "-n", f"{default_queue}@{host}"]]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "planning",
                "worker",
                *command,
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env={**os.environ, "DB_POOL": os.environ.get("DB_POOL", "10")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for command in commands
    ]
    names.append(f"{default_queue}@{host}")
    team = Team.objects.create(name="Bench audits", slug=f"bench-{uuid.uuid4().hex[:8]}")
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(destination=names, timeout=0.5)) < len(names):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit("the bench worker did not start")
        models = [Model.objects.get_or_create(model_id=m)[0] for m in MODELS[: args.models]]
        n_probes = args.calls // args.models
        ideas = Idea.objects.bulk_create(
            Idea(team=team, title=f"Bench idea {i}") for i in range(n_probes)
        )
        Probe.objects.bulk_create(
            Probe(
                idea=idea,
                name="p",
                user_message=PROMPT.format(i=i),
                grader="contains",
                grader_config={"expected": "able"},
                max_tokens=16,
            )  # fmt: skip
            for i, idea in enumerate(ideas)
        )
        run = runs.create_run(team, None, models=models, ideas=ideas)
        before = requests_seen(url)
        cpu, server_cpu = workers_cpu(workers), sum(cpu_seconds(server_pid))
        started = time.monotonic()
        runs.start_run(run)
        limit = args.calls * args.latency + 120
        while AuditRun.objects.filter(pk=run.pk, status="running").exists():
            time.sleep(0.02)
            if time.monotonic() - started > limit:
                raise SystemExit("the run did not finish in time")
        wall = time.monotonic() - started
        user, system = (b - a for a, b in zip(cpu, workers_cpu(workers), strict=True))
        server_cpu = sum(cpu_seconds(server_pid)) - server_cpu
        cpu = user + system
        run.refresh_from_db()
        from audits import live

        while live.session_status(run.live_session_id) == "active" and wall + 30 > (
            time.monotonic() - started
        ):  # the live session ends just after the run: let it, before deleting the team
            time.sleep(0.05)
        span = run.results.aggregate(
            first=Min("created_at"), last=Max("created_at"), call=Avg("latency_ms")
        )
        first = (span["first"] - run.started_at).total_seconds() if span["first"] else 0
        return {
            "wall": wall, "cpu": cpu, "calls": run.done_calls + run.error_calls,
            "errors": run.error_calls, "status": run.status,
            "requests": requests_seen(url) - before, "threads": threads, "system": system,
            "workers": args.workers, "call_ms": span["call"] or 0,
            "server_cpu": server_cpu, "first": first,
            "tail": (run.finished_at - span["last"]).total_seconds() if span["last"] else 0,
        }  # fmt: skip
    finally:
        team.delete()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)


def workers_cpu(workers) -> tuple[float, float]:
    """User and system CPU seconds of the worker processes (the general one's too), together."""
    times = [cpu_seconds(w.pid) for w in workers]
    return sum(t[0] for t in times), sum(t[1] for t in times)


# ----------------------------------------------------------------------------- main
def per_call(cpu: float, calls: int) -> str:
    return f"{cpu / max(calls, 1) * 1000:.1f} ms per call ({cpu:.1f} s)"


def report(name: str, figures: dict, ideal: float, calls: int) -> None:
    who = "worker" if name == "runner" else "client"
    print(f"{name:>6}: wall {figures['wall']:.2f} s, ideal {ideal:.2f} s, "
          f"ratio to ideal {ideal / figures['wall']:.3f}, "
          f"CPU of the {who} {per_call(figures['cpu'], calls)}, "
          f"{figures['in_flight']:.0f} calls in flight on average")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400, help="probes × models (1 sample)")
    parser.add_argument("--models", type=int, default=2, choices=range(1, len(MODELS) + 1))
    parser.add_argument("--concurrency", type=int, default=20, help="the team's call limit")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per call")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per worker (default: concurrency / workers)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1,
                        help="audits worker processes (a thread pool each)")  # fmt: skip
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--bare-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.calls -= args.calls % args.models
    if args.bare_child:
        print(json.dumps(asyncio.run(_bare(args.bare_child, args.calls, args.models,
                                           args.concurrency))))  # fmt: skip
        return

    port, tag = free_port(), uuid.uuid4().hex[:6]
    url = f"http://127.0.0.1:{port}"
    os.environ.update(
        ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="bench",
        AUDITS_TEAM_CONCURRENCY=str(args.concurrency),
        AUDITS_QUEUE=f"bench-audits-{tag}", CELERY_QUEUE=f"bench-default-{tag}",
        DJANGO_SETTINGS_MODULE="planning.settings",
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "devtools.fakeapi", "--port", str(port), "--latency",
         str(args.latency), "--tokens-per-second", "0"],
        cwd=BASE_DIR, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests_seen(url)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the fake server did not start") from None
                time.sleep(0.05)
        ideal = args.calls * args.latency / args.concurrency
        print(f"{args.calls} calls ({args.calls // args.models} probes × {args.models} models), "
              f"{args.latency:g} s latency, streaming, concurrency {args.concurrency}; "
              f"{load()}")  # fmt: skip
        bare = None
        if not args.skip_bare:
            before, server_cpu = requests_seen(url), sum(cpu_seconds(server.pid))
            with InFlight(url) as flight:
                bare = run_bare(args, url)
            bare["in_flight"] = flight.mean()
            server_cpu = sum(cpu_seconds(server.pid)) - server_cpu
            report("bare", bare, ideal, args.calls)
            print(f"        fake server saw {requests_seen(url) - before} requests, its CPU "
                  f"{per_call(server_cpu, args.calls)}; {load()}")  # fmt: skip
        with InFlight(url) as flight:
            runner = run_runner(args, url, server.pid)
        runner["in_flight"] = flight.mean()
        report("runner", runner, ideal, args.calls)
        print(
            f"        {runner['calls']} results ({runner['errors']} errors), run "
            f"{runner['status']} {runner['tail']:.2f} s after the last result, the first "
            f"{runner['first']:.2f} s after the start; "
            f"{runner['workers']} worker process(es) × {runner['threads']} threads; of their CPU "
            f"{runner['system'] / max(args.calls, 1) * 1000:.1f} ms per call in the kernel"
        )
        busy = runner["wall"] * min(args.concurrency, runner["calls"]) / max(runner["calls"], 1)
        print(
            f"        a call took {runner['call_ms']:.0f} ms in the model client on average; "
            f"each call's share of a slot's time was {busy * 1000:.0f} ms, so "
            f"{busy * 1000 - runner['call_ms']:.0f} ms per call went to the rest "
            "(queueing, the claim, reading and recording, start-up and the tail)"
        )
        print(f"        fake server saw {runner['requests']} requests, its CPU "
              f"{per_call(runner['server_cpu'], args.calls)}; {load()}")  # fmt: skip
        if bare:
            b, r = ideal / bare["wall"], ideal / runner["wall"]
            print(f"runner / bare: {r / b:.3f} (bare {b:.3f}, runner {r:.3f} of ideal)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
