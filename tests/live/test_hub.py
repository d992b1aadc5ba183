"""The hub inside one event loop, on real PostgreSQL and Redis: subscriptions survive the
pub/sub connection being (re)made, a new stream wakes nobody, a new event wakes each waiting
stream once, and idle streams share the hub's clock instead of a timer each."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import os
import uuid

import pytest
import redis.asyncio as aioredis
from django.conf import settings
from django.db import connections

from planning.live import notify, services
from planning.live.hub import Hub
from planning.live.views import _Lease, _stream
from planning.live.writer import LiveWriter

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "live"])]


def in_own_loop(test):
    """Run an async test in a fresh event loop on its own thread: the browser tests' session
    fixture keeps Playwright's loop running in the main thread for the rest of the run."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, test(*args, **kwargs)).result()

    return run


@pytest.fixture(autouse=True)
def _close_live_pool():
    yield
    connections["live"].close_pool()  # its connections would keep the test database busy


@pytest.fixture
def live_session(team, editor):
    session = services.create_session(team, kind="t")
    writer = LiveWriter.claim(session.pk)
    for i in range(4):
        writer.emit("progress", {"done": i})
    return session, writer, editor


async def until(predicate, timeout: float = 15.0) -> None:
    """Wait (yielding to the loop) until predicate() is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


class Subscriber:
    """One stream of the view's generator, consumed in a task."""

    def __init__(self, hub: Hub, session, user, cursor: int = 0) -> None:
        self.hub, self.session, self.user, self.cursor = hub, session, user, cursor
        self.chunks: list[bytes] = []
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        watch = await self.hub.watch(self.session.pk)
        lease = _Lease(self.hub, watch)
        stream = _stream(self.hub, lease, self.cursor, session_key=None)  # reads the log itself
        self.task = asyncio.create_task(self._consume(stream))

    async def _consume(self, stream) -> None:
        async for chunk in stream:
            self.chunks.append(chunk)

    def frames(self) -> list[bytes]:
        """What was sent, frame by frame (a chunk may hold several)."""
        return [f + b"\n\n" for f in b"".join(self.chunks).split(b"\n\n") if f]

    def has(self, seq: int) -> bool:
        return any(f.startswith(f"id: {seq}\n".encode()) for f in self.frames())

    def ids(self) -> list[int]:
        return [int(f.split(b"\n", 1)[0][4:]) for f in self.frames() if f.startswith(b"id: ")]


async def stop(hub: Hub, subscribers: list[Subscriber]) -> None:
    for s in subscribers:
        s.task.cancel()
    await asyncio.gather(*(s.task for s in subscribers), return_exceptions=True)
    await hub.aclose()


async def redis_numsub(channels: list[str]) -> dict[str, int]:
    r = aioredis.from_url(settings.REDIS_URL)
    try:
        found = dict(await r.pubsub_numsub(*channels))
    finally:
        await r.aclose()
    return {c: found[c.encode()] for c in channels}


@in_own_loop
async def test_sessions_watched_while_pubsub_connects_or_reconnects_are_subscribed(db):
    hub = Hub()
    watched: list[str] = []

    async def watch_until(predicate) -> None:
        while not predicate():
            sid = str(uuid.uuid4())
            watched.append(sid)
            await hub.watch(sid)
            await asyncio.sleep(0.001)

    try:
        await watch_until(hub.connected.is_set)  # sessions watched while it connects
        connecting = len(watched)
        assert connecting > 1
        channels = [notify.channel(s) for s in watched]
        assert set((await redis_numsub(channels)).values()) == {1}

        # Redis drops the hub's connection: sessions watched until it is back count too.
        r = aioredis.from_url(settings.REDIS_URL)
        name = f"live-hub-{os.getpid()}"
        ids = [c["id"] for c in await r.client_list(_type="pubsub") if c["name"] == name]
        assert len(ids) == 1
        await r.client_kill_filter(_id=ids[0])
        await r.aclose()
        await watch_until(lambda: not hub.connected.is_set())
        await watch_until(hub.connected.is_set)
        assert len(watched) > connecting
        channels = [notify.channel(s) for s in watched]
        assert set((await redis_numsub(channels)).values()) == {1}  # none left on the poll
    finally:
        await hub.aclose()


async def hub_connections(name: str) -> set[str]:
    """Ids of the Redis connections named `name` (the hub names its client)."""
    r = aioredis.from_url(settings.REDIS_URL)
    try:
        return {c["id"] for c in await r.client_list() if c["name"] == name}
    finally:
        await r.aclose()


