"""Cadences keep a team on its rhythm: occurrences fall due, reminders go out exactly once.

Cadence      a recurring activity (RRULE in the team's time zone at a local due time).
Occurrence   one due instance, stored in UTC; unique per (cadence, due_at).
Reminder     one message per (occurrence, kind, seq, recipient, channel), claimed before it is
             sent (the unique row is the claim) and recorded after.
Notification an in-app message; its idempotency key makes a retried delivery a no-op.
Digest       one member's weekly digest (claimed, retried and recorded like a reminder).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from planning import sections
from planning.teams.models import Role, Team, TeamScopedModel, TeamScopedQuerySet

from .schedule import PRESETS, Schedule, Timeline, describe, next_digest_at, shift_days


class Kind(models.TextChoices):
    CAPABILITY_AUDIT = "capability_audit", "Capability audit"
    PREDICTION_REVIEW = "prediction_review", "Prediction review"
    BOTTLENECK_REFRESH = "bottleneck_refresh", "Bottleneck refresh"
    SATURATION_CHECK = "saturation_check", "Saturation check"
    QUARTERLY_REVIEW = "quarterly_review", "Quarterly review"
    RETROSPECTIVE = "retrospective", "Retrospective"
    CUSTOM = "custom", "Custom"


class Recipients(models.TextChoices):
    ALL = "all", "All members"
    ROLE = "role", "Members with a role"
    PEOPLE = "people", "Named people"


class Cadence(TeamScopedModel):
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.CUSTOM)
    title = models.CharField(max_length=120)
    preset = models.CharField(max_length=40, blank=True, default="")
    rrule = models.CharField(
        "repeat rule",
        max_length=500,
        help_text="An RFC 5545 RRULE without DTSTART, e.g. FREQ=MONTHLY;BYMONTHDAY=1.",
    )
    starts_on = models.DateField(default=timezone.localdate)
    due_time = models.TimeField(
        default=time(10, 0), help_text="Local time in the team's time zone."
    )
    reminder_days = models.JSONField(
        default=list,
        blank=True,
        help_text="Days before the due time to send a reminder (the due reminder always goes).",
    )
    grace_days = models.PositiveSmallIntegerField(
        default=2, help_text="Days after the due time before the occurrence counts as overdue."
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Tell the owners after this many days overdue (empty: never).",
    )
    nag_every_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Repeat the overdue reminder every this many days (empty: once).",
    )
    recipients = models.CharField(max_length=10, choices=Recipients.choices, default=Recipients.ALL)
    recipient_role = models.CharField(max_length=10, choices=Role.choices, blank=True, default="")
    people = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    paused = models.BooleanField(default=False)
    # Materialisation cursor: the next due time not yet stored as an Occurrence, and when to
    # store it (the previous occurrence's due time, so the next one is always known ahead).
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    materialize_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def schedule_label(self) -> str:
        """The preset's words ("First Monday of each fiscal quarter"), or the rule in words
        ("Every 2 weeks on Thursday"); never the raw RRULE alone."""
        preset = PRESETS.get(self.preset)
        if preset:
            return preset.label
        team_zone = self.team.time_zone if self.team_id else "UTC"
        return describe(Schedule(self.rrule, team_zone, self.due_time, self.starts_on))

    def get_absolute_url(self) -> str:
        return reverse("cadences:cadence_detail", kwargs={"team": self.team.slug, "pk": self.pk})

    def schedule(self, team: Team | None = None) -> Schedule:
        team = team or self.team
        return Schedule(self.rrule, team.time_zone, self.due_time, self.starts_on)

    def activity_path(self) -> str:
        """Where the work happens: the section that registered this kind, else this page."""
        section = sections.for_activity(self.kind)
        return section.url(self.team) if section else self.get_absolute_url()


class State(models.TextChoices):
    UPCOMING = "upcoming", "Upcoming"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


OPEN_STATES = (State.UPCOMING, State.DUE, State.OVERDUE)


class Occurrence(models.Model):
    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="occurrences")
    due_at = models.DateTimeField()
    overdue_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.UPCOMING)
    # When the next reminder falls due (None once done, skipped or nothing left to send).
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="", max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    team_path = "cadence__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(fields=["cadence", "due_at"], name="occurrence_unique_due")
        ]
        indexes = [
            models.Index(
                fields=["next_reminder_at"],
                name="occurrence_reminder_idx",
                condition=models.Q(next_reminder_at__isnull=False),
            ),
            models.Index(fields=["state", "due_at"], name="occurrence_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cadence} due {self.due_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def current_state(self, now=None) -> str:
        """The state by the clock (the stored one is refreshed every minute by the beat)."""
        if not self.is_open:
            return self.state
        now = now or timezone.now()
        if now >= self.overdue_at:
            return State.OVERDUE
        if now >= self.due_at:
            return State.DUE
        return State.UPCOMING

    def get_current_state_display(self) -> str:
        return State(self.current_state()).label

    def timeline(self, cadence: Cadence | None = None) -> Timeline:
        cadence = cadence or self.cadence
        return timeline_for(cadence, self.due_at, self.overdue_at)


def timeline_for(cadence: Cadence, due_at, overdue_at, tz=None) -> Timeline:
    """The reminder points of one occurrence, in calendar days of the team's zone."""
    tz = tz or cadence.team.tz
    return Timeline(
        due_at=due_at,
        overdue_at=overdue_at,
        reminder_days=tuple(cadence.reminder_days or ()),
        nag_every=timedelta(days=cadence.nag_every_days) if cadence.nag_every_days else None,
        escalate_at=(
            shift_days(overdue_at, cadence.escalate_after_days, tz)
            if cadence.escalate_after_days is not None
            else None
        ),
        tz=tz,
    )


