"""The project's form renderer: every field is rendered by templates/forms/field.html."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.db.models import QuerySet
from django.forms import Field, ModelChoiceField
from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    field_template_name = "forms/field.html"


def set_model_choices(
    field: Field, queryset: QuerySet[Any], label: Callable[[Any], str] | None = None
) -> None:
    """Limit a model choice field to `queryset` and, optionally, say how a choice reads."""
    field = cast(ModelChoiceField, field)
    field.queryset = queryset
    if label is not None:
        # Django's per-field label hook: replacing the method on the instance is the intent.
        field.label_from_instance = label  # type: ignore[method-assign,assignment]
