"""Reading a metric source's payload (CSV or JSON) into (date, value) rows: pure, no database.

A mapping says where the numbers are:

- `rows` (JSON only): a selector to the list of records, e.g. `data.results` or
  `$.series[*]`; empty means the document itself (a list of records).
- `date` and `value`: the column (CSV, case-insensitive) or a selector inside each record
  (JSON, e.g. `scores.swe_bench`).
- `filter`: optional conditions on each row, joined by `and`, e.g. `model == "best"` or
  `split == "verified" and score >= 0`. Operators: == != < <= > >=; literals: "text",
  'text', numbers, true, false, null.
- `factor`: every value is multiplied by it (unit conversion, e.g. 100 for a fraction to %).

Selectors are a small, safe subset of JSONPath: an optional `$`, then keys separated by dots,
`["quoted key"]`, `[3]` / `[-1]` indices and `[*]` / `*` wildcards. Nothing is evaluated.
Every problem with a row is reported with where it is (CSV line, JSON record) and parsing
continues; `Parsed.rows` holds the rows that can be saved.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from planning import csvimport
from planning.inputs import InputError, in_year_range, parse_json, unstorable

SELECTOR_MAX_CHARS = 200
SELECTOR_MAX_STEPS = 20
FILTER_MAX_CHARS = 300
FILTER_MAX_CONDITIONS = 5
MAX_PROBLEMS = 100  # kept per parse: the rest are counted
FACTOR_LIMIT = 1e12

Format = Literal["csv", "json"]


class MappingError(ValueError):
    """A mapping the user typed cannot be used; the message says why, for the form."""


# --------------------------------------------------------------------------- selectors
Step = str | int | None  # a key, an index, or None for a wildcard

_STEP = re.compile(
    r"""\.?(?:
        (?P<key>[A-Za-z_][A-Za-z0-9_\-]*)
      | \[\s*(?P<index>-?\d{1,6})\s*\]
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]
      | (?P<star>\*|\[\s*\*\s*\])
    )""",
    re.VERBOSE,
)


def parse_selector(text: str, *, wildcards: bool = True) -> tuple[Step, ...]:
    """The steps of a selector; MappingError says what is wrong with it."""
    text = text.strip()
    if len(text) > SELECTOR_MAX_CHARS:
        raise MappingError(f"At most {SELECTOR_MAX_CHARS} characters.")
    if unstorable(text):
        raise MappingError("It contains a character that cannot be stored.")
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if not match:
            raise MappingError(
                f"Cannot read “{text[pos : pos + 20]}”: use keys separated by dots, "
                '["quoted keys"], [0] indices or [*].'
            )
        if match.group("key") is not None:
            steps.append(match.group("key"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("dq") is not None:
            steps.append(_unescape(match.group("dq")))
        elif match.group("sq") is not None:
            steps.append(_unescape(match.group("sq")))
        else:
            if not wildcards:
                raise MappingError("A wildcard (*) selects many values; pick one field here.")
            steps.append(None)
        pos = match.end()
        if len(steps) > SELECTOR_MAX_STEPS:
            raise MappingError(f"At most {SELECTOR_MAX_STEPS} steps.")
    return tuple(steps)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def select(document: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value the steps reach (a wildcard fans out over a list's items or a dict's
    values); a missing key or index reaches nothing."""
    current = [document]
    for step in steps:
        following: list[Any] = []
        for item in current:
            if step is None:
                if isinstance(item, list):
                    following.extend(item)
                elif isinstance(item, dict):
                    following.extend(item.values())
            elif isinstance(step, int):
                if isinstance(item, list) and -len(item) <= step < len(item):
                    following.append(item[step])
            elif isinstance(item, dict) and step in item:
                following.append(item[step])
        current = following
    return current


def select_one(record: Any, steps: tuple[Step, ...]) -> tuple[bool, Any]:
    """(found, value) of a wildcard-free selector in one record."""
    found = select(record, steps)
    return (True, found[0]) if found else (False, None)


# --------------------------------------------------------------------------- filters
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_CONDITION = re.compile(
    r"""\s*(?P<field>[^\s=!<>]+)\s*(?P<op>==|!=|<=|>=|<|>)\s*
        (?P<literal>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)
        \s*""",
    re.VERBOSE,
)


class Condition(NamedTuple):
    field: tuple[Step, ...]
    field_text: str
    op: str
    literal: str | float | bool | None


