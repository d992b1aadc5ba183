"""Form factors and their saturation readings (one per model generation)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from planning.teams.models import TeamScopedModel, TeamScopedQuerySet

AUDITS_SOURCE = "audits"


class Status(models.TextChoices):
    GROWING = "growing", "Growing"
    SATURATING = "saturating", "Saturating"
    SATURATED = "saturated", "Saturated"
    RETIRED = "retired", "Retired"


class Verdict(models.TextChoices):
    """What the evidence says (planning.saturation.analysis), kept for lists and the dashboard."""

    INSUFFICIENT = "insufficient", "Not enough evidence"
    GROWING = "growing", "Still growing"
    UNCLEAR = "unclear", "Mixed signals"
    SATURATING = "saturating", "Saturating"


# The status a verdict implies when nobody set it by hand, and what its badge says.
VERDICT_STATUS: dict[str, str] = {
    Verdict.SATURATING: Status.SATURATING,
    Verdict.GROWING: Status.GROWING,
}
VERDICT_STATUS_LABELS: dict[str, str] = {
    Verdict.SATURATING: "Saturating",
    Verdict.GROWING: "Growing",
    Verdict.UNCLEAR: "Unclear",
    Verdict.INSUFFICIENT: "Too early to tell",
}


def status_for(verdict: str) -> str:
    """The status that follows `verdict` (unclear or too few readings keep "growing")."""
    return VERDICT_STATUS.get(verdict, Status.GROWING)


class Scale(models.TextChoices):
    LINEAR = "linear", "Linear"
    LOG = "log", "Logarithmic"


class FormFactor(TeamScopedModel):
    """A way the product meets its users (chat assistant, IDE copilot, autonomous agent…)."""

    supports_light_shade = True

    name = models.CharField(max_length=100)
    product = models.CharField(max_length=100, blank=True, help_text="The product it belongs to.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.GROWING)
    # False: the status follows the verdict (refresh_verdict keeps it in step); True: a person
    # chose it in the form, and the page says so.
    status_by_hand = models.BooleanField(default=False)
    status_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    status_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_form_factor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="previous",
        help_text="The form factor that should take over when this one saturates.",
    )
    notes = models.TextField(blank=True, max_length=5000)
    verdict = models.CharField(
        max_length=12, choices=Verdict.choices, default=Verdict.INSUFFICIENT, editable=False
    )
    verdict_headline = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint("team", Lower("name"), name="saturation_formfactor_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("saturation:formfactor", kwargs={"team": self.team.slug, "pk": self.pk})

    def clean(self) -> None:
        if self.next_form_factor_id and self.next_form_factor_id == self.pk:
            raise ValidationError({"next_form_factor": "A form factor cannot follow itself."})

    @property
    def status_label(self) -> str:
        """What the status badge says: the person's choice, or what the readings say."""
        if self.status_by_hand:
            return self.get_status_display()
        return VERDICT_STATUS_LABELS.get(self.verdict, self.get_status_display())

    @property
    def status_contradicts_verdict(self) -> bool:
        """A status set by hand that the readings do not support (both sides are definite)."""
        if not self.status_by_hand or self.verdict not in (Verdict.GROWING, Verdict.SATURATING):
            return False
        flagged = self.status in (Status.SATURATING, Status.SATURATED)
        return flagged != (self.verdict == Verdict.SATURATING) and self.status != Status.RETIRED

    @property
    def needs_successor(self) -> bool:
        """Time to consider the next form factor: the evidence or the team says it saturates."""
        if self.next_form_factor_id or self.status == Status.RETIRED:
            return False
        return self.verdict == Verdict.SATURATING or self.status in (
            Status.SATURATING,
            Status.SATURATED,
        )


class SaturationReading(models.Model):
    """One model generation (or period): its capability and the product metric it produced."""

    form_factor = models.ForeignKey(FormFactor, on_delete=models.CASCADE, related_name="readings")
    model_name = models.CharField(max_length=100)
    release_date = models.DateField()
    capability = models.FloatField(
        help_text="From the benchmark you chose, or your audits' pass rate for this model."
    )
    capability_source = models.CharField(
        max_length=100, help_text="Benchmark name, or “audits” for your own audit pass rate."
    )
    product_value = models.FloatField()
    product_metric = models.CharField(max_length=100, help_text="Task success, CSAT, retention…")
    product_scale = models.CharField(max_length=6, choices=Scale.choices, default=Scale.LINEAR)
    cost_per_task = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="US dollars, optional."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    team_path = "form_factor__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["release_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                "form_factor", Lower("model_name"), name="saturation_reading_unique_model"
            )
        ]
        indexes = [models.Index(fields=["form_factor", "release_date"])]

    def __str__(self) -> str:
        return f"{self.form_factor} · {self.model_name}"

    @property
    def audit_derived(self) -> bool:
        return self.capability_source.strip().casefold() == AUDITS_SOURCE
