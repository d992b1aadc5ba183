"""The review pulls live data from every module and carries decisions back to them."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audits.models import Idea, IdeaStatus
from planning.cadences.models import Cadence, Kind, Occurrence
from planning.cadences.services import create_default_cadences
from planning.reviews import services, sources
from planning.reviews.models import BacklogItem, Review
from tests.bottlenecks.maps import FIXTURES, PR_COLUMNS, UTC_ZONE, delivery_map

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(team, owner):
    from audits import demo as audits_demo
    from planning.bottlenecks import demo as bottlenecks_demo
    from planning.saturation import demo as saturation_demo
    from predictions import demo as predictions_demo

    for module in (predictions_demo, audits_demo, saturation_demo, bottlenecks_demo):
        module.seed(team, owner)
    return services.start_review(team, owner)[0]


def url(review, name, **kw):
    return reverse(
        f"reviews:{name}", kwargs={"team": review.team.slug, "quarter": review.quarter, **kw}
    )


def test_look_back_scores_the_quarters_predictions(seeded, owner_client):
    rows = sources.prediction_scores(seeded)
    assert rows, "the demo has committed lines with observations this quarter"
    assert rows == sorted(rows, key=lambda r: -r["surprise"])
    body = owner_client.get(url(seeded, "step", n=1)).content.decode()
    assert rows[0]["title"] in body


def test_steps_show_each_modules_subjects(seeded):
    ideas = sources.step_subjects(seeded, 3)
    assert ideas and all(s.key.startswith("idea:") for s in ideas)
    form_factors = sources.step_subjects(seeded, 4)
    assert {s.label for s in form_factors} >= {"Chat assistant"} or form_factors
    stages = sources.step_subjects(seeded, 5)
    assert stages and any(s.badge == "bottleneck" for s in stages)
    assert sources.bottleneck_lines(seeded)[1].startswith("The stage that now limits the team")


@pytest.mark.parametrize("n", range(1, 9))
def test_step_pages_with_module_data_keep_query_counts(
    owner_client, seeded, n, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30):
        response = owner_client.get(url(seeded, "step", n=n))
    assert response.status_code == 200


def test_promoting_a_lit_up_idea_updates_it_and_makes_a_bet(editor_client, seeded):
    subject = sources.step_subjects(seeded, 3)[0]
    response = editor_client.post(
        url(seeded, "decide"),
        {"step": 3, "subject_key": subject.key, "choice": "promote", "version": 0,
         "note": "passes on the newest model"},
    )  # fmt: skip
    assert response.status_code == 200
    idea = Idea.objects.get(pk=int(subject.key.split(":")[1]))
    assert idea.status == IdeaStatus.PROMOTED
    assert "quarterly review" in idea.status_changes.latest("created_at").reason
    item = BacklogItem.objects.get(review=seeded, subject_key=subject.key)
    assert item.title == f"Build {subject.label}"
    # Changing the decision takes the bet off the backlog again.
    editor_client.post(
        url(seeded, "decide"),
        {"step": 3, "subject_key": subject.key, "choice": "keep_dormant", "version": 1},
    )
    assert not BacklogItem.objects.filter(review=seeded, subject_key=subject.key).exists()
    # A stale decision is refused.
    stale = editor_client.post(
        url(seeded, "decide"),
        {"step": 3, "subject_key": subject.key, "choice": "abandon", "version": 1},
    )
    assert stale.status_code == 409


def test_decision_on_unknown_subject_is_404(editor_client, seeded):
    response = editor_client.post(
        url(seeded, "decide"), {"step": 3, "subject_key": "idea:999999", "choice": "promote"}
    )
    assert response.status_code == 404


def test_closing_schedules_follow_ups_and_completes_the_cadence(team, owner):
    create_default_cadences(team)
    review = services.start_review(team, owner)[0]
    services.add_commitment(
        review, owner=owner, what="Adopt weekly evals", due_date=date.today() + timedelta(days=30)
    )
    quarterly = Cadence.objects.get(team=team, kind=Kind.QUARTERLY_REVIEW)
    due = timezone.now() - timedelta(hours=1)
    occurrence = Occurrence.objects.create(
        cadence=quarterly, due_at=due, overdue_at=due + timedelta(days=3), state="due"
    )
    result = services.close_review(review, owner)
    assert result.follow_ups == 1
    follow_up = review.commitments.get().follow_up
    assert follow_up.kind == Kind.CUSTOM and list(follow_up.people.all()) == [owner]
    assert follow_up.occurrences.count() == 1
    occurrence.refresh_from_db()
    assert occurrence.state == "done"
    assert Review.objects.get(pk=review.pk).is_closed


def test_new_lines_are_written_and_committed_from_the_review(editor_client, seeded, editor):
    from predictions.models import Metric, Prediction

    step2 = url(seeded, "step", n=2)
    body = editor_client.get(step2).content.decode()
    metric = Metric.objects.filter(team=seeded.team, scale="linear").first()
    create = reverse(
        "predictions:prediction_create", kwargs={"team": seeded.team.slug, "pk": metric.pk}
    )
    assert f"{create}?next=" in body
    last = metric.observations.order_by("-observed_at").first()
    response = editor_client.post(
        create,
        {
            "next": step2, "kind": "line", "title": "Share keeps climbing", "rationale": "",
            "horizon": (last.observed_at + timedelta(days=365)).isoformat(), "model": "linear",
            "baseline_date": last.observed_at.isoformat(), "baseline_value": last.value,
            "change_per_year": 5, "coverage": 0.8, "band_low": -5, "band_high": 5,
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    prediction = Prediction.objects.get(title="Share keeps climbing")
    assert response.url.startswith(prediction.get_absolute_url() + "?next=")
    commit = reverse(
        "predictions:prediction_commit", kwargs={"team": seeded.team.slug, "pk": prediction.pk}
    )
    response = editor_client.post(commit, {"next": step2})
    assert response.url == step2
    prediction.refresh_from_db()
    assert prediction.is_committed
    assert "Share keeps climbing" in editor_client.get(step2).content.decode()
    # An off-site `next` is ignored.
    evil = editor_client.post(commit, {"next": "https://evil.example.com/"})
    assert evil.url.startswith(prediction.get_absolute_url())


def test_look_back_says_which_metrics_update_themselves(seeded, owner_client):
    """A connected metric's rows carry "updated automatically from <host>, last fetched …"."""
    from predictions.models import Metric, MetricSource

    rows = sources.prediction_scores(seeded)
    scored = next(r for r in rows if r["source"] == "")  # not connected yet
    metric = Metric.objects.get(team=seeded.team, name=scored["metric"])
    MetricSource.objects.filter(metric=metric).delete()
    MetricSource.objects.create(
        metric=metric, url="https://data.example.com/feed.csv", date_field="d", value_field="v",
        last_fetched_at=timezone.now() - timedelta(hours=3),
    )  # fmt: skip
    row = next(r for r in sources.prediction_scores(seeded) if r["title"] == scored["title"])
    assert row["source"].startswith("updated automatically from data.example.com, last fetched ")
    body = owner_client.get(url(seeded, "step", n=1)).content.decode()
    assert "Updated automatically from data.example.com, last fetched" in body
    assert any("updated automatically from data.example.com" in line
               for line in sources.look_back_lines(seeded))  # fmt: skip


