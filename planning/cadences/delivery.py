"""Sending claimed reminders and digests, one message at a time, each outcome recorded at once.

A claim is a set of rows (Reminder or Digest) carrying one `claim_token`. The worker holding
it (an `Attempt`):

- takes the rows at the start (renewing their lease) and keeps only those still carrying its
  token: a task that waited in the queue after its claim was re-made by a later tick sends
  nothing;
- before each message, renews the lease once a third of it has passed, and skips a message
  whose claim it lost;
- records each message as soon as it is sent or failed, with `WHERE claim_token = <token> AND
  status = 'claimed'`, so a late worker can never turn "sent" back into "failed".

A crash therefore re-sends at most the message that was in flight (sent but not recorded):
after the lease the row is re-claimed with a new token and sent again with the same
idempotency key. What that means per channel:

- in-app: the notification and the "sent" mark are written in one transaction, and the key is
  unique: exactly once;
- email: a stable Message-ID (`<key@exponent.reminder>`) and `X-Exponent-Idempotency-Key`,
  so a mail system that deduplicates by Message-ID shows one message;
- webhook: `X-Exponent-Idempotency-Key` (stable) and `X-Exponent-Delivery` (one per
  attempt), signed with the team's secret; a target that accepted a post but answered after
  the timeout receives it again with the same key.

Channels go out in separate tasks (see services.tick), with connect/send timeouts, so a slow
or hanging mail server holds up neither in-app messages nor webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import httpcore
from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from planning import netguard

from .models import (
    Channel,
    Digest,
    Notification,
    Reminder,
    ReminderKind,
    TeamCadenceSettings,
)
from .schedule import wall

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
DIGEST = "digest"  # the digest's "channel" when dispatching


def lease() -> timedelta:
    """How long a claim holds before another tick may take it over."""
    return timedelta(seconds=settings.CADENCE_LEASE_SECONDS)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 16 minutes … after the 1st, 2nd, 3rd … failed attempt."""
    return timedelta(seconds=settings.CADENCE_RETRY_SECONDS * 2 ** max(attempts - 1, 0))


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # lost to another claim, or nothing to send any more

    def __iadd__(self, other: Outcome) -> Outcome:
        self.sent += other.sent
        self.failed += other.failed
        self.skipped += other.skipped
        return self


# --------------------------------------------------------------------------- the claim
class Attempt:
    """One worker's hold on claimed rows of one table; every write names its token."""

    def __init__(self, model: type[Reminder] | type[Digest], token: uuid.UUID) -> None:
        self.table = model._meta.db_table
        self.token = token
        self.owned: set[int] = set()
        self.renewed_at: datetime | None = None
        self.outcome = Outcome()

    def take(self, ids: Iterable[int]) -> set[int]:
        """Renew the lease of `ids` still carrying our token; they are what we may send."""
        ids = list(ids)
        now = timezone.now()
        if not ids:
            self.owned = set()
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {self.table} SET next_attempt_at = %s"  # noqa: S608 - own table
                    " WHERE id = ANY(%s) AND claim_token = %s AND status = 'claimed'"
                    " RETURNING id",
                    [now + lease(), ids, self.token],
                )
                self.owned = {row[0] for row in cursor.fetchall()}
        self.renewed_at = now
        return self.owned

    def owns(self, pk: int) -> bool:
        """Whether `pk` is still ours to send, renewing the lease when a third has passed."""
        if self.renewed_at is None or timezone.now() - self.renewed_at >= lease() / 3:
            self.take(self.owned)
        return pk in self.owned

    def _write(self, sql: str, params: list, pks: list[int]) -> int:
        if not pks:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET {sql}"  # noqa: S608 - own table and columns
                " WHERE id = ANY(%s) AND claim_token = %s AND status = 'claimed'",
                [*params, pks, self.token],
            )
            done = cursor.rowcount
        self.owned.difference_update(pks)
        return done

    def sent(self, pks: list[int]) -> None:
        now = timezone.now()
        done = self._write(
            "status = 'sent', sent_at = %s, attempted_at = %s, next_attempt_at = NULL,"
            " last_error = ''",
            [now, now],
            pks,
        )
        self.outcome.sent += done
        self.outcome.skipped += len(pks) - done

    def failed(self, pks: list[int], error: str) -> None:
        """Record a failure; retry after the backoff of this attempt, or give up."""
        now = timezone.now()
        done = self._write(
            "status = 'failed', last_error = %s, attempted_at = %s,"
            " next_attempt_at = CASE WHEN attempts < %s"
            " THEN %s + make_interval(secs => %s * power(2, attempts - 1)) END",
            [error[:2000], now, MAX_ATTEMPTS, now, settings.CADENCE_RETRY_SECONDS],
            pks,
        )
        self.outcome.failed += done
        self.outcome.skipped += len(pks) - done

    def drop(self, pks: list[int]) -> None:
        """Nothing to send any more (e.g. the webhook was removed): forget the claim."""
        if not pks:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table}"  # noqa: S608 - own table
                " WHERE id = ANY(%s) AND claim_token = %s AND status = 'claimed'",
                [pks, self.token],
            )
        self.owned.difference_update(pks)
        self.outcome.skipped += len(pks)


