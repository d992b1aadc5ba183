"""Fetching metric sources: the guarded HTTP request, the schedule's claim, saving what came
back through the API's upsert, backing off on failure, and telling the owner once when a
source has been failing for days.

- `fetch` makes one GET through planning.netguard (every connection, redirects included, goes
  to a checked public address), follows at most MAX_REDIRECTS redirects itself (the
  credential header only to the URL's own origin), sends If-None-Match / If-Modified-Since,
  and stops at the timeout (for the whole request) and at the size limit.
- `claim_due` takes the due sources in one transaction with FOR UPDATE SKIP LOCKED and moves
  their `next_fetch_at` past a lease with a fresh claim token: two workers on the same tick
  get disjoint sets, and a source is fetched once per due time.
- `run` fetches one claimed source and records the outcome only while it still holds the
  claim (`WHERE claim_token = …`, in the same transaction as the observations).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpcore
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from planning import netguard
from planning.inputs import shorten, strip_unstorable

from . import secrets, services, sourcemap
from .models import MetricSource

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
CLAIM_BATCH = 50


def timeout_seconds() -> float:
    return float(getattr(settings, "SOURCE_FETCH_TIMEOUT", 10.0))


def max_bytes() -> int:
    return int(getattr(settings, "SOURCE_MAX_BYTES", sourcemap.csvimport.MAX_BYTES))


def failure_days() -> int:
    return int(getattr(settings, "SOURCE_FAILURE_DAYS", 3))


def lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "SOURCE_LEASE_SECONDS", 600.0)))


def backoff(failures: int, every_hours: int) -> timedelta:
    """15, 30, 60 … minutes after the 1st, 2nd, 3rd … failure in a row, never longer than
    the schedule itself."""
    base = float(getattr(settings, "SOURCE_RETRY_SECONDS", 900.0))
    seconds = base * 2 ** min(max(failures - 1, 0), 20)
    return timedelta(seconds=min(seconds, every_hours * 3600))


# --------------------------------------------------------------------------- HTTP
class FetchError(Exception):
    """The source could not be fetched; the message is for the metric's page."""


@dataclass(frozen=True)
class Response:
    status: int  # 200 or 304
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""


def _checked_origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; FetchError for anything else (a redirect may
    point anywhere)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"{shorten(url, 200)} is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("Only http:// and https:// URLs can be fetched.")
    return parts.scheme, parts.hostname.lower(), port


