"""The quarterly review: eight guided steps that end in a frozen, exportable plan.

Concurrency: every autosaved field carries a version; a write with a stale version is refused
(HTTP 409) and the person sees what their colleague saved instead of silently overwriting it.

Immutability: closing a review appends a PlanSnapshot (markdown + SHA-256). Snapshots are
append-only at the database level (a trigger refuses UPDATE and DELETE), and a closed review
refuses changes to its content until it is explicitly reopened; reopening keeps every
snapshot, so the history of plans survives.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from planning.teams.models import TeamScopedModel

from .logic import Step

_STEP_TEXTS = [
    ("Look back", "Every prediction due this quarter against what happened."),
    ("Draw new lines", "New or revised predictions for capability and business growth."),
    ("Capability audit", "This quarter's audit: decide what to do with ideas that lit up."),
    ("Saturation check", "The status of each form factor: invest, hold or shift."),
    ("Bottleneck map", "Refresh the map and name the stage that now limits the team."),
    ("Light and shade", "Opportunity and risk, side by side, for each major bet."),
    ("Prioritised backlog", "Lit-up ideas, bottleneck investments and shifts, ranked."),
    ("Commitments", "Process changes with an owner and a date; the next cadences."),
]
# (step, title, blurb), in Step order
STEPS = [(step, title, blurb) for step, (title, blurb) in zip(Step, _STEP_TEXTS, strict=True)]
STEP_NUMBERS = [n for n, _, _ in STEPS]

# What each step's decision may be (steps 3–5 decide about ideas, form factors and stages).
DECISION_CHOICES: dict[int, list[tuple[str, str]]] = {
    Step.AUDIT: [("promote", "Promote"), ("keep_dormant", "Keep dormant"), ("abandon", "Abandon")],
    Step.SATURATION: [("invest", "Invest"), ("hold", "Hold"), ("shift", "Shift form factor")],
    Step.BOTTLENECKS: [("invest", "Invest here"), ("watch", "Watch")],
}


class Review(TeamScopedModel):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    quarter = models.CharField(max_length=7, help_text="Fiscal quarter, e.g. 2026-Q3.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-quarter"]
        constraints = [
            models.UniqueConstraint(fields=["team", "quarter"], name="review_one_per_quarter")
        ]

    def __str__(self) -> str:
        return f"{self.quarter} review"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    def get_absolute_url(self) -> str:
        return reverse("reviews:review", kwargs={"team": self.team.slug, "quarter": self.quarter})

    def step_url(self, number: int) -> str:
        return reverse(
            "reviews:step", kwargs={"team": self.team.slug, "quarter": self.quarter, "n": number}
        )


class StepNote(models.Model):
    """The team's written conclusions for one step (autosaved, versioned)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="step_notes")
    step = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True, max_length=20000)
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["step"]
        constraints = [
            models.UniqueConstraint(fields=["review", "step"], name="stepnote_unique_step")
        ]

    def __str__(self) -> str:
        return f"{self.review} step {self.step}"


class Decision(models.Model):
    """A decision about one subject (an idea, a form factor, a bottleneck stage)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveSmallIntegerField()
    subject_key = models.CharField(max_length=80, help_text="e.g. idea:12, formfactor:3")
    subject_label = models.CharField(max_length=300)
    choice = models.CharField(max_length=30)
    note = models.TextField(blank=True, max_length=2000)
    version = models.PositiveIntegerField(default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["step", "subject_label"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "subject_key"], name="decision_one_per_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_label}: {self.choice}"

    @property
    def choice_label(self) -> str:
        return dict(DECISION_CHOICES.get(self.step, [])).get(self.choice, self.choice)


class BacklogItem(TeamScopedModel):
    class Source(models.TextChoices):
        AUDIT = "audit", "Lit-up idea"
        BOTTLENECK = "bottleneck", "Bottleneck investment"
        SATURATION = "saturation", "Form-factor shift"
        FREE = "free", "Other"

    supports_light_shade = True

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="backlog")
    title = models.CharField(max_length=200)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.FREE)
    subject_key = models.CharField(max_length=80, blank=True)
    rank = models.PositiveIntegerField(default=0)
    impact = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    effort = models.PositiveSmallIntegerField(null=True, blank=True)
    waived = models.BooleanField(
        default=False, help_text="Closing is allowed although light or shade is missing."
    )
    waive_reason = models.CharField(max_length=300, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def light_shade_locked(self) -> bool:
        """A closed review's bets are part of its frozen plan: their light and shade too."""
        return self.review.is_closed

    @property
    def subject_url(self) -> str:
        """The page of what the item came from (a lit-up idea links to the idea)."""
        kind, _, pk = self.subject_key.partition(":")
        if kind == "idea" and pk.isdigit():
            return reverse("audits:idea_detail", kwargs={"team": self.team.slug, "pk": int(pk)})
        return ""

    @property
    def score(self) -> float | None:
        from .logic import ice_score

        return ice_score(self.impact, self.confidence, self.effort)


class Commitment(TeamScopedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        MISSED = "missed", "Missed"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="commitments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commitments"
    )
    what = models.CharField(max_length=300)
    due_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    checked_in = models.ForeignKey(
        Review,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="checked_commitments",
        help_text="The later review that recorded whether it was met.",
    )
    follow_up = models.ForeignKey(
        "cadences.Cadence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The one-off cadence that reminds the owner.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return f"{self.what} ({self.owner}, by {self.due_date})"


class PlanSnapshot(models.Model):
    """The frozen plan written when a review closes. The database refuses UPDATEs."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveSmallIntegerField()
    markdown = models.TextField()
    content_hash = models.CharField(max_length=64)
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["review", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["review", "number"], name="snapshot_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.review} plan v{self.number}"