# --------------------------------------------------------------------------- message text
def _when(due_at: datetime, tz) -> str:
    """ "Mon 6 Apr 2026, 09:00 BST": read in mail and chat, outside the app, so with its zone."""
    return timezone.localtime(due_at, tz).strftime("%a %-d %b %Y, %H:%M %Z")


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def message_text(reminder: Reminder) -> str:
    """The words of a reminder: fixed by its point on the timeline, not by when it is sent
    (a retry an hour later says the same thing, and a 7-day reminder says "in 7 days")."""
    occ = reminder.occurrence
    cadence = occ.cadence
    tz = cadence.team.tz
    when = _when(occ.due_at, tz)
    title = cadence.title
    if reminder.kind == ReminderKind.BEFORE:
        ahead = "tomorrow" if reminder.seq == 1 else f"in {_days(reminder.seq)}"
        return f"{title} is due {ahead} ({when})."
    if reminder.kind == ReminderKind.DUE:
        return f"{title} is due now ({when})."
    if reminder.kind == ReminderKind.ESCALATION:
        escalate_at = occ.timeline(cadence).escalate_at or occ.overdue_at
        days = (wall(escalate_at, tz).date() - wall(occ.due_at, tz).date()).days
        late = f"{_days(days)} overdue" if days > 0 else "overdue"
        return f"Escalation: {title} is {late} (it was due {when})."
    nag = f" (reminder {reminder.seq + 1})" if reminder.seq else ""
    return f"{title} is overdue: it was due {when}{nag}."


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def reminder_email(reminder: Reminder, text: str) -> EmailMessage:
    assert reminder.recipient is not None  # email reminders are addressed to a person
    cadence = reminder.occurrence.cadence
    key = str(reminder.idempotency_key)
    body = render_to_string(
        "cadences/email/reminder.txt",
        {
            "text": text,
            "cadence": cadence,
            "team": cadence.team,
            "activity_url": _absolute(cadence.activity_path()),
            "cadence_url": _absolute(cadence.get_absolute_url()),
            "user": reminder.recipient,
        },
    )
    return EmailMessage(
        subject=f"[{cadence.team.name}] {text}",
        body=body,
        to=[reminder.recipient.email],
        headers=idempotency_headers(key),
    )


def idempotency_headers(key: str) -> dict[str, str]:
    # The same Message-ID on a retry lets mail systems drop the duplicate.
    return {"X-Exponent-Idempotency-Key": key, "Message-ID": f"<{key}@exponent.reminder>"}


# --------------------------------------------------------------------------- email
def _connection_lost(exc: BaseException) -> bool:
    """A dropped, timed-out or refused connection, rather than one message refused."""
    if isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, OSError)


def _describe(exc: BaseException) -> str:
    timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
    if timed_out or str(exc).endswith("timed out"):  # smtplib wraps the socket's timeout
        return "the mail server did not answer in time"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def send_emails(
    attempt: Attempt, items: list[tuple[int, Callable[[], EmailMessage]]], label: str = "Email"
) -> None:
    """Send each (pk, build) in turn on one SMTP connection, recording each outcome.

    A failure on the connection (drop, timeout, refusal) closes it; the next message opens a
    new one, and when that fails too the rest of the batch is failed at once (retried later)
    instead of waiting out one timeout per message.
    """
    mailer = None
    broken: str | None = None
    lost_in_a_row = 0
    try:
        for index, (pk, build) in enumerate(items):
            if not attempt.owns(pk):
                attempt.outcome.skipped += 1
                continue
            if broken:
                rest = [p for p, _ in items[index:] if p in attempt.owned]
                attempt.failed(rest, broken)
                return
            try:
                message = build()
                if mailer is None:
                    mailer = mailers.default
                    mailer.open()
                mailer.send_messages([message])
            except Exception as exc:  # noqa: BLE001 - a failed message is retried, never fatal
                error = f"{label}: {_describe(exc)}"
                attempt.failed([pk], error)
                if _connection_lost(exc):
                    lost_in_a_row += 1
                    if mailer is not None:
                        _close(mailer)
                        mailer = None
                    if lost_in_a_row >= 2:
                        broken = error  # the server is down or hanging: stop waiting on it
            else:
                lost_in_a_row = 0
                attempt.sent([pk])
    finally:
        if mailer is not None:
            _close(mailer)


def _close(mailer) -> None:
    try:
        mailer.close()
    except (smtplib.SMTPException, OSError):  # the server may already have gone
        log.debug("closing the mail connection failed", exc_info=True)