def _header(response: httpcore.Response, name: bytes) -> str:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def fetch(
    url: str,
    *,
    credential: tuple[str, str] | None = None,
    etag: str = "",
    last_modified: str = "",
    timeout: float | None = None,
    limit: int | None = None,
) -> Response:
    """One guarded GET of `url` (see the module's docstring); FetchError says what failed."""
    timeout = timeout_seconds() if timeout is None else timeout
    limit = max_bytes() if limit is None else limit
    deadline = time.monotonic() + timeout
    origin = _checked_origin(url)
    with netguard.pool() as pool:
        for _hop in range(MAX_REDIRECTS + 1):
            here = _checked_origin(url)
            host = here[1]
            headers = [
                (b"Accept", b"text/csv, application/json;q=0.9, */*;q=0.5"),
                (b"User-Agent", b"Exponent metric source"),
            ]
            if etag:
                headers.append((b"If-None-Match", etag.encode("latin-1", "replace")))
            if last_modified:
                headers.append((b"If-Modified-Since", last_modified.encode("latin-1", "replace")))
            if credential and here == origin:
                headers.append((credential[0].encode("latin-1"), credential[1].encode("latin-1")))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"No complete answer within {timeout:g} s.")
            try:
                with pool.stream(
                    "GET", url, headers=headers, extensions=netguard.timeouts(remaining)
                ) as response:
                    if response.status in REDIRECTS:
                        location = _header(response, b"location")
                        if not location:
                            raise FetchError(f"A redirect ({response.status}) without a Location.")
                        try:
                            url = urljoin(url, location)
                        except ValueError:
                            raise FetchError(
                                f"A redirect to {shorten(location, 200)}, not a valid URL."
                            ) from None
                        continue
                    if response.status == 304:
                        return Response(304, etag=etag, last_modified=last_modified)
                    if response.status != 200:
                        raise FetchError(f"The source answered HTTP {response.status}.")
                    declared = _header(response, b"content-length")
                    if declared.isdigit() and int(declared) > limit:
                        raise FetchError(_too_large(limit))
                    body = bytearray()
                    for chunk in response.iter_stream():
                        body += chunk
                        if len(body) > limit:
                            raise FetchError(_too_large(limit))
                        if time.monotonic() > deadline:
                            raise FetchError(f"No complete answer within {timeout:g} s.")
                    return Response(
                        200,
                        bytes(body),
                        etag=_header(response, b"etag")[:500],
                        last_modified=_header(response, b"last-modified")[:100],
                        content_type=_header(response, b"content-type"),
                    )
            except netguard.RefusedAddress as error:
                raise FetchError(f"Refused: {error}.") from None
            except httpcore.TimeoutException:
                raise FetchError(f"No complete answer within {timeout:g} s.") from None
            except httpcore.ConnectError:
                raise FetchError(f"Could not connect to {host}.") from None
            except (httpcore.NetworkError, httpcore.ProtocolError):
                raise FetchError(f"The connection to {host} broke off or spoke no HTTP.") from None
            except (httpcore.UnsupportedProtocol, ValueError, UnicodeError):
                raise FetchError(f"{shorten(url, 200)} cannot be fetched.") from None
    raise FetchError(f"More than {MAX_REDIRECTS} redirects.")


def _too_large(limit: int) -> str:
    return f"The answer is larger than {limit / (1024 * 1024):g} MB, the limit for a source."


# --------------------------------------------------------------------------- reading
def mapping_of(source: MetricSource) -> sourcemap.Mapping:
    return sourcemap.Mapping(
        format="json" if source.format == "json" else "csv",
        date=source.date_field,
        value=source.value_field,
        rows=source.rows,
        filter=source.filter,
        factor=source.factor,
    )


def credential_of(source: MetricSource) -> tuple[str, str] | None:
    if not (source.header_name and source.header_value_encrypted):
        return None
    value = secrets.decrypt(source.header_value_encrypted)
    if value is None:
        raise FetchError("The credential can no longer be read: enter it again.")
    return source.header_name, value


@dataclass
class Trial:
    """What a fetch would save: the rows, the row problems, or why nothing could be read."""

    parsed: sourcemap.Parsed | None = None
    error: str = ""
    response: Response | None = None


def try_source(source: MetricSource, *, credential: tuple[str, str] | None, today) -> Trial:
    """Fetch and parse once, saving nothing (the "Test the source" button)."""
    return try_unsaved(
        source, credential=credential, today=today, positive_only=source.metric.is_log
    )


def try_unsaved(
    source: MetricSource, *, credential: tuple[str, str] | None, today, positive_only: bool
) -> Trial:
    """`try_source` for a source that need not have a metric (the test task's)."""
    try:
        compiled = sourcemap.compile_mapping(mapping_of(source))
        response = fetch(source.url, credential=credential)
    except sourcemap.MappingError as error:
        return Trial(error=str(error))
    except FetchError as error:
        return Trial(error=str(error))
    parsed = sourcemap.parse(response.body, compiled, today=today, positive_only=positive_only)
    return Trial(parsed=parsed, response=response)


# --------------------------------------------------------------------------- schedule
def claim_due(now: datetime | None = None, batch: int = CLAIM_BATCH) -> tuple[list[int], uuid.UUID]:
    """Take up to `batch` due sources for this worker: (their ids, the claim token)."""
    now = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            MetricSource.objects.select_for_update(skip_locked=True)
            .filter(active=True, next_fetch_at__lte=now)
            .order_by("next_fetch_at")
            .values_list("pk", flat=True)[:batch]
        )
        if ids:
            MetricSource.objects.filter(pk__in=ids).update(
                next_fetch_at=now + lease(), claim_token=token
            )
    return ids, token


