"""The "Test the source" button, off the web request: the view keeps a pending entry in the
cache under a random id and queues tasks.run_source_test; the task fetches and parses once
(saving nothing) and puts the outcome in the entry; the page polls the entry until it is done.

The entry names the user, team and metric it was made for: any other asker gets nothing (the
view answers 404). The task's message carries the source's fields as stored, the credential
Fernet-encrypted (predictions.secrets), never in plain text.
"""

from __future__ import annotations

import logging
import secrets as random
import time
from datetime import date
from typing import Any

from django.core.cache import cache

from . import fetching
from .models import MetricSource

log = logging.getLogger(__name__)

TTL_SECONDS = 10 * 60
ID_MAX_LENGTH = 64
FIELDS = (
    "url", "format", "rows", "date_field", "value_field", "filter", "factor", "header_name",
    "header_value_encrypted",
)  # fmt: skip
NOT_STARTED = "The test could not be started: try again in a minute."
EXPIRED = "The test took too long to report back: try again."
GRACE_SECONDS = 20.0  # a worker's queueing delay on top of the fetch's own timeout


def _key(trial_id: str) -> str:
    return f"predictions:source-trial:{trial_id}"


def fields_of(source: MetricSource) -> dict[str, Any]:
    """What the task needs to rebuild the unsaved source: JSON-safe, credential encrypted."""
    return {name: getattr(source, name) for name in FIELDS}


def start(source: MetricSource, *, user_id: int, team_id: int, today: date) -> str:
    """Queue a test of the unsaved `source` (its metric set); the id to poll."""
    from .tasks import run_source_test

    trial_id = random.token_urlsafe(18)
    entry = {
        "user": user_id,
        "team": team_id,
        "metric": source.metric_id,
        "host": source.host,
        "started": time.time(),
        "trial": None,
    }
    cache.set(_key(trial_id), entry, TTL_SECONDS)
    try:
        run_source_test.delay(trial_id, fields_of(source), source.metric.is_log, today.isoformat())
    except Exception:  # noqa: BLE001 - the broker is down: say so on the page, log the cause
        log.exception("source test not queued")
        failed = {**entry, "trial": fetching.Trial(error=NOT_STARTED)}
        cache.set(_key(trial_id), failed, TTL_SECONDS)
    return trial_id


def run(trial_id: str, fields: dict[str, Any], positive_only: bool, today: str) -> str:
    """The task's body: fetch and parse once, keep the outcome in the entry."""
    entry = cache.get(_key(trial_id))
    if entry is None:
        return "expired"
    source = MetricSource(**{name: fields[name] for name in FIELDS})
    try:
        credential = fetching.credential_of(source)
    except fetching.FetchError as error:
        trial = fetching.Trial(error=str(error))
    else:
        trial = fetching.try_unsaved(
            source,
            credential=credential,
            today=date.fromisoformat(today),
            positive_only=positive_only,
        )
    trial.response = None  # the body is not kept
    cache.set(_key(trial_id), {**entry, "trial": trial}, TTL_SECONDS)
    return "error" if trial.error else "done"


def find(trial_id: str, *, user_id: int, team_id: int, metric_id: int) -> dict | None:
    """The entry, only for the user, team and metric it was made for."""
    if not trial_id or len(trial_id) > ID_MAX_LENGTH:
        return None
    entry = cache.get(_key(trial_id))
    if not isinstance(entry, dict):
        return None
    if (entry.get("user"), entry.get("team"), entry.get("metric")) != (user_id, team_id, metric_id):
        return None
    return entry


def outcome(entry: dict) -> fetching.Trial | None:
    """The test's outcome; None while it runs; an error once it has taken far longer than a
    fetch can (no worker took it), so the page stops waiting."""
    if entry["trial"] is not None:
        return entry["trial"]
    if time.time() - entry.get("started", 0.0) > fetching.timeout_seconds() + GRACE_SECONDS:
        return fetching.Trial(error=EXPIRED)
    return None
