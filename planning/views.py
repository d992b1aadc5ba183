"""Project-level views: the health check."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from planning.celery import app as celery_app


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - report any failure as "down"
        return {"ok": False, "error": str(exc).splitlines()[0]}


def _check_broker() -> dict:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}


def _check_workers(broker_ok: bool) -> dict:
    if not broker_ok:
        return {"ok": False, "error": "broker unreachable"}
    try:
        replies = celery_app.control.ping(timeout=settings.HEALTHZ_PING_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}
    workers = sorted(name for reply in replies or [] for name in reply)
    if not workers:
        return {"ok": False, "error": "no Celery worker answered the ping", "workers": []}
    return {"ok": True, "workers": workers}


def _check_channels(database_ok: bool) -> dict:
    if not database_ok:
        return {}
    from planning.cadences.health import channel_health

    try:
        return channel_health()
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}


def _may_see_detail(request: HttpRequest) -> bool:
    """Staff, or a caller presenting HEALTHZ_TOKEN as a bearer token."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.HEALTHZ_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The status for anyone (200 ok / 503 degraded); the detail (hosts, workers, channels,
    errors) only for staff or with HEALTHZ_TOKEN."""
    database = _check_database()
    broker = _check_broker()
    worker = _check_workers(broker["ok"])
    channels = _check_channels(database["ok"])
    channels_ok = not any(c.get("critical") for c in channels.values() if isinstance(c, dict))
    healthy = database["ok"] and broker["ok"] and worker["ok"] and channels_ok
    status = 200 if healthy else 503
    if not _may_see_detail(request):
        return JsonResponse({"status": "ok" if healthy else "degraded"}, status=status)
    return JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "broker": broker,
            "worker": worker,
            "channels": channels,
        },
        status=status,
    )
