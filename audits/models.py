"""Capability Lighting-Up: ideas that failed for want of a better model, their probes, the
models they are tried on, audit runs and every sampled result."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from planning.facilitator.models import ModelUsage
from planning.teams.models import TeamScopedModel, TeamScopedQuerySet

if TYPE_CHECKING:
    from planning.notes.services import LightShade


class IdeaStatus(models.TextChoices):
    DORMANT = "dormant", "Dormant"
    RETESTING = "retesting", "Retesting"
    LIT_UP = "lit_up", "Lit up"
    PROMOTED = "promoted", "Promoted"
    ABANDONED = "abandoned", "Abandoned"


class Idea(TeamScopedModel):
    supports_light_shade = True
    ls: LightShade  # the idea's notes, set by the idea list view

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    capability_needed = models.CharField(
        max_length=200, blank=True, help_text="What the model could not yet do."
    )
    why_failed = models.TextField(
        blank=True, help_text="Optional note: what went wrong when it was tried."
    )
    # The recorded failure every idea starts from: the model it failed on (or "a model
    # before" failed_at when no model is named). Logging the idea is the failure by default.
    failed_model = models.CharField(
        max_length=100, blank=True, help_text="The model it failed on, if you know it."
    )
    failed_at = models.DateTimeField(
        default=timezone.now, help_text="When it failed (default: when it was logged)."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=IdeaStatus.choices, default=IdeaStatus.DORMANT, db_index=True
    )
    pass_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01), MaxValueValidator(1.0)],
        help_text="Share of probes that must pass on a model; empty means all of them.",
    )
    last_tried_at = models.DateTimeField(null=True, blank=True)
    last_tried_model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("audits:idea_detail", kwargs={"team": self.team.slug, "pk": self.pk})

    @property
    def failed_on(self) -> str:
        """The recorded failure in words: "sim-claude-3 (2 Mar 2025)" or "a model before …"."""
        tz = self.team.tz if "team" in self._state.fields_cache else None
        day = timezone.localtime(self.failed_at, tz).strftime("%-d %b %Y") if self.failed_at else ""
        if self.failed_model:
            return f"{self.failed_model} ({day})" if day else self.failed_model
        return f"a model before {day}" if day else "an earlier model"

    def set_status(
        self,
        status: str,
        user=None,
        reason: str = "",
        run=None,
        expect: tuple[str, ...] | None = None,
    ) -> IdeaStatusChange | None:
        """Change the status and record who, when and why. Idempotent: the row is locked and
        read again first, so a retry or a double click finds the status already set and does
        nothing. `expect`: change only from one of these statuses."""
        with transaction.atomic():
            statuses = Idea.objects.select_for_update().values_list("status", flat=True)
            current = statuses.get(pk=self.pk)
            if current == status or (expect is not None and current not in expect):
                self.status = current
                return None
            change = IdeaStatusChange.objects.create(
                idea=self,
                from_status=current,
                to_status=status,
                changed_by=user,
                reason=reason,
                run=run,
            )
            self.status = status
            Idea.objects.filter(pk=self.pk).update(status=status, updated_at=timezone.now())
        return change


class IdeaStatusChange(models.Model):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=IdeaStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=IdeaStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    run = models.ForeignKey(
        "AuditRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The audit run whose evidence made the change.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.idea}: {self.from_status} → {self.to_status}"


class GraderKind(models.TextChoices):
    CONTAINS = "contains", "Contains"
    NOT_CONTAINS = "not_contains", "Does not contain"
    EQUALS = "equals", "Equals"
    REGEX = "regex", "Matches a regular expression"
    JSON_SCHEMA = "json_schema", "Valid JSON matching a schema"
    NUMBER = "number", "Number within tolerance"
    LLM_JUDGE = "llm_judge", "LLM judge with a rubric"
    HUMAN = "human", "Human review"


class Probe(models.Model):
    """One test of an idea: a prompt, how often to sample it and how to grade the answers.

    grader_config by kind: contains/not_contains/equals {"expected", "case_sensitive"};
    regex {"pattern"}; json_schema {"schema"}; number {"expected", "tolerance"};
    llm_judge {"rubric", "rubric_version", "judge_model"}; human {}.
    """

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="probes")
    name = models.CharField(max_length=200)
    system_prompt = models.TextField(blank=True)
    user_message = models.TextField()
    prior_turns = models.JSONField(
        default=list, blank=True, help_text='Optional earlier turns: [{"role": …, "content": …}]'
    )
    max_tokens = models.PositiveIntegerField(
        default=512, validators=[MinValueValidator(1), MaxValueValidator(64000)]
    )
    temperature = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    samples = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    pass_k = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="How many of the samples must pass.",
    )
    grader = models.CharField(max_length=12, choices=GraderKind.choices)
    grader_config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    team_path = "idea__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["idea_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pass_k__lte=models.F("samples")), name="probe_k_le_n"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def messages(self) -> list[dict]:
        return [*self.prior_turns, {"role": "user", "content": self.user_message}]


class Model(models.Model):
    """A model as the Models API reports it, cached; aliases and retired ids kept as such."""

    # Set by the model list view for its template: on the team's list, the team's spend.
    chosen: bool
    spend: Decimal | None
    price: Price | None

    model_id = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    lifecycle = models.CharField(max_length=20, default="active")
    is_alias = models.BooleanField(default=False, help_text="A moving name, e.g. …-latest.")
    resolves_to = models.CharField(max_length=100, blank=True)
    retired = models.BooleanField(default=False)
    discovered_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-released_at", "model_id"]

    def __str__(self) -> str:
        return self.display_name or self.model_id


class TeamModel(TeamScopedModel):
    """The models a team's audits test by default (team-editable)."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "model"], name="teammodel_unique")]

    def __str__(self) -> str:
        return str(self.model)


