"""Tunables of the live-session layer; override any of them in Django settings."""

from __future__ import annotations

from django.conf import settings


def _get(name: str, default):
    return getattr(settings, name, default)


def flush_interval() -> float:
    """Seconds a token delta may wait in the writer before it is written."""
    return _get("LIVE_FLUSH_INTERVAL", 0.075)


def flush_chars() -> int:
    """Buffered characters that force a token flush earlier."""
    return _get("LIVE_FLUSH_CHARS", 400)


def stale_after() -> float:
    """An active session with no write or heartbeat for this long is ended as failed."""
    return _get("LIVE_STALE_AFTER", 300.0)


def retention_days() -> float:
    """Token events of sessions finished longer ago than this are compacted."""
    return _get("LIVE_TOKEN_RETENTION_DAYS", 7)


def cancel_grace() -> float:
    """Seconds the worker has to obey a stop before the watchdog revokes it."""
    return _get("LIVE_CANCEL_GRACE", 10.0)


def heartbeat_interval() -> float:
    """Seconds between SSE heartbeat comments."""
    return _get("LIVE_SSE_HEARTBEAT", 15.0)


def max_stream_seconds() -> float:
    """A stream closes after this long; the client resumes by cursor."""
    return _get("LIVE_SSE_MAX_SECONDS", 300.0)


def recheck_seconds() -> float:
    """How often an open stream re-checks the subscriber's membership."""
    return _get("LIVE_SSE_RECHECK", 60.0)


def poll_seconds() -> float:
    """How often open streams re-read the log in case a wake-up was lost."""
    return _get("LIVE_POLL_SECONDS", 2.0)


def redis_url() -> str:
    return _get("REDIS_URL", "")
