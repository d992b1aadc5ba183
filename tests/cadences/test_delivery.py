"""The beat tick in-process: materialising, claiming, sending, recording, nagging, failure."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning.cadences import services
from planning.cadences.models import (
    Cadence,
    Kind,
    Notification,
    Occurrence,
    Reminder,
    ReminderStatus,
    State,
    TeamCadenceSettings,
)
from planning.teams.models import Role
from planning.teams.services import create_team
from tests.cadences.conftest import make_cadence
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 6 April 2026 09:00 in London is 08:00 UTC (BST).
DUE = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def members(team, owner, editor, viewer):
    return [owner, editor, viewer]


def tick_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return services.tick()


def test_before_due_overdue_each_exactly_once(team, members):
    make_cadence(team, now=DUE - timedelta(days=3), reminder_days=[1], grace_days=1)
    occ = Occurrence.objects.get()
    assert occ.due_at == DUE and occ.state == State.UPCOMING

    assert tick_at(DUE - timedelta(days=2))["claimed"] == 0
    result = tick_at(DUE - timedelta(hours=20))
    assert result["claimed"] == result["sent"] == 6  # 3 members x (email, in-app)
    assert tick_at(DUE - timedelta(hours=19))["claimed"] == 0
    assert len(mail.outbox) == 3
    assert Notification.objects.filter(team=team).count() == 3
    message = mail.outbox[0]
    key = message.extra_headers["X-Exponent-Idempotency-Key"]
    assert Reminder.objects.filter(idempotency_key=key, channel="email").exists()
    assert "is due in 0 days" not in message.subject and "Weekly check" in message.subject
    assert f"/t/{team.slug}/cadences/" in message.body

    tick_at(DUE + timedelta(minutes=1))
    occ.refresh_from_db()
    assert occ.state == State.DUE
    assert Reminder.objects.filter(kind="due").count() == 6
    tick_at(DUE + timedelta(days=1, minutes=1))
    occ.refresh_from_db()
    assert occ.state == State.OVERDUE
    assert Reminder.objects.filter(kind="overdue").count() == 6
    assert Reminder.objects.exclude(status=ReminderStatus.SENT).count() == 0
    # The next week's occurrence was stored when this one fell due.
    assert Occurrence.objects.filter(due_at=DUE + timedelta(days=7)).exists()


def test_nagging_and_escalation_to_owners(team, members, owner):
    make_cadence(
        team, now=DUE - timedelta(days=3), reminder_days=[], grace_days=1,
        nag_every_days=2, escalate_after_days=3, rrule="FREQ=MONTHLY;BYDAY=1MO",
    )  # fmt: skip
    for hours in range(0, 24 * 8, 6):
        tick_at(DUE + timedelta(hours=hours))
    kinds = sorted(set(Reminder.objects.values_list("kind", "seq")))
    assert kinds == [("due", 0), ("escalation", 0), ("overdue", 0), ("overdue", 1),
                     ("overdue", 2), ("overdue", 3)]  # fmt: skip
    escalated = Reminder.objects.filter(kind="escalation")
    assert {r.recipient_id for r in escalated} == {owner.pk}


def test_recipient_modes(team, members, owner, editor, viewer):
    make_cadence(team, now=DUE - timedelta(days=3), recipients="role", recipient_role=Role.EDITOR)
    make_cadence(
        team, now=DUE - timedelta(days=3), title="People", recipients="people", people=[viewer]
    )
    tick_at(DUE)
    by_title = {}
    for r in Reminder.objects.select_related("occurrence__cadence"):
        by_title.setdefault(r.occurrence.cadence.title, set()).add(r.recipient_id)
    assert by_title == {"Weekly check": {editor.pk}, "People": {viewer.pk}}


def test_paused_and_completed_occurrences_send_nothing(team, members, editor):
    paused = make_cadence(team, now=DUE - timedelta(days=3), title="Paused")
    paused.paused = True
    paused.save()
    services.reschedule(paused, DUE - timedelta(days=3))
    make_cadence(team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT, title="Audit")
    with time_machine.travel(DUE + timedelta(minutes=5), tick=False):
        done = services.complete_activity(team, "capability_audit", by=editor)
    assert done is not None and done.state == State.DONE and done.completed_by == editor
    tick_at(DUE + timedelta(days=3))
    assert Reminder.objects.count() == 0
    assert mail.outbox == []


def test_complete_activity_marks_the_matching_occurrence_only(team, other_team, members):
    audit = make_cadence(
        team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT, reminder_days=[]
    )
    make_cadence(team, now=DUE - timedelta(days=3), kind=Kind.RETROSPECTIVE, title="Retro")
    other = make_cadence(other_team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT)
    # Too early: nothing is waiting yet (no lead days configured).
    assert (
        services.complete_activity(team, "capability_audit", when=DUE - timedelta(days=2)) is None
    )
    tick_at(DUE + timedelta(days=2))
    occ = services.complete_activity(team, "capability_audit", when=DUE + timedelta(days=2))
    assert occ.cadence == audit and occ.state == State.DONE
    assert occ.next_reminder_at is None and occ.completed_at == DUE + timedelta(days=2)
    assert Occurrence.objects.get(cadence=other, due_at=DUE).state != State.DONE
    assert Occurrence.objects.get(cadence__title="Retro", due_at=DUE).state == State.OVERDUE


def test_mark_skip_needs_a_note(team, members, editor):
    make_cadence(team, now=DUE - timedelta(days=3))
    occ = Occurrence.objects.get()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.mark(occ, State.SKIPPED, by=editor, note=" ")
    services.mark(occ, State.SKIPPED, by=editor, note="Team offsite")
    occ.refresh_from_db()
    assert occ.state == State.SKIPPED and occ.note == "Team offsite"
    with pytest.raises(ValidationError):
        services.mark(occ, State.DONE, by=editor)


def test_crash_between_send_and_record_is_retried_without_duplicate(team, members, monkeypatch):
    make_cadence(team, now=DUE - timedelta(days=3), reminder_days=[])
    real_record = services._record

    def crash(*args, **kwargs):
        raise SystemExit("worker killed between send and record")

    monkeypatch.setattr(services, "_record", crash)
    with pytest.raises(SystemExit):
        tick_at(DUE)
    assert Reminder.objects.filter(status=ReminderStatus.CLAIMED).count() == 6
    assert len(mail.outbox) == 3 and Notification.objects.count() == 3

    monkeypatch.setattr(services, "_record", real_record)
    # Within the lease nobody re-sends; after it the same messages go again with the same keys.
    assert tick_at(DUE + timedelta(minutes=2))["claimed"] == 0
    result = tick_at(DUE + services.LEASE + timedelta(minutes=1))
    assert result["claimed"] == result["sent"] == 6
    assert Notification.objects.count() == 3  # the in-app key is unique: no duplicate
    assert len(mail.outbox) == 6
    keys = [m.extra_headers["X-Exponent-Idempotency-Key"] for m in mail.outbox]
    assert sorted(keys[:3]) == sorted(keys[3:])  # a receiver dedupes on the key/Message-ID
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {
        f"<{k}@exponent.reminder>" for k in keys
    }
    assert set(Reminder.objects.values_list("status", "attempts")) == {("sent", 2)}


class _Hook(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"key": self.headers["X-Exponent-Idempotency-Key"], "body": body}
        )
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.statuses, _Hook.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook
    server.shutdown()


def test_failing_webhook_retries_with_backoff_and_never_blocks_email(
    team, members, webhook_server, editor_client
):
    url, hook = webhook_server
    # Stored directly: the form only accepts https, the local test server speaks http.
    TeamCadenceSettings.objects.update_or_create(team=team, defaults={"webhook_url": url})
    cadence = make_cadence(team, now=DUE - timedelta(days=3), reminder_days=[])
    hook.statuses = [500, 500]
    tick_at(DUE)
    assert len(mail.outbox) == 3
    webhook = Reminder.objects.get(channel="webhook")
    assert webhook.status == ReminderStatus.FAILED and webhook.last_error == "Webhook: HTTP 500"
    assert webhook.next_attempt_at == DUE + timedelta(minutes=1)
    page = editor_client.get(cadence.get_absolute_url()).content.decode()
    assert "Delivery problems" in page and "HTTP 500" in page

    tick_at(DUE + timedelta(minutes=1))  # 2nd attempt fails: next in 2 minutes
    webhook.refresh_from_db()
    assert webhook.attempts == 2 and webhook.next_attempt_at == DUE + timedelta(minutes=3)
    assert tick_at(DUE + timedelta(minutes=2))["claimed"] == 0
    tick_at(DUE + timedelta(minutes=3))
    webhook.refresh_from_db()
    assert webhook.status == ReminderStatus.SENT and webhook.attempts == 3
    assert len({r["key"] for r in hook.received}) == 1 and len(hook.received) == 3
    assert b"Weekly check is due now" in hook.received[-1]["body"]
    assert len(mail.outbox) == 3  # email was never held up or repeated


def test_unreachable_webhook_gives_up_after_max_attempts(team, members):
    TeamCadenceSettings.objects.update_or_create(
        team=team, defaults={"webhook_url": "http://127.0.0.1:9/nothing"}
    )
    make_cadence(team, now=DUE - timedelta(days=3), reminder_days=[])
    moment = DUE
    for _ in range(services.MAX_ATTEMPTS):
        tick_at(moment)
        moment += timedelta(hours=2)
    webhook = Reminder.objects.get(channel="webhook")
    assert webhook.status == ReminderStatus.FAILED
    assert webhook.attempts == services.MAX_ATTEMPTS and webhook.next_attempt_at is None
    assert "ConnectError" in webhook.last_error


def test_tick_query_count_does_not_grow_with_cadences(members):
    def run(n_cadences: int) -> int:
        Cadence.objects.all().delete()
        teams = [TeamFactory() for _ in range(n_cadences)]
        for t in teams:
            MembershipFactory(team=t, role=Role.OWNER)
            make_cadence(t, now=DUE - timedelta(days=3), reminder_days=[])
        with time_machine.travel(DUE, tick=False), CaptureQueriesContext(connection) as ctx:
            result = services.tick()
        assert result["sent"] == 2 * n_cadences
        return len(ctx.captured_queries)

    assert run(3) == run(30)


def test_edit_keeps_sent_reminders_and_moves_the_rest(team, members):
    cadence = make_cadence(team, now=DUE - timedelta(days=3), reminder_days=[2])
    tick_at(DUE - timedelta(days=1))
    assert Reminder.objects.filter(kind="before").count() == 6
    cadence.reminder_days = [2, 1]
    cadence.save()
    services.reschedule(cadence, DUE - timedelta(days=1))
    tick_at(DUE - timedelta(hours=23))
    assert Reminder.objects.filter(kind="before", seq=1).count() == 6
    assert Reminder.objects.filter(kind="before", seq=2).count() == 6  # not re-sent
    cadence.rrule = "FREQ=WEEKLY;BYDAY=TU"
    cadence.save()
    services.reschedule(cadence, DUE - timedelta(hours=22))
    assert list(Occurrence.objects.values_list("due_at", flat=True)) == [DUE + timedelta(days=1)]


def test_weekly_digest_once_per_member(team, members):
    make_cadence(team, now=DUE - timedelta(days=10), reminder_days=[])
    with time_machine.travel(DUE - timedelta(days=8), tick=False):  # a Saturday
        settings_obj = TeamCadenceSettings.for_team(team)
    assert settings_obj.next_digest_at == DUE - timedelta(days=7) - timedelta(hours=1)
    tick_at(DUE - timedelta(days=6))
    tick_at(DUE - timedelta(days=6) + timedelta(minutes=1))
    digests = [m for m in mail.outbox if "Your week" in m.subject]
    assert len(digests) == 3
    assert "Coming up this week" in digests[0].body and "Weekly check" in digests[0].body


def test_new_teams_get_the_framework_default_cadences():
    user = UserFactory()
    team = create_team(owner=user, name="Fresh", slug="fresh", fiscal_year_start_month=4)
    kinds = set(Cadence.objects.filter(team=team).values_list("kind", flat=True))
    assert kinds == {"capability_audit", "prediction_review", "quarterly_review", "retrospective"}
    audit = Cadence.objects.get(team=team, kind="capability_audit")
    assert audit.rrule == "FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO"
    assert Occurrence.objects.filter(cadence__team=team).count() == 4
    assert TeamCadenceSettings.objects.filter(team=team).exists()
