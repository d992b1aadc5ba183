"""Light and shade: every bet carries its opportunity (light) and its risk (shade).

A Note attaches to any team-owned object whose model sets `supports_light_shade = True`
(ideas, predictions, stages, form factors, backlog items, …).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from planning.teams.models import TeamScopedModel


class Kind(models.TextChoices):
    LIGHT = "light", "Light (opportunity)"
    SHADE = "shade", "Shade (risk)"


class Note(TeamScopedModel):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    text = models.TextField(max_length=2000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"
