"""Hostile values into every form field and every team GET URL: no server error, and a
refused submission changes nothing (row counts and contents of every table compared).

The pages and forms are found by crawling the demo team as its owner (seeded and crawled once
for the module), so a new page or form is covered without touching this file; a coverage check
fails when a team URL is never reached. Bounded, so that it stays fast: one or two URLs per URL
pattern; per form, four requests with every field hostile at once (NUL, then the corpus dealt
out across fields) and one per field with a representative value (harness.Plan); per page, one
request per query value only when the page has parameters of its own.
"""

from __future__ import annotations

import re
from datetime import date
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, reverse

from audits import proposals as proposal_text
from audits import propose
from audits.models import AuditRun, Idea, ProbeProposal, RunStatus
from planning.accounts.models import User
from planning.facilitator.models import Draft, FacilitatorSetting, SideProposal, SideRun
from planning.notes.models import Note
from planning.reviews import services as review_services
from planning.reviews.models import Review
from planning.teams.models import Team
from predictions import services as prediction_services
from predictions import tasks, trials
from predictions.models import Critique, Metric, MetricSource, Prediction

from . import harness

START = "/t/demo/"
# django_db: so that the test database is set up when this module runs alone; each test is
# then a savepoint inside the module-wide transaction of `crawled`.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Team URLs the crawl cannot reach, and why (none: _states_the_demo_lacks makes the states).
UNREACHED: dict[str, str] = {}


@pytest.fixture(scope="module")
def crawled(django_db_setup, django_db_blocker, fake_api):
    """The demo, seeded and crawled once for every test of this module, inside a transaction
    rolled back at the end (each request in it runs in its own rolled-back savepoint)."""
    with (
        django_db_blocker.unblock(),
        override_settings(ANTHROPIC_BASE_URL=fake_api, ANTHROPIC_API_KEY="test-key"),
        transaction.atomic(),
    ):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        client = Client()
        client.force_login(User.objects.get(email="demo@example.com"))
        seeds = _states_the_demo_lacks(client)
        database = harness.Database()
        yield client, database, harness.crawl(client, database, START, seeds=seeds)
        transaction.set_rollback(True)


def _states_the_demo_lacks(client) -> list[str]:
    """A review in progress, a draft line and a pending invitation; returns their pages."""
    client.post(f"{START}reviews/start/")
    client.post(f"{START}members/invite/", {"email": "new.hire@example.com", "role": "editor"})
    committed = Prediction.objects.filter(metric__team__slug="demo", kind="line").first()
    draft = Prediction.objects.create(
        team=committed.metric.team, metric=committed.metric, author=committed.author, kind="line",
        title="A draft line",
        horizon=committed.horizon, trajectory=committed.trajectory, band=committed.band,
    )  # fmt: skip
    review = Review.objects.get(team__slug="demo", status=Review.Status.IN_PROGRESS)
    # Two more bets, without light and shade: the backlog can be reordered, a bet waived.
    for title in ("A bet with one side missing", "Another bet"):
        review_services.add_backlog_item(review, title)
    closed = Review.objects.filter(team__slug="demo", status=Review.Status.CLOSED).first()
    team = review.team
    # A run in progress (Stop) and one stopped by its budget with calls left (Resume).
    running, stopped = AuditRun.objects.filter(team=team).order_by("pk")[:2]
    AuditRun.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING)
    AuditRun.objects.filter(pk=stopped.pk).update(
        status=RunStatus.BUDGET, expected_calls=F("done_calls") + F("error_calls") + 5
    )
    # Anti-anchoring, and a metric where only a colleague committed a call (Reveal); a
    # committed call of one's own not resolved yet (Resolve by hand).
    Team.objects.filter(pk=team.pk).update(anti_anchoring=True)
    metric = committed.metric
    theirs = _threshold(
        Metric.objects.create(team=team, name="Hidden calls", scale="linear"),
        User.objects.get(email="ada.forecaster@example.com"),
    )
    mine = _threshold(metric, committed.author)
    connected = Metric.objects.get(team=team, source__isnull=False)
    # The Claude facilitator on, with a finished draft of step 1 (Accept, Discard, Draft again).
    FacilitatorSetting.objects.create(team=team, enabled=True, model_id="sim-claude-4-20260115")
    Draft.objects.create(
        team=team, review=review, step=1, status=Draft.Status.READY, model="sim-claude-4",
        text="A drafted claim [P1].\n\nAn uncited one.",
    )  # fmt: skip
    # "Find the missing side": a finished run with a proposal to accept (edited) or discard.
    one_sided = review.backlog.get(title="A bet with one side missing")
    Note.objects.create(team=team, target=one_sided, kind="light", text="Ships sooner.")
    run = SideRun.objects.create(team=team, review=review, model="sim-claude-4", parts_total=1)
    SideProposal.objects.create(
        team=team, run=run, bet=one_sided, kind="shade", model="sim-claude-4",
        status=SideProposal.Status.READY, text="The risk: it may not hold up.",
    )  # fmt: skip
    # Probes Claude proposed for an idea (Review and save, Try once) and a finished critique.
    idea = Idea.objects.filter(team=team).first()
    answer = proposal_text.scripted_answer(
        proposal_text.user_prompt(
            title=idea.title, description=idea.description, capability="", failed_on="a model",
            why_failed="",
        )
    )  # fmt: skip
    ProbeProposal.objects.create(
        team=team, idea=idea, status=ProbeProposal.Status.READY,
        proposals=propose.checked(proposal_text.parse(answer).proposals, ""),
    )  # fmt: skip
    critique = Critique.objects.create(
        team=team, metric=metric, status=Critique.Status.READY, text="Consider the base rate."
    )
    # A "Test the source" running (no worker takes it here): its poll is fetched by the page
    # that started it, never linked.
    with mock.patch.object(tasks.run_source_test, "delay"):
        trial_id = trials.start(
            MetricSource.objects.select_related("metric").get(metric=connected),
            user_id=User.objects.get(email="demo@example.com").pk,
            team_id=team.pk,
            today=team.today(),
        )
    return [
        reverse(
            "predictions:source_test_result",
            kwargs={"team": team.slug, "pk": connected.pk, "trial_id": trial_id},
        ),
        draft.get_absolute_url(),
        idea.get_absolute_url(),
        # A metric with observations (Edit, History): the two metric pages the crawl's bound
        # lets it visit may otherwise both be metrics without any.
        Metric.objects.filter(team=team, observations__isnull=False).first().get_absolute_url(),
        reverse("predictions:prediction_create", kwargs={"team": team.slug, "pk": metric.pk}),
        # The critique's panel is fetched by the page that started it, never linked.
        reverse(
            "predictions:critique_panel",
            kwargs={"team": team.slug, "pk": metric.pk, "cid": critique.pk},
        ),
        *(review.step_url(n) for n in (1, 3, 6, 7, 8)),
        closed.step_url(8),
        running.get_absolute_url(),
        stopped.get_absolute_url(),
        theirs.metric.get_absolute_url(),
        mine.get_absolute_url(),
        # The demo's connected metric: its source form (Test, Save, Remove) and push URL.
        reverse("predictions:metric_source", kwargs={"team": team.slug, "pk": connected.pk}),
    ]


