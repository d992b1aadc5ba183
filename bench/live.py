"""Benchmark of durable live sessions against a bare ASGI broadcast app, in one run. Prints:

- events per second one writer appends (row-locked seq, one transaction per event), and
  coalesced token deltas per second;
- memory, threads and database connections held per idle subscriber;
- how long 1,000 new subscribers of one session take to open (every one has its first
  frame), for the live endpoint and for the bare app (bench/live_bare.py: no Django, no
  database; the limit);
- p50/p95/p99 delay from emit (commit) to receipt at 1, 100 and 1,000 concurrent SSE
  subscribers of one uvicorn process, live endpoint and bare app side by side with the ratio;
- a restart storm: 1,000 clients tailing a session on one process that gets SIGTERM while
  events keep being written; every client reconnects at once to a second process with its
  Last-Event-ID. Prints the time until every client holds every event, and checks that none
  was lost or received twice;
- how long a running generation takes to obey a stop: from the request (services.request_cancel,
  what the cancel button calls) to the worker's own `cancelled` event, p50 and worst of a few;
- the load average before and after (the machine may be shared: figures vary with it).

Uses the configured DATABASE_URL / REDIS_URL (migrates it), creates a throw-away team and
deletes it at the end. Clients are raw asyncio sockets in this process (cheap, but they share
the machine's cores with the servers).

    .venv/bin/python bench/live.py [--subscribers 1,100,1000] [--open 1000] [--storm 1000]
                                   [--skip writer,cancel,idle]

Targets (issue 15), printed with each figure as "meets" or "MISSES": 1,000 subscribers open
in <= 1 s on one process; the restart storm fully resumed in <= 3 s; at 1,000 subscribers
delivery p50 <= 1.2x and p99 <= 1.5x the bare app's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from planning.accounts.models import User  # noqa: E402
from planning.live import notify, services  # noqa: E402
from planning.live.writer import LiveWriter  # noqa: E402
from planning.teams.models import Membership, Role, Team  # noqa: E402

SERVER_APP_NAME = "live-bench-server"
STAMP = re.compile(rb'"t": ?([0-9.]+)')
ID = re.compile(rb"(?:^|\n)id: (\d+)\n")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def db_connections() -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [SERVER_APP_NAME],
        )
        return cur.fetchone()[0]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start_server(app: str = "planning.asgi:application") -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"}
    env["PGAPPNAME"] = SERVER_APP_NAME  # libpq names the server's connections: count them
    env["REDIS_URL"] = settings.REDIS_URL
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--app-dir", str(BASE_DIR / "bench"),
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level",
         "warning", "--backlog", "4096", "--timeout-graceful-shutdown", "10"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + ("/up" if "bare" in app else "/live/"), timeout=1)  # it answers
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, port


def bench_cancel(team, runs: int = 10) -> None:
    """The demo generation (a worker task, run in a thread here) stopped mid-text."""
    import threading

    from django.db import connections

    from planning.live.models import Status
    from planning.live.tasks import demo_generation

    def generate(session_id: str) -> None:
        try:
            demo_generation.apply(args=(session_id, 100_000, 0.005))
        finally:
            connections.close_all()

    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # a line per run
    delays = []
    for _ in range(runs):
        session = services.create_session(team, kind="bench")
        worker = threading.Thread(target=generate, args=(str(session.pk),))
        worker.start()
        while not session.events.filter(type="token").exists():
            time.sleep(0.01)
        asked = time.perf_counter()
        services.request_cancel(session.pk)
        worker.join(60)
        delays.append((time.perf_counter() - asked) * 1000)
        session.refresh_from_db()
        assert session.status == Status.CANCELLED, session.status
    print(f"cancel: a running generation obeys a stop in p50 {pct(delays, 50):.0f} ms, "
          f"worst {max(delays):.0f} ms of {runs} (to its own 'cancelled' event)")  # fmt: skip


def bench_writer(team) -> None:
    session = services.create_session(team, kind="bench")
    w = LiveWriter.claim(session.pk)
    n = 2000
    t0 = time.perf_counter()
    for i in range(n):
        w.emit("progress", {"i": i})
    emit_rate = n / (time.perf_counter() - t0)
    chars = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        w.token("tok ")
        chars += 4
    w.flush()
    elapsed = time.perf_counter() - t0
    tokens = session.events.filter(type="token").count()
    w.finish()
    print(f"writer: {emit_rate:,.0f} events/s (one transaction each); "
          f"{chars / 4 / elapsed:,.0f} token deltas/s coalesced into "
          f"{tokens / elapsed:,.0f} events/s")  # fmt: skip


class RawStream:
    """A minimal HTTP/1.1 SSE reader on a raw socket: cheap enough that 1,000 of them in one
    process measure the server rather than the client."""

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.port, self.path, self.cookie = port, path, cookie
        self.reader = self.writer = None
        self.ids: list[int] = []  # durable event ids received, in order, over all connections
        self.first = asyncio.Event()  # the first frame (or comment) arrived

    async def open(self, port: int | None = None) -> None:
        if port is not None:
            self.port = port
        last = f"Last-Event-ID: {self.ids[-1]}\r\n" if self.ids else ""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: sessionid={self.cookie}\r\n{last}\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]

    async def read(self, stamps: list[float] | None = None, until: int | None = None) -> None:
        """Read frames until the server closes the stream (or `until` is received); record
        ids and emit->receipt delays of stamped events."""
        buffer = b""
        while until is None or not self.ids or self.ids[-1] < until:
            data = await self.reader.read(65536)
            if not data:
                return
            now = time.time()
            buffer += data
            *frames, buffer = buffer.split(b"\n\n")
            for f in frames:
                self.first.set()
                if m := ID.search(f):
                    self.ids.append(int(m.group(1)))
                if stamps is not None and (m := STAMP.search(f)):
                    stamps.append((now - float(m.group(1))) * 1000)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def open_streams(port: int, path: str, cookie: str, n: int) -> list[RawStream]:
    streams = [RawStream(port, path, cookie) for _ in range(n)]
    for i in range(0, n, 100):  # do not flood the listen backlog
        await asyncio.gather(*(s.open() for s in streams[i : i + 100]))
    return streams


async def open_all(port, cookie, team, n: int) -> float:
    """Seconds until n new subscribers of one session, all connecting at once, each hold
    their first frame."""
    session = await asyncio.to_thread(services.create_session, team, kind="bench-open")
    await asyncio.to_thread(LiveWriter.claim, session.pk)
    path = f"/live/{session.pk}/events"
    streams = [RawStream(port, path, cookie) for _ in range(n)]
    t0 = time.perf_counter()
    await asyncio.gather(*(s.open() for s in streams))
    readers = [asyncio.create_task(s.read()) for s in streams]
    await asyncio.gather(*(s.first.wait() for s in streams))
    elapsed = time.perf_counter() - t0
    for r in readers:
        r.cancel()
    for s in streams:
        s.close()
    return elapsed


async def fan_out(port, cookie, team, n: int, events: int, interval: float) -> list[float]:
    session = await asyncio.to_thread(services.create_session, team, kind="bench")
    w = await asyncio.to_thread(LiveWriter.claim, session.pk)
    streams = await open_streams(port, f"/live/{session.pk}/events", cookie, n)
    delays: list[float] = []
    readers = [asyncio.create_task(s.read(delays)) for s in streams]
    await asyncio.sleep(1.0)
    for i in range(events):
        await asyncio.to_thread(w.emit, "progress", {"i": i, "t": time.time()})
        await asyncio.sleep(interval)
    await asyncio.to_thread(w.finish)
    deadline = time.monotonic() + 60
    while len(delays) < n * events and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for r in readers:
        r.cancel()
    for s in streams:
        s.close()
    return delays


async def storm(cookie, team, n: int, during: int) -> None:
    """n clients tail a session on process A; A gets SIGTERM while `during` more events are
    written; every client reconnects at once to process B with its Last-Event-ID."""
    old, old_port = start_server()
    new, new_port = start_server()
    try:
        session = await asyncio.to_thread(services.create_session, team, kind="bench-storm")
        w = await asyncio.to_thread(LiveWriter.claim, session.pk)
        for i in range(5):
            await asyncio.to_thread(w.emit, "progress", {"i": i})
        streams = await open_streams(old_port, f"/live/{session.pk}/events", cookie, n)
        readers = [asyncio.create_task(s.read()) for s in streams]
        while not all(s.ids and s.ids[-1] == 6 for s in streams):
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        old.send_signal(signal.SIGTERM)
        exit_times: list[float] = []  # seconds from SIGTERM to the old process's exit
        exit_wait = asyncio.create_task(asyncio.to_thread(old.wait, 30))
        exit_wait.add_done_callback(lambda _: exit_times.append(time.perf_counter() - t0))
        last = 6
        for i in range(during):  # written while every client is away or reconnecting
            last = await asyncio.to_thread(w.emit, "progress", {"i": 5 + i})
        await asyncio.gather(*readers)  # A closed every stream
        closed = time.perf_counter() - t0

        async def resume(s: RawStream) -> None:
            await s.open(new_port)
            await s.read(until=last)

        await asyncio.wait_for(asyncio.gather(*(resume(s) for s in streams)), 60)
        elapsed = time.perf_counter() - t0
        exited = await exit_wait
        exact = sum(1 for s in streams if s.ids == list(range(1, last + 1)))
        channel = notify.channel(session.pk)
        numsub = dict(notify.client().pubsub_numsub(channel))[channel.encode()]
        print(
            f"restart storm: {n} clients on a process that got SIGTERM, {during} events written "
            f"meanwhile: all streams closed with cursor after {closed:.2f} s, the old process "
            f"exited after {exit_times[0]:.2f} s (code {exited}); every client resumed on the "
            f"next process and holding every event after {elapsed:.2f} s "
            f"({verdict(elapsed, 3.0)} <= 3 s); {exact}/{n} clients hold exactly seq 1..{last} "
            f"(none lost or twice); Redis subscribers of the session: {numsub} (the new "
            f"process's hub; 0 would mean its streams are left on the poll)  [{load()}]"
        )
        for s in streams:
            s.close()
        await asyncio.to_thread(w.finish)
    finally:
        for proc in (old, new):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)


async def idle(port, cookie, team, server_pid: int, n: int) -> None:
    session = await asyncio.to_thread(services.create_session, team, kind="bench-idle")
    await asyncio.to_thread(LiveWriter.claim, session.pk)
    await asyncio.sleep(1)
    before = proc_status(server_pid)
    conns_before = await asyncio.to_thread(db_connections)
    streams = await open_streams(port, f"/live/{session.pk}/events", cookie, n)
    readers = [asyncio.create_task(s.read()) for s in streams]
    await asyncio.sleep(8)  # past the hub's poll and the pool's idle timeout: every stream idle
    after = proc_status(server_pid)
    conns_after = await asyncio.to_thread(db_connections)
    for r in readers:
        r.cancel()
    for s in streams:
        s.close()
    rss = (after["VmRSS"] - before["VmRSS"]) / n
    threads = after["Threads"] - before["Threads"]
    print(
        f"idle: {n} subscribers -> {rss:.1f} KiB RSS each, {threads:+d} threads in all; "
        f"database connections held by the server: {conns_after} "
        f"(before the streams opened: {conns_before})"
    )


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--open", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between emits")
    parser.add_argument("--skip", default="", help="comma-separated: writer,cancel,idle")
    args = parser.parse_args()
    skip = set(args.skip.split(","))

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Live bench", slug=f"live-bench-{os.getpid()}")
    user = User.objects.create_user(email=f"live-bench-{os.getpid()}@example.com", password="x")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    print(f"start: {load()} on {os.cpu_count()} cores")
    proc, port = start_server()
    bare, bare_port = start_server("live_bare:app")
    try:
        if "writer" not in skip:
            bench_writer(team)
        if "cancel" not in skip:
            bench_cancel(team)
        connection.close()
        if "idle" not in skip:
            asyncio.run(idle(port, cookie, team, proc.pid, args.idle))
            connection.close()
        if args.open:
            opened = {}
            for name, p in (("bare ASGI", bare_port), ("live", port)):
                opened[name] = elapsed = asyncio.run(open_all(p, cookie, team, args.open))
                connection.close()
                rate = args.open / elapsed
                print(f"open: {args.open} new subscribers of one session ({name:>9}): "
                      f"{elapsed:.2f} s ({rate:,.0f} streams/s)  [{load()}]")  # fmt: skip
            print(f"open ratio live/bare: {opened['live'] / opened['bare ASGI']:.2f}x; live "
                  f"{verdict(opened['live'], 1.0)} <= 1 s for {args.open}")  # fmt: skip
        for n in [int(x) for x in args.subscribers.split(",") if x]:
            figures = {}
            for name, p in (("bare ASGI", bare_port), ("live", port)):
                delays = asyncio.run(fan_out(p, cookie, team, n, args.events, args.interval))
                connection.close()
                figures[name] = (pct(delays, 50), pct(delays, 95), pct(delays, 99))
                print(
                    f"fan-out ({name:>9}): {n:>5} subscribers, {len(delays):>6} receipts: "
                    f"emit->receipt p50 {figures[name][0]:6.1f} ms  p95 {figures[name][1]:6.1f} ms"
                    f"  p99 {figures[name][2]:6.1f} ms  (mean {statistics.mean(delays):.1f} ms)"
                )
            (b50, _, b99), (l50, _, l99) = figures["bare ASGI"], figures["live"]
            print(f"fan-out ratio live/bare at {n} subscribers: p50 {l50 / b50:.2f}x "
                  f"({verdict(l50 / b50, 1.2)} <= 1.2x), p99 {l99 / b99:.2f}x "
                  f"({verdict(l99 / b99, 1.5)} <= 1.5x)  [{load()}]")  # fmt: skip
        if args.storm:
            asyncio.run(storm(cookie, team, args.storm, during=5))
            connection.close()
    finally:
        for p in (proc, bare):
            p.terminate()
            p.wait(15)
        connection.close()
        team.delete()
        user.delete()
        print(f"end: {load()}")


if __name__ == "__main__":
    main()
