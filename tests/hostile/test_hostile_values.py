"""Hostile values into every form field and every team GET URL: no server error, and a
refused submission changes nothing (row counts and contents of every table compared).

The pages and forms are found by crawling the demo team as its owner, so a new page or form
is covered without touching this file; a coverage check fails when a team URL is never
reached. Bounded: one or two URLs per URL pattern, a short list of values per kind of field.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLResolver, get_resolver

from planning.accounts.models import User
from predictions.models import Prediction

from . import harness

START = "/t/demo/"
pytestmark = pytest.mark.slow

# Team URLs the crawl cannot reach from the demo data, and why.
UNREACHED = {
    "audits:run_stop": "only shown while a run is in progress",
    "audits:run_resume": "only shown for a stopped run with budget left",
    "cadences:occurrence_mark": "only shown for an occurrence that is due",
    "predictions:reveal": "only shown to a member who has not predicted yet",
    "predictions:prediction_resolve": "only shown for a threshold past its deadline",
}
# Known gap: the fixture starts a review and adds a draft line, but the crawl does not reach
# their pages yet (to do: link them from the crawl's start or seed them in the demo).
UNREACHED.update(
    dict.fromkeys(
        ["predictions:prediction_commit", "predictions:prediction_delete",
         "predictions:prediction_edit", "reviews:backlog_add", "reviews:backlog_move",
         "reviews:backlog_score", "reviews:backlog_waive", "reviews:close",
         "reviews:commitment_add", "reviews:commitment_outcome", "reviews:decide",
         "reviews:reopen", "reviews:save_note", "reviews:step"],
        "not reached by the crawl yet",
    )
)  # fmt: skip


@pytest.fixture
def crawled(db, fake_models):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    client = Client()
    client.force_login(User.objects.get(email="demo@example.com"))
    # State the demo does not have: a review in progress, a draft line, a pending invitation.
    client.post(f"{START}reviews/start/")
    client.post(f"{START}members/invite/", {"email": "new.hire@example.com", "role": "editor"})
    committed = Prediction.objects.filter(metric__team__slug="demo", kind="line").first()
    Prediction.objects.create(
        team=committed.metric.team, metric=committed.metric, author=committed.author, kind="line",
        title="A draft line",
        horizon=committed.horizon, trajectory=committed.trajectory, band=committed.band,
    )  # fmt: skip
    database = harness.Database()
    return client, database, harness.crawl(client, database, START)


def _team_routes() -> set[str]:
    def walk(patterns, prefix, ns):
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = f"{ns}{p.namespace}:" if p.namespace else ns
                yield from walk(p.url_patterns, prefix + str(p.pattern), inner)
            elif (prefix + str(p.pattern)).startswith("t/"):
                yield f"{ns}{p.name}"

    return set(walk(get_resolver().url_patterns, "", ""))


def test_the_crawl_reaches_every_team_page_and_form(crawled):
    _, _, crawl = crawled
    missing = _team_routes() - crawl.routes() - set(UNREACHED)
    assert not missing, f"team URLs the hostile-values test never reached: {sorted(missing)}"


def test_hostile_values_in_every_form_field(crawled):
    client, db, crawl = crawled
    problems: list[str] = []
    for form in crawl.forms:
        if form.method != "post":
            continue
        base = form.defaults()
        for f in form.fields:
            for value in harness.values_for(f):
                data = {**base, f.name: [value]}
                out = harness.send(client, db, "post", form.action, harness.body(data))
                where = f"POST {form.action} {f.name}={value[:20]!r}"
                if out.status >= 500:
                    problems.append(f"{where}: {out.error}")
                elif out.changed:
                    problems.append(f"{where}: {out.status} but changed {', '.join(out.changed)}")
    assert not problems, "\n".join(problems)


def test_hostile_query_strings_and_paths_on_every_team_page(crawled):
    client, db, crawl = crawled
    problems: list[str] = []
    done: set[str] = set()
    for url, status in crawl.pages.items():
        path = url.split("?")[0]
        name = harness.route(path)
        if status >= 400 or path in done:
            continue
        done.add(path)
        names = sorted(crawl.params.get(name, set()) | {"q", "page"})
        urls = [f"{path}?{harness.query({n: v})}" for n in names for v in harness.QUERY_VALUES]
        if re.search(r"\d{4}-Q\d", path):
            urls += [re.sub(r"\d{4}-Q\d", q, path, count=1) for q in harness.PATH_QUARTERS]
        urls += [
            path[: m.start()] + harness.HUGE_PK + path[m.end() :]
            for m in re.finditer(r"(?<=/)\d+(?=/|\.)", path)
        ]
        for hostile in urls:
            out = harness.send(client, db, "get", hostile)
            if out.status >= 500:
                problems.append(f"GET {hostile[:120]}: {out.error}")
            elif hostile.split("?")[0] != path and out.status != 404 and out.status < 300:
                problems.append(f"GET {hostile[:120]}: {out.status}, expected 404")
    assert not problems, "\n".join(problems)
