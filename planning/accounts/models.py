"""Users sign in with their email address."""

from __future__ import annotations

import hashlib
import secrets
import string

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from planning.http import SAFE_METHODS


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        user = self._create_user(email, password, **extra)
        # Made on the command line by whoever runs the server: the address counts as verified.
        from .addresses import add_verified_address

        add_verified_address(user)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


TOKEN_PREFIX = "exp_"
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_SECRET_LENGTH = 40
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8


def hash_token(raw: str) -> str:
    """SHA-256 of a raw token: tokens are 238 random bits, so a fast hash is enough."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_raw_token() -> str:
    """`exp_` + 40 letters and digits (secret scanners match `exp_[A-Za-z0-9]{40}`)."""
    return TOKEN_PREFIX + "".join(
        secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_SECRET_LENGTH)
    )


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A per-user token for the JSON API (sent as `Authorization: Bearer <token>`).

    Only a SHA-256 hash of the token is stored, with its first characters for display; the
    token itself is shown once, when it is created (`ApiToken.issue`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    prefix = models.CharField(max_length=DISPLAY_PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="A read-only token can only read (GET); changes answer 403."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=100, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str = "API token", **fields) -> tuple[ApiToken, str]:
        """Create a token; returns it with the raw value, which is not stored anywhere."""
        raw = new_raw_token()
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=raw[:DISPLAY_PREFIX_LENGTH],
            key_hash=hash_token(raw),
            **fields,
        )
        return token, raw

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def allows(self, method: str) -> bool:
        """Whether this token may make a request with `method` (read-only: safe methods only)."""
        return not self.read_only or method.upper() in SAFE_METHODS
