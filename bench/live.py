"""Benchmark of durable live sessions. Prints:

- events per second one writer appends (row-locked seq, one transaction per event), and
  coalesced token deltas per second;
- p50/p95/p99 delay from emit (commit) to receipt at 1, 100 and 1,000 concurrent SSE
  subscribers of one uvicorn (ASGI) process, over real HTTP on loopback;
- memory, threads and database connections held per idle subscriber.

Uses the configured DATABASE_URL / REDIS_URL (migrates it), creates a throw-away team and
deletes it at the end. Subscribers are raw asyncio sockets in this process (cheap, but they
share the machine's cores with the server); the writer emits one event every --interval s.

    .venv/bin/python bench/live.py [--subscribers 1,100,1000] [--events 40] [--interval 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from planning.accounts.models import User  # noqa: E402
from planning.live import services  # noqa: E402
from planning.live.writer import LiveWriter  # noqa: E402
from planning.teams.models import Membership, Role, Team  # noqa: E402


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


SERVER_APP_NAME = "live-bench-server"


def start_server() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"}
    env["PGAPPNAME"] = SERVER_APP_NAME  # libpq names the server's connections: count them
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "planning.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning", "--backlog", "4096"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + "/live/", timeout=1)  # a redirect to log in: the server is up
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, port


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

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: sessionid={self.cookie}\r\n\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]

    async def stamps(self, count: int, delays: list[float]) -> None:
        """Record emit->receipt delays of `count` progress events."""
        buffer = b""
        seen = 0
        while seen < count:
            data = await self.reader.read(65536)
            if not data:
                return
            now = time.time()
            buffer += data
            *frames, buffer = buffer.split(b"\n\n")
            for match in STAMP.finditer(b"\n".join(frames)):
                delays.append((now - float(match.group(1))) * 1000)
                seen += 1

    def close(self) -> None:
        self.writer.close()


STAMP = re.compile(rb'"t":([0-9.]+)')


async def open_streams(port: int, path: str, cookie: str, n: int) -> list[RawStream]:
    streams = [RawStream(port, path, cookie) for _ in range(n)]
    for i in range(0, n, 100):  # do not flood the listen backlog
        await asyncio.gather(*(s.open() for s in streams[i : i + 100]))
    return streams


async def fan_out(port, cookie, team, n: int, events: int, interval: float) -> list[float]:
    session = await asyncio.to_thread(services.create_session, team, kind="bench")
    w = await asyncio.to_thread(LiveWriter.claim, session.pk)
    streams = await open_streams(port, f"/live/{session.pk}/events", cookie, n)
    delays: list[float] = []
    readers = [asyncio.create_task(s.stamps(events, delays)) for s in streams]
    await asyncio.sleep(1.0)
    for i in range(events):
        await asyncio.to_thread(w.emit, "progress", {"i": i, "t": time.time()})
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*readers), 300)
    for s in streams:
        s.close()
    await asyncio.to_thread(w.finish)
    return delays


async def idle(port, cookie, team, server_pid: int, n: int) -> None:
    session = await asyncio.to_thread(services.create_session, team, kind="bench-idle")
    await asyncio.to_thread(LiveWriter.claim, session.pk)
    await asyncio.sleep(1)
    before = proc_status(server_pid)
    conns_before = await asyncio.to_thread(db_connections)
    streams = await open_streams(port, f"/live/{session.pk}/events", cookie, n)
    await asyncio.sleep(4)  # past the hub's poll: every stream idle
    after = proc_status(server_pid)
    conns_after = await asyncio.to_thread(db_connections)
    for s in streams:
        s.close()
    rss = (after["VmRSS"] - before["VmRSS"]) / n
    threads = (after["Threads"] - before["Threads"]) / n
    print(
        f"idle: {n} subscribers -> {rss:.1f} KiB RSS and {threads:.2f} threads each; "
        f"database connections held by the server: {conns_after} "
        f"(before the streams opened: {conns_before})"
    )


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between emits")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Live bench", slug=f"live-bench-{os.getpid()}")
    user = User.objects.create_user(email=f"live-bench-{os.getpid()}@example.com", password="x")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    proc, port = start_server()
    try:
        bench_writer(team)
        connection.close()
        asyncio.run(idle(port, cookie, team, proc.pid, args.idle))
        connection.close()
        for n in [int(x) for x in args.subscribers.split(",")]:
            delays = asyncio.run(fan_out(port, cookie, team, n, args.events, args.interval))
            connection.close()
            print(
                f"fan-out: {n:>5} subscribers, {len(delays):>6} receipts: emit->receipt "
                f"p50 {pct(delays, 50):6.1f} ms  p95 {pct(delays, 95):6.1f} ms  "
                f"p99 {pct(delays, 99):6.1f} ms  (mean {statistics.mean(delays):.1f} ms)"
            )
    finally:
        proc.terminate()
        proc.wait(10)
        connection.close()
        team.delete()
        user.delete()


if __name__ == "__main__":
    main()