# --------------------------------------------------------------------------- webhooks
def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: what X-Exponent-Signature carries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _post_webhooks(attempt: Attempt, reminders: list[Reminder], texts: dict[int, str]) -> None:
    team_ids = {r.occurrence.cadence.team_id for r in reminders}
    hooks = {
        s.team_id: s
        for s in TeamCadenceSettings.objects.filter(team_id__in=team_ids).exclude(webhook_url="")
    }
    timeout = settings.CADENCE_WEBHOOK_TIMEOUT
    broken: dict[str, str] = {}  # an unreachable URL fails its other messages without waiting
    with netguard.pool() as pool:
        for r in reminders:
            if not attempt.owns(r.pk):
                attempt.outcome.skipped += 1
                continue
            cadence = r.occurrence.cadence
            hook = hooks.get(cadence.team_id)
            if hook is None:
                attempt.drop([r.pk])
                continue
            if hook.webhook_url in broken:
                attempt.failed([r.pk], broken[hook.webhook_url])
                continue
            link = _absolute(cadence.activity_path())
            body = json.dumps({"text": f"{texts[r.pk]} <{link}|Open in Exponent>"}).encode()
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Exponent-Webhooks/1",
                "X-Exponent-Idempotency-Key": str(r.idempotency_key),
                "X-Exponent-Delivery": str(uuid.uuid4()),
                "X-Exponent-Timestamp": stamp,
                "X-Exponent-Signature": signature(hook.webhook_secret, stamp, body),
            }
            try:
                response = pool.request(
                    "POST",
                    hook.webhook_url,
                    headers=list(headers.items()),
                    content=body,
                    extensions=netguard.timeouts(timeout),
                )
            except netguard.RefusedAddress as exc:
                broken[hook.webhook_url] = f"Webhook: {exc}"
                attempt.failed([r.pk], broken[hook.webhook_url])
                continue
            except httpcore.TimeoutException:
                # The target may have taken it: the retry carries the same idempotency key.
                broken[hook.webhook_url] = f"Webhook: no answer within {timeout:g} s"
                attempt.failed([r.pk], broken[hook.webhook_url])
                continue
            except (httpcore.NetworkError, httpcore.ProtocolError, ValueError) as exc:
                detail = str(exc).splitlines()[0][:200] if str(exc) else ""
                broken[hook.webhook_url] = f"Webhook: {type(exc).__name__}: {detail}".rstrip(": ")
                attempt.failed([r.pk], broken[hook.webhook_url])
                continue
            status = response.status
            if 300 <= status < 400:
                attempt.failed([r.pk], f"Webhook: HTTP {status} (redirects are not followed)")
            elif status >= 400:
                attempt.failed([r.pk], f"Webhook: HTTP {status}")
            else:
                attempt.sent([r.pk])


# --------------------------------------------------------------------------- entry points
def deliver(channel: str, ids: list[int], token: uuid.UUID | str) -> Outcome:
    """Send one claimed chunk of one channel (or of digests) and record every outcome."""
    token = uuid.UUID(str(token))
    if channel == DIGEST:
        from .digest import deliver_digests

        return deliver_digests(ids, token)
    attempt = Attempt(Reminder, token)
    owned = attempt.take(ids)
    attempt.outcome.skipped += len(ids) - len(owned)
    if not owned:
        return attempt.outcome
    reminders = list(
        Reminder.objects.filter(pk__in=owned)
        .select_related("occurrence__cadence__team", "recipient")
        .order_by("pk")
    )
    texts = {r.pk: message_text(r) for r in reminders}
    if channel == Channel.INAPP:
        _inapp(attempt, reminders, texts)
    elif channel == Channel.EMAIL:
        send_emails(attempt, [(r.pk, _builder(r, texts[r.pk])) for r in reminders])
    elif channel == Channel.WEBHOOK:
        _post_webhooks(attempt, reminders, texts)
    else:  # pragma: no cover - the channel choices are closed
        raise ValueError(channel)
    return attempt.outcome


def _builder(reminder: Reminder, text: str) -> Callable[[], EmailMessage]:
    return lambda: reminder_email(reminder, text)


def _inapp(attempt: Attempt, reminders: list[Reminder], texts: dict[int, str]) -> None:
    """The notifications and their "sent" marks in one transaction: exactly once."""
    rows = [
        Notification(
            team_id=r.occurrence.cadence.team_id,
            user_id=cast(int, r.recipient_id),  # in-app reminders are addressed to a person
            text=texts[r.pk][:300],
            url=r.occurrence.cadence.activity_path(),
            idempotency_key=r.idempotency_key,
        )
        for r in reminders
    ]
    pks = [r.pk for r in reminders]
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(rows, ignore_conflicts=True)
            attempt.sent(pks)
    except DatabaseError as exc:  # recorded and retried like any channel
        log.exception("in-app reminders failed")
        attempt.outcome.sent = 0
        attempt.owned.update(pks)
        attempt.failed(pks, f"In-app: {type(exc).__name__}")
