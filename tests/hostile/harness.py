"""The machinery of the hostile-values test: the corpus, a crawler that finds every page and
form of a team as a logged-in member sees them, and a snapshot of the database that tells
whether a refused request changed anything.

Every request runs inside a savepoint that is rolled back afterwards, so one accepted
submission (a delete, a commit) never changes what the next one sees.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve

CORPUS = json.loads((Path(__file__).parent / "corpus.json").read_text())
# The corpus every helper shares; ours is a copy with extras (both are sent).
SHARED = Path(__file__).resolve().parents[3] / "shared" / "hostile-inputs.json"
if SHARED.exists():
    for key, values in json.loads(SHARED.read_text()).items():
        if isinstance(values, list):
            CORPUS[key] = CORPUS.get(key, []) + [v for v in values if v not in CORPUS.get(key, [])]


def _built(entry: dict) -> str:
    return entry["value"] * entry["count"]


STRINGS: list[str] = CORPUS["strings"] + CORPUS["extra_strings"]
LONG: list[str] = [_built(e) for e in CORPUS["repeat"]]
NUMBERS: list[str] = CORPUS["numbers_json"] + CORPUS["extra_numbers"]
DATES: list[str] = CORPUS["dates"]
QUARTERS: list[str] = CORPUS["quarters"]
JSON_VALUES: list[str] = CORPUS["extra_json"] + [
    "[" * 50_000 + "]" * 50_000,
    '{"a": ' + "9" * 5_000 + "}",
]
_GUARDED = re.compile("[\x00\ud800-\udfff]")


def guarded(value: str) -> bool:
    """Refused by the request guard (planning/middleware.py) before any view runs."""
    return bool(_GUARDED.search(value))


def body(data: dict[str, list[str]]) -> bytes:
    """URL-encode like a browser would, lone surrogates included (as their raw bytes)."""
    pairs = [(k, v) for k, values in data.items() for v in values]
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")


def query(data: dict[str, str]) -> str:
    return urlencode(data, encoding="utf-8", errors="surrogatepass")


# --------------------------------------------------------------------------- HTML
@dataclass
class Field:
    name: str
    kind: str  # text, number, date, select, checkbox, radio, hidden, textarea, file, …
    value: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    def defaults(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for f in self.fields:
            if f.kind == "file" or (f.kind in ("checkbox", "radio") and f.value is None):
                continue
            data.setdefault(f.name, []).append(f.value or "")
        return data

    @property
    def key(self) -> tuple:
        return (self.method, self.action, tuple(sorted({f.name for f in self.fields})))


class _PageParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: set[str] = set()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._select_first: str | None = None
        self._textarea: Field | None = None
        self._posting: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        for attr in ("href", "hx-get"):
            if a.get(attr):
                self.links.add(urljoin(self.page, a[attr]))
        if tag == "form":
            method = (a.get("method") or ("post" if a.get("hx-post") else "get")).lower()
            action = a.get("hx-post") or a.get("action") or a.get("hx-get") or self.page
            self._form = Form(self.page, urljoin(self.page, action), method)
            self.forms.append(self._form)
        elif tag in ("button", "a") and a.get("hx-post") and self._form is None:
            form = Form(self.page, urljoin(self.page, a["hx-post"]), "post")
            vals = a.get("hx-vals", "")
            if vals.startswith("{"):
                try:
                    for k, v in json.loads(vals).items():
                        form.fields.append(Field(str(k), "hidden", str(v)))
                except ValueError:
                    pass
            self.forms.append(form)
        if self._form is None:
            return
        if tag in ("input", "textarea", "select") and a.get("hx-post"):
            # A field that posts itself (autosave), with its form's fields (hx-include).
            self._posting.append(urljoin(self.page, a["hx-post"]))
        if tag in ("button", "input") and a.get("formaction"):
            # A button that sends its form somewhere else (Mark done / Skip).
            self._posting.append(urljoin(self.page, a["formaction"]))
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                if name:
                    self._form.fields.append(Field(name, "submit", a.get("value", "")))
                return
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            if kind in ("checkbox", "radio") and "checked" not in a:
                value = None  # not sent unless checked
                if kind == "radio" and not any(f.name == name for f in self._form.fields):
                    value = a.get("value", "on")  # pick the first choice of a radio group
                elif kind == "radio":
                    return
            if name == "csrfmiddlewaretoken":
                return
            self._form.fields.append(Field(name, kind, value))
        elif tag == "button" and name:
            self._form.fields.append(Field(name, "submit", a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = Field(name, "textarea", "")
            self._form.fields.append(self._textarea)
        elif tag == "select" and name:
            self._select = Field(name, "select", "")
            self._select_first = None
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.options.append(value)
            if self._select_first is None:
                self._select_first = value
                self._select.value = value
            if "selected" in a:
                self._select.value = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            for action in self._posting:
                self.forms.append(Form(self.page, action, "post", list(self._form.fields)))
            self._posting = []
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def parse(page: str, html: str) -> _PageParser:
    parser = _PageParser(page)
    parser.feed(html)
    return parser


# --------------------------------------------------------------------------- database
def _tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [r[0] for r in cursor.fetchall() if r[0] not in VOLATILE_TABLES]


# Rows every request may touch: the login session.
VOLATILE_TABLES = {"django_session"}


def snapshot_sql() -> str:
    """One query: per table, its row count and a digest of its contents."""
    parts = [
        f"(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
        f" FROM {connection.ops.quote_name(name)} t)"
        for name in _tables()
    ]
    return "SELECT " + ", ".join(parts)


WRITES_SQL = (
    "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
    " WHERE schemaname = 'public'"
)


class Database:
    def __init__(self):
        self.tables = _tables()
        self.sql = snapshot_sql()
        self._baseline: dict[str, str] | None = None
        self.digests = 0  # how many full snapshots were taken (the expensive query)

    def writes(self) -> dict[str, int]:
        """Rows inserted, updated or deleted so far in this transaction, per table: a cheap
        test of whether a request wrote at all (an aborted savepoint's writes count too, so
        a change here is confirmed with the full snapshot)."""
        with connection.cursor() as cursor:
            cursor.execute(WRITES_SQL)
            return {t: n for t, n in cursor.fetchall() if t not in VOLATILE_TABLES}

    @property
    def baseline(self) -> dict[str, str]:
        """The tables as every request finds them: `send` rolls each request back, so one
        snapshot taken before the first request holds for all of them (half the digests)."""
        if self._baseline is None:
            self._baseline = self.snapshot()
        return self._baseline

    def snapshot(self) -> dict[str, str]:
        self.digests += 1
        with connection.cursor() as cursor:
            cursor.execute(self.sql)
            return dict(zip(self.tables, cursor.fetchone(), strict=True))


@dataclass
class Outcome:
    status: int
    error: str = ""  # the exception a 500 raised
    changed: list[str] = field(default_factory=list)  # tables a refused request changed
    html: str = ""
    location: str = ""  # where a redirect leads


def send(client: Client, db: Database, method: str, url: str, data: bytes | None = None,
         htmx: bool = False) -> Outcome:  # fmt: skip
    """Send one request in a savepoint that is rolled back; report its status, the exception
    of a server error, and the tables a refused (4xx) request changed."""
    headers = {"HX-Request": "true"} if htmx else {}
    before = db.baseline
    written = db.writes()
    with transaction.atomic():
        try:
            if method == "post":
                response = client.post(
                    url, data=data or b"", content_type="application/x-www-form-urlencoded",
                    headers=headers,
                )  # fmt: skip
            else:
                response = client.get(url, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a server error is what we are looking for
            transaction.set_rollback(True)
            return Outcome(500, f"{type(exc).__name__}: {str(exc)[:160]}")
        outcome = Outcome(response.status_code)
        if response.status_code >= 500:
            outcome.error = f"HTTP {response.status_code}"
        if 400 <= response.status_code < 500 and db.writes() != written:
            after = db.snapshot()
            outcome.changed = [t for t in db.tables if before[t] != after[t]]
        if 300 <= response.status_code < 400:
            outcome.location = response.get("Location", "")
        if not getattr(response, "streaming", False) and "html" in response.get("Content-Type", ""):
            outcome.html = response.content.decode("utf-8", "replace")
        transaction.set_rollback(True)
    return outcome


# --------------------------------------------------------------------------- crawl
SKIP_IN_URL = ("/events", "/logout", ".ics")


def route(url: str) -> str:
    """The URL pattern's name ('predictions:metric_detail'), or '' when none matches."""
    try:
        return resolve(urlsplit(url).path).view_name
    except Resolver404:
        return ""


