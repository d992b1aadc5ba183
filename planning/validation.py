"""The one error a service raises when it refuses a write.

Services (predictions/services.py, …) validate every write themselves and raise `Invalid`
with a summary and messages per field. The web shows them as form errors (`add_to_form`);
the JSON API answers `{"error": summary, "fields": {...}}` with `status` (400 unless the
request conflicts with the current state, 409).
"""

from __future__ import annotations

from collections.abc import Mapping


class Invalid(Exception):
    def __init__(
        self,
        message: str,
        fields: Mapping[str, list[str] | str] | None = None,
        *,
        status: int = 400,
    ):
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = {
            name: [msgs] if isinstance(msgs, str) else list(msgs)
            for name, msgs in (fields or {}).items()
        }
        self.status = status


class Problems:
    """Collects field messages; `raise_if` raises `Invalid` when there are any."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def update(self, other: Mapping[str, str | list[str]], prefix: str = "") -> None:
        for name, msgs in other.items():
            for message in [msgs] if isinstance(msgs, str) else msgs:
                self.add(f"{prefix}{name}", message)

    def __contains__(self, field: str) -> bool:
        return field in self.fields

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if(self, message: str, *, status: int = 400) -> None:
        if self.fields:
            raise Invalid(message, self.fields, status=status)


def add_to_form(form, error: Invalid, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's refusal on a bound form: each field's messages on the form field of
    that name (renamed through `field_map`), the rest (and the summary, if no field got a
    message) above the form."""
    field_map = field_map or {}
    already = set(form.errors)  # the form already says what is wrong with these fields
    for name, messages in error.fields.items():
        renamed = field_map.get(name, name)
        target = renamed if renamed in form.fields else None
        if target in already:
            continue
        for message in messages:
            form.add_error(target, message)
    if not error.fields:
        form.add_error(None, error.message)
