"""Hostile input, refused in one place: text PostgreSQL cannot store, JSON that would exhaust
the parser, numbers and dates outside what the columns and the domain hold, and spreadsheet
formulas in CSV exports.

Pure functions; forms (planning/forms.py), the request guard (planning/middleware.py), the CSV
importer (planning/csvimport.py) and anything parsing JSON from a person use them.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

# PostgreSQL text and jsonb cannot hold NUL; UTF-8 cannot encode a lone surrogate.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MIN_YEAR, MAX_YEAR = 1900, 2200
TEXT_MAX_CHARS = 20_000  # any free-text field without its own limit
INT_MAX = 2**31 - 1  # a PostgreSQL integer column
JSON_MAX_DEPTH = 32
JSON_MAX_CHARS = 100_000
JSON_MAX_NUMBER_DIGITS = 30


class InputError(ValueError):
    """A value refused with a message meant for the person who sent it."""


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL or a lone surrogate), or None when it can."""
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (\\0), which cannot be stored; remove it."
    return "contains an invalid character (a lone UTF-16 surrogate); remove it."


def check_text(text: str, *, max_chars: int | None = TEXT_MAX_CHARS, label: str = "") -> str:
    """`text` unchanged, or InputError naming what is wrong (never silently truncated)."""
    problem = unstorable(text)
    if problem:
        raise InputError(f"{label or 'This text'} {problem}")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(
            f"{label or 'This text'} is {len(text):,} characters long; the limit is "
            f"{max_chars:,}. Shorten it."
        )
    return text


def shorten(text: str, max_chars: int) -> str:
    """A title the app composes from a person's text (not text they typed into that field),
    fitted to its column with a visible ellipsis. Text a person typed is refused instead
    (check_text)."""
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def strip_unstorable(text: str) -> str:
    """For text the app did not get from a person (model output): drop what cannot be stored."""
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def in_year_range(value: date | datetime) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def year_range_message() -> str:
    return f"Use a date between the years {MIN_YEAR} and {MAX_YEAR}."


# --------------------------------------------------------------------------- JSON
def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, found without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _number(text: str) -> int | float:
    digits = sum(c.isdigit() for c in text)
    if digits > JSON_MAX_NUMBER_DIGITS:
        raise InputError(f"A number has {digits:,} digits; at most {JSON_MAX_NUMBER_DIGITS}.")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"The number {text} is too large.")
    return value


def _constant(name: str) -> Any:
    raise InputError(f"{name} is not a number JSON allows; use a finite number or null.")


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem:
                raise InputError(f"A text value {problem}")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(
    text: str, *, max_depth: int = JSON_MAX_DEPTH, max_chars: int = JSON_MAX_CHARS
) -> Any:
    """json.loads for text a person sent: InputError (with a message for them) instead of
    RecursionError, the int-digits ValueError, NaN/Infinity, or strings jsonb cannot store."""
    if len(text) > max_chars:
        raise InputError(f"The JSON is {len(text):,} characters long; the limit is {max_chars:,}.")
    if _depth(text) > max_depth:
        raise InputError(f"The JSON is nested more than {max_depth} levels deep.")
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except InputError:
        raise
    except (ValueError, RecursionError) as error:
        message = getattr(error, "msg", None) or "it could not be read"
        raise InputError(f"This is not valid JSON: {message}.") from None
    _check_strings(value)
    return value


# --------------------------------------------------------------------------- CSV export
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value for a CSV export cell that a spreadsheet will not run as a formula: text
    starting with = + - @ (or tab/CR) gets a leading apostrophe. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(values: list[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]
