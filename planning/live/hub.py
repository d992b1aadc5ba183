"""Fan-out of live events inside one ASGI process.

One `Hub` per event loop holds ONE Redis pub/sub connection, ONE poller and ONE clock for
every open stream, whatever their number:

- Streams `watch()` a session; the hub subscribes to `live:<id>` while anyone watches it,
  including sessions first watched while the pub/sub connection is being set up or re-made
  after a Redis reconnect (they are subscribed as soon as it is up).
- Published events land in the session's `Watch` (a small buffer of encoded frames); only a
  seq the watch had not seen wakes its streams, which then usually send the frames without
  touching the database. A new stream whose cursor the buffer covers reads nothing at all.
- Every `poll_seconds()` the poller reads `last_seq`/`status` of all watched sessions in one
  query and fetches whatever a lost wake-up missed: a lost notification only delays.
- Every `heartbeat_interval()` the clock wakes every stream once: they send their heartbeat
  and check their deadline and membership then (no timer per stream).
- On SIGTERM/SIGINT (`install_shutdown_handler`) every stream is closed with its cursor
  intact, so clients reconnect elsewhere and the server can exit at once.
- Database work runs in pool threads on the pooled `live` database alias (see
  `planning.live.dbrouter`); nothing holds a connection while streams idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connections
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from . import conf, notify
from .dbrouter import live_reads
from .models import TERMINAL, LiveEvent, LiveSession
from .writer import encode

log = logging.getLogger(__name__)

BUFFER_SIZE = 2000
HUB_CHANNEL = "live:hub"  # nobody publishes to it: keeps an idle connection subscribed


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    type: str
    payload: bytes  # the complete SSE frame

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL


def frame(seq: int, type: str, data) -> Frame:
    body = encode({"seq": seq, "type": type, "data": data})
    # encode() emits one line (JSON escapes newlines), so data cannot inject SSE fields
    return Frame(seq, type, f"id: {seq}\ndata: {body}\n\n".encode())


def control(event: str, data) -> bytes:
    """A non-durable event (end, reset): no id, so the client's cursor does not move."""
    return f"event: {event}\ndata: {encode(data)}\n\n".encode()


def db(fn):
    """Run a sync ORM function in a pool thread, reading through the pooled `live` alias, and
    give its connections back (to the pool, or closed) before returning."""

    def call(*args, **kwargs):
        try:
            with live_reads():
                return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(call, thread_sensitive=False)


def read_log(
    session_id, after: int, limit: int = 500
) -> tuple[list[Frame], Mapping[str, Any] | None]:
    """Frames after `after` (up to `limit`) and the session's state (None if gone)."""
    state = (
        LiveSession.objects.filter(pk=session_id)
        .values("last_seq", "status", "compacted_through", "team_id")
        .first()
    )
    if state is None:
        return [], None
    rows = LiveEvent.objects.filter(session_id=session_id, seq__gt=after).order_by("seq")[:limit]
    return [frame(r.seq, r.type, r.data) for r in rows], state


def _poll(
    session_ids: list[str], known: dict[str, int]
) -> dict[str, tuple[Mapping[str, Any], list[Frame]]]:
    found: dict[str, tuple[Mapping[str, Any], list[Frame]]] = {}
    for state in LiveSession.objects.filter(pk__in=session_ids).values(
        "pk", "last_seq", "status", "compacted_through"
    ):
        sid = str(state["pk"])
        frames: list[Frame] = []
        if state["last_seq"] > known.get(sid, 0):
            frames, _ = read_log(sid, known.get(sid, 0), limit=BUFFER_SIZE)
        found[sid] = (state, frames)
    return found


