"""Fan-out of live events inside one ASGI process.

One `Hub` per event loop holds ONE Redis pub/sub connection and ONE poller for every open
stream, whatever their number:

- Streams `watch()` a session; the hub subscribes to `live:<id>` while anyone watches it.
- Published events land in the session's `Watch` (a small buffer of encoded frames) and wake
  its streams, which then usually send them without touching the database.
- Every `poll_seconds()` the poller reads `last_seq`/`status` of all watched sessions in one
  query and fetches whatever a lost wake-up missed: a lost notification only delays.
- Database work runs in pool threads that close their connection before returning, so an
  idle stream holds no database connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connections

from . import conf, notify
from .models import TERMINAL, LiveEvent, LiveSession
from .writer import encode

log = logging.getLogger(__name__)

BUFFER_SIZE = 2000


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
    """Run a sync ORM function in a pool thread and close its connection afterwards."""

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(call, thread_sensitive=False)


def read_log(session_id, after: int, limit: int = 500) -> tuple[list[Frame], dict | None]:
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


def _poll(session_ids: list[str], known: dict[str, int]) -> dict[str, tuple[dict, list[Frame]]]:
    found = {}
    for state in LiveSession.objects.filter(pk__in=session_ids).values("pk", "last_seq", "status"):
        sid = str(state["pk"])
        frames = []
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
        self.frames: OrderedDict[int, Frame] = OrderedDict()
        self._changed = asyncio.Event()

    def changed(self) -> asyncio.Event:
        """The event to await for the next change (grab it before checking the state)."""
        return self._changed

    def add(self, frames: list[Frame]) -> None:
        for f in frames:
            self.frames[f.seq] = f
            self.last_seq = max(self.last_seq, f.seq)
        while len(self.frames) > BUFFER_SIZE:
            self.frames.popitem(last=False)
        if frames:
            self.notify()

    def saw(self, last_seq: int) -> None:
        if last_seq > self.last_seq:
            self.last_seq = last_seq
            self.notify()

    def notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def after(self, cursor: int) -> list[Frame] | None:
        """Buffered frames cursor+1..last_seq, or None if the buffer does not cover them."""
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
        self._pubsub = None
        self._tasks: list[asyncio.Task] = []

    async def watch(self, session_id) -> Watch:
        sid = str(session_id)
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="live-hub-redis"),
                asyncio.create_task(self._poll_forever(), name="live-hub-poll"),
            ]
        w = self.watches.get(sid)
        if w is None:
            w = self.watches[sid] = Watch(sid)
            await self._subscribe(sid)
        w.refs += 1
        return w

    async def unwatch(self, w: Watch) -> None:
        w.refs -= 1
        if w.refs <= 0 and self.watches.get(w.session_id) is w:
            del self.watches[w.session_id]
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(notify.channel(w.session_id))
                except Exception:  # the listener reconnects and resubscribes what is watched
                    log.debug("live hub: unsubscribe failed", exc_info=True)

    async def _subscribe(self, sid: str) -> None:
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(notify.channel(sid))
            except Exception:
                log.debug("live hub: subscribe failed", exc_info=True)

    async def _listen(self) -> None:
        url = conf.redis_url()
        if not url:
            return
        backoff = 0.5
        while True:
            client = aioredis.from_url(url)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                # a channel nobody publishes to keeps the connection subscribed when idle
                await pubsub.subscribe("live:hub", *[notify.channel(s) for s in self.watches])
                self._pubsub = pubsub
                backoff = 0.5
                for w in self.watches.values():  # catch up on anything missed while away
                    w.notify()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live hub: Redis connection lost; retrying", exc_info=True)
            finally:
                self._pubsub = None
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
            await asyncio.sleep(conf.poll_seconds())
            if not self.watches:
                continue
            known = {sid: w.last_seq for sid, w in self.watches.items()}
            try:
                found = await poll(list(known), known)
            except Exception:
                log.warning("live hub: poll failed", exc_info=True)
                continue
            for sid, (state, frames) in found.items():
                w = self.watches.get(sid)
                if w is None:
                    continue
                w.add(frames)
                w.saw(state["last_seq"])


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