def overdue_at_for(cadence: Cadence, due_at, tz=None):
    """The end of the grace period: `grace_days` calendar days after the due time."""
    return shift_days(due_at, cadence.grace_days, tz or cadence.team.tz)


class ReminderKind(models.TextChoices):
    BEFORE = "before", "Before"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    ESCALATION = "escalation", "Escalation"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    INAPP = "inapp", "In-app"
    WEBHOOK = "webhook", "Webhook"


class ReminderStatus(models.TextChoices):
    CLAIMED = "claimed", "Claimed"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """What a Reminder and a Digest share: one message, claimed before it is sent.

    Every claim (first or retry) gets a new `claim_token`; the worker that holds it renews the
    lease (`next_attempt_at` while claimed) as it goes and writes each outcome with
    `WHERE claim_token = <its token>`, so a worker that lost its claim can neither send the
    rest of its batch nor undo what the new holder recorded.
    """

    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.CLAIMED
    )
    attempts = models.PositiveSmallIntegerField(default=1)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    attempted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Reminder(Delivery):
    """One message. Inserting the row claims it; `next_attempt_at` is the claim's lease (while
    claimed) or the retry time (after a failure; None once given up)."""

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    seq = models.PositiveIntegerField(default=0, help_text="Days before, or the nag number.")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["occurrence", "kind", "seq", "recipient", "channel"],
                name="reminder_exactly_once",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="reminder_retry_idx",
                condition=~models.Q(status="sent"),
            ),
            models.Index(fields=["channel", "attempted_at"], name="reminder_attempted_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.get_channel_display()} for {self.occurrence}"


class Digest(Delivery):
    """One member's weekly digest, claimed, sent, retried and recorded like a reminder."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="The Monday (team time) the digest is for.")

    class Meta:
        ordering = ["-week", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user", "week"], name="digest_once_a_week")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="digest_retry_idx",
                condition=~models.Q(status="sent"),
            ),
            models.Index(fields=["attempted_at"], name="digest_attempted_idx"),
        ]

    def __str__(self) -> str:
        return f"Digest of {self.week} for {self.user}"


class Notification(TeamScopedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["user", "team"],
                name="notification_unread_idx",
                condition=models.Q(read_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.text


def _feed_token() -> str:
    return secrets.token_urlsafe(24)


def _webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def validate_https(value: str) -> None:
    if value and not value.lower().startswith("https://"):
        raise ValidationError("Use an https:// webhook URL: reminders must not travel in clear.")


class TeamCadenceSettings(models.Model):
    """Per-team delivery settings (kept here so planning/teams stays untouched)."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="cadence_settings"
    )
    webhook_url = models.URLField(
        "Slack-compatible webhook URL",
        blank=True,
        default="",
        max_length=500,
        validators=[validate_https],
        help_text="Optional: reminders are also posted to this incoming webhook (https only).",
    )
    feed_token = models.CharField(max_length=64, unique=True, default=_feed_token, editable=False)
    webhook_secret = models.CharField(
        max_length=64,
        default=_webhook_secret,
        editable=False,
        help_text="Signs every webhook delivery (HMAC-SHA256); shown to owners.",
    )
    weekly_digest = models.BooleanField(
        default=True, help_text="Email each member a summary every Monday morning."
    )
    next_digest_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    class Meta:
        verbose_name = "team cadence settings"
        verbose_name_plural = "team cadence settings"

    def __str__(self) -> str:
        return f"Cadence settings of {self.team}"

    def save(self, *args, **kwargs) -> None:
        if self.next_digest_at is None:
            self.next_digest_at = next_digest_at(self.team.tz, timezone.now())
        super().save(*args, **kwargs)

    def rotate_webhook_secret(self) -> None:
        self.webhook_secret = _webhook_secret()
        self.save(update_fields=["webhook_secret"])

    def rotate_feed_token(self) -> None:
        self.feed_token = _feed_token()
        self.save(update_fields=["feed_token"])

    @classmethod
    def of(cls, team: Team) -> TeamCadenceSettings:
        """The team's settings, created on first use."""
        obj, _ = cls.objects.get_or_create(team=team)
        return obj
