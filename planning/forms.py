"""The project's forms: the renderer (every field is rendered by templates/forms/field.html),
and the base classes every form of the app derives from (`Form`, `ModelForm`), which give each
field the refusals of planning.inputs as field errors:

- text: no NUL, no lone surrogate, and a maximum length (its model column's, else
  TEXT_MAX_CHARS), refused with a message rather than cut;
- whole numbers: within a PostgreSQL integer unless the field has its own bounds (hundreds of
  digits are a field error, not an OverflowError);
- decimals: finite (Django's FloatField and DecimalField already refuse NaN and ±Infinity);
- JSON: read by planning.inputs.parse_json first (depth, digits, NaN, unstorable strings);
- dates and times: between the years MIN_YEAR and MAX_YEAR.

The checks are added when a form is created and again before it validates (fields added or
changed in a subclass's __init__ are covered too). tests/hostile/test_forms.py keeps every
form of the app on these bases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.forms import Field, ModelChoiceField
from django.forms.renderers import TemplatesSetting

from planning.inputs import (
    INT_MAX,
    MAX_YEAR,
    MIN_YEAR,
    TEXT_MAX_CHARS,
    InputError,
    in_year_range,
    parse_json,
    unstorable,
    year_range_message,
)


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
        field.label_from_instance = label  # type: ignore[method-assign,assignment]  # see above


# --------------------------------------------------------------------------- hardened fields
def storable(value: str) -> None:
    problem = unstorable(value)
    if problem:
        raise ValidationError(f"This text {problem}", code="unstorable")


def in_years(value) -> None:
    if value is not None and not in_year_range(value):
        raise ValidationError(year_range_message(), code="year_range")


class TextLength(MaxLengthValidator):
    message = "This is %(show_value)s characters long; the limit is %(limit_value)s. Shorten it."

    def __call__(self, value) -> None:
        if self.compare(self.clean(value), self.limit_value):
            raise ValidationError(
                self.message,
                code=self.code,
                params={"limit_value": f"{self.limit_value:,}", "show_value": f"{len(value):,}"},
            )


DATE_INPUT_BOUNDS = {
    "date": (f"{MIN_YEAR}-01-01", f"{MAX_YEAR}-12-31"),
    "datetime-local": (f"{MIN_YEAR}-01-01T00:00", f"{MAX_YEAR}-12-31T23:59"),
}
WHOLE_NUMBER = f"Enter a whole number between {-INT_MAX - 1:,} and {INT_MAX:,}."


def harden(field: Field) -> None:
    """Add the refusals of planning.inputs to one field (idempotent)."""
    if getattr(field, "_hardened", False):
        return
    field._hardened = True  # type: ignore[attr-defined]  # a marker on the field
    if isinstance(field, forms.JSONField):
        # json.loads would raise RecursionError on deep nesting and accept NaN.
        parse = field.to_python

        def to_python(value, parse=parse):
            if isinstance(value, str) and value.strip():
                try:
                    parse_json(value)
                except InputError as error:
                    raise ValidationError(str(error), code="invalid") from None
            return parse(value)

        field.to_python = to_python  # type: ignore[method-assign]  # wrapping is the intent
    if isinstance(field, forms.CharField):
        field.validators.append(storable)
        if field.max_length is None:
            field.max_length = TEXT_MAX_CHARS
            field.validators.append(TextLength(TEXT_MAX_CHARS))
        # No maxlength attribute: a browser cuts a longer paste to it without a word. The
        # server refuses over-long text with a field error and shows the text as typed.
        field.widget.attrs.pop("maxlength", None)
    elif isinstance(field, forms.IntegerField) and not isinstance(
        field, forms.FloatField | forms.DecimalField
    ):
        if field.max_value is None:
            field.validators.append(MaxValueValidator(INT_MAX, message=WHOLE_NUMBER))
        if field.min_value is None:
            field.validators.append(MinValueValidator(-INT_MAX - 1, message=WHOLE_NUMBER))
    elif isinstance(field, forms.DateField | forms.DateTimeField):
        field.validators.append(in_years)
        kind = field.widget.attrs.get("type") or getattr(field.widget, "input_type", "")
        if kind in DATE_INPUT_BOUNDS:  # the browser's date picker offers the same range
            low, high = DATE_INPUT_BOUNDS[kind]
            field.widget.attrs.setdefault("min", low)
            field.widget.attrs.setdefault("max", high)
    elif isinstance(field, forms.MultiValueField):
        for sub in field.fields:
            harden(sub)


class Hardened:
    """Mixin for forms: every field gets the refusals of planning.inputs (see the module)."""

    fields: dict[str, Field]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            harden(field)

    def full_clean(self) -> None:
        for field in self.fields.values():
            harden(field)
        super().full_clean()  # type: ignore[misc]  # a mixin: the form class comes after it


class Form(Hardened, forms.Form):
    pass


class ModelForm(Hardened, forms.ModelForm):
    pass
