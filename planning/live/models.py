"""Durable live sessions: a team-owned event log that workers append to and browsers follow.

`LiveSession` is the addressable resource (UUID); `LiveEvent` rows are its ordered log, keyed
by (session, seq). `seq` is gapless and commit-ordered because it is allocated from
`LiveSession.last_seq` while the session row is locked (SELECT ... FOR UPDATE) in the same
transaction as the insert — see `planning.live.writer`.

Event types used by the layer itself (features may add their own):
    started    a (re)delivered task claimed the session: {"epoch": n}
    token      coalesced text deltas: {"text": "...", "stream": "main"}
    progress   {"done": n, "total": m, "label": "..."}
    result     a feature-specific result object
    error      a non-fatal error shown to the user
    stopping   cancel was requested: {"by": "name"}
    text       compaction left the whole text of a stream: {"text": "...", "stream": "main"}
    steer      an editor's instruction to a running generation: {"text": "...", "by": "name"}
    steer_applied  the worker continued with a steer: {"steer": seq, "text": "..."}
    completed | cancelled | failed   exactly one terminal event; the session's status
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from planning.teams.models import TeamScopedModel


class Status(models.TextChoices):
    ACTIVE = "active", "Live"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


TERMINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.FAILED})


class LiveSession(TeamScopedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=50, help_text="What the work is, e.g. demo or audit_run.")
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    last_seq = models.PositiveBigIntegerField(default=0, help_text="Counter for event seq.")
    epoch = models.PositiveIntegerField(
        default=0, help_text="Bumped by every (re)delivery of the task; older writers are fenced."
    )
    celery_task_id = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    compacted_through = models.PositiveBigIntegerField(
        default=0, help_text="Token events up to this seq were compacted into text events."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="live_session_status_hb"),
            models.Index(fields=["team", "-created_at"], name="live_session_team_recent"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("live:session", kwargs={"session_id": self.pk})

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def events_url(self) -> str:
        return reverse("live:events", kwargs={"session_id": self.pk})

    @property
    def cancel_url(self) -> str:
        return reverse("live:cancel", kwargs={"session_id": self.pk})

    @property
    def steer_url(self) -> str:
        return reverse("live:steer", kwargs={"session_id": self.pk})

    @property
    def log_url(self) -> str:
        return reverse("live:log", kwargs={"session_id": self.pk})


class LiveEvent(models.Model):
    pk = models.CompositePrimaryKey("session_id", "seq")
    # the composite primary key (session_id, seq) already indexes the session
    session = models.ForeignKey(
        LiveSession, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=30)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.type}"