def _threshold(metric, author) -> Prediction:
    call = Prediction.objects.create(
        team=metric.team, metric=metric, author=author, kind="threshold", title="A call",
        horizon=date(2040, 1, 1), threshold_value=1e6, probability=0.3,
        definition_version=metric.definition_version,
    )  # fmt: skip
    return prediction_services.commit_prediction(call)


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
    assert not missing, (
        f"team URLs the hostile-values test never reached: {sorted(missing)} "
        f"({len(crawl.pages)} pages crawled)"
    )


def test_hostile_values_in_every_form_field(crawled):
    client, db, crawl = crawled
    plan = harness.Plan()
    problems: list[str] = []

    def check(form, data, where):
        out = harness.send(client, db, "post", form.action, harness.body(data))
        if out.status >= 500:
            problems.append(f"{where}: {out.error}")
        elif out.changed:
            problems.append(f"{where}: {out.status} but changed {', '.join(out.changed)}")

    posts = [f for f in crawl.forms if f.method == "post"]
    for form in posts:
        for i, data in enumerate(plan.rounds(form)):
            check(form, data, f"POST {form.action} (every field hostile, round {i})")
        for name, value, data in plan.alone(form):
            check(form, data, f"POST {form.action} {name}={value[:20]!r}")
    assert not problems, "\n".join(problems)
    assert not plan.unsent(), f"corpus values never sent: {plan.unsent()}"


def test_hostile_query_strings_and_paths_on_every_team_page(crawled):
    client, db, crawl = crawled
    problems: list[str] = []
    done: set[str] = set()
    for url, status in crawl.pages.items():
        path = url.split("?")[0]
        name = harness.route(path)
        if status >= 400 or name in done:
            continue
        done.add(name)
        known = crawl.params.get(name, set())
        names = sorted(known | {"q", "page"})
        # A page with parameters of its own: one request per value with every parameter set
        # to it. Any page: one with parameters it does not expect, and the guard's refusal of
        # NUL.
        urls = [
            f"{path}?{harness.query(dict.fromkeys(names, v))}"
            for v in (harness.QUERY_VALUES if known else [])
        ]
        urls.append(f"{path}?{harness.query({'q': '[' * 1_000, 'page': '9' * 400})}")
        urls.append(f"{path}?{harness.query(dict.fromkeys(names, chr(0)))}")
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
            elif hostile.split("?")[0] != path and out.status != 404:
                # A quarter out of range (0001-Q1) or a primary key no column holds: not found.
                problems.append(f"GET {hostile[:120]}: {out.status}, expected 404")
    assert not problems, "\n".join(problems)


def test_no_team_page_of_the_demo_prints_a_template_comment(crawled):
    _, _, crawl = crawled
    assert not [u for u, status in crawl.pages.items() if status >= 500]
    pages = [url for url, status in crawl.pages.items() if status == 200]
    assert len(pages) > 20 and any("/audits/" in u for u in pages)
    assert not crawl.commented, f"template comments shown on: {crawl.commented}"


def test_the_write_counters_see_a_write_that_a_savepoint_undid(crawled):
    """`send` takes the full snapshot only when PostgreSQL's per-transaction write counters
    moved: they must move for a write, even one rolled back since."""
    _, db, _ = crawled
    before = db.writes()
    with transaction.atomic():
        Prediction.objects.filter(title="A draft line").update(title="Changed")
        transaction.set_rollback(True)
    table = Prediction._meta.db_table
    assert db.writes()[table] > before.get(table, 0)
