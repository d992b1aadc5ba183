"""A capability audit in a real browser, end to end: the real ASGI server (the live stream is
an async SSE view), a real Celery worker and the fake Messages API as a real HTTP server.
Start an audit from its form, watch results arrive live in two tabs, stop it from one, resume
it, and see it finish with the results matrix showing the ideas that lit up."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audits.models import AuditRun, Grade, Idea, Model, Price, Probe, Result, RunStatus
from tests.audits import fake  # points ANTHROPIC_BASE_URL at the fake before workers start
from tests.browser.helpers import logged_in_context
from tests.conftest import wait_for
from tests.live import fixtures
from tests.processes import worker_idle

uvicorn_server = fixtures.asgi_server  # the real ASGI server, as a fixture of this module


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

NEWER, OLDER = "sim-claude-4-20260115", "sim-claude-3-20250610"
LIT = ["Contract extraction", "Invoice arithmetic"]  # pass on the newer model only
STILL_DARK = ["COBOL migration", "Legal summaries", "Voice agent", "Spreadsheet formulas"]


@pytest.fixture(scope="module")
def fake_server(fake_api):
    """The session's fake Messages API (tests/conftest.py)."""
    return fake_api


@pytest.fixture
def gate(fake_server):
    """The fake server's gate, closed: the test lets each answer arrive when it wants it."""
    gate = fake.Gate()
    gate.close()
    yield gate
    gate.open()


def seed(team):
    newer = Model.objects.create(model_id=NEWER, display_name="Sim 4")
    older = Model.objects.create(model_id=OLDER, display_name="Sim 3")
    Price.objects.create(model_id="sim-claude", input_per_mtok=Decimal(3),
                         output_per_mtok=Decimal(15))  # fmt: skip
    ideas = []
    for title in LIT + STILL_DARK:
        idea = Idea.objects.create(team=team, title=title, why_failed="The model said no.")
        prompt = "LATER-PASSES" if title in LIT else "NEVER"
        Probe.objects.create(idea=idea, name=f"{title} probe", user_message=f"{prompt}: {title}",
                             grader="contains", grader_config={"expected": "yes"})  # fmt: skip
        ideas.append(idea)
    # last quarter every idea failed on the older model: a pass now lights an idea up
    earlier = AuditRun.objects.create(team=team, quarter="2020-Q1", status=RunStatus.COMPLETED,
                                      expected_calls=len(ideas), done_calls=len(ideas))  # fmt: skip
    AuditRun.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=90))
    earlier.models.set([older])
    earlier.ideas.set(ideas)
    Result.objects.bulk_create(
        Result(
            run=earlier,
            probe=idea.probes.get(),
            model=older,
            sample=1,
            grade=Grade.FAIL,
            auto_grade=Grade.FAIL,
            response="NO",
        )  # fmt: skip
        for idea in ideas
    )
    return newer, older


def live_results(page) -> int:
    return page.locator("[data-live-log] li.live-log-result").count()


