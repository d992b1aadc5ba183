"""The limit for bench/live.py: a bare ASGI broadcast app (no Django, no database).

Every GET is a server-sent event stream; one Redis pub/sub connection per process receives
the writer's `live:<id>` messages and appends the raw payload to every open stream as one
`data:` frame; a stream ends when its client goes (a task per stream waits for the
disconnect, as in the live endpoint). Same uvicorn, same client, same writer and Redis as
the real endpoint, so the ratio of the two is what the live layer costs.

    python -m uvicorn --app-dir bench live_bare:app
"""

from __future__ import annotations

import asyncio
import os

import redis.asyncio as aioredis

_streams: set[asyncio.Queue] = set()
_listener: asyncio.Task | None = None


async def _listen() -> None:
    client = aioredis.from_url(os.environ["REDIS_URL"])
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe("live:*")
    async for message in pubsub.listen():
        if message.get("type") == "pmessage":
            frame = b"data: " + message["data"] + b"\n\n"
            for queue in _streams:
                queue.put_nowait(frame)


async def app(scope, receive, send) -> None:
    global _listener
    if scope["type"] != "http":
        return
    if scope["path"] == "/up":  # the bench's readiness probe
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if _listener is None:
        _listener = asyncio.create_task(_listen())
    queue: asyncio.Queue = asyncio.Queue()
    _streams.add(queue)
    me = asyncio.current_task()
    gone = False

    async def listen() -> None:  # the stream ends when its client goes, as the live one does
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        if me is not None:
            me.cancel()

    listener = asyncio.create_task(listen())
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        while True:
            await send({"type": "http.response.body", "body": await queue.get(), "more_body": True})
    except asyncio.CancelledError:
        if not gone or me is None:
            raise
        me.uncancel()
    finally:
        listener.cancel()
        _streams.discard(queue)