class Watch:
    """What the hub knows about one session, shared by all of its streams."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.refs = 0
        self.last_seq = 0  # highest seq known to exist
        self.state: dict | None = None  # status/compacted_through from the last database read
        self.frames: OrderedDict[int, Frame] = OrderedDict()
        self._changed = asyncio.Event()
        self.waiting = 0  # streams waiting for the next change
        self.wakeups = 0  # streams woken so far (each waiting stream counts once per change)

    def changed(self) -> asyncio.Event:
        """The event to await for the next change (grab it before checking the state)."""
        return self._changed

    async def wait(self, event: asyncio.Event) -> None:
        self.waiting += 1
        try:
            await event.wait()
        finally:
            self.waiting -= 1

    def add(self, frames: list[Frame]) -> None:
        """Buffer frames; wake the streams only if one of them is a seq not seen before."""
        new = False
        for f in frames:
            self.frames[f.seq] = f
            if f.seq > self.last_seq:
                self.last_seq = f.seq
                new = True
            if f.terminal and self.state is not None:
                self.state = self.state | {"status": f.type}
        while len(self.frames) > BUFFER_SIZE:
            self.frames.popitem(last=False)
        if new:
            self.notify()

    def saw(self, last_seq: int, state: dict | None = None) -> None:
        if state is not None:
            self.state = {k: state[k] for k in ("status", "compacted_through") if k in state}
        if last_seq > self.last_seq:
            self.last_seq = last_seq
            self.notify()

    def notify(self) -> None:
        self.wakeups += self.waiting
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def after(self, cursor: int) -> list[Frame] | None:
        """Buffered frames cursor+1..last_seq, or None if the buffer does not cover them."""
        if self.state is None:  # nothing read from the database yet: last_seq may be behind
            return None
        out = []
        for seq in range(cursor + 1, self.last_seq + 1):
            f = self.frames.get(seq)
            if f is None:
                return None
            out.append(f)
        return out


class Hub:
    def __init__(self) -> None:
        self.watches: dict[str, Watch] = {}
        self.ticks = 0  # heartbeats of the hub's clock so far
        self.closing = False  # the process is shutting down: streams close, cursor intact
        self.connected = asyncio.Event()  # the pub/sub connection is up and subscribed
        self._pubsub: PubSub | None = None
        self._poke = asyncio.Event()  # poll now (after a Redis reconnect)
        self._tasks: list[asyncio.Task] = []

    def _start(self) -> None:
        if not self._tasks and not self.closing:
            self._tasks = [
                asyncio.create_task(self._listen(), name="live-hub-redis"),
                asyncio.create_task(self._poll_forever(), name="live-hub-poll"),
                asyncio.create_task(self._clock(), name="live-hub-clock"),
            ]

    async def watch(self, session_id) -> Watch:
        sid = str(session_id)
        self._start()
        w = self.watches.get(sid)
        if w is not None:
            w.refs += 1
            return w
        w = self.watches[sid] = Watch(sid)
        # Counted before the SUBSCRIBE is awaited: a stream that watches and leaves the session
        # meanwhile must not drop the watch from under this one.
        w.refs += 1
        try:
            await self._subscribe(sid)
        except BaseException:  # cancelled (the client left): nobody holds this reference
            await self.unwatch(w)
            raise
        return w

    async def unwatch(self, w: Watch) -> None:
        w.refs -= 1
        if w.refs <= 0 and self.watches.get(w.session_id) is w:
            del self.watches[w.session_id]
            if (pubsub := self._connected_pubsub()) is not None:
                try:
                    await pubsub.unsubscribe(notify.channel(w.session_id))
                except Exception:  # noqa: BLE001 - see _subscribe; a reconnect drops it anyway
                    log.debug("live hub: unsubscribe failed", exc_info=True)

    async def _subscribe(self, sid: str) -> None:
        # While the connection is being (re)made, the listener subscribes every watched
        # session once it is up (see _listen), so nothing is lost here.
        if (pubsub := self._connected_pubsub()) is not None:
            try:
                await pubsub.subscribe(notify.channel(sid))
            except Exception:  # noqa: BLE001 - nothing to lose, and it must not fail a stream
                # Sent on a connection Redis has just dropped, a (un)subscribe fails in ways
                # that depend on how far the drop got: redis' errors, the socket's, redis-py's
                # AttributeError (its PubSub's connection released), asyncio's TypeError (a
                # write to a transport being closed). The listener notices the drop and
                # subscribes every watched session on the new connection.
                log.debug("live hub: subscribe failed", exc_info=True)

    def _connected_pubsub(self) -> PubSub | None:
        """The listener's PubSub if its socket is open, else None (it is being remade).

        Never send on a PubSub whose connection is down: redis-py would connect it from here
        while its own reconnect in the listener does the same, two sockets for one connection
        object, and the orphaned one stayed open in Redis for good (one per reconnect that
        coincided with a watch or unwatch: 20 after 30 reconnects under load).
        """
        pubsub = self._pubsub
        if pubsub is None or pubsub.connection is None or not pubsub.connection.is_connected:
            return None
        return pubsub

    def shutdown(self) -> None:
        """Close every stream (their clients reconnect with their cursor) and stop the hub."""
        if self.closing:
            return
        self.closing = True
        for w in list(self.watches.values()):
            w.notify()
        for task in self._tasks:
            task.cancel()

    async def aclose(self) -> None:
        self.shutdown()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        url = conf.redis_url()
        if not url:
            return
        backoff = 0.5
        while True:
            # No retries inside redis-py: a PubSub that reconnected by itself (resubscribing
            # its channels) beside the one made here would deliver everything twice. A lost
            # connection ends this attempt; the next one subscribes what is watched then.
            # (Even so, redis-py reconnects the failed connection once before it raises; this
            # PubSub is closed right after, and `_connected_pubsub` keeps (un)subscribes off
            # it meanwhile.)
            client = aioredis.from_url(
                url, client_name=f"live-hub-{os.getpid()}", retry=Retry(NoBackoff(), 0)
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(HUB_CHANNEL, *[notify.channel(s) for s in self.watches])
                # Sessions first watched while that SUBSCRIBE was on its way are not in it;
                # from here on `_subscribe` sends their SUBSCRIBE itself.
                self._pubsub = pubsub
                watched = {notify.channel(s).encode() for s in self.watches}
                subscribed = {c if isinstance(c, bytes) else c.encode() for c in pubsub.channels}
                if missing := watched - subscribed:
                    await pubsub.subscribe(*missing)
                if stale := subscribed - watched - {HUB_CHANNEL.encode()}:
                    await pubsub.unsubscribe(*stale)
                backoff = 0.5
                self.connected.set()
                self._poke.set()  # catch up on anything published while we were away
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the listener must outlive any failure
                log.warning("live hub: Redis connection lost; retrying", exc_info=True)
            finally:
                self._pubsub = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # its connection is not in the client's pool
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)

    def _deliver(self, channel: bytes, data: bytes) -> None:
        sid = channel.decode().removeprefix("live:")
        w = self.watches.get(sid)
        if w is None:
            return
        try:
            message = json.loads(data)
        except ValueError:
            return
        if "events" in message:
            w.add([frame(seq, type, payload) for seq, type, payload in message["events"]])
        elif "last_seq" in message:
            w.saw(int(message["last_seq"]))

    async def _poll_forever(self) -> None:
        poll = db(_poll)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), conf.poll_seconds())
            self._poke.clear()
            if not self.watches:
                continue
            known = {sid: w.last_seq for sid, w in self.watches.items()}
            try:
                found = await poll(list(known), known)
            except Exception:  # noqa: BLE001 - the poller must outlive any failure
                log.warning("live hub: poll failed", exc_info=True)
                continue
            for sid, (state, frames) in found.items():
                w = self.watches.get(sid)
                if w is None:
                    continue
                w.add(frames)
                w.saw(state["last_seq"], state)

    async def _clock(self) -> None:
        """The one heartbeat of the process: wakes every stream once per interval."""
        while True:
            await asyncio.sleep(conf.heartbeat_interval())
            self.ticks += 1
            for w in list(self.watches.values()):
                w.notify()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
        install_shutdown_handler(loop, hub)
    return hub


def install_shutdown_handler(loop: asyncio.AbstractEventLoop, hub: Hub) -> None:
    """Chain SIGTERM/SIGINT: close the hub's streams, then let the server's handler run.

    uvicorn waits for open responses before it exits (up to --timeout-graceful-shutdown, by
    default for ever); an SSE stream never ends by itself, so without this a deploy hangs until
    the process is killed and every client loses its stream at once. Only a Python-level
    handler (uvicorn's) is chained; with none installed nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if (
            not callable(previous)
            or previous is signal.default_int_handler
            or getattr(previous, "live_hub", False)
        ):
            continue

        def handler(signum, frame, previous=previous):
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(hub.shutdown)
            previous(signum, frame)

        handler.live_hub = True  # type: ignore[attr-defined]  # marks our handler: never chained twice
        signal.signal(sig, handler)
