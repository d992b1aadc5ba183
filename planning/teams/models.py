"""Teams, membership and invitations: every domain object in Exponent belongs to a Team."""

from __future__ import annotations

import secrets
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Self

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from planning.http import SAFE_METHODS

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1–50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
)
RESERVED_SLUGS = {"new", "admin", "api", "static", "accounts", "live", "healthz", "teams"}


def validate_time_zone(value: str) -> None:
    from django.core.exceptions import ValidationError

    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (for example Europe/London).")


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]


def required_role(method: str, *, role: str = Role.VIEWER, write_role: str = Role.EDITOR) -> str:
    """The one role rule of team pages, live sessions and the API: a request that only reads
    needs `role`; any other method needs `write_role` too."""
    if method.upper() in SAFE_METHODS or role_at_least(role, write_role):
        return role
    return write_role


def may(
    member_role: str, method: str, *, role: str = Role.VIEWER, write_role: str = Role.EDITOR
) -> bool:
    """Whether a member with `member_role` may make a request with `method` (see required_role)."""
    return role_at_least(member_role, required_role(method, role=role, write_role=write_role))


MONTHS = [
    (1, "January"), (2, "February"), (3, "March"), (4, "April"), (5, "May"), (6, "June"),
    (7, "July"), (8, "August"), (9, "September"), (10, "October"), (11, "November"),
    (12, "December"),
]  # fmt: skip


class Team(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        choices=MONTHS,
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="Quarters are counted from this month.",
    )
    anti_anchoring = models.BooleanField(
        default=False,
        help_text="Hide other members' lines on a metric until you have committed your own.",
    )
    require_2fa = models.BooleanField(
        "Require two-factor authentication",
        default=False,
        help_text="Members without an authenticator app set up are sent to set one up before "
        "they can open this team's pages.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("teams:dashboard", kwargs={"team": self.slug})

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_date(self, moment: datetime) -> date:
        """The date on the team's calendar at `moment`."""
        return timezone.localtime(moment, self.tz).date()

    def today(self) -> date:
        """Today on the team's calendar (its time zone), wherever the server is."""
        return self.local_date(timezone.now())


class TeamScopedQuerySet(models.QuerySet):
    """The one way to reach a team's rows: `Model.objects.for_team(team)` (and, in views,
    `tenancy.team_get_object_or_404`, built on it). A model that belongs to its team through
    a parent names the path in `team_path` (for example "idea__team")."""

    def for_team(self, team: Team | int) -> Self:
        return self.filter(**{getattr(self.model, "team_path", "team"): team})


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    joined_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"

    @property
    def can_edit(self) -> bool:
        return role_at_least(self.role, Role.EDITOR)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


def _invitation_expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS)


class InvitationQuerySet(TeamScopedQuerySet):
    def pending(self):
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "team",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.team}"

    def get_absolute_url(self) -> str:
        return reverse("invitation", kwargs={"token": self.token})

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "pending"


class TeamScopedModel(models.Model):
    """Base for every domain object: it belongs to a team and is reached through it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    ROLE_CHANGED = "member.role_changed", "Role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    INVITATION_REVOKED = "invitation.revoked", "Invitation withdrawn"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    TEAM_SETTINGS = "team.settings", "Team settings changed"
    WEBHOOK_CHANGED = "webhook.changed", "Webhook changed"
    CALENDAR_FEED_CHANGED = "calendar_feed.changed", "Calendar feed changed"
    REVIEW_REOPENED = "review.reopened", "Review reopened"
    AI_DRAFT_ACCEPTED = "review.ai_draft_accepted", "AI-drafted notes accepted"


class AuditEvent(models.Model):
    """One line of a team's audit log. Append-only: a PostgreSQL trigger refuses UPDATE and
    DELETE (teams/migrations/0002). Rows outlive their team and their actor, so neither is a
    database foreign key; the actor's address is kept as it was."""

    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, related_name="audit_events"
    )
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    summary = models.CharField(max_length=500)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["team", "-at"], name="audit_team_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_email or 'system'}: {self.summary}"