class Price(models.Model):
    """USD per million tokens for a model id (or an id prefix such as "claude-sonnet-4")."""

    model_id = models.CharField(max_length=100, unique=True)
    input_per_mtok = models.DecimalField(max_digits=10, decimal_places=4)
    output_per_mtok = models.DecimalField(max_digits=10, decimal_places=4)
    cache_write_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    cache_read_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id}: ${self.input_per_mtok}/${self.output_per_mtok} per Mtok"

    # Prompt caching (5-minute entries): a write costs 1.25 x the input price, a read 0.1 x.
    CACHE_WRITE_FACTOR = Decimal("1.25")
    CACHE_READ_FACTOR = Decimal("0.1")

    @property
    def cache_write_rate(self) -> Decimal:
        """USD per million tokens written to the cache: the row's own rate, else 1.25 x input."""
        return self.cache_write_per_mtok or self.input_per_mtok * self.CACHE_WRITE_FACTOR

    @property
    def cache_read_rate(self) -> Decimal:
        """USD per million tokens read from the cache: the row's own rate, else 0.1 x input."""
        return self.cache_read_per_mtok or self.input_per_mtok * self.CACHE_READ_FACTOR

    def cost(self, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int):
        total = (
            self.input_per_mtok * input_tokens
            + self.output_per_mtok * output_tokens
            + self.cache_write_rate * cache_write
            + self.cache_read_rate * cache_read
        )
        return (total / Decimal(1_000_000)).quantize(Decimal("0.000001"))

    @property
    def per_mtok_words(self) -> str:
        """ "$3 in, $15 out per million tokens"."""
        return (
            f"${self.input_per_mtok.normalize():f} in, ${self.output_per_mtok.normalize():f} out "
            "per million tokens"
        )


def without_price(queryset: models.QuerySet[Model]) -> models.QuerySet[Model]:
    """The models no Price row covers (neither their id nor a prefix of it): their calls
    count $0, and a dollar budget cannot see them. One query, whatever the number."""
    from django.db.models.lookups import StartsWith

    covered = Price.objects.filter(StartsWith(models.OuterRef("model_id"), models.F("model_id")))
    return queryset.filter(~models.Exists(covered))


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Stopped"
    BUDGET = "budget", "Stopped: budget reached"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING)


class AuditRun(TeamScopedModel):
    quarter = models.CharField(max_length=7, help_text="Fiscal quarter, e.g. 2026-Q1.")
    ideas = models.ManyToManyField(Idea, related_name="audit_runs")
    budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    budget_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    stop_reason = models.TextField(blank=True)
    expected_calls = models.PositiveIntegerField(default=0)
    done_calls = models.PositiveIntegerField(default=0)
    error_calls = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    epoch = models.PositiveIntegerField(default=0, help_text="Bumped on every start/resume.")
    live_session_id = models.UUIDField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last, because the name shadows django.db.models inside this class body.
    models = models.ManyToManyField(Model, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Audit {self.quarter} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("audits:run_detail", kwargs={"team": self.team.slug, "pk": self.pk})

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    @property
    def total_tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def over_budget(self) -> bool:
        if self.budget_usd is not None and self.cost_usd >= self.budget_usd:
            return True
        return self.budget_tokens is not None and self.total_tokens >= self.budget_tokens


class Grade(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    PENDING = "pending", "Awaiting review"
    ERROR = "error", "Error"


class Result(models.Model):
    reason: str  # "why this grade" in words, set by audits.report for the run's breakdown

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="results")
    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="results")
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="+")
    sample = models.PositiveSmallIntegerField()
    resolved_model = models.CharField(max_length=100, blank=True)
    response = models.TextField(blank=True)
    grade = models.CharField(max_length=8, choices=Grade.choices)
    auto_grade = models.CharField(max_length=8, choices=Grade.choices, blank=True)
    grader_output = models.JSONField(default=dict, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    team_path = "run__team"  # its team, for TeamScopedQuerySet.for_team
    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run_id", "probe_id", "model_id", "sample"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "probe", "model", "sample"], name="result_unique_call"
            )
        ]

    def __str__(self) -> str:
        return f"{self.probe} on {self.model} #{self.sample}: {self.grade}"


class ResultOverride(models.Model):
    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="overrides")
    from_grade = models.CharField(max_length=8, choices=Grade.choices)
    to_grade = models.CharField(max_length=8, choices=Grade.choices)
    reason = models.TextField()
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.result_id}: {self.from_grade} → {self.to_grade}"


class ProbeProposal(ModelUsage, TeamScopedModel):
    """Probes Claude proposed for an idea (issue 19): one request, 3–5 proposals, each a dict
    of the probe form's fields with the form's verdict ("errors": field -> messages; empty when
    the probe form accepts it) and, once a person saved it, "probe_id". Nothing here is a probe
    until a person saves it through the probe form."""

    class Status(models.TextChoices):
        RUNNING = "running", "Proposing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="proposals")
    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    sent = models.TextField(blank=True, help_text="The user message sent (the idea's text).")
    text = models.TextField(blank=True, help_text="The model's answer, as it came.")
    proposals = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "created_at"], name="proposal_team_month")]

    def __str__(self) -> str:
        return f"Probes proposed for {self.idea}"