@dataclass
class Outcome:
    ok: bool
    message: str
    created: int = 0
    updated: int = 0
    notified: bool = False
    lost_claim: bool = False


def run(pk: int, token: uuid.UUID) -> Outcome:
    """Fetch one claimed source and record what happened (nothing if the claim was lost)."""
    source = (
        MetricSource.objects.select_related("metric__team", "metric__created_by")
        .filter(pk=pk, claim_token=token)
        .first()
    )
    if source is None:
        return Outcome(False, "The claim was lost.", lost_claim=True)
    metric = source.metric
    try:
        compiled = sourcemap.compile_mapping(mapping_of(source))
        response = fetch(
            source.url,
            credential=credential_of(source),
            etag=source.etag,
            last_modified=source.last_modified,
        )
    except sourcemap.MappingError:
        return _failed(source, token, "The mapping cannot be used: edit the source.")
    except FetchError as error:
        return _failed(source, token, str(error))
    if response.status == 304:
        return _succeeded(source, token, response, None, "Not modified since the last fetch.")
    parsed = sourcemap.parse(
        response.body, compiled, today=metric.team.today(), positive_only=metric.is_log
    )
    if parsed.fatal or not parsed.rows:
        first = parsed.problems[0] if parsed.problems else None
        return _failed(source, token, f"Nothing could be read: {first}" if first else "Empty.")
    return _succeeded(source, token, response, parsed, "")


def _succeeded(
    source: MetricSource,
    token: uuid.UUID,
    response: Response,
    parsed: sourcemap.Parsed | None,
    message: str,
) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        held = MetricSource.objects.select_for_update().filter(pk=source.pk, claim_token=token)
        if not held.exists():
            return Outcome(False, "The claim was lost.", lost_claim=True)
        outcome = Outcome(True, message)
        if parsed is not None:
            provenance = source.provenance
            result = services.upsert_observations(
                source.metric,
                [(day, value, provenance) for day, value in parsed.rows],
                None,
                via="source",
            )
            outcome.created, outcome.updated = result.created, result.updated
            message = (
                f"{len(parsed.rows)} rows: {result.created} new, {result.updated} changed, "
                f"{result.unchanged} unchanged"
            )
            if parsed.n_problems:
                message += f"; {parsed.n_problems} skipped ({parsed.problems[0]})"
            outcome.message = message + "."
        held.update(
            next_fetch_at=now + timedelta(hours=source.every_hours),
            claim_token=None,
            etag=response.etag,
            last_modified=response.last_modified,
            last_fetched_at=now,
            last_success_at=now,
            last_result=shorten(strip_unstorable(outcome.message), 300),
            last_error="",
            failures=0,
            failing_since=None,
            failure_notified_at=None,
        )
    return outcome


def _failed(source: MetricSource, token: uuid.UUID, error: str) -> Outcome:
    now = timezone.now()
    error = shorten(strip_unstorable(error), 500)
    failures = source.failures + 1
    failing_since = source.failing_since or now
    notify = source.failure_notified_at is None and now - failing_since >= timedelta(
        days=failure_days()
    )
    with transaction.atomic():
        updated = MetricSource.objects.filter(pk=source.pk, claim_token=token).update(
            next_fetch_at=now + backoff(failures, source.every_hours),
            claim_token=None,
            last_fetched_at=now,
            last_error=error,
            failures=failures,
            failing_since=failing_since,
            **({"failure_notified_at": now} if notify else {}),
        )
        if not updated:
            return Outcome(False, error, lost_claim=True)
        if notify:
            _notify_failure(source, failing_since, error)
    return Outcome(False, error, notified=notify)


