"""Redis side channels of live sessions (best effort; PostgreSQL stays the source of truth).

- `live:<session id>` pub/sub channel: after each commit the writer publishes the new
  events ({"events": [[seq, type, data], ...]}, or {"last_seq": n} when large), so open
  streams wake up at once and usually need no database read at all.
- `live:stop:<session id>` key: the fast stop flag that `LiveWriter.should_stop()` checks.
- `live:steer:<session id>` counter: bumped after each steer commits, so a writer notices a
  steer within 50 ms without reading the log (`LiveWriter.steer_waiting()`).
"""

from __future__ import annotations

import functools
import json
import logging

import redis

from . import conf

log = logging.getLogger(__name__)

MAX_INLINE_BYTES = 64 * 1024
STOP_FLAG_TTL = 24 * 60 * 60


def channel(session_id) -> str:
    return f"live:{session_id}"


def stop_key(session_id) -> str:
    return f"live:stop:{session_id}"


@functools.cache
def client() -> redis.Redis | None:
    url = conf.redis_url()
    if not url:
        return None
    # redis-py resets its pool after fork, so a cached client is safe in prefork workers.
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def publish(session_id, rows, end: str | None = None) -> None:
    r = client()
    if r is None or not rows:
        return
    payload = json.dumps({"events": [[row.seq, row.type, row.data] for row in rows]})
    if len(payload) > MAX_INLINE_BYTES:
        payload = json.dumps({"last_seq": rows[-1].seq})
    try:
        r.publish(channel(session_id), payload)
    except redis.RedisError:
        log.warning("live: could not publish a wake-up for %s", session_id, exc_info=True)


def set_stop_flag(session_id) -> None:
    r = client()
    if r is None:
        return
    try:
        r.set(stop_key(session_id), "1", ex=STOP_FLAG_TTL)
    except redis.RedisError:
        log.warning("live: could not set the stop flag of %s", session_id, exc_info=True)


def stop_flag_set(session_id) -> bool:
    r = client()
    if r is None:
        return False
    try:
        return bool(r.exists(stop_key(session_id)))
    except redis.RedisError:
        return False


def steer_key(session_id) -> str:
    return f"live:steer:{session_id}"


def bump_steer(session_id) -> None:
    """Count one more steer (an INCR: concurrent steers can never hide one another)."""
    r = client()
    if r is None:
        return
    try:
        with r.pipeline(transaction=False) as pipe:
            pipe.incr(steer_key(session_id))
            pipe.expire(steer_key(session_id), STOP_FLAG_TTL)
            pipe.execute()
    except redis.RedisError:
        log.warning("live: could not bump the steer counter of %s", session_id, exc_info=True)


def steer_count(session_id) -> int | None:
    """The steer counter (0 when none), None when Redis cannot say (read the log instead)."""
    r = client()
    if r is None:
        return None
    try:
        value = r.get(steer_key(session_id))
    except redis.RedisError:
        return None
    return int(value or 0)