def parse_filter(text: str) -> tuple[Condition, ...]:
    """Conditions joined by `and`; an empty filter keeps every row."""
    text = text.strip()
    if not text:
        return ()
    if len(text) > FILTER_MAX_CHARS:
        raise MappingError(f"At most {FILTER_MAX_CHARS} characters.")
    if unstorable(text):
        raise MappingError("It contains a character that cannot be stored.")
    conditions: list[Condition] = []
    pos = 0
    while True:
        match = _CONDITION.match(text, pos)
        if not match:
            raise MappingError(
                f"Cannot read “{text[pos : pos + 30].strip()}”: write conditions like "
                'model == "best", joined by and.'
            )
        literal_text = match.group("literal")
        literal: str | float | bool | None
        if literal_text[0] in "\"'":
            literal = _unescape(literal_text[1:-1])
        elif literal_text in ("true", "false"):
            literal = literal_text == "true"
        elif literal_text == "null":
            literal = None
        else:
            literal = float(literal_text)
            if not math.isfinite(literal):
                raise MappingError(f"{literal_text} is not a finite number.")
        if match.group("op") not in ("==", "!=") and not isinstance(literal, float):
            raise MappingError(f"{match.group('op')} compares numbers: give a number after it.")
        field_text = match.group("field")
        steps = parse_selector(field_text, wildcards=False)
        if not steps:
            raise MappingError("Name a field before the operator.")
        conditions.append(Condition(steps, field_text, match.group("op"), literal))
        if len(conditions) > FILTER_MAX_CONDITIONS:
            raise MappingError(f"At most {FILTER_MAX_CONDITIONS} conditions.")
        pos = match.end()
        if pos >= len(text):
            return tuple(conditions)
        joiner = re.compile(r"and\b", re.IGNORECASE).match(text, pos)
        if not joiner:
            raise MappingError(
                f"Cannot read “{text[pos : pos + 30].strip()}”: join conditions with and."
            )
        pos = joiner.end()


def _comparable(value: Any, literal: Any) -> Any:
    """A cell compared with a number is read as a number (CSV cells are text)."""
    if isinstance(literal, float) and isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    if (
        isinstance(literal, float)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return float(value)
    return value


def matches(record: Any, conditions: tuple[Condition, ...]) -> bool:
    for cond in conditions:
        found, value = select_one(record, cond.field)
        if not found:
            return False
        value = _comparable(value, cond.literal)
        if cond.op in ("==", "!="):
            if (value == cond.literal) != (cond.op == "=="):
                return False
        elif not isinstance(value, float) or not OPERATORS[cond.op](value, cond.literal):
            return False
    return True


# --------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class Mapping:
    format: Format
    date: str
    value: str
    rows: str = ""
    filter: str = ""
    factor: float = 1.0


@dataclass(frozen=True)
class Compiled:
    format: Format
    date: tuple[Step, ...]
    value: tuple[Step, ...]
    rows: tuple[Step, ...]
    conditions: tuple[Condition, ...]
    factor: float


def compile_mapping(mapping: Mapping) -> Compiled:
    """The mapping checked and ready; MappingError carries {field: message} in `.args[1]`."""
    errors: dict[str, str] = {}

    def field_steps(name: str, text: str, *, wildcards: bool = False) -> tuple[Step, ...]:
        try:
            if mapping.format == "csv":
                text = text.strip()
                if len(text) > SELECTOR_MAX_CHARS:
                    raise MappingError(f"At most {SELECTOR_MAX_CHARS} characters.")
                if unstorable(text):
                    raise MappingError("It contains a character that cannot be stored.")
                return (text.lower(),) if text else ()
            return parse_selector(text, wildcards=wildcards)
        except MappingError as error:
            errors[name] = str(error)
            return ()

    date_steps = field_steps("date", mapping.date)
    value_steps = field_steps("value", mapping.value)
    for name, steps in (("date", date_steps), ("value", value_steps)):
        if not steps and name not in errors:
            errors[name] = "Name the column." if mapping.format == "csv" else "Name the field."
    rows_steps: tuple[Step, ...] = ()
    if mapping.format == "json":
        rows_steps = field_steps("rows", mapping.rows, wildcards=True)
    elif mapping.rows.strip():
        errors["rows"] = "Leave this empty for CSV: every line is a row."
    conditions: tuple[Condition, ...] = ()
    try:
        conditions = parse_filter(mapping.filter)
        if mapping.format == "csv":
            conditions = tuple(c._replace(field=(c.field_text.lower(),)) for c in conditions)
    except MappingError as error:
        errors["filter"] = str(error)
    factor = mapping.factor
    if not math.isfinite(factor) or factor == 0 or abs(factor) > FACTOR_LIMIT:
        errors["factor"] = "Give a non-zero number (1 keeps the values as they are)."
    elif abs(factor) < 1 / FACTOR_LIMIT:
        errors["factor"] = "This factor is too small."
    if errors:
        raise MappingError("The mapping cannot be used.", errors)
    return Compiled(mapping.format, date_steps, value_steps, rows_steps, conditions, factor)


# --------------------------------------------------------------------------- parsing
class Problem(NamedTuple):
    where: str  # "line 4", "record 3", or "" for the whole payload
    message: str

    def __str__(self) -> str:
        return f"{self.where.capitalize()}: {self.message}" if self.where else self.message


@dataclass
class Parsed:
    rows: list[tuple[date, float]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_problems: int = 0  # all of them; `problems` keeps the first MAX_PROBLEMS
    matched: int = 0  # records the filter kept

    def add(self, where: str, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, message))

    @property
    def fatal(self) -> bool:
        """The payload as a whole could not be read (nothing to save)."""
        return bool(self.problems) and self.problems[0].where == "" and not self.rows


def read_date(value: Any) -> date | None:
    """An ISO date, or the date part of an ISO date-time; None otherwise."""
    if isinstance(value, str):
        text = value.strip()
        with contextlib.suppress(ValueError):  # not a plain date: maybe a date-time
            return date.fromisoformat(text)
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def read_value(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "").removesuffix("%"))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"


