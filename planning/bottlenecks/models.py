"""Bottleneck maps: a team's delivery workflow, stage by stage, with AI speed-ups.

A map describes one unit of work ("one feature from idea to production") in one quarter;
"copy to next quarter" snapshots it so the team can watch the bottleneck move. Stages carry
the team too (kept equal to the map's team on save) so light-and-shade notes and tenancy
helpers can scope them like any other team object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from planning.teams.models import TeamScopedModel, TeamScopedQuerySet

from . import analysis

if TYPE_CHECKING:
    from planning.notes.services import LightShade

QUARTER_VALIDATOR = RegexValidator(r"^\d{4}-Q[1-4]$", "Use a quarter like 2026-Q1.")
MAX_HOURS = 100_000
MIN_SPEEDUP = 0.01
MAX_SPEEDUP = 10_000

HOURS_VALIDATORS = [
    MinValueValidator(0, "Hours cannot be negative."),
    MaxValueValidator(MAX_HOURS, f"Keep it under {MAX_HOURS:,} hours."),
]
SPEEDUP_VALIDATORS = [
    MinValueValidator(
        MIN_SPEEDUP, f"Use at least {MIN_SPEEDUP} (below 1 means the stage got slower)."
    ),
    MaxValueValidator(MAX_SPEEDUP, f"Use at most {MAX_SPEEDUP:,}×."),
]


class Mode(models.TextChoices):
    AMDAHL = "amdahl", "Same scope, faster (Amdahl)"
    GUSTAFSON = "gustafson", "More scope, same time (Gustafson)"


class BottleneckMap(TeamScopedModel):
    name = models.CharField(max_length=120)
    unit_of_work = models.CharField(
        max_length=200,
        default="one feature from idea to production",
        help_text="What one pass through the workflow delivers; hours are per unit.",
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AMDAHL)
    quarter = models.CharField(max_length=7, validators=[QUARTER_VALIDATOR])
    copied_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-quarter", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name", "quarter"], name="bottleneckmap_unique_name_quarter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.quarter})"

    def get_absolute_url(self) -> str:
        return reverse("bottlenecks:map_detail", kwargs={"team": self.team.slug, "pk": self.pk})


class Stage(TeamScopedModel):
    supports_light_shade = True

    # Set by the workspace view (bottlenecks.views) for the stage table's rows.
    ls: LightShade  # the stage's notes
    slider: dict[str, Any]
    res: analysis.StageResult
    deps: list[Stage]
    meets_target: bool
    url: str

    map = models.ForeignKey(BottleneckMap, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=80)
    order = models.PositiveIntegerField(default=0)
    active_hours = models.FloatField(
        default=0, validators=HOURS_VALIDATORS, help_text="Hands-on work per unit."
    )
    waiting_hours = models.FloatField(
        default=0, validators=HOURS_VALIDATORS, help_text="Queues and approvals per unit."
    )
    speedup_active = models.FloatField(
        "AI speed-up on active time", default=1, validators=SPEEDUP_VALIDATORS
    )
    speedup_waiting = models.FloatField(
        "Speed-up on waiting time", default=1, validators=SPEEDUP_VALIDATORS
    )
    target_speedup = models.FloatField(null=True, blank=True, validators=SPEEDUP_VALIDATORS)
    owner = models.CharField(max_length=100, blank=True)
    notes = models.TextField(max_length=2000, blank=True)
    # Light-and-shade notes go when the stage goes.
    light_shade_notes = GenericRelation("notes.Note")

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["map", "name"], name="stage_unique_name_per_map"),
            models.CheckConstraint(
                condition=Q(active_hours__gte=0) & Q(waiting_hours__gte=0),
                name="stage_hours_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(speedup_active__gt=0) & Q(speedup_waiting__gt=0),
                name="stage_speedups_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.team_id = self.map.team_id
        super().save(*args, **kwargs)

    @property
    def total_hours(self) -> float:
        return self.active_hours + self.waiting_hours

    def as_input(
        self, speedups: Mapping[int, tuple[float, float]] | None = None
    ) -> analysis.StageInput:
        """The analysis view of this stage; `speedups` overrides (active, waiting) for what-ifs."""
        active, waiting = (speedups or {}).get(self.pk, (self.speedup_active, self.speedup_waiting))
        return analysis.StageInput(
            key=self.pk,
            name=self.name,
            active=self.active_hours,
            waiting=self.waiting_hours,
            speedup_active=active,
            speedup_waiting=waiting,
        )


class StageDependency(models.Model):
    """`stage` cannot start before `depends_on` has finished (an edge depends_on → stage)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="dependents")

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "stage dependencies"
        constraints = [
            models.UniqueConstraint(fields=["stage", "depends_on"], name="stagedep_unique"),
            models.CheckConstraint(condition=~Q(stage=F("depends_on")), name="stagedep_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.depends_on} → {self.stage}"

    def clean(self) -> None:
        if self.stage.map_id != self.depends_on.map_id:
            raise ValidationError("A stage can only depend on stages of the same map.")


class Scenario(models.Model):
    """A saved what-if: speed-ups per stage, {"<stage id>": {"active": x, "waiting": y}}."""

    map = models.ForeignKey(BottleneckMap, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=120)
    speedups = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    team_path = "map__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def speedups_by_stage(self) -> dict[int, tuple[float, float]]:
        out = {}
        for key, value in (self.speedups or {}).items():
            try:
                out[int(key)] = (float(value["active"]), float(value["waiting"]))
            except (KeyError, TypeError, ValueError):
                continue
        return out


# --------------------------------------------------------------------------- measured maps
class DeliverySource(models.TextChoices):
    GITHUB = "github", "GitHub pull requests"
    TRACKER = "tracker", "Issue-tracker status changes"


class DeliveryUpload(TeamScopedModel):
    """A delivery-history CSV as it was uploaded for a map, already read without a problem
    (planning.csvimport's limits: at most 2 MB). Kept so its columns and stages can be mapped,
    and windows compared, before anything is made of it; the map itself is never changed."""

    map = models.ForeignKey(BottleneckMap, on_delete=models.CASCADE, related_name="uploads")
    source = models.CharField(max_length=10, choices=DeliverySource.choices)
    filename = models.CharField(max_length=255, blank=True)
    text = models.TextField()
    rows = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.filename or 'upload'}"


class DeliveryMapping(TeamScopedModel):
    """The team's last choice of columns and stages for one kind of export, offered again on
    the next upload. `columns`: field → header; `stages`: segment or status →
    {"stage": stage name, "kind": "active" | "waiting"} (names, so it fits every map version)."""

    source = models.CharField(max_length=10, choices=DeliverySource.choices)
    columns = models.JSONField(default=dict)
    stages = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "source"], name="deliverymapping_unique")
        ]

    def __str__(self) -> str:
        return self.get_source_display()


class Measurement(TeamScopedModel):
    """How a map version's hours were measured: the export, the window (and the rollout date
    splitting it in two), and per stage the distributions behind the hours
    (`stats`: {"<stage pk>": {"active": …, "waiting": …, "active_after": …, "waiting_after": …}},
    each a delivery.Distribution as a dict, or null)."""

    map = models.OneToOneField(BottleneckMap, on_delete=models.CASCADE, related_name="measurement")
    source = models.CharField(max_length=10, choices=DeliverySource.choices)
    filename = models.CharField(max_length=255, blank=True)
    window_start = models.DateField()
    window_end = models.DateField()
    rollout = models.DateField(null=True, blank=True)
    time_zone = models.CharField(max_length=64)
    items = models.PositiveIntegerField()
    stats = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__lte=F("window_end")), name="measurement_window_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.map} measured {self.window_start}–{self.window_end}"
