"""Lines on Graphs: metrics, observations (with history), predictions and their resolution.

A prediction is a draft until it is committed; committing records `committed_at` and a
SHA-256 of its canonical content. From then on the database refuses any change to its
committed fields (trigger in migration 0002); a revision is a new prediction whose
`supersedes` points at the old one, which stays on the chart, dimmed.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from planning.facilitator.models import ModelUsage
from planning.teams.models import TeamScopedModel, TeamScopedQuerySet

from . import trajectory
from .trajectory import Band, Trajectory, content_hash, parse_band, parse_trajectory

if TYPE_CHECKING:
    from .connected import Badge


class Scale(models.TextChoices):
    LINEAR = "linear", "Linear"
    LOG = "log", "Logarithmic"


class Metric(TeamScopedModel):
    n_committed: int  # predictions in force, set by the metric list view
    connected: Badge | None  # the "connected" badge, set by the metric list view

    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=30, blank=True, help_text="For example %, minutes or $.")
    # The choices are trajectory.Scale's values: typed as that Literal.
    scale: models.CharField[trajectory.Scale, trajectory.Scale] = models.CharField(
        max_length=6,
        choices=Scale.choices,
        default=Scale.LOG,
        help_text="Log suits things that grow by multiples (time horizons, revenue).",
    )
    higher_is_better = models.BooleanField(default=True)
    description = models.TextField(blank=True, help_text="How it is measured and where from.")
    definition_version = models.PositiveIntegerField(default=1)
    version_note = models.TextField(
        blank=True, help_text="What changed in the definition, and when."
    )
    version_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="metric_unique_name_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit and not self.name_shows_unit else self.name

    @property
    def name_shows_unit(self) -> bool:
        """True when the name already says its unit ("… (minutes)"): never "(minutes) (minutes)"."""
        unit = self.unit.strip().lower()
        return bool(unit) and self.name.strip().lower().endswith(f"({unit})")

    def get_absolute_url(self) -> str:
        return reverse("predictions:metric_detail", kwargs={"team": self.team.slug, "pk": self.pk})

    @property
    def is_log(self) -> bool:
        return self.scale == Scale.LOG


class Observation(models.Model):
    """What actually happened. One value per metric and date; changes leave a history row."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="observations")
    observed_at = models.DateField()
    value = models.FloatField()
    source = models.CharField(max_length=500, blank=True)
    definition_version = models.PositiveIntegerField(default=1)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    team_path = "metric__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["metric", "observed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "observed_at"], name="observation_one_per_metric_and_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric.name} on {self.observed_at}: {self.value}"


class ObservationChange(models.Model):
    """History: the value and source an observation had before someone changed it."""

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="changes")
    old_value = models.FloatField()
    new_value = models.FloatField()
    old_source = models.CharField(max_length=500, blank=True)
    new_source = models.CharField(max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=20, default="form")

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.observation}: {self.old_value} → {self.new_value}"


class Kind(models.TextChoices):
    LINE = "line", "Line on a graph"
    THRESHOLD = "threshold", "Threshold by a date"


# Columns the database freezes once committed_at is set (see migration 0002).
COMMITTED_FIELDS = [
    "team",
    "metric",
    "author",
    "kind",
    "title",
    "rationale",
    "made_at",
    "horizon",
    "trajectory",
    "band",
    "threshold_value",
    "threshold_above",
    "probability",
    "definition_version",
    "supersedes",
    "committed_at",
    "content_hash",
]


class PredictionQuerySet(TeamScopedQuerySet):
    def committed(self):
        return self.filter(committed_at__isnull=False)

    def with_successor(self):
        """Annotate `successor_id` and `successor_committed_at`: the committed revision that
        superseded each prediction (None while it is the current line)."""
        revisions = Prediction.objects.filter(
            supersedes=models.OuterRef("pk"), committed_at__isnull=False
        )
        return self.annotate(
            successor_id=models.Subquery(revisions.values("pk")[:1]),
            successor_committed_at=models.Subquery(revisions.values("committed_at")[:1]),
        )

    def current(self):
        """Committed predictions no committed revision has superseded."""
        return self.committed().exclude(
            pk__in=Prediction.objects.filter(committed_at__isnull=False).values("supersedes")
        )


