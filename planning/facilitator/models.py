"""The Claude facilitator: a per-team setting and the drafts it wrote for review steps."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from planning.teams.models import Team, TeamScopedModel

from .citations import EvidenceItem


class FacilitatorSetting(models.Model):
    """Off by default; an owner turns it on (the settings page says what is sent)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="facilitator")
    enabled = models.BooleanField(default=False)
    model_id = models.CharField(
        max_length=100, blank=True, help_text="Empty: the newest model the Models API lists."
    )
    monthly_budget_usd = models.DecimalField(max_digits=9, decimal_places=2, default=Decimal(5))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Facilitator for {self.team} ({'on' if self.enabled else 'off'})"


class Draft(TeamScopedModel):
    class Status(models.TextChoices):
        RUNNING = "running", "Drafting"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        ACCEPTED = "accepted", "Accepted"
        DISCARDED = "discarded", "Discarded"

    review = models.ForeignKey("reviews.Review", on_delete=models.CASCADE, related_name="drafts")
    step = models.PositiveSmallIntegerField()
    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    evidence = models.JSONField(default=list, blank=True, help_text="The items sent, with ids.")
    text = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal(0))
    accepted_text = models.TextField(blank=True, help_text="What was appended to the notes.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "created_at"], name="draft_team_month")]

    def __str__(self) -> str:
        return f"Draft of {self.review} step {self.step}"

    @property
    def items(self) -> list[EvidenceItem]:
        return [EvidenceItem.from_dict(d) for d in self.evidence or []]