def crawl(client: Client, db: Database, start: str, per_route: int = 2, limit: int = 600,
          seeds: list[str] = ()):  # fmt: skip
    """Breadth-first over every same-prefix link, hx-get, GET form and redirect of the start
    page (and of `seeds`, pages of states the links may not lead to first), at most
    `per_route` URLs per URL pattern (and as many query-string variants).
    Returns (pages visited -> status, forms found: one per URL pattern and set of fields)."""
    seen: dict[str, int] = {}
    per: dict[tuple[str, bool], int] = {}
    params: dict[str, set[str]] = {}
    forms: dict[tuple, Form] = {}
    commented: list[str] = []
    queue = [*seeds, start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        path = urlsplit(url)
        url = path.path + (f"?{path.query}" if path.query else "")
        if url in seen or not path.path.startswith(start) or any(s in url for s in SKIP_IN_URL):
            continue
        slot = (route(url), bool(path.query))
        params.setdefault(slot[0], set()).update(k for k, _ in parse_qsl(path.query))
        if per.get(slot, 0) >= per_route and url not in seeds:
            continue
        per[slot] = per.get(slot, 0) + 1
        outcome = send(client, db, "get", url)
        seen[url] = outcome.status
        if outcome.location:
            queue.append(urljoin(url, outcome.location))
        if not outcome.html:
            continue
        if "{#" in outcome.html:
            commented.append(url)
        page = parse(url, outcome.html)
        for form in page.forms:
            form.action = urlsplit(form.action).path + (
                f"?{urlsplit(form.action).query}" if urlsplit(form.action).query else ""
            )
            if form.action.startswith(start):
                forms.setdefault((route(form.action), *form.key[::2]), form)
                if form.method == "get":
                    queue.append(form.action.split("?")[0] + "?" + query(
                        {k: v[0] for k, v in form.defaults().items()}
                    ))  # fmt: skip
        for link in sorted(page.links):
            if urlsplit(link).path.startswith(start):
                queue.append(link)
    return Crawl(seen, list(forms.values()), params, commented)


@dataclass
class Crawl:
    pages: dict[str, int]  # URL -> status
    forms: list[Form]
    params: dict[str, set[str]]  # route -> query parameter names seen in its links
    commented: list[str] = field(default_factory=list)  # pages that print "{#"

    def routes(self) -> set[str]:
        return {route(u) for u in self.pages} | {route(f.action) for f in self.forms}


# --------------------------------------------------------------------------- values
# The whole corpus, by kind of field, minus what the request guard refuses before any view
# (NUL, lone surrogates: one round of NUL per form proves the guard is in front of it).
CORPUS_BY_KIND: dict[str, list[str]] = {
    "text": STRINGS + LONG + NUMBERS + DATES + JSON_VALUES,
    "number": NUMBERS + ["", " ", "1" * 400, "-" + "9" * 400, "x" * 5_000],
    "date": DATES + ["9999-99-99", "1" * 400, "2026-02-29", "0000-00-00"],
    "choice": STRINGS + NUMBERS + ["9" * 400, "-1", "0", "x" * 5_000],
    "json": JSON_VALUES,
}
CORPUS_BY_KIND = {k: [v for v in vs if not guarded(v)] for k, vs in CORPUS_BY_KIND.items()}
ROUNDS = 4  # all-fields-hostile requests per form: one of NUL, three from the corpus
# Sent into one field at a time, the other fields as the page filled them, so the code behind
# an otherwise valid form runs too.
ALONE: dict[str, list[str]] = {
    "number": ["1" * 400],
    "date": ["0001-01-01"],
    "choice": ["9" * 400],
    "text": ["x" * 100_000],
    "json": ["[" * 50_000 + "]" * 50_000],
}


def kind_of(f: Field) -> str:
    if f.kind == "number":
        return "number"
    if f.kind in ("date", "datetime-local", "month"):
        return "date"
    if f.kind in ("select", "radio", "checkbox", "submit", "hidden"):
        return "choice"
    if f.kind == "textarea" and any(w in f.name for w in ("json", "settings", "config", "turns")):
        return "json"
    return "text"


class Plan:
    """Which values go where. Each kind's corpus is dealt out in order across every field of
    every form and round, so the whole corpus is sent (see `unsent`) in a bounded number of
    requests: ROUNDS per form plus len(ALONE[kind]) per field."""

    def __init__(self):
        self._deal = {k: itertools.cycle(vs) for k, vs in CORPUS_BY_KIND.items()}
        self.sent: set[str] = set()

    def _next(self, kind: str) -> str:
        value = next(self._deal[kind])
        self.sent.add(value)
        return value

    def rounds(self, form: Form) -> list[dict[str, list[str]]]:
        """The all-fields-hostile requests of a form."""
        fields = [f for f in form.fields if f.kind != "file"]
        base = form.defaults()
        out = [{**base, **{f.name: ["\x00"] for f in fields}}]
        for _ in range(ROUNDS - 1):
            out.append({**base, **{f.name: [self._next(kind_of(f))] for f in fields}})
        return out

    @staticmethod
    def alone(form: Form) -> list[tuple[str, str, dict[str, list[str]]]]:
        """(field, value, data) for the one-field-hostile requests of a form (one per name:
        a radio group or repeated button is one field)."""
        base = form.defaults()
        fields = {f.name: f for f in reversed(form.fields) if f.kind != "file"}
        return [
            (name, value, {**base, name: [value]})
            for name, f in reversed(fields.items())
            for value in ALONE[kind_of(f)]
        ]

    def unsent(self) -> list[str]:
        """Corpus values no request carried (the start of each)."""
        every = {v for vs in CORPUS_BY_KIND.values() for v in vs}
        return sorted(v[:20] for v in every - self.sent)


QUERY_VALUES = ["9" * 400, "-1", "NaN", "Infinity", "0001-Q1", "9999-Q4", "0001-01-01",
                "x" * 5_000, "[" * 1_000]  # fmt: skip
PATH_QUARTERS = QUARTERS + ["0000-Q1", "10000-Q1"]
HUGE_PK = "9" * 25
