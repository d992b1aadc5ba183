"""Helpers for the optional psycopg connection pool (settings DB_POOL)."""

from __future__ import annotations

import time

IDLE_CHECK_AFTER = 5.0  # seconds


def check_if_idle(conn) -> None:
    """The pool's checkout check, only for a connection unused for a few seconds.

    psycopg_pool's own `check_connection` costs a round trip on every checkout; an audits
    worker takes a connection twice per call, dozens of times a second. A connection that was
    in use moments ago is as good as checked; one idle longer (the server may have dropped
    it) is checked as usual, and a broken one is replaced by the pool.
    """
    from psycopg_pool import ConnectionPool

    now = time.monotonic()
    if now - getattr(conn, "_exponent_checked_at", float("-inf")) > IDLE_CHECK_AFTER:
        ConnectionPool.check_connection(conn)
    conn._exponent_checked_at = now