# --------------------------------------------------------------------------- measured bottleneck
PR_CSV = FIXTURES / "github_prs.csv"


def measured_version(bmap, user):
    """The version measured from the hand-checked pull requests (tests/bottlenecks)."""
    from planning.bottlenecks import delivery, measure
    from planning.bottlenecks import services as bn

    stored, problems = measure.upload(bmap, "github", "prs.csv", PR_CSV.read_bytes(), user)
    assert problems == []
    columns = dict(PR_COLUMNS)
    parsed = delivery.parse(
        "github", delivery.read_export(stored.text).sheet.rows, columns, UTC_ZONE
    )
    st = {s.name: s.pk for s in bmap.stages.all()}
    mapping = {
        "created→first_review": delivery.Target(st["Code review"], "waiting"),
        "first_review→approved": delivery.Target(st["Code review"], "active"),
        "merged→deployed": delivery.Target(st["Deploy"], "waiting"),
    }
    loaded = bn.load(bmap)
    outcome = measure.compute(
        parsed, mapping, loaded, date(2026, 9, 1), date(2026, 10, 31), None, UTC_ZONE
    )
    return measure.create_version(
        loaded,
        outcome,
        name="Feature delivery (measured)",
        quarter="2026-Q4",
        upload=stored,
        columns=columns,
        choices={},
        tz=UTC_ZONE,
        user=user,
    )


