"""The Claude facilitator: a per-team setting and the drafts it wrote for review steps."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from planning.teams.models import Team, TeamScopedModel

from .citations import EvidenceItem


class ModelUsage(models.Model):
    """The model a Claude generation used and what it cost: the fields every row that records
    one shares (drafts, side proposals, probe proposals, critiques)."""

    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal(0))

    class Meta:
        abstract = True


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


class Draft(ModelUsage, TeamScopedModel):
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
    turns = models.PositiveSmallIntegerField(
        default=0, help_text="Model calls made (a steer ends one and starts the next)."
    )
    steers = models.JSONField(
        default=list, blank=True, help_text="Instructions applied, in order: text, by, at (chars)."
    )
    follows = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revisions",
        help_text="The finished draft this one revises (an instruction sent after its end).",
    )
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
    def revision_request(self) -> dict | None:
        """The instruction a revision was asked with (None for a first draft)."""
        return next((s for s in self.steers or [] if s.get("revision")), None)

    @property
    def steered(self) -> list[dict]:
        """The instructions applied while this draft streamed, in order."""
        return [s for s in self.steers or [] if not s.get("revision")]

    @property
    def items(self) -> list[EvidenceItem]:
        return [EvidenceItem.from_dict(d) for d in self.evidence or []]


class SideRun(TeamScopedModel):
    """One "Find the missing side" generation over a review's one-sided bets: one live
    session, one model call (and one Celery task) per bet, each writing its own part."""

    review = models.ForeignKey("reviews.Review", on_delete=models.CASCADE, related_name="side_runs")
    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.CharField(max_length=100, blank=True)
    evidence = models.JSONField(default=list, blank=True, help_text="The items sent, with ids.")
    parts_total = models.PositiveSmallIntegerField(default=0)
    parts_done = models.PositiveSmallIntegerField(
        default=0, help_text="Bets whose part has ended; the last one ends the session."
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "created_at"], name="siderun_team_month")]

    def __str__(self) -> str:
        return f"Missing sides of {self.review} ({self.parts_total} bets)"


class SideProposal(ModelUsage, TeamScopedModel):
    """Claude's proposal of a bet's missing side: a proposal until a person accepts it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Proposing"
        READY = "ready", "Proposal"
        FAILED = "failed", "Failed"
        ACCEPTED = "accepted", "Accepted"
        DISCARDED = "discarded", "Discarded"

    run = models.ForeignKey(SideRun, on_delete=models.CASCADE, related_name="proposals")
    bet = models.ForeignKey(
        "reviews.BacklogItem", on_delete=models.CASCADE, related_name="side_proposals"
    )
    kind = models.CharField(max_length=5, help_text="The missing side: light or shade.")
    order = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    text = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    cache_creation_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    note = models.ForeignKey(
        "notes.Note",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The note an accept made.",
    )
    accepted_text = models.TextField(blank=True)
    edited = models.BooleanField(default=False, help_text="Changed by a person before accepting.")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "order"]
        indexes = [models.Index(fields=["team", "created_at"], name="sideproposal_team_month")]

    def __str__(self) -> str:
        return f"Proposed {self.kind} of {self.bet}"

    @property
    def usage_words(self) -> str:
        from .sides import usage_words

        return usage_words(self.__dict__)

    @property
    def side_label(self) -> str:
        return {"light": "light (opportunity)", "shade": "shade (risk)"}.get(self.kind, self.kind)

    @property
    def stream(self) -> str:
        """The live stream this bet's part writes to."""
        return f"bet-{self.bet_id}"