def parse(
    raw: bytes | str,
    mapping: Compiled,
    *,
    today: date,
    positive_only: bool = False,
) -> Parsed:
    """The rows of a payload under a compiled mapping, with a problem for each bad row.

    Rows after `today`, outside the supported years or (for log-scale metrics) not above zero
    are refused; a date that appears twice keeps its first row.
    """
    parsed = Parsed()
    records = _csv_records(raw, mapping, parsed) if mapping.format == "csv" else None
    if mapping.format == "json":
        records = _json_records(raw, mapping, parsed)
    if records is None:
        return parsed
    seen: dict[date, str] = {}
    for where, record in records:
        if not matches(record, mapping.conditions):
            continue
        parsed.matched += 1
        found_date, raw_date = select_one(record, mapping.date)
        found_value, raw_value = select_one(record, mapping.value)
        if not found_date:
            parsed.add(where, "no date field here.")
            continue
        if not found_value:
            parsed.add(where, "no value field here.")
            continue
        day = read_date(raw_date)
        if day is None:
            parsed.add(where, f"“{_shown(raw_date)}” is not a date like 2026-03-31.")
            continue
        number = read_value(raw_value)
        if number is None:
            parsed.add(where, f"“{_shown(raw_value)}” is not a number.")
            continue
        number *= mapping.factor
        if not math.isfinite(number):
            parsed.add(where, "the value times the factor is too large.")
        elif day > today:
            parsed.add(where, f"{day} is in the future.")
        elif not in_year_range(day):
            parsed.add(where, f"{day} is outside the years Exponent stores.")
        elif positive_only and number <= 0:
            parsed.add(where, f"{number:g} is not above zero (the metric is on a log scale).")
        elif day in seen:
            parsed.add(where, f"{day} already appears at {seen[day]}; add a filter to pick one.")
        else:
            seen[day] = where
            parsed.rows.append((day, number))
    if not parsed.matched and not parsed.problems:
        parsed.add("", "No rows matched the mapping and filter.")
    return parsed


def _csv_records(
    raw: bytes | str, mapping: Compiled, parsed: Parsed
) -> Iterator[tuple[str, dict[str, str]]] | None:
    text = csvimport.decode(raw)
    if isinstance(text, csvimport.Problem):
        parsed.add("", text.message)
        return None
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as error:
        parsed.add("", f"The header is not valid CSV ({error}).")
        return None
    names = [h.strip().lower() for h in header or []]
    required = {str(mapping.date[0]), str(mapping.value[0])}
    sheet = csvimport.read(text, columns=names or ["date", "value"], required=required)
    for problem in sheet.problems:
        if problem.message.startswith("More than"):  # the shared row limit, worded for a feed
            parsed.add("", f"More than {csvimport.MAX_ROWS:,} lines: the limit for a source.")
            return None
        if problem.line is None or problem.line == 1:
            parsed.add("", problem.message)
        else:
            parsed.add(f"line {problem.line}", problem.message)
    if not sheet.columns:
        return None
    return ((f"line {row.line}", row.cells) for row in sheet.rows)


def _json_records(
    raw: bytes | str, mapping: Compiled, parsed: Parsed
) -> Iterator[tuple[str, Any]] | None:
    text = csvimport.decode(raw)
    if isinstance(text, csvimport.Problem):
        parsed.add("", text.message.replace("CSV (UTF-8)", "UTF-8 JSON"))
        return None
    try:
        document = parse_json(text, max_chars=csvimport.MAX_BYTES)
    except InputError as error:
        parsed.add("", str(error))
        return None
    found = select(document, mapping.rows)
    if not found:
        parsed.add("", "The rows selector reaches nothing in this document.")
        return None
    if None not in mapping.rows:  # no wildcard: it must reach the list of records
        if not isinstance(found[0], list):
            kind = "an object" if isinstance(found[0], dict) else "a single value"
            parsed.add("", f"The rows selector reaches {kind}, not a list of records.")
            return None
        found = found[0]
    if len(found) > csvimport.MAX_ROWS:
        parsed.add("", f"More than {csvimport.MAX_ROWS:,} records; the limit is reached.")
        return None
    return ((f"record {i}", record) for i, record in enumerate(found, start=1))
