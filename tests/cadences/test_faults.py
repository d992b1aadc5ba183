"""Delivery against a real SMTP sink and webhook target that refuse, drop, hang and slow down.

The tick runs in this process (time travel decides when retries fall due); the mail server and
the webhook target are real servers on 127.0.0.1 with short test-only timeouts. The standard:
per (occurrence, kind, recipient, channel), in-app and email are delivered exactly once (email
counted by Message-ID), a webhook at most twice and only when the target took a post and did
not answer in time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from planning.cadences import delivery, services
from planning.cadences.models import (
    Channel,
    Digest,
    Notification,
    Occurrence,
    Reminder,
    ReminderStatus,
    TeamCadenceSettings,
)
from planning.teams.models import Role
from tests.cadences.sinks import SmtpSink, WebhookTarget
from tests.factories import CadenceFactory, MembershipFactory

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)  # Monday 09:00 in London


@pytest.fixture
def smtp_sink(settings):
    smtp = SmtpSink().up()
    settings.MAILERS = {"default": smtp.mailer(timeout=0.5)}
    yield smtp
    smtp.down()


@pytest.fixture
def webhook_target(settings, team):
    target = WebhookTarget().up()
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the default refuses 127.0.0.1
    settings.CADENCE_WEBHOOK_TIMEOUT = 0.5
    TeamCadenceSettings.objects.update_or_create(team=team, defaults={"webhook_url": target.url})
    yield target
    target.down()


@pytest.fixture
def members(team, owner, editor, viewer):
    return [owner, editor, viewer]


def tick_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return services.tick()


def retry_until_settled(start: datetime, limit: int = 8) -> datetime:
    """Tick at every retry time until nothing is left to retry (bounded)."""
    moment = start
    for _ in range(limit):
        pending = Reminder.objects.exclude(status=ReminderStatus.SENT).filter(
            next_attempt_at__isnull=False
        )
        if not pending.exists():
            break
        moment = max(moment, min(pending.values_list("next_attempt_at", flat=True)))
        tick_at(moment)
    return moment


def assert_exactly_once(smtp_sink: SmtpSink, n_email: int, n_inapp: int) -> None:
    email_keys = {
        str(k)
        for k in Reminder.objects.filter(channel=Channel.EMAIL).values_list(
            "idempotency_key", flat=True
        )
    }
    assert len(email_keys) == n_email
    assert set(smtp_sink.by_key()) == email_keys  # every email arrived …
    assert len(smtp_sink.message_ids()) == n_email  # … once, counted by Message-ID
    notes = Counter(Notification.objects.values_list("idempotency_key", flat=True))
    assert len(notes) == n_inapp and set(notes.values()) == {1}
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


def test_refused_mail_is_retried_with_backoff_and_in_app_is_not_held_up(team, members, smtp_sink):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.gate.set("refuse")
    tick_at(DUE)
    assert Notification.objects.count() == 3
    failed = Reminder.objects.filter(channel=Channel.EMAIL)
    assert {r.status for r in failed} == {ReminderStatus.FAILED}
    assert {r.next_attempt_at for r in failed} == {DUE + timedelta(minutes=1)}
    assert "554" in failed[0].last_error
    smtp_sink.gate.set("ok")
    retry_until_settled(DUE)
    assert_exactly_once(smtp_sink, 3, 3)
    assert set(Reminder.objects.filter(channel="email").values_list("attempts", flat=True)) == {2}


def test_a_server_down_fails_the_batch_at_once_then_delivers_when_back(team, members, smtp_sink):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.down()
    tick_at(DUE)
    errors = set(Reminder.objects.filter(channel="email").values_list("last_error", flat=True))
    assert len(errors) == 1 and "refused" in errors.pop().lower()
    smtp_sink.up()
    retry_until_settled(DUE)
    assert_exactly_once(smtp_sink, 3, 3)


def test_dropped_after_data_is_sent_again_with_the_same_message_id(team, members, smtp_sink):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.gate.set("drop")
    tick_at(DUE)
    assert len(smtp_sink.messages) >= 1  # the server took at least one before dropping
    smtp_sink.gate.set("ok")
    retry_until_settled(DUE)
    assert_exactly_once(smtp_sink, 3, 3)
    dropped = [k for k, n in smtp_sink.by_key().items() if n > 1]
    assert len(smtp_sink.messages) == 3 + len(dropped)  # the raw duplicates are only those


def test_a_hanging_server_times_out_and_stops_the_batch(team, members, smtp_sink):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.gate.set("hang")
    tick_at(DUE)
    emails = Reminder.objects.filter(channel="email")
    assert {r.status for r in emails} == {ReminderStatus.FAILED}
    assert {r.last_error for r in emails} == {"Email: the mail server did not answer in time"}
    assert len(smtp_sink.messages) == 2  # two timed out; the third was not tried
    assert Notification.objects.count() == 3
    smtp_sink.gate.set("ok")
    retry_until_settled(DUE)
    assert_exactly_once(smtp_sink, 3, 3)


def test_a_slow_server_delivers_everything_once(team, members, smtp_sink):
    for _ in range(3):
        MembershipFactory(team=team, role=Role.VIEWER)
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.gate.set("slow", delay=0.05)
    tick_at(DUE)
    assert_exactly_once(smtp_sink, 6, 6)


def test_webhook_faults_give_at_most_one_duplicate_and_only_after_a_timeout(
    team, members, webhook_target
):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[], title="One")
    tick_at(DUE)
    assert len(webhook_target.received) == 1
    # A target that takes the post and never answers: failed, sent again later.
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[], title="Two")
    Occurrence.objects.filter(cadence__title="Two").update(next_reminder_at=DUE)
    webhook_target.gate.set("hang")
    tick_at(DUE + timedelta(seconds=1))
    timed_out = Reminder.objects.get(channel="webhook", occurrence__cadence__title="Two")
    assert timed_out.status == ReminderStatus.FAILED
    assert timed_out.last_error == "Webhook: no answer within 0.5 s"
    # Refused (503) and dropped connections: the target did not take it, or said nothing.
    webhook_target.gate.set("refuse")
    retry_until_settled(DUE + timedelta(seconds=1), limit=1)
    assert "HTTP 503" in Reminder.objects.get(pk=timed_out.pk).last_error
    webhook_target.gate.set("ok")
    retry_until_settled(DUE + timedelta(seconds=1))
    counts = webhook_target.by_key()
    assert counts[str(timed_out.idempotency_key)] == 2  # the timed-out post, then the retry
    assert sorted(counts.values()) == [1, 2]
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


def test_webhook_drop_is_retried(team, members, webhook_target):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    webhook_target.gate.set("drop")
    tick_at(DUE)
    reminder = Reminder.objects.get(channel="webhook")
    assert reminder.status == ReminderStatus.FAILED and "Webhook:" in reminder.last_error
    webhook_target.gate.set("ok")
    retry_until_settled(DUE)
    assert Reminder.objects.get(channel="webhook").status == ReminderStatus.SENT


def test_webhook_is_signed_and_carries_key_and_delivery_id(team, members, webhook_target):
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    tick_at(DUE)
    headers, body = webhook_target.received[0]
    secret = TeamCadenceSettings.objects.get(team=team).webhook_secret
    raw = webhook_target.raw[0]
    expected = hmac.new(
        secret.encode(), headers["X-Exponent-Timestamp"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    assert headers["X-Exponent-Signature"] == f"v1={expected}"
    reminder = Reminder.objects.get(channel="webhook")
    assert headers["X-Exponent-Idempotency-Key"] == str(reminder.idempotency_key)
    assert len(headers["X-Exponent-Delivery"]) == 36
    assert body["text"].startswith("Weekly check is due now")


def test_webhook_to_a_loopback_address_is_refused_by_default(
    team, members, webhook_target, settings
):
    settings.NETGUARD_ALLOW_LOOPBACK = False
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    tick_at(DUE)
    reminder = Reminder.objects.get(channel="webhook")
    assert reminder.status == ReminderStatus.FAILED
    assert "127.0.0.1" in reminder.last_error and "loopback" in reminder.last_error
    assert webhook_target.received == []


def test_completed_after_the_claim_still_goes_on_every_channel(team, members, smtp_sink, editor):
    """One rule: completed before the claim -> nothing; after -> all channels."""
    CadenceFactory(
        team=team, now=DUE - timedelta(days=3), reminder_days=[], kind="capability_audit"
    )
    chunks: list[tuple] = []
    with time_machine.travel(DUE, tick=False):
        services.tick(dispatch=lambda *chunk: chunks.append(chunk))
        assert Notification.objects.count() == 3  # in-app went with the claim
        services.complete_activity(team, "capability_audit", by=editor)
        for chunk in chunks:
            delivery.deliver(*chunk)
    assert_exactly_once(smtp_sink, 3, 3)
    # Completed before its next point: nothing more is claimed, on any channel.
    tick_at(DUE + timedelta(days=3))
    assert Reminder.objects.count() == 6


def test_digest_is_retried_with_backoff_until_delivered(team, members, smtp_sink):
    CadenceFactory(team=team, now=DUE - timedelta(days=10), reminder_days=[])
    with time_machine.travel(DUE - timedelta(days=8), tick=False):  # a Saturday
        TeamCadenceSettings.of(team)
    first = DUE - timedelta(days=7) - timedelta(hours=1)  # Monday 08:00 BST
    smtp_sink.gate.set("refuse")
    assert tick_at(first)["digests"] == 3
    assert set(Digest.objects.values_list("status", flat=True)) == {"failed"}
    assert tick_at(first + timedelta(seconds=30))["digests"] == 0  # not before the backoff
    smtp_sink.gate.set("ok")
    assert tick_at(first + timedelta(minutes=1))["digests"] == 3
    assert set(Digest.objects.values_list("status", "attempts")) == {("sent", 2)}
    digests = [m for m in smtp_sink.messages if "Your week" in m["Subject"]]
    assert len(digests) == len({m["Message-ID"] for m in digests}) == 3
    assert tick_at(first + timedelta(hours=1))["digests"] == 0


def test_healthz_reports_a_failing_and_a_stuck_channel(
    team, members, smtp_sink, webhook_target, health_client, monkeypatch
):
    from planning.celery import app

    monkeypatch.setattr(app.control, "ping", lambda **kwargs: [{"w@h": {"ok": "pong"}}])
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    smtp_sink.gate.set("hang")
    webhook_target.gate.set("refuse")
    tick_at(DUE)
    with time_machine.travel(DUE + timedelta(seconds=30), tick=False):
        response = health_client.get("/healthz")
    data = response.json()["channels"]
    assert response.status_code == 503
    assert data["email"]["state"] == "failing" and data["email"]["critical"]
    assert "did not answer in time" in data["email"]["last_error"]
    assert data["inapp"]["state"] == "ok" and data["inapp"]["recent_attempts"] == 3
    assert data["webhook"]["state"] == "failing" and not data["webhook"]["critical"]

    smtp_sink.gate.set("ok")
    webhook_target.gate.set("ok")
    retry_until_settled(DUE)
    with time_machine.travel(DUE + timedelta(minutes=5), tick=False):
        response = health_client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert {c["state"] for c in response.json()["channels"].values()} == {"ok"}

    # A claim nobody sends or re-claims (workers gone, beat stopped): stuck.
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[], title="Later")
    Occurrence.objects.filter(cadence__title="Later").update(next_reminder_at=DUE)
    with time_machine.travel(DUE + timedelta(minutes=6), tick=False):
        services.tick(dispatch=lambda *chunk: None)  # the email tasks are lost
    with time_machine.travel(DUE + timedelta(minutes=20), tick=False):
        response = health_client.get("/healthz")
    data = response.json()["channels"]
    assert response.status_code == 503
    assert data["email"]["state"] == "stuck" and data["email"]["stuck"] == 3
