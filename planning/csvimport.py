"""The one CSV importer: observations (predictions) and saturation readings read their files
here, with the same limits and the same per-line error report.

`read` turns an upload into rows of named cells, or into a list of problems, each with its
line number. It refuses what a spreadsheet export should never hold: a file over MAX_BYTES,
more than MAX_ROWS rows, a cell over MAX_CELL_CHARS characters, a NUL or a lone surrogate
(PostgreSQL cannot store either), text that is not UTF-8. A byte-order mark is dropped.
The caller checks each row's values and saves nothing while any row has a problem
(`Sheet.ok`); the page shows the problems with partials/csv_errors.html.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django import forms

from planning.forms import Form
from planning.inputs import unstorable

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
MAX_CELL_CHARS = 1_000
MAX_ERRORS_SHOWN = 100  # partials/csv_errors.html lists at most this many


class Problem(NamedTuple):
    line: int | None  # None: the whole file (too large, not UTF-8); line 1 is the header
    message: str


@dataclass
class Row:
    line: int
    cells: dict[str, str]

    def get(self, column: str, default: str = "") -> str:
        return self.cells.get(column, default)


@dataclass
class Sheet:
    """What `read` found: the columns named by the header, the rows under it, the problems."""

    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(line, message))


def limits_text() -> str:
    """The limits in words, for the upload forms' help."""
    return (
        f"Up to {MAX_BYTES // (1024 * 1024)} MB and {MAX_ROWS:,} rows; "
        f"a cell holds at most {MAX_CELL_CHARS:,} characters."
    )


def decode(raw: bytes | str) -> str | Problem:
    """The file's text without a byte-order mark, or the Problem with it as a whole."""
    if isinstance(raw, str):
        text = raw
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            return Problem(None, _too_large())
    else:
        if len(raw) > MAX_BYTES:
            return Problem(None, _too_large())
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Problem(None, "The file is not UTF-8 text; export it as CSV (UTF-8).")
    return text.removeprefix("\ufeff")


def _too_large() -> str:
    return f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files."


def _cell_problem(column: str, value: str) -> str | None:
    problem = unstorable(value)
    if problem:
        return f"{column}: the cell {problem}"
    if len(value) > MAX_CELL_CHARS:
        return (
            f"{column}: the cell is {len(value):,} characters long; the limit is "
            f"{MAX_CELL_CHARS:,}."
        )
    return None


def read(
    raw: bytes | str,
    *,
    columns: Sequence[str],
    required: Iterable[str],
    aliases: dict[str, str] | None = None,
) -> Sheet:
    """Rows of `columns` (header names are case-insensitive; `aliases` maps other names onto
    them). Blank rows are skipped; cells are stripped. A problem with the header or the file
    stops the reading; problems in rows are collected (all of them, up to MAX_ROWS rows)."""
    sheet = Sheet()
    text = decode(raw)
    if isinstance(text, Problem):
        sheet.problems.append(text)
        return sheet
    aliases = aliases or {}
    # The reader keeps its own line count: quoted cells may span lines.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        sheet.add(1, _csv_error(error, "the header"))
        return sheet
    if not header or not any(h.strip() for h in header):
        expected = f"a header row {','.join(columns)}" if columns else "a header row"
        sheet.add(1, f"The file is empty: expected {expected}.")
        return sheet
    for name in header:
        problem = _cell_problem("header", name)
        if problem:
            sheet.add(1, problem)
            return sheet
    names = [aliases.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h.strip() for h, n in zip(header, names, strict=True) if n not in columns]
    if unknown:
        noun = "column" if len(unknown) == 1 else "columns"
        sheet.add(
            1, f"Unknown {noun}: {', '.join(unknown)}. Use {_columns_text(columns, required)}."
        )
    missing = sorted(set(required) - set(names))
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        sheet.add(1, f"Missing {noun}: {', '.join(missing)}.")
    if sheet.problems:
        return sheet
    if len(set(names)) != len(names):
        sheet.add(1, "A column appears twice in the header.")
        return sheet
    sheet.columns = names
    count = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            sheet.add(reader.line_num, _csv_error(error, "this line"))
            continue
        if cells is None:
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            sheet.add(line, f"More than {MAX_ROWS:,} rows; split the file.")
            sheet.rows = []  # nothing more to check: the file is refused as a whole
            return sheet
        if len(cells) > len(names):
            sheet.add(line, f"{len(cells)} cells but the header has {len(names)}.")
            continue
        values = dict(zip(names, (c.strip() for c in cells), strict=False))
        bad = [p for p in (_cell_problem(n, v) for n, v in values.items()) if p]
        if bad:
            sheet.problems.extend(Problem(line, p) for p in bad)
            continue
        sheet.rows.append(Row(line, values))
    if not sheet.rows and not sheet.problems:
        sheet.add(2, "No rows found under the header.")
    return sheet


def _columns_text(columns: Sequence[str], required: Iterable[str]) -> str:
    required = set(required)
    must = [c for c in columns if c in required]
    optional = [c for c in columns if c not in required]
    text = ", ".join(must)
    if optional:
        text += f" and optionally {', '.join(optional)}"
    return text


def _csv_error(error: csv.Error, where: str) -> str:
    if "field larger than field limit" in str(error):
        return (
            f"A cell on {where} is longer than {csv.field_size_limit():,} characters; the limit "
            f"is {MAX_CELL_CHARS:,}."
        )
    if "NUL" in str(error):
        return f"A cell on {where} {unstorable(chr(0))}"
    return f"{where.capitalize()} is not valid CSV ({error})."


class UploadForm(Form):
    """The file field of both import forms; `cleaned_data["file"]` is the file's bytes (at
    most MAX_BYTES + 1 of them: `read` says when a file is too large)."""

    help = ""
    file = forms.FileField(label="CSV file", allow_empty_file=True)  # `read` says it is empty

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = " ".join(t for t in (self.help, limits_text()) if t)
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"

    def clean_file(self) -> bytes:
        return self.cleaned_data["file"].read(MAX_BYTES + 1)
