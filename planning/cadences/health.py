"""What /healthz says about reminder delivery, per channel.

A channel is *failing* when at least half of its last attempts in the past hour (at most 20)
failed, and *stuck* when claimed messages have outlived their lease by more than two ticks
(nobody is sending or re-claiming them: workers down, or the beat stopped). Email includes
the weekly digests. Each channel costs one indexed query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Channel

RECENT = timedelta(hours=1)
SAMPLE = 20

_RECENT_SQL = """
SELECT status, last_error FROM (
    (SELECT status, last_error, attempted_at FROM cadences_reminder
     WHERE channel = %(channel)s AND attempted_at >= %(since)s AND status <> 'claimed'
     ORDER BY attempted_at DESC LIMIT %(sample)s)
    {digests}
) AS recent ORDER BY attempted_at DESC LIMIT %(sample)s
"""
_DIGESTS = """UNION ALL
    (SELECT status, last_error, attempted_at FROM cadences_digest
     WHERE attempted_at >= %(since)s AND status <> 'claimed'
     ORDER BY attempted_at DESC LIMIT %(sample)s)"""
_STUCK_SQL = """
SELECT count(*) FROM cadences_reminder
WHERE channel = %(channel)s AND status = 'claimed' AND next_attempt_at < %(stale)s
"""
_STUCK_DIGESTS = """
SELECT count(*) FROM cadences_digest WHERE status = 'claimed' AND next_attempt_at < %(stale)s
"""

# Webhooks point at each team's own endpoint: one team's broken Slack hook is reported but
# does not make the service unhealthy; a stuck queue on any channel does.
CRITICAL_WHEN_FAILING = {Channel.EMAIL, Channel.INAPP}


def channel_health(now: datetime | None = None) -> dict[str, dict]:
    now = now or timezone.now()
    tick = timedelta(seconds=settings.CELERY_BEAT_SCHEDULE["cadences-tick"]["schedule"])
    stale = now - max(2 * tick, timedelta(minutes=2))
    out: dict[str, dict] = {}
    with connection.cursor() as cursor:
        for channel in Channel.values:
            params: dict[str, Any] = {
                "channel": channel,
                "since": now - RECENT,
                "sample": SAMPLE,
                "stale": stale,
            }
            digests = _DIGESTS if channel == Channel.EMAIL else ""
            cursor.execute(_RECENT_SQL.format(digests=digests), params)
            recent = cursor.fetchall()
            cursor.execute(_STUCK_SQL, params)
            stuck = cursor.fetchone()[0]
            if channel == Channel.EMAIL:
                cursor.execute(_STUCK_DIGESTS, params)
                stuck += cursor.fetchone()[0]
            failed = [error for status, error in recent if status == "failed"]
            failing = bool(failed) and 2 * len(failed) >= len(recent)
            state = "stuck" if stuck else ("failing" if failing else "ok")
            report = {
                "ok": state == "ok",
                "state": state,
                "recent_attempts": len(recent),
                "recent_failures": len(failed),
                "stuck": stuck,
            }
            if failed:
                report["last_error"] = failed[0][:200]
            report["critical"] = bool(stuck) or (failing and channel in CRITICAL_WHEN_FAILING)
            out[channel] = report
    return out