def test_a_measured_map_says_what_it_was_measured_from(team, owner, owner_client):
    bmap = delivery_map(team)
    copy = measured_version(bmap, owner)
    review = services.start_review(team, owner, "2026-Q4")[0]
    # By hand (tests/bottlenecks/test_delivery.py): 12 pull requests ended a mapped segment
    # from 1 Sep to 31 Oct 2026; Deploy is 1 h (the map's) + 24 h waiting (the median of
    # 20 22 22 24 24 24 24 26 26 48) = 25 h, Code review 2 + 3 = 5 h, Code generation
    # 10/5 + 2 = 4 h: Deploy is the bottleneck.
    sentence = (
        "Measured from 12 pull requests, 1 Sep 2026 to 31 Oct 2026: the bottleneck is Deploy "
        "(median 24 h waiting per pull request)."
    )
    assert sources.bottleneck_lines(review)[1] == sentence
    body = owner_client.get(url(review, "step", n=5)).content.decode()
    assert f'{sentence} <a href="{copy.get_absolute_url()}">Open the measured map</a>' in body
    assert "The stage that now limits the team" not in body


def test_a_guessed_map_keeps_the_guessed_words(team, owner, owner_client):
    delivery_map(team)
    review = services.start_review(team, owner, "2026-Q4")[0]
    # Deploy 1 + 30 h of 4 + 8 + 31 = 43 h after AI: 72%.
    assert sources.bottleneck_lines(review)[1] == (
        "The stage that now limits the team: Deploy (72% of the time after AI)."
    )
    body = owner_client.get(url(review, "step", n=5)).content.decode()
    assert "Measured from" not in body and 'id="measured-bottleneck"' not in body


def test_the_measured_sentence_in_its_other_cases():
    from planning.bottlenecks.delivery import Distribution, measured_bottleneck_sentence

    two = Distribution.of([1.0, 2.0, 4.0])  # median 2 h
    one = Distribution.of([0.5])
    start, end, rollout = date(2026, 9, 1), date(2026, 10, 31), date(2026, 10, 1)
    assert measured_bottleneck_sentence("tracker", 1, start, end, None, "QA", one, two) == (
        "Measured from 1 tracker item, 1 Sep 2026 to 31 Oct 2026: the bottleneck is QA "
        "(median 0.5 h active and 2 h waiting per tracker item)."
    )
    assert measured_bottleneck_sentence("github", 9, start, end, rollout, "QA", two, None) == (
        "Measured from 9 pull requests, 1 Sep 2026 to 31 Oct 2026, compared before and after "
        "1 Oct 2026: the bottleneck is QA (median 2 h active per pull request from 1 Oct 2026 on)."
    )
    assert measured_bottleneck_sentence("github", 9, start, end, None, "QA", None, None) == (
        "Measured from 9 pull requests, 1 Sep 2026 to 31 Oct 2026: the bottleneck is QA "
        "(not measured: the map's own hours)."
    )


def test_a_commitment_past_its_date_still_gets_its_follow_up(team, owner):
    """Closing after a commitment's date (or on the day, after 09:00) used to make a one-off
    cadence with no date at all, while the flash said the reminder was scheduled."""
    review = services.start_review(team, owner)[0]
    services.add_commitment(
        review, owner=owner, what="Hire a PM", due_date=team.today() - timedelta(days=3)
    )
    result = services.close_review(review, owner)
    assert result.follow_ups == 1
    occurrence = review.commitments.get().follow_up.occurrences.get()
    assert timezone.now() < occurrence.due_at <= timezone.now() + timedelta(minutes=2)


def test_a_map_without_stages_claims_no_speed_up(team, owner):
    from tests.factories import BottleneckMapFactory

    review = services.start_review(team, owner)[0]
    BottleneckMapFactory(team=team, name="Delivery", quarter=review.quarter)
    lines = sources.step_context(review, 5)["lines"]
    assert len(lines) == 1 and "has no stages yet: nothing to measure." in lines[0]
    assert "speed-up" not in " ".join(lines + sources.bottleneck_lines(review))