def test_start_watch_in_two_tabs_stop_resume_and_finish(
    browser, uvicorn_server, gate, team, owner, celery_worker_process
):
    base = uvicorn_server.base_url
    seed(team)
    calls = 2 * len(LIT + STILL_DARK)
    context = logged_in_context(browser, base, owner)
    first = context.new_page()
    first.on("console", lambda msg: msg.type == "error" and print("console:", msg.text))

    # start the audit from its form: both models, every dormant idea (the default)
    first.goto(f"{base}/t/{team.slug}/audits/new/")
    for name in (NEWER, OLDER):
        first.get_by_label(re.compile(re.escape(name))).check()
    first.get_by_role("button", name="Start audit").click()
    first.wait_for_url(re.compile(r"/audits/\d+/$"))
    run = AuditRun.objects.get(team=team, status=RunStatus.RUNNING)
    second = context.new_page()
    second.goto(first.url)

    # results arrive live in both tabs while the run is still going (one answer at a time:
    # the worker's two processes wait for theirs at the fake server's gate)
    for page in (first, second):
        expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    assert wait_for(lambda: gate.waiting() == 2, 20)
    gate.release(1)
    assert wait_for(lambda: live_results(first) == 1 and live_results(second) == 1, 20)
    gate.release(1)
    assert wait_for(lambda: live_results(second) == 2, 10), "the second tab is not live"
    assert wait_for(lambda: gate.waiting() == 2, 20)  # two calls in flight
    assert AuditRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    expect(second.locator("[data-run-done]")).not_to_have_text(f"0 / {calls} calls")

    # stop it from the first tab; both tabs say "Stopping…" (the event comes before the end),
    # then "Stopped", without a reload
    for page in (first, second):
        page.evaluate("window.__stillHere = true")
    first.locator("[data-run-stop]").click()
    for page in (first, second):
        expect(page.locator("[data-run-status]")).to_have_attribute("data-run-status", "cancelled")
        expect(page.locator("[data-run-status]")).to_have_text("Stopped")
        expect(page.locator("[data-live-state-label]")).to_have_text("Finished · Cancelled")
        log = page.locator("[data-live-log]").text_content()
        assert "Stopping…" in log and log.index("Stopping…") < log.index("Cancelled"), log
        assert page.evaluate("window.__stillHere === true")  # no reload
    expect(second.locator("[data-run-stop]")).to_have_count(0)  # its controls followed
    expect(second.locator("[data-run-resume]")).to_be_visible()
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    gate.open()  # the calls in flight get their answers (they stop at the first token)
    assert wait_for(lambda: worker_idle(celery_worker_process), 30)  # and the queue is drained
    settled = Result.objects.filter(run=run).count()
    assert 2 <= settled <= 4  # the two released answers, and at most the two in flight
    resume = first.get_by_role("button", name=re.compile(r"Resume \(\d+ calls? left\)"))
    expect(resume).to_have_text(re.compile(rf"Resume \({calls - settled} calls? left\)"))

    # resume: only the missing calls run, watched live again, and the run finishes
    before = fake.requests_seen()
    second.evaluate("window.__notReloaded = true")
    gate.close()  # the resumed run stays live until the first tab has seen it
    resume.click()
    expect(first.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    gate.open()
    # the second tab follows the resumed run without a reload (its progress line notices the
    # new epoch; the run body is swapped for the new live session), to the end
    for page in (first, second):
        expect(page.locator("[data-run-status]")).to_have_attribute(
            "data-run-status", "completed", timeout=30_000
        )
        expect(page.locator("[data-live-state-label]")).to_have_text("Finished · Completed")
    assert second.evaluate("window.__notReloaded === true")
    assert wait_for(lambda: live_results(second) > 0, 10)  # the new session's results
    run.refresh_from_db()
    assert (run.done_calls, run.expected_calls, run.epoch) == (calls, calls, 2)
    assert fake.requests_seen() - before == calls - settled  # nothing ran twice

    # the results matrix (refreshed when the run ended, no reload) shows what lit up
    for page in (first, second):
        lit_up = page.locator(".lit-up")
        for title in LIT:
            expect(lit_up).to_contain_text(title)
        for title in STILL_DARK:
            expect(lit_up).not_to_contain_text(title)
        expect(page.locator(".audit-matrix .newly-passing")).to_have_count(len(LIT))
    assert set(Idea.objects.filter(status="lit_up").values_list("title", flat=True)) == set(LIT)

    # and the team's results matrix page says the same
    first.goto(f"{base}/t/{team.slug}/audits/matrix/")
    expect(first.locator(".lit-up")).to_contain_text(LIT[0])
    expect(first.locator(".audit-matrix .newly-passing")).to_have_count(len(LIT))


def test_a_fresh_team_sees_its_first_audit_light_an_idea_up_and_promotes_it(
    browser, uvicorn_server, fake_server, team, owner, celery_worker_process
):
    """A new user, no earlier run: log an idea (its failure is the logging), add a probe with
    the form fields of the Contains grader, audit it, see it light up, promote it and find it
    on the review's backlog."""
    base = uvicorn_server.base_url
    Model.objects.create(model_id=NEWER, display_name="Sim 4")
    Model.objects.create(model_id=OLDER, display_name="Sim 3")
    Price.objects.create(model_id="sim-claude", input_per_mtok=Decimal(3),
                         output_per_mtok=Decimal(15))  # fmt: skip
    page = logged_in_context(browser, base, owner).new_page()

    page.goto(f"{base}/t/{team.slug}/ideas/new/")
    page.get_by_label("Title").fill("Fresh idea")
    page.get_by_role("button", name="Save idea").click()
    page.get_by_role("button", name="Add a probe").click()
    page.get_by_label("Name").fill("Does it now?")
    page.get_by_label("User message").fill("LATER-PASSES: can it do it now?")
    page.locator("select[name=grader]").select_option("contains")
    expect(page.get_by_label("Expected text")).to_be_visible()
    expect(page.locator("textarea[name=rubric]")).to_be_hidden()  # other kinds' fields
    page.get_by_label("Expected text").fill("yes")
    page.get_by_role("button", name="Save probe").click()
    expect(page.locator(".status-history")).to_contain_text("failed on a model before")

    page.goto(f"{base}/t/{team.slug}/audits/new/")
    estimate = page.locator("#run-estimate")  # what the run will do, as the choices change
    page.get_by_label(re.compile(re.escape(OLDER))).uncheck()
    page.get_by_label(re.compile(re.escape(NEWER))).check()
    expect(estimate).to_contain_text("This audit makes 1 model call: 1 probe from 1 idea")
    page.get_by_label(re.compile(re.escape(OLDER))).check()
    expect(estimate).to_contain_text("This audit makes 2 model calls")
    page.get_by_role("button", name="Start audit").click()
    expect(page.locator("[data-run-status]")).to_have_attribute(
        "data-run-status", "completed", timeout=30_000
    )
    expect(page.locator(".lit-up")).to_contain_text("Fresh idea")
    expect(page.locator(".run-matrix .newly-passing")).to_have_count(1)  # on Sim 4 only
    expect(page.locator(".run-matrix")).to_contain_text("1 of 1 sample passed")
    expect(page.locator("details.idea-breakdown")).not_to_have_attribute("open", "")
    html = page.content()
    assert "{#" not in html and "[object Object]" not in html
    idea = Idea.objects.get(team=team, title="Fresh idea")
    assert idea.status == "lit_up"
    assert f"passed on {NEWER} (1 of 1 sample passed)" in idea.status_changes.first().reason

    page.locator(".lit-up").get_by_label("Note (why)").fill("Works now; build it")
    page.locator(".lit-up").get_by_role("button", name="Promote to backlog").click()
    from planning.reviews.models import Review

    assert wait_for(lambda: Review.objects.filter(team=team).exists(), 15)
    assert wait_for(lambda: Idea.objects.get(pk=idea.pk).status == "promoted", 15)
    review_url = f"{base}/t/{team.slug}/reviews/{{}}/step/{{}}/"
    quarter = Review.objects.get(team=team).quarter
    page.goto(review_url.format(quarter, 7))
    expect(page.get_by_role("link", name="Build Fresh idea")).to_have_attribute(
        "href", idea.get_absolute_url()
    )
    page.goto(review_url.format(quarter, 3))  # the decision is there, already taken
    subject = page.locator(f"#subject-idea{idea.pk}")
    expect(subject.get_by_role("button", name="Promote", exact=True)).not_to_have_class(
        re.compile("outline")
    )
    expect(subject.get_by_label("Why")).to_have_value("Works now; build it")
