"""The "connected" badge of the metric list: whether a metric is fed by a source
(fetching.py) or a push URL (push.py), and how recently, in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from django.utils import timezone
from django.utils.timesince import timesince

from .models import MetricPush, MetricSource


@dataclass(frozen=True)
class Badge:
    label: str  # "Connected · example.com", "Push URL", "Failing since 1 Dec 2026"
    detail: str  # "last fetched 3 hours ago", "never fetched yet", the last error …
    tone: str = ""  # "" or "bad" or "warn": the badge's CSS modifier
    title: str = ""  # the hover text: the last error of a failing source


def _ago(moment: datetime, now: datetime) -> str:
    """ "just now", "3 hours ago", "2 weeks ago" (the largest unit only)."""
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


def badge(
    source: MetricSource | None, push: MetricPush | None, now: datetime, tz: tzinfo
) -> Badge | None:
    """The badge for a metric with this source and push URL (either may be None), or None.

    A source wins over a push URL (a metric rarely has both, and the source is what runs on
    its own). A source is failing from its first failure in a row (`failing_since`, cleared
    by the next success), the run of failures fetching.py reports to the owner after
    SOURCE_FAILURE_DAYS.
    """
    if source is not None:
        if source.failing_since is not None:
            since = timezone.localtime(source.failing_since, tz)
            tries = f"{source.failures} failed fetch{'es' if source.failures != 1 else ''} in a row"
            return Badge(f"Failing since {since:%-d %b %Y}", tries, "bad", source.last_error)
        label = f"Connected · {source.host}"
        if source.last_fetched_at is None:
            detail = "never fetched yet"
        else:
            detail = f"last fetched {_ago(source.last_fetched_at, now)}"
        if not source.active:
            return Badge(label, f"paused, {detail}", "warn")
        return Badge(label, detail)
    if push is not None:
        if push.last_received_at is None:
            return Badge("Push URL", "nothing pushed yet")
        return Badge("Push URL", f"last push {_ago(push.last_received_at, now)}")
    return None