@in_own_loop
async def test_reconnects_amid_watches_leave_one_connection_and_exact_subscriptions(db):
    """Streams come and go while Redis drops the hub's connection again and again: after
    each reconnect the hub holds one connection (none orphaned by a (un)subscribe racing the
    reconnect), every watched session is subscribed once and no unwatched one is left."""
    hub = Hub()
    name = f"live-hub-{os.getpid()}"
    before = await hub_connections(name)  # a previous test's hub may still be closing
    watched: set[str] = set()
    left: set[str] = set()
    done = False
    dropped = asyncio.Event()  # from a drop until the hub is back

    async def streams_stay_or_go() -> None:
        for i in itertools.count():
            if done:
                return
            sid = str(uuid.uuid4())
            w = await hub.watch(sid)
            if i % 2:
                await hub.unwatch(w)
                left.add(sid)
            else:
                watched.add(sid)
            await asyncio.sleep(0.01)  # a pace (~200 streams a second), not a wait

    async def streams_flicker() -> None:
        """Open and close at once, as fast as the loop goes while the connection is down."""
        while not done:
            await dropped.wait()
            w = await hub.watch(str(uuid.uuid4()))
            await hub.unwatch(w)
            await asyncio.sleep(0)

    hub._start()
    await asyncio.wait_for(hub.connected.wait(), 15)
    tasks = [asyncio.create_task(streams_stay_or_go()) for _ in range(2)]
    tasks += [asyncio.create_task(streams_flicker()) for _ in range(3)]
    r = aioredis.from_url(settings.REDIS_URL)
    try:
        for _ in range(8):
            for cid in await hub_connections(name) - before:
                await r.client_kill_filter(_id=cid)
            dropped.set()
            await until(lambda: not hub.connected.is_set())
            await until(hub.connected.is_set)
            dropped.clear()
        done = True
        dropped.set()
        await asyncio.gather(*tasks)
        assert len(watched) > 8 and len(left) > 8

        async def settled() -> tuple[int, set[int], set[int]]:
            numsub = await redis_numsub([notify.channel(s) for s in watched | left])
            return (
                len(await hub_connections(name) - before),
                {numsub[notify.channel(s)] for s in watched},
                {numsub[notify.channel(s)] for s in left},
            )

        deadline = asyncio.get_running_loop().time() + 10
        while (found := await settled()) != (1, {1}, {0}):  # Redis applies them in a moment
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert found == (1, {1}, {0})
    finally:
        done = True
        dropped.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await r.aclose()
        await hub.aclose()


@in_own_loop
async def test_a_watch_outlives_other_streams_leaving_while_its_subscribe_is_on_its_way(db):
    """Redis slow to take a SUBSCRIBE (a reconnect, a full socket buffer): a second stream of
    the session that comes and goes meanwhile must not remove the first one's watch (its
    stream would then never be woken), and a stream cancelled there leaves nothing behind."""
    hub = Hub()
    subscribe = hub._subscribe
    redis_took_it = asyncio.Event()

    async def slow_subscribe(sid: str) -> None:
        await redis_took_it.wait()
        await subscribe(sid)

    hub._subscribe = slow_subscribe  # type: ignore[method-assign]  # Redis answering slowly
    try:
        hub._start()
        await asyncio.wait_for(hub.connected.wait(), 15)
        sid = str(uuid.uuid4())
        first = asyncio.create_task(hub.watch(sid))
        await until(lambda: sid in hub.watches)  # its SUBSCRIBE is on its way
        second = await hub.watch(sid)
        await hub.unwatch(second)  # that stream ended at once (e.g. its client left)
        redis_took_it.set()
        watch = await first
        assert hub.watches.get(sid) is watch
        assert await redis_numsub([notify.channel(sid)]) == {notify.channel(sid): 1}

        redis_took_it.clear()
        gone = str(uuid.uuid4())
        cancelled = asyncio.create_task(hub.watch(gone))
        await until(lambda: gone in hub.watches)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert gone not in hub.watches
    finally:
        await hub.aclose()


@in_own_loop
async def test_opening_streams_wakes_nobody_and_an_event_wakes_each_once(live_session, settings):
    settings.LIVE_SSE_HEARTBEAT = 3600  # a tick of the clock (one wake-up each) is not counted
    session, writer, user = live_session
    hub = Hub()
    n = 200
    subscribers = [Subscriber(hub, session, user) for _ in range(n)]
    try:
        for s in subscribers:
            await s.start()
        watch = hub.watches[str(session.pk)]
        await until(lambda: all(s.has(5) for s in subscribers) and watch.waiting == n)
        # Quadratic before: every stream's first read re-added the buffered frames and woke
        # every stream already waiting (~n²/2 wake-ups).
        assert watch.wakeups <= n
        # One timer for all of them, not one each.
        assert len(asyncio.get_running_loop()._scheduled) < 10
        before = watch.wakeups
        await asyncio.to_thread(writer.emit, "progress", {"done": 4})
        await until(lambda: all(s.has(6) for s in subscribers) and watch.waiting == n)
        assert watch.wakeups - before == n
        assert all(s.ids() == [1, 2, 3, 4, 5, 6] for s in subscribers)
    finally:
        await stop(hub, subscribers)


@in_own_loop
async def test_the_hub_clock_pings_and_ends_every_stream(live_session, settings):
    settings.LIVE_SSE_HEARTBEAT = 0.1
    session, writer, user = live_session
    hub = Hub()
    tailing = [Subscriber(hub, session, user, cursor=5) for _ in range(50)]
    expiring = [Subscriber(hub, session, user, cursor=5) for _ in range(50)]
    try:
        for s in tailing:
            await s.start()
        await until(lambda: all(s.chunks for s in tailing))  # their deadline is set
        settings.LIVE_SSE_MAX_SECONDS = 0  # these end at the clock's next tick
        for s in expiring:
            await s.start()
        await asyncio.wait_for(asyncio.gather(*(s.task for s in expiring)), 15)
        assert all(s.ids() == [] for s in expiring)  # closed; the client resumes by cursor
        await until(lambda: all(b": ping\n\n" in s.frames() for s in tailing))
        assert not any(s.task.done() for s in tailing)
        assert len(asyncio.get_running_loop()._scheduled) < 10  # not a timer per stream
    finally:
        await stop(hub, tailing + expiring)


@in_own_loop
async def test_shutdown_closes_streams_with_their_cursor(live_session):
    session, writer, user = live_session
    hub = Hub()
    subscribers = [Subscriber(hub, session, user, cursor=2) for _ in range(20)]
    try:
        for s in subscribers:
            await s.start()
        await until(lambda: all(s.has(5) for s in subscribers))
        hub.shutdown()
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), 15)
        assert all(s.ids() == [3, 4, 5] for s in subscribers)
        assert all(b"event: end" not in b"".join(s.chunks) for s in subscribers)
    finally:
        await stop(hub, subscribers)
