"""Inbound push: each metric can receive observations on its own secret URL (BI tools, CI
jobs). The token is shown once when made; only its SHA-256 is stored; rotating replaces it.

A push is `POST` JSON (`{"observations": [{"date": …, "value": …, "source": …}]}` or just the
list) or CSV (`date,value[,source]`), saved all or nothing through the same validation and
upsert as the API: sending the same body again changes nothing (idempotent on metric and date).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from planning import csvimport
from planning.inputs import InputError, parse_json
from planning.validation import Invalid

from . import services
from .models import Metric, MetricPush

PREFIX = "xpush_"
DEFAULT_SOURCE = "push URL"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(metric: Metric, user) -> str:
    """A new token for `metric` (replacing any earlier one); the caller shows it once."""
    token = PREFIX + secrets.token_urlsafe(32)
    MetricPush.objects.update_or_create(
        metric=metric,
        defaults={
            "token_hash": hash_token(token),
            "created_by": user,
            "created_at": timezone.now(),
        },
    )
    return token


def find(token: str) -> MetricPush | None:
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    return (
        MetricPush.objects.select_related("metric__team")
        .filter(token_hash=hash_token(token))
        .first()
    )


class PushError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


@dataclass
class Received:
    created: int
    updated: int
    unchanged: int
    resolved: list[int]


def _json_rows(body: bytes) -> list[services.ObservationRow]:
    try:
        document: Any = parse_json(body.decode("utf-8"), max_chars=csvimport.MAX_BYTES)
    except UnicodeDecodeError:
        raise PushError(400, "The body is not UTF-8 text.") from None
    except InputError as error:
        raise PushError(400, str(error)) from None
    if isinstance(document, dict):
        document = document.get("observations")
    if not isinstance(document, list):
        raise PushError(
            400, 'Send {"observations": [{"date": "2026-03-31", "value": 1.5}, …]} or a list.'
        )
    rows = []
    for i, item in enumerate(document):
        if not isinstance(item, dict):
            raise PushError(400, f"observations[{i}] is not an object with date and value.")
        raw_date = item.get("date")
        try:
            day = date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
        except ValueError:
            day = None
        value = item.get("value")
        rows.append(services.ObservationRow(day, value, item.get("source") or DEFAULT_SOURCE))
    return rows


def _csv_rows(body: bytes, metric: Metric) -> list[services.ObservationRow]:
    from .forms import parse_observation_csv

    parsed = parse_observation_csv(body, metric, metric.team.today())
    if parsed.errors:
        raise PushError(
            400,
            "Nothing saved: fix the listed lines.",
            {f"line {e.line}" if e.line else "file": e.message for e in parsed.errors[:100]},
        )
    return [services.ObservationRow(d, v, s or DEFAULT_SOURCE) for d, v, s in parsed.rows]


def receive(push: MetricPush, body: bytes, content_type: str) -> Received:
    """Save a pushed body (all or nothing); PushError says why not, with a 4xx status."""
    if len(body) > csvimport.MAX_BYTES:
        raise PushError(413, f"The body is larger than {csvimport.MAX_BYTES // 2**20} MB.")
    metric = push.metric
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        rows = _json_rows(body)
    elif kind in ("text/csv", "text/plain"):
        rows = _csv_rows(body, metric)
    else:
        raise PushError(415, "Send Content-Type application/json or text/csv.")
    try:
        with transaction.atomic():
            result = services.record_observations(metric, rows, None, via="push")
            MetricPush.objects.filter(pk=push.pk).update(last_received_at=timezone.now())
    except Invalid as error:
        raise PushError(400, error.message, error.fields) from None
    return Received(
        result.created, result.updated, result.unchanged, [p.pk for p in result.resolved]
    )


def consume_rate(request, push: MetricPush) -> bool:
    """One request against the push URL's limit (the API's per-token rate, API_RATE_LIMIT);
    False: answer 429."""
    from allauth.core.internal import ratelimit
    from django.conf import settings

    from planning.accounts.tokens import _per_key

    usage = ratelimit.consume(
        request,
        app="predictions",
        action="push",
        config={"push": _per_key(settings.API_RATE_LIMIT)},
        key=f"push:{push.pk}",
        limit_get=True,
    )
    return usage is not None