def _recipients(source: MetricSource) -> list:
    from planning.teams.models import Membership, Role

    team = source.metric.team
    owner = source.metric.created_by
    if owner is not None and Membership.objects.filter(team=team, user=owner).exists():
        return [owner]
    return [
        m.user for m in Membership.objects.filter(team=team, role=Role.OWNER).select_related("user")
    ]


def _notify_failure(source: MetricSource, failing_since: datetime, error: str) -> None:
    """In-app and by email, once per run of failures (called inside the transaction that
    sets `failure_notified_at`). The email is queued after the commit, once per new notice,
    to tasks.email_source_failure, which retries it with backoff while the mail server is
    down."""
    from planning.cadences.models import Notification

    metric = source.metric
    team = metric.team
    days = (timezone.now() - failing_since).days
    text = shorten(
        f"The source of “{metric.name}” ({source.host}) has failed for {days} days: {error}", 300
    )
    for user in _recipients(source):
        key = uuid.uuid5(
            uuid.NAMESPACE_URL,
            f"exponent:metric-source:{source.pk}:{failing_since.isoformat()}:{user.pk}",
        )
        notice, created = Notification.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "team": team,
                "user": user,
                "text": text,
                "url": metric.get_absolute_url(),
            },
        )
        if created and user.email:
            transaction.on_commit(functools.partial(_queue_email, notice.pk, source.pk))


def _queue_email(notification_id: int, source_id: int) -> None:
    from .tasks import email_source_failure

    try:
        email_source_failure.delay(notification_id, source_id)
    except Exception:  # noqa: BLE001 - the in-app notification stands; a broker outage is logged
        log.exception("metric source failure email not queued")


def failure_email(notice) -> EmailMessage:
    """The email twin of a failure notification; its Message-ID is stable (the notice's key),
    so a mail system that deduplicates drops a resend after a lost answer."""
    return EmailMessage(
        subject=f"[{notice.team.name}] A metric source is failing",
        body=(
            f"{notice.text}\n\nExponent keeps retrying. See the metric: "
            f"{settings.SITE_URL.rstrip('/')}{notice.url}\n"
        ),
        to=[notice.user.email],
        headers={
            "Message-ID": f"<{notice.idempotency_key}@exponent.source>",
            "X-Exponent-Idempotency-Key": str(notice.idempotency_key),
        },
    )


def run_is_over(
    failing_since: datetime | None, last_success_at: datetime | None, noticed_at: datetime
) -> bool:
    """Whether the run of failures a notice (created at `noticed_at`) told of has ended: the
    source fetched successfully since, or is no longer failing at all."""
    return failing_since is None or (last_success_at is not None and last_success_at > noticed_at)


def send_failure_email(notification_id: int, source_id: int | None = None) -> str:
    """The body of tasks.email_source_failure: an SMTP or connection error propagates (the
    task retries it with backoff). Nothing is sent once the source has recovered (or was
    removed) while the email waited for the mail server. `source_id` is None only for
    messages queued before it was passed; those are sent as before."""
    from planning.cadences.models import Notification

    notice = Notification.objects.select_related("team", "user").filter(pk=notification_id).first()
    if notice is None or not notice.user.email:
        return "skipped"
    if source_id is not None:
        state = (
            MetricSource.objects.filter(pk=source_id)
            .values("failing_since", "last_success_at")
            .first()
        )
        if state is None:
            log.info("source failure email %s not sent: the source was removed", notification_id)
            return "skipped: the source was removed"
        if run_is_over(state["failing_since"], state["last_success_at"], notice.created_at):
            log.info("source failure email %s not sent: the source recovered", notification_id)
            return "skipped: the source recovered"
    failure_email(notice).send()
    return "sent"


def fetch_due(now: datetime | None = None) -> dict:
    """Claim the due sources and fetch each (the beat task's body)."""
    ids, token = claim_due(now)
    outcomes = [run(pk, token) for pk in ids]
    return {
        "fetched": sum(o.ok for o in outcomes),
        "failed": sum(not o.ok and not o.lost_claim for o in outcomes),
    }
