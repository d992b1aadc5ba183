"""Reading light and shade for one object or many (one query either way)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q

from .models import Kind, Note


@dataclass
class LightShade:
    light: list[Note] = field(default_factory=list)
    shade: list[Note] = field(default_factory=list)

    @property
    def balance(self) -> str:
        """'both', 'light-only', 'shade-only' or 'none'."""
        if self.light and self.shade:
            return "both"
        if self.light:
            return "light-only"
        if self.shade:
            return "shade-only"
        return "none"

    @property
    def one_sided(self) -> bool:
        return self.balance != "both"


def supports_light_shade(model: type[Model] | Model) -> bool:
    return bool(getattr(model, "supports_light_shade", False))


def notes_for(objects: Iterable[Model]) -> dict[tuple[int, int], LightShade]:
    """Light and shade for many objects, keyed by (content_type_id, pk), in one query."""
    objects = list(objects)
    result: dict[tuple[int, int], LightShade] = defaultdict(LightShade)
    if not objects:
        return result
    by_type: dict[int, list[int]] = defaultdict(list)
    for obj in objects:
        ct = ContentType.objects.get_for_model(obj)  # cached by Django after the first call
        by_type[ct.pk].append(obj.pk)
    condition = Q()
    for ct_id, ids in by_type.items():
        condition |= Q(content_type_id=ct_id, object_id__in=ids)
    for note in Note.objects.filter(condition).select_related("author"):
        bucket = result[(note.content_type_id, note.object_id)]
        (bucket.light if note.kind == Kind.LIGHT else bucket.shade).append(note)
    return result


def light_shade_of(obj: Model) -> LightShade:
    ct = ContentType.objects.get_for_model(obj)
    return notes_for([obj])[(ct.pk, obj.pk)]


def key_of(obj: Model) -> tuple[int, int]:
    return (ContentType.objects.get_for_model(obj).pk, obj.pk)


def copy_notes(source: Model, target: Model) -> int:
    """Copy the light and shade of `source` onto `target` as notes of its own (each can be
    edited or deleted there without touching the original). One query to read, one to write."""
    ct = ContentType.objects.get_for_model(source)
    target_ct = ContentType.objects.get_for_model(target)
    copies = [
        Note(
            team_id=note.team_id,
            content_type=target_ct,
            object_id=target.pk,
            kind=note.kind,
            text=note.text,
            author_id=note.author_id,
        )
        for note in Note.objects.filter(content_type=ct, object_id=source.pk).order_by(
            "created_at", "pk"
        )
    ]
    Note.objects.bulk_create(copies)
    return len(copies)