class Prediction(TeamScopedModel):
    supports_light_shade = True

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="predictions")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="predictions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LINE)
    title = models.CharField("claim", max_length=200)
    rationale = models.TextField(blank=True, help_text="Why you believe it. Markdown.")
    made_at = models.DateTimeField(default=timezone.now)
    horizon = models.DateField(help_text="The line runs until this date.")
    trajectory = models.JSONField(null=True, blank=True)
    band = models.JSONField(null=True, blank=True)
    threshold_value = models.FloatField(null=True, blank=True)
    threshold_above = models.BooleanField(
        default=True, help_text="Reaches the value from below (unchecked: falls to it)."
    )
    probability = models.FloatField(null=True, blank=True)
    definition_version = models.PositiveIntegerField(default=1)
    supersedes = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="revisions"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)

    # Who superseded this prediction: from with_successor() (annotations) or _successor().
    successor_id: int | None
    successor_committed_at: datetime | None
    notes_copied: int  # notes carried over from the superseded prediction (services)

    # django-stubs types each model's manager: this one replaces TeamScopedModel's.
    objects = PredictionQuerySet.as_manager()  # type: ignore[misc]  # a narrower manager

    class Meta:
        ordering = ["-made_at", "-pk"]
        indexes = [models.Index(fields=["metric", "committed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(committed_at__isnull=True, content_hash="")
                | Q(committed_at__isnull=False, content_hash__regex=r"^[0-9a-f]{64}$"),
                name="prediction_hash_iff_committed",
            ),
            models.CheckConstraint(
                condition=Q(kind="line", trajectory__isnull=False, band__isnull=False)
                | Q(
                    kind="threshold",
                    threshold_value__isnull=False,
                    probability__gt=0,
                    probability__lt=1,
                ),
                name="prediction_kind_has_its_fields",
            ),
            models.UniqueConstraint(
                fields=["supersedes"],
                condition=Q(committed_at__isnull=False),
                name="prediction_one_committed_revision",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(
            "predictions:prediction_detail", kwargs={"team": self.team.slug, "pk": self.pk}
        )

    @property
    def is_committed(self) -> bool:
        return self.committed_at is not None

    @property
    def is_line(self) -> bool:
        return self.kind == Kind.LINE

    def _successor(self) -> tuple[int | None, Any]:
        """(id, committed_at) of the committed revision that superseded this prediction: from
        `with_successor()` when annotated, else one query (cached)."""
        if "successor_id" not in self.__dict__:
            row = None
            if self.is_committed and self.pk:
                row = (
                    Prediction.objects.filter(supersedes=self, committed_at__isnull=False)
                    .values_list("pk", "committed_at")
                    .first()
                )
            self.successor_id, self.successor_committed_at = row or (None, None)
        return self.successor_id, self.__dict__.get("successor_committed_at")

    def set_successor(self, successor: Prediction | None) -> None:
        """Record what superseded this prediction (when the caller already has it)."""
        if successor is not None and successor.is_committed:
            self.successor_id, self.successor_committed_at = successor.pk, successor.committed_at
        else:
            self.successor_id = self.successor_committed_at = None

    @property
    def superseded_by_id(self) -> int | None:
        return self._successor()[0]

    @property
    def superseded_at(self):
        return self._successor()[1]

    @property
    def is_superseded(self) -> bool:
        return self.superseded_by_id is not None

    @property
    def status(self) -> str:
        """draft, committed, or superseded (a committed revision replaced it)."""
        if not self.is_committed:
            return "draft"
        return "superseded" if self.is_superseded else "committed"

    @cached_property
    def line(self) -> tuple[Trajectory, Band]:
        scale = self.metric.scale
        # A line prediction has both (the prediction_kind_has_its_fields constraint).
        return parse_trajectory(cast(dict, self.trajectory), scale), parse_band(
            cast(dict, self.band), scale
        )

    @property
    def start(self) -> date:
        if self.is_line:
            return self.line[0].start
        return timezone.localdate(self.made_at)

    def describe(self) -> str:
        if not self.is_line:
            verb = "reaches" if self.threshold_above else "falls to"
            from .trajectory import format_probability, format_value

            return (
                f"{verb} {format_value(self.threshold_value, self.metric.unit)} by "
                f"{self.horizon.isoformat()} "
                f"({format_probability(cast(float, self.probability))} likely)"
            )
        traj, _ = self.line
        return traj.describe(self.metric.unit)

    def describe_band(self) -> str:
        if not self.is_line:
            return ""
        _, band = self.line
        return band.describe(self.metric.unit, self.metric.scale)

    def canonical_content(self) -> dict[str, Any]:
        """Everything the hash covers, as plain JSON types."""
        return {
            "id": self.pk,
            "team": self.team_id,
            "metric": self.metric_id,
            "author": self.author_id,
            "kind": self.kind,
            "claim": self.title,
            "rationale": self.rationale,
            "made_at": self.made_at.isoformat(),
            "horizon": self.horizon.isoformat(),
            "trajectory": self.trajectory,
            "band": self.band,
            "threshold": None
            if self.kind == Kind.LINE
            else {
                "value": self.threshold_value,
                "above": self.threshold_above,
                "probability": self.probability,
            },
            "definition_version": self.definition_version,
            "supersedes": self.supersedes_id,
            "committed_at": self.committed_at.isoformat() if self.committed_at else None,
        }

    def compute_hash(self) -> str:
        return content_hash(self.canonical_content())

    @property
    def hash_verified(self) -> bool:
        return bool(self.content_hash) and self.compute_hash() == self.content_hash


class Resolution(models.Model):
    """How a threshold prediction came out: from the data, or by hand with a note."""

    class Method(models.TextChoices):
        AUTO = "auto", "From observations"
        MANUAL = "manual", "By hand"

    prediction = models.OneToOneField(
        Prediction, on_delete=models.CASCADE, related_name="resolution"
    )
    outcome = models.BooleanField()
    method = models.CharField(max_length=6, choices=Method.choices)
    settled_on = models.DateField(null=True, blank=True, help_text="Observation that settled it.")
    note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.prediction}: {'yes' if self.outcome else 'no'}"


class Reveal(models.Model):
    """Under anti-anchoring, a member chose to see others' lines before committing their own."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="reveals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "user"], name="reveal_once_per_metric")
        ]

    def __str__(self) -> str:
        return f"{self.user} revealed {self.metric}"


class SourceFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"


class MetricSource(models.Model):
    """Where a metric's observations are fetched from, how to read them, and how the last
    fetches went (predictions/fetching.py). One per metric.

    `next_fetch_at` is both the schedule and the claim: a worker takes a due source by moving
    it forward (with a fresh `claim_token`) in the same statement that finds it, so two
    workers on one tick never fetch the same source. The credential header's value is stored
    encrypted (predictions/secrets.py) and never shown again.
    """

    SCHEDULES = [(1, "Every hour"), (6, "Every 6 hours"), (24, "Daily"), (168, "Weekly")]

    metric = models.OneToOneField(Metric, on_delete=models.CASCADE, related_name="source")
    url = models.URLField("URL", max_length=2000)
    format = models.CharField(max_length=4, choices=SourceFormat.choices, default=SourceFormat.CSV)
    rows = models.CharField("rows (JSON)", max_length=200, blank=True)
    date_field = models.CharField("date column or field", max_length=200)
    value_field = models.CharField("value column or field", max_length=200)
    filter = models.CharField(max_length=300, blank=True)
    factor = models.FloatField("unit conversion factor", default=1.0)
    every_hours = models.PositiveIntegerField("schedule", choices=SCHEDULES, default=24)
    header_name = models.CharField("credential header", max_length=100, blank=True)
    header_value_encrypted = models.TextField(blank=True, editable=False)
    active = models.BooleanField(default=True)

    # the schedule and the claim
    next_fetch_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # conditional requests
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    # how it went
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_result = models.CharField(max_length=300, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    failure_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    team_path = "metric__team"
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["next_fetch_at"], name="source_due_idx", condition=Q(active=True))
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(factor=0), name="source_factor_not_zero")
        ]

    def __str__(self) -> str:
        return f"{self.metric.name} from {self.host}"

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname or self.url

    @property
    def has_credential(self) -> bool:
        return bool(self.header_value_encrypted)

    def describe(self, tz) -> str:
        """For the quarterly review's look-back: where the values come from, and when."""
        if self.last_fetched_at is None:
            return f"updated automatically from {self.host}, not fetched yet"
        when = timezone.localtime(self.last_fetched_at, tz).strftime("%-d %b %Y %H:%M %Z")
        return f"updated automatically from {self.host}, last fetched {when}"

    @property
    def provenance(self) -> str:
        """The observations' `source` text: where they were fetched from."""
        return f"fetched from {self.host}"[:500]


class MetricPush(models.Model):
    """A metric's inbound push URL: the token is shown once; only its SHA-256 is kept."""

    metric = models.OneToOneField(Metric, on_delete=models.CASCADE, related_name="push")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(null=True, blank=True)

    team_path = "metric__team"
    objects = TeamScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Push URL of {self.metric.name}"


class Critique(ModelUsage, TeamScopedModel):
    """A Claude critique of a rationale on the prediction form (issue 19): advice shown beside
    the form, never applied to the prediction. `sent` is exactly what the model was given."""

    class Status(models.TextChoices):
        RUNNING = "running", "Critiquing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="critiques")
    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    sent = models.TextField(blank=True)
    text = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "created_at"], name="critique_team_month")]

    def __str__(self) -> str:
        return f"Critique of a forecast of {self.metric}"
