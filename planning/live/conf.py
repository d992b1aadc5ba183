"""Tunables of the live-session layer, read from Django settings when used (so a test may
override one). Their values and defaults are set in one place: planning/settings.py."""

from __future__ import annotations

from django.conf import settings


def flush_interval() -> float:
    """Seconds a token delta may wait in the writer before it is written."""
    return settings.LIVE_FLUSH_INTERVAL


def flush_chars() -> int:
    """Buffered characters that force a token flush earlier."""
    return settings.LIVE_FLUSH_CHARS


def stale_after() -> float:
    """An active session with no write or heartbeat for this long is ended as failed."""
    return settings.LIVE_STALE_AFTER


def retention_days() -> float:
    """Token events of sessions finished longer ago than this are compacted."""
    return settings.LIVE_TOKEN_RETENTION_DAYS


def cancel_grace() -> float:
    """Seconds the worker has to obey a stop before the watchdog revokes it."""
    return settings.LIVE_CANCEL_GRACE


def heartbeat_interval() -> float:
    """Seconds between SSE heartbeat comments."""
    return settings.LIVE_SSE_HEARTBEAT


def max_stream_seconds() -> float:
    """A stream closes after this long; the client resumes by cursor."""
    return settings.LIVE_SSE_MAX_SECONDS


def recheck_seconds() -> float:
    """How often an open stream re-checks the subscriber's membership."""
    return settings.LIVE_SSE_RECHECK


def poll_seconds() -> float:
    """How often open streams re-read the log in case a wake-up was lost."""
    return settings.LIVE_POLL_SECONDS


def redis_url() -> str:
    return settings.REDIS_URL
