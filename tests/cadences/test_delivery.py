"""The beat tick in-process: materialising, claiming, sending, recording, nagging, failure."""

from __future__ import annotations

import smtplib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from planning.cadences import delivery, services
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
from tests.factories import CadenceFactory, MembershipFactory, TeamFactory, UserFactory

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
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[1], grace_days=1)
    occ = Occurrence.objects.get()
    assert occ.due_at == DUE and occ.state == State.UPCOMING

    assert tick_at(DUE - timedelta(days=2))["claimed"] == 0
    result = tick_at(DUE - timedelta(days=1))
    assert result["claimed"] == 6 and result["in_app"] == 3  # 3 members x (email, in-app)
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 6
    assert tick_at(DUE - timedelta(hours=19))["claimed"] == 0
    assert len(mail.outbox) == 3
    assert Notification.objects.filter(team=team).count() == 3
    message = mail.outbox[0]
    key = message.extra_headers["X-Exponent-Idempotency-Key"]
    assert Reminder.objects.filter(idempotency_key=key, channel="email").exists()
    assert "Weekly check is due tomorrow (Mon 6 Apr 2026, 09:00 BST)." in message.subject
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
    CadenceFactory(
        team=team, now=DUE - timedelta(days=3), reminder_days=[], grace_days=1,
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
    CadenceFactory(
        team=team, now=DUE - timedelta(days=3), recipients="role", recipient_role=Role.EDITOR
    )
    CadenceFactory(
        team=team, now=DUE - timedelta(days=3), title="People", recipients="people", people=[viewer]
    )
    tick_at(DUE)
    by_title = {}
    for r in Reminder.objects.select_related("occurrence__cadence"):
        by_title.setdefault(r.occurrence.cadence.title, set()).add(r.recipient_id)
    assert by_title == {"Weekly check": {editor.pk}, "People": {viewer.pk}}


def test_paused_and_completed_occurrences_send_nothing(team, members, editor):
    paused = CadenceFactory(team=team, now=DUE - timedelta(days=3), title="Paused")
    paused.paused = True
    paused.save()
    services.reschedule(paused, DUE - timedelta(days=3))
    CadenceFactory(
        team=team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT, title="Audit"
    )
    with time_machine.travel(DUE + timedelta(minutes=5), tick=False):
        done = services.complete_activity(team, "capability_audit", by=editor)
    assert done is not None and done.state == State.DONE and done.completed_by == editor
    tick_at(DUE + timedelta(days=3))
    assert Reminder.objects.count() == 0
    assert mail.outbox == []


def test_complete_activity_marks_the_matching_occurrence_only(team, other_team, members):
    audit = CadenceFactory(
        team=team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT, reminder_days=[]
    )
    CadenceFactory(team=team, now=DUE - timedelta(days=3), kind=Kind.RETROSPECTIVE, title="Retro")
    other = CadenceFactory(team=other_team, now=DUE - timedelta(days=3), kind=Kind.CAPABILITY_AUDIT)
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
    CadenceFactory(team=team, now=DUE - timedelta(days=3))
    occ = Occurrence.objects.get()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.mark(occ, State.SKIPPED, by=editor, note=" ")
    services.mark(occ, State.SKIPPED, by=editor, note="Team offsite")
    occ.refresh_from_db()
    assert occ.state == State.SKIPPED and occ.note == "Team offsite"
    with pytest.raises(ValidationError):
        services.mark(occ, State.DONE, by=editor)


def test_crash_mid_batch_resends_only_the_message_in_flight(team, members, settings):
    """The worker dies after the mail server took the 2nd email, before recording it."""
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    settings.MAILERS = {"default": {"BACKEND": "tests.cadences.test_delivery.CrashingBackend"}}
    CrashingBackend.crash_after = 2
    with pytest.raises(SystemExit):
        tick_at(DUE)
    emails = Reminder.objects.filter(channel="email").order_by("pk")
    assert [r.status for r in emails] == ["sent", "claimed", "claimed"]
    assert Notification.objects.count() == 3  # in-app went before email, in one transaction
    assert len(mail.outbox) == 2

    CrashingBackend.crash_after = None
    # Within the lease nobody re-sends; after it the two unrecorded ones go with the same keys.
    assert tick_at(DUE + timedelta(minutes=2))["claimed"] == 0
    assert tick_at(DUE + delivery.lease() + timedelta(minutes=1))["claimed"] == 2
    assert Notification.objects.count() == 3
    keys = [m.extra_headers["X-Exponent-Idempotency-Key"] for m in mail.outbox]
    assert len(keys) == 4 and len(set(keys)) == 3
    assert Counter(keys).most_common(1)[0][1] == 2  # only the one in flight went twice
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {
        f"<{k}@exponent.reminder>" for k in keys
    }
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


class CrashingBackend(locmem.EmailBackend):
    """locmem that kills the 'worker' right after the Nth message was accepted."""

    crash_after: int | None = None
    travel = None  # a time_machine traveller to move the clock per message
    per_message = timedelta(0)
    during_send = None  # called once per message, after acceptance

    def send_messages(self, messages):
        count = super().send_messages(messages)
        cls = type(self)
        if cls.travel is not None:
            cls.travel.shift(cls.per_message)
        if cls.during_send is not None:
            cls.during_send()
        if cls.crash_after is not None and len(mail.outbox) >= cls.crash_after:
            raise SystemExit("worker killed after the server accepted the message")
        return count


@pytest.fixture
def slow_mail(settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.cadences.test_delivery.CrashingBackend"}}
    yield CrashingBackend
    CrashingBackend.crash_after = CrashingBackend.travel = CrashingBackend.during_send = None
    CrashingBackend.per_message = timedelta(0)


def test_a_slow_batch_keeps_its_lease_and_is_sent_once(team, slow_mail):
    """Mail so slow the batch outlasts the lease: racing ticks take nothing over."""
    for _ in range(6):
        MembershipFactory(team=team, role=Role.EDITOR)
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    racing: list[int] = []
    slow_mail.per_message = delivery.lease() / 2  # 6 emails take 3 leases
    slow_mail.during_send = lambda: racing.append(services.tick()["claimed"])
    with time_machine.travel(DUE, tick=False) as traveller:
        slow_mail.travel = traveller
        services.tick()
    assert racing == [0] * 6
    keys = [m.extra_headers["X-Exponent-Idempotency-Key"] for m in mail.outbox]
    assert len(keys) == len(set(keys)) == 6
    assert set(Reminder.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_worker_that_lost_its_claim_neither_sends_nor_undoes_sent(team, members, slow_mail):
    """The first email takes longer than the whole lease; a tick re-claims and sends all
    three; the first worker's late failure must not turn them back into 'failed'."""
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    state = {"calls": 0}

    def hijack():
        state["calls"] += 1
        if state["calls"] == 1:  # inside the first worker's first send
            slow_mail.per_message = timedelta(0)
            state["second"] = services.tick()["claimed"]
            raise smtplib.SMTPServerDisconnected("the first worker's connection died late")

    slow_mail.per_message = delivery.lease() + timedelta(minutes=1)
    slow_mail.during_send = hijack
    with time_machine.travel(DUE, tick=False) as traveller:
        slow_mail.travel = traveller
        services.tick()
    assert state["second"] == 3  # the expired claims were taken over
    emails = Reminder.objects.filter(channel="email")
    assert set(emails.values_list("status", "attempts")) == {("sent", 2)}
    assert all(r.last_error == "" for r in emails)
    keys = Counter(m.extra_headers["X-Exponent-Idempotency-Key"] for m in mail.outbox)
    assert sorted(keys.values()) == [1, 1, 2]  # only the message in flight went twice


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
def webhook_server(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # the target is local; the default refuses it
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
    cadence = CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
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


def test_unreachable_webhook_gives_up_after_max_attempts(team, members, settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True
    TeamCadenceSettings.objects.update_or_create(
        team=team, defaults={"webhook_url": "http://127.0.0.1:9/nothing"}
    )
    CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[])
    moment = DUE
    for _ in range(services.MAX_ATTEMPTS):
        tick_at(moment)
        moment += timedelta(hours=2)
    webhook = Reminder.objects.get(channel="webhook")
    assert webhook.status == ReminderStatus.FAILED
    assert webhook.attempts == services.MAX_ATTEMPTS and webhook.next_attempt_at is None
    assert "ConnectError" in webhook.last_error


def test_claim_query_count_is_constant_and_sending_costs_one_query_per_email(members):
    def run(n_cadences: int) -> tuple[int, int]:
        Cadence.objects.all().delete()
        teams = [TeamFactory() for _ in range(n_cadences)]
        for t in teams:
            MembershipFactory(team=t, role=Role.OWNER)
            CadenceFactory(team=t, now=DUE - timedelta(days=3), reminder_days=[])
        chunks: list[tuple] = []
        with time_machine.travel(DUE, tick=False), CaptureQueriesContext(connection) as claim:
            result = services.tick(dispatch=lambda *chunk: chunks.append(chunk))
        assert result["claimed"] == 2 * n_cadences and result["in_app"] == n_cadences
        with time_machine.travel(DUE, tick=False), CaptureQueriesContext(connection) as send:
            for chunk in chunks:
                delivery.deliver(*chunk)
        assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 2 * n_cadences
        return len(claim.captured_queries), len(send.captured_queries) - n_cadences

    assert run(3) == run(30)


def test_edit_keeps_sent_reminders_and_moves_the_rest(team, members):
    cadence = CadenceFactory(team=team, now=DUE - timedelta(days=3), reminder_days=[2])
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
    CadenceFactory(team=team, now=DUE - timedelta(days=10), reminder_days=[])
    with time_machine.travel(DUE - timedelta(days=8), tick=False):  # a Saturday
        settings_obj = TeamCadenceSettings.of(team)
    assert settings_obj.next_digest_at == DUE - timedelta(days=7) - timedelta(hours=1)
    tick_at(DUE - timedelta(days=6))
    tick_at(DUE - timedelta(days=6) + timedelta(minutes=1))
    digests = [m for m in mail.outbox if "Your week" in m.subject]
    assert len(digests) == 3
    assert "Coming up this week" in digests[0].body and "Weekly check" in digests[0].body
    assert "(Mon 6 Apr, 09:00 BST)" in digests[0].body  # a time in an email names its zone


def test_new_teams_get_the_framework_default_cadences():
    user = UserFactory()
    team = create_team(owner=user, name="Fresh", slug="fresh", fiscal_year_start_month=4)
    kinds = set(Cadence.objects.filter(team=team).values_list("kind", flat=True))
    assert kinds == {"capability_audit", "prediction_review", "quarterly_review", "retrospective"}
    audit = Cadence.objects.get(team=team, kind="capability_audit")
    assert audit.rrule == "FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO"
    assert Occurrence.objects.filter(cadence__team=team).count() == 4
    assert TeamCadenceSettings.objects.filter(team=team).exists()


def test_reminder_words_follow_the_timeline_not_the_send_time(team, members, owner):
    CadenceFactory(
        team=team, now=DUE - timedelta(days=10), reminder_days=[7, 1], grace_days=1,
        escalate_after_days=0,
    )  # fmt: skip
    # Sent a few seconds late, and a retry an hour late, still say the same thing.
    tick_at(DUE - timedelta(days=7) + timedelta(seconds=5))
    tick_at(DUE - timedelta(days=1) + timedelta(hours=1))
    tick_at(DUE + timedelta(days=1, seconds=5))
    subjects = [m.subject for m in mail.outbox]
    assert any("Weekly check is due in 7 days (Mon 6 Apr 2026, 09:00 BST)." in s for s in subjects)
    assert any("Weekly check is due tomorrow (Mon 6 Apr 2026, 09:00 BST)." in s for s in subjects)
    escalation = [s for s in subjects if "Escalation" in s and "6 Apr" in s]
    assert len(escalation) == 1 and "is 1 day overdue (it was due" in escalation[0]
    assert not any("days overdue" in s or "due today" in s or "6 days" in s for s in subjects)


def test_offsets_are_local_calendar_days_across_a_dst_change(team, members):
    """London springs forward on Sun 29 Mar 2026: "1 day before Mon 09:00" is Sun 09:00 BST
    (08:00 UTC), "7 days before" is Mon 23 Mar 09:00 GMT (09:00 UTC); nags and overdue too."""
    team.time_zone = "Europe/London"
    team.save()
    due = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Mon 30 Mar 09:00 BST
    CadenceFactory(
        team=team,
        now=due - timedelta(days=10),
        reminder_days=[7, 1],
        grace_days=0,
        nag_every_days=1,
        rrule="FREQ=MONTHLY;BYMONTHDAY=30",
    )
    occ = Occurrence.objects.get(due_at=due)
    points = [at for at, _, _ in occ.timeline().main_points()]
    assert points[:2] == [
        datetime(2026, 3, 23, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
    ]
    autumn = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # Mon 26 Oct 09:00 GMT, after fall back
    timeline = services.timeline_for(occ.cadence, autumn, autumn, team.tz)
    assert timeline.main_points()[0][0] == datetime(2026, 10, 19, 8, 0, tzinfo=UTC)  # 09:00 BST
    nag = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # Sat 09:00 GMT; the next nag Sun 09:00 BST
    nags = services.timeline_for(occ.cadence, nag - timedelta(days=1), nag, team.tz)
    assert nags.next_point(nag + timedelta(minutes=1)) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 3, 29, 8, 0, 30, tzinfo=UTC), tick=False):
        assert nags.due_now(timezone.now()) == [("overdue", 1)]
