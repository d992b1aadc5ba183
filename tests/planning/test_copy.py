"""Issue 13, "Quarters and copy": fiscal quarters read "FY2027 Q4" with the calendar months on
hover, proper plurals everywhere (no "(s)"), no doubled unit, no literal <address>, a closed
review is never "continued", the plan names which side of a bet was waived and why, and an
empty chart spans today ± a year. The demo is crawled to check the copy on every page."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from planning.accounts.models import User
from planning.quarters import Quarter, parse_quarter, quarter_label
from planning.reviews.logic import PlanData, render_plan_markdown, waiver_sentence
from planning.reviews.models import Review
from predictions import charts
from predictions.models import Metric

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- quarter labels
@pytest.mark.parametrize(
    ("label", "start", "words", "months"),
    [
        ("2027-Q4", 4, "FY2027 Q4", "Jan–Mar 2027"),
        ("2027-Q3", 7, "FY2027 Q3", "Jan–Mar 2027"),
        ("2027-Q1", 7, "FY2027 Q1", "Jul–Sep 2026"),
        ("2027-Q4", 2, "FY2027 Q4", "Nov 2026–Jan 2027"),
        ("2026-Q4", 1, "Q4 2026", "Oct–Dec 2026"),
        ("not a quarter", 4, "not a quarter", ""),
    ],
)
def test_quarter_labels_in_words(label, start, words, months):
    assert quarter_label(label, start) == (words, months)


def test_str_stays_the_url_form():
    q = parse_quarter("2027-Q4", 4)
    assert str(q) == "2027-Q4" and q.label == "FY2027 Q4" and q == Quarter(2027, 4, 4)


@pytest.fixture
def fiscal_team(team):
    team.fiscal_year_start_month = 4
    team.save(update_fields=["fiscal_year_start_month"])
    return team


def test_quarter_pages_say_fy_with_the_months_on_hover(fiscal_team, owner_client):
    team = fiscal_team
    page = owner_client.get(
        reverse("predictions:quarter", kwargs={"team": team.slug, "quarter": "2027-Q4"})
    ).content.decode()
    assert '<h1>Predictions in <span class="quarter" title="Jan–Mar 2027">FY2027 Q4</span>' in page
    assert "<title>FY2027 Q4 · Lines on Graphs" in page
    assert "FY2027 Q3</span></a>" in page and "FY2028 Q1</span> →" in page
    assert not re.search(r">[^<]*\b2027-Q4\b", page)  # never as text, only in URLs


def test_review_list_never_continues_a_closed_review(fiscal_team, owner, owner_client):
    from planning.quarters import current_quarter

    current = str(current_quarter(fiscal_team))
    Review.objects.create(team=fiscal_team, quarter=current, started_by=owner, status="closed")
    page = owner_client.get(reverse("reviews:review_list", kwargs={"team": fiscal_team.slug}))
    body = page.content.decode()
    assert "Continue the" not in body
    assert "See the <span" in body and "review is closed" in body


# --------------------------------------------------------------------------- the plan
def test_the_plan_names_the_waived_side_and_the_reason():
    assert waiver_sentence(False, False, True, "Exploratory spike.") == (
        "Both sides were explicitly waived (no light, no shade): Exploratory spike."
    )
    assert waiver_sentence(True, False, True, "") == "The shade (risk) was explicitly waived."
    assert waiver_sentence(False, True, True, "No upside yet") == (
        "The light (opportunity) was explicitly waived: No upside yet."
    )
    assert waiver_sentence(True, True, True, "x") == ""  # nothing missing, nothing waived
    assert waiver_sentence(False, False, False) == ""
    plan = PlanData(team="Acme", quarter="FY2027 Q4 (Jan–Mar 2027)", closed_at="now",
                    closed_by="Olive",
                    bets=[("Spike", [], [], True, "Time-boxed to two weeks")])  # fmt: skip
    md = render_plan_markdown(plan, {n: f"Step {n}" for n in range(1, 9)})
    assert (
        "_Both sides were explicitly waived (no light, no shade): Time-boxed to two weeks._" in md
    )
    assert "One side" not in md
    assert md.startswith("# Acme — quarterly plan FY2027 Q4 (Jan–Mar 2027)")


# --------------------------------------------------------------------------- small copy
def test_a_name_that_already_says_its_unit_is_not_doubled(team, owner_client):
    metric = Metric.objects.create(
        team=team, name="METR 50% time horizon (minutes)", unit="minutes"
    )
    assert str(metric) == "METR 50% time horizon (minutes)"
    assert str(Metric(name="Revenue", unit="$")) == "Revenue ($)"
    for url in [
        reverse("predictions:metric_list", kwargs={"team": team.slug}),
        reverse("predictions:prediction_create", kwargs={"team": team.slug, "pk": metric.pk}),
    ]:
        assert "(minutes) (minutes)" not in owner_client.get(url).content.decode()


def test_csv_upload_with_one_problem_says_this_problem(team, editor_client):
    metric = Metric.objects.create(team=team, name="ARR", unit="$", scale="linear")
    upload = io.BytesIO(b"date,value\n2025-01-01,lots\n")
    upload.name = "arr.csv"
    response = editor_client.post(
        reverse("predictions:observations_upload", kwargs={"team": team.slug, "pk": metric.pk}),
        {"file": upload},
    )
    body = response.content.decode()
    assert "Fix this problem and upload again" in body and "Fix these 1" not in body


def test_an_empty_chart_spans_today_plus_or_minus_a_year():
    today = date(2026, 12, 2)
    figure = charts.metric_figure(name="ARR", unit="$", log=False, obs_t=[], obs_values=[],
                                  lines=[], today=today)  # fmt: skip
    assert figure["layout"]["xaxis"]["range"] == [
        (today - timedelta(days=365)).isoformat(),
        (today + timedelta(days=365)).isoformat(),
    ]


# --------------------------------------------------------------------------- the demo
SKIP = ("/audits/models", "/events", ".ics", "logout", "export", ".md", ".csv")
DEFECTS = {
    "(s)": re.compile(r"\w\(s\)"),
    "doubled unit": re.compile(r"\(([^()<>]+)\)\s*\(\1\)"),
    "Fix these 1": re.compile(r"Fix these 1 "),
    "literal <address>": re.compile(r"&lt;address&gt;|<address>"),
    "One side waived": re.compile(r"One side was explicitly waived"),
}


@pytest.mark.slow
def test_demo_pages_have_no_copy_defects(db):
    """Every demo page (two per URL pattern), as the demo owner: no "(s)", no doubled unit."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    client = Client()
    client.force_login(User.objects.get(email="demo@example.com"))
    client.post("/t/demo/reviews/start/")
    seen: dict[str, int] = {}
    per: dict[str, int] = {}
    queue = ["/t/demo/"]
    problems = []
    while queue and len(seen) < 250:
        url = queue.pop(0)
        if url in seen or not url.startswith("/t/demo/") or any(s in url for s in SKIP):
            continue
        try:
            name = resolve(urlsplit(url).path).view_name
        except Resolver404:
            continue
        if per.get(name, 0) >= 2:
            continue
        per[name] = per.get(name, 0) + 1
        response = client.get(url)
        seen[url] = response.status_code
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        for what, pattern in DEFECTS.items():
            for match in pattern.finditer(html):
                problems.append(f"{url}: {what}: …{html[match.start() - 60 : match.end() + 20]}…")
        queue.extend(
            link.replace("&amp;", "&")
            for link in re.findall(r'(?:href|hx-get)="(/t/demo/[^"#]*)"', html)
        )
    assert len(seen) > 40, seen  # the crawl really went round the demo
    assert not problems, "\n".join(problems)
