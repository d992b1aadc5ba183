"""Stage times measured from delivery exports (planning.bottlenecks.delivery), against values
computed by hand in the comments. No database."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from planning.bottlenecks import delivery as d
from planning.bottlenecks.delivery import Distribution, Target
from tests.bottlenecks.maps import FIXTURES, PR_COLUMNS, UTC_ZONE

approx = pytest.approx
LONDON = ZoneInfo("Europe/London")

# created → first review: waiting for a reviewer; first review → approved: reviewing;
# approved → merged: ignored; merged → deployed: waiting for the deploy.
PR_MAPPING = {
    "created→first_review": Target("review", "waiting"),
    "first_review→approved": Target("review", "active"),
    "merged→deployed": Target("deploy", "waiting"),
}
TRACKER_COLUMNS = {"item": "Issue", "status": "New status", "timestamp": "When"}
TRACKER_MAPPING = {
    "In Progress": Target("build", "active"),
    "in review": Target("review", "waiting"),
}


def fixture(name: str) -> d.Export:
    export = d.read_export((FIXTURES / name).read_bytes())
    assert export.problems == []
    return export


def window(start: date, end: date, tz: ZoneInfo = UTC_ZONE):
    return d.day_bounds(start, end, tz)


# --------------------------------------------------------------------------- timestamps
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T14:30:00Z", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("2026-03-02T14:30:00z", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("2026-03-02 14:30+01:00", datetime(2026, 3, 2, 13, 30, tzinfo=UTC)),
        ("2026-03-02T14:30:00-0500", datetime(2026, 3, 2, 19, 30, tzinfo=UTC)),
        ("2026-03-02T14:30+05", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T14:30:00.123456789Z", datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-02 14:30 Z", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        # Naive: the team's zone (London is on GMT in March before the 29th, BST in July).
        ("2026-03-02 14:30", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("2026-07-02 14:30", datetime(2026, 7, 2, 13, 30, tzinfo=UTC)),
        ("2026-07-02", datetime(2026, 7, 1, 23, 0, tzinfo=UTC)),
        # The hour that happens twice (25 Oct 2026, 01:00–02:00 in London) is the first one.
        ("2026-10-25 01:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_and_in_the_teams_zone(text, expected):
    assert d.parse_timestamp(text, LONDON) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("03/02/2026 14:30", "is not an ISO 8601 timestamp"),
        ("2026-02-30T10:00Z", "is not a real date and time"),
        ("2026-03-02T25:00Z", "is not a real date and time"),
        ("2026-03-02T10:00+25:00", "is not a real date and time"),
        ("9999-12-31T10:00Z", "outside the years 1900–2200"),
        ("2026-03-29 01:30", "does not exist in Europe/London"),  # the clocks skip 01:00–02:00
        ("", "is not an ISO 8601 timestamp"),
        ("x" * 500, "…"),
    ],
)
def test_bad_timestamps_are_refused_in_words(text, message):
    with pytest.raises(d.TimestampError, match=message):
        d.parse_timestamp(text, LONDON)


def test_a_window_is_whole_days_in_the_teams_zone():
    start, end = d.day_bounds(date(2026, 7, 1), date(2026, 7, 31), LONDON)
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 7, 31, 23, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- columns
def test_column_names_of_github_and_gh_exports_are_recognised():
    assert d.normalise("createdAt") == "created_at"
    assert d.normalise(" First review ") == "first_review"
    assert d.normalise("merged_at") == "merged_at"
    header = ["number", "title", "createdAt", "firstReviewAt", "approvedAt", "mergedAt"]
    assert d.guess_columns("github", header) == {
        "id": "number",
        "created": "createdAt",
        "first_review": "firstReviewAt",
        "approved": "approvedAt",
        "merged": "mergedAt",
    }
    api = ["id", "number", "created_at", "merged_at", "closed_at"]
    assert d.guess_columns("github", api) == {
        "id": "number",
        "created": "created_at",
        "merged": "merged_at",
    }
    # A tracker export whose time column has an unknown name needs the mapping step.
    assert d.guess_columns("tracker", ["Issue", "New status", "When"]) == {
        "item": "Issue",
        "status": "New status",
    }


def test_column_choices_are_checked():
    header = ["number", "createdAt", "mergedAt"]
    assert d.column_problems("github", {"created": "createdAt", "merged": "mergedAt"}, header) == []
    problems = d.column_problems("github", {"created": "createdAt"}, header)
    assert problems == ["Choose at least two timestamp columns (for example created and merged)."]
    problems = d.column_problems("github", {"created": "nope", "merged": "createdAt"}, header)
    assert "created: the file has no column “nope”." in problems
    problems = d.column_problems("github", {"created": "createdAt", "merged": "createdAt"}, header)
    assert "A column is chosen for two fields; choose each column once." in problems
    problems = d.column_problems("tracker", {"item": "Issue"}, ["Issue"])
    assert "Choose the column that holds “Status”." in problems


# --------------------------------------------------------------------------- statistics
def test_quantiles_interpolate_between_the_nearest_ranks():
    xs = [2.0, 4.0, 6.0, 8.0, 10.0, 30.0]
    assert d.quantile(xs, 0.5) == 7.0  # h = 2.5: 6 + 0.5·2
    assert d.quantile(xs, 0.85) == 15.0  # h = 4.25: 10 + 0.25·20
    assert d.quantile(xs, 0.25) == 4.5  # h = 1.25: 4 + 0.25·2
    assert d.quantile(xs, 0.75) == 9.5  # h = 3.75: 8 + 0.75·2
    assert d.quantile(xs, 0) == 2.0
    assert d.quantile(xs, 1) == 30.0
    assert d.quantile([5.0], 0.85) == 5.0
    with pytest.raises(ValueError):
        d.quantile([], 0.5)


def test_a_distribution_round_trips_through_json():
    dist = Distribution.of([3, 1, 2])
    assert (dist.n, dist.median, dist.p25, dist.p75, dist.low, dist.high) == (3, 2, 1.5, 2.5, 1, 3)
    assert dist.p85 == approx(2.7)  # h = 1.7: 2 + 0.7·1
    assert Distribution.from_dict(dist.as_dict()) == dist
    assert Distribution.of([]) is None
    assert Distribution.from_dict({"n": "x"}) is None


# --------------------------------------------------------------------------- pull requests
def pr_samples():
    export = fixture("github_prs.csv")
    parsed = d.parse_pull_requests(export.sheet.rows, PR_COLUMNS, UTC_ZONE)
    assert parsed.problems == []
    return parsed, d.samples(parsed.intervals, PR_MAPPING)


def test_pull_requests_fixture_gives_the_hand_checked_stage_medians():
    parsed, found = pr_samples()
    assert parsed.items == 14
    assert parsed.keys == [
        "created→first_review",
        "first_review→approved",
        "approved→merged",
        "merged→deployed",
    ]
    assert parsed.first == datetime(2026, 8, 3, 8, tzinfo=UTC)
    stats = d.distributions(d.in_window(found, *window(date(2026, 9, 1), date(2026, 10, 31))))
    # Waiting for review, 12 PRs (#99 is in August): 1 1 2 2 2 3 3 4 6 8 10 30.
    review_wait = stats[("review", "waiting")]
    assert review_wait.n == 12
    assert review_wait.median == 3.0  # h = 5.5: 3 + 0.5·0
    assert review_wait.p85 == approx(8.7)  # h = 9.35: 8 + 0.35·2
    assert (review_wait.low, review_wait.high) == (1.0, 30.0)
    # Reviewing: 0.5 1 1 1 1 2 2 2 2 2.5 3 5.
    review_active = stats[("review", "active")]
    assert review_active.n == 12
    assert review_active.median == 2.0
    assert review_active.p85 == approx(2.675)  # h = 9.35: 2.5 + 0.35·0.5
    # Waiting for the deploy: #205 and #206 are not deployed: 20 22 22 24 24 24 24 26 26 48.
    deploy = stats[("deploy", "waiting")]
    assert deploy.n == 10
    assert deploy.median == 24.0
    assert deploy.p85 == 26.0  # h = 7.65: 26 + 0.65·0
    assert ("deploy", "active") not in stats


def test_the_window_keeps_what_ended_in_it():
    _, found = pr_samples()
    august = d.in_window(found, *window(date(2026, 8, 1), date(2026, 8, 31)))
    assert {(s.item, s.stage, s.kind, s.hours) for s in august} == {
        ("99", "review", "waiting", 1.0),
        ("99", "review", "active", 1.0),
        ("99", "deploy", "waiting", 24.0),
    }
    assert d.items_in(august) == 1


def test_bad_pull_request_rows_are_reported_by_line_and_column():
    text = (
        "number,createdAt,mergedAt\n"
        "1,2026-09-01T08:00Z,2026-09-01T10:00Z\n"
        "2,yesterday,2026-09-01T10:00Z\n"
        "3,2026-09-02T08:00Z,2026-09-01T10:00Z\n"
        "1,2026-09-03T08:00Z,\n"
        ",2026-09-03T08:00Z,\n"
        "6,,2026-09-01T10:00Z\n"
    )
    export = d.read_export(text)
    columns = {"id": "number", "created": "createdAt", "merged": "mergedAt"}
    parsed = d.parse_pull_requests(export.sheet.rows, columns, UTC_ZONE)
    assert [(p.line, p.message) for p in parsed.problems] == [
        (
            3,
            "createdAt: “yesterday” is not an ISO 8601 timestamp; use ISO 8601, such as "
            "2026-03-02T14:30:00Z or 2026-03-02 14:30+01:00.",
        ),
        (5, "number: 1 is already on line 2."),
        (6, "number: the pull request has no number."),
        (7, "createdAt: the pull request has no creation time."),
    ]
    # Line 4 (merged before created) is kept: only its one segment is out of order.
    assert parsed.items == 2
    assert [(s.line, s.name, s.interval.key) for s in parsed.out_of_order] == [
        (4, "3", "created→merged")
    ]
    assert [iv.item for iv in parsed.intervals] == ["1"]


# Every segment of the out-of-order fixture mapped, approved → merged too.
ALL_MAPPED = {**PR_MAPPING, "approved→merged": Target("merge", "waiting")}
NAMES = {"review": "Code review", "merge": "Merge", "deploy": "Deploy"}


def out_of_order_samples(mapping=ALL_MAPPED):
    export = fixture("github_prs_out_of_order.csv")
    parsed = d.parse_pull_requests(export.sheet.rows, PR_COLUMNS, UTC_ZONE)
    return parsed, d.samples(parsed.intervals, mapping, parsed.out_of_order)


def test_out_of_order_times_skip_only_their_stage_for_that_pull_request():
    parsed, found = out_of_order_samples()
    # All five rows are kept; PR 2 approved 14:05 after merged 12:00, PR 3 first reviewed
    # 07:00 before it was opened at 08:00, PR 5 deployed 15:00 before merged 16:00.
    assert parsed.problems == []
    assert parsed.items == 5
    assert [(s.line, s.interval.key) for s in parsed.out_of_order] == [
        (3, "approved→merged"),
        (4, "created→first_review"),
        (6, "merged→deployed"),
    ]
    stats = d.distributions(d.in_window(found, *window(date(2026, 9, 1), date(2026, 9, 30))))
    # Computed by hand from the fixture, hours per PR (— is skipped, out of order):
    #             PR 1   PR 2          PR 3   PR 4   PR 5
    # review w.   2      4             —      1      6     → 1 2 4 6
    # review a.   1      2.0833 (2:05) 2      3      1     → 1 1 2 2.0833 3
    # merge w.    1      —             1      1      1     → 1 1 1 1
    # deploy w.   24     24            24     6      —     → 6 24 24 24
    review_wait = stats[("review", "waiting")]
    assert review_wait.n == 4
    assert review_wait.median == 3.0  # h = 1.5: 2 + 0.5·2
    assert review_wait.p85 == approx(5.1)  # h = 2.55: 4 + 0.55·2
    review_active = stats[("review", "active")]
    assert review_active.n == 5
    assert review_active.median == 2.0
    assert review_active.p85 == approx(2.45)  # h = 3.4: 125/60 + 0.4·55/60 = 147/60
    merge = stats[("merge", "waiting")]
    assert (merge.n, merge.median) == (4, 1.0)
    deploy = stats[("deploy", "waiting")]
    assert (deploy.n, deploy.median, deploy.low) == (4, 24.0, 6.0)
    assert d.items_in(found) == 5


def test_out_of_order_notes_say_what_and_which_stage_by_line():
    parsed, _ = out_of_order_samples()
    notes = d.out_of_order_notes(parsed.out_of_order, ALL_MAPPED, NAMES)
    assert [(p.line, p.message) for p in notes] == [
        (
            3,
            "pull request 2: approved (2026-09-02 14:05 UTC) is after merged "
            "(2026-09-02 12:00 UTC) — Merge (waiting time) skipped for this pull request.",
        ),
        (
            4,
            "pull request 3: created (2026-09-03 08:00 UTC) is after first review "
            "(2026-09-03 07:00 UTC) — Code review (waiting time) skipped for this pull request.",
        ),
        (
            6,
            "pull request 5: merged (2026-09-05 16:00 UTC) is after deployed "
            "(2026-09-05 15:00 UTC) — Deploy (waiting time) skipped for this pull request.",
        ),
    ]
    # A segment mapped to no stage skips nothing, and says nothing.
    ignored = d.out_of_order_notes(parsed.out_of_order, PR_MAPPING, NAMES)
    assert [p.line for p in ignored] == [4, 6]


def test_an_out_of_order_segment_leaves_out_its_items_whole_stage_time():
    # Both review segments add up to one stage time: PR 3's 2 h of reviewing alone would
    # understate it, so PR 3 is left out of the stage: 2 + 1, 4 + 2.0833, 1 + 3, 6 + 1.
    mapping = {
        "created→first_review": Target("review", "active"),
        "first_review→approved": Target("review", "active"),
    }
    _, found = out_of_order_samples(mapping)
    review = d.distributions(found)[("review", "active")]
    assert review.n == 4
    assert sorted(s.item for s in found) == ["1", "2", "4", "5"]
    assert (review.low, review.high) == (3.0, 7.0)


def test_out_of_order_without_a_number_column_names_only_the_line():
    text = "createdAt,mergedAt\n2026-09-02T08:00Z,2026-09-01T10:00Z\n"
    parsed = d.parse_pull_requests(
        d.read_export(text).sheet.rows, {"created": "createdAt", "merged": "mergedAt"}, UTC_ZONE
    )
    notes = d.out_of_order_notes(
        parsed.out_of_order, {"created→merged": Target("flow", "waiting")}, {"flow": "Flow"}
    )
    assert notes == [
        (
            2,
            "created (2026-09-02 08:00 UTC) is after merged (2026-09-01 10:00 UTC) — Flow "
            "(waiting time) skipped for this pull request.",
        )
    ]
    assert parsed.problems == [] and parsed.intervals == []


# --------------------------------------------------------------------------- issue tracker
def test_tracker_fixture_gives_the_hand_checked_stage_medians():
    export = fixture("tracker_changes.csv")
    parsed = d.parse_status_changes(export.sheet.rows, TRACKER_COLUMNS, UTC_ZONE)
    assert parsed.problems == []
    assert parsed.items == 5
    assert parsed.keys == ["To Do", "In Progress", "In Review", "Done"]  # "in review" is the same
    found = d.samples(parsed.intervals, TRACKER_MAPPING)
    stats = d.distributions(d.in_window(found, *window(date(2026, 10, 1), date(2026, 10, 31))))
    # In Progress per item: ABC-1 4 h, ABC-2 6 + 2 = 8 h (it went back), ABC-3 2 h, ABC-4 1 h,
    # ABC-5 3 h (09:00+02:00 is 07:00Z): 1 2 3 4 8.
    build = stats[("build", "active")]
    assert (build.n, build.median) == (5, 3.0)
    assert build.p85 == approx(5.6)  # h = 3.4: 4 + 0.4·4
    # In Review: ABC-1 2 h, ABC-2 2 + 3 = 5 h, ABC-3 24 h, ABC-5 1 h; ABC-4 is still there.
    review = stats[("review", "waiting")]
    assert (review.n, review.median) == (4, 3.5)  # h = 1.5: 2 + 0.5·3
    assert review.p85 == approx(15.45)  # h = 2.55: 5 + 0.55·19
    assert (review.p25, review.p75) == (approx(1.75), approx(9.75))


def test_bad_tracker_rows_are_reported_by_line_and_column():
    text = (
        "item,status,timestamp\n"
        "A-1,Doing,2026-10-01 09:00\n"
        ",Doing,2026-10-01 09:00\n"
        "A-2,,2026-10-01 09:00\n"
        "A-3,Doing,\n"
        "A-1,doing,2026-10-01 09:00\n"
        f"A-4,{'s' * 101},2026-10-01 09:00\n"
    )
    export = d.read_export(text)
    columns = {"item": "item", "status": "status", "timestamp": "timestamp"}
    parsed = d.parse_status_changes(export.sheet.rows, columns, UTC_ZONE)
    assert [(p.line, p.message) for p in parsed.problems] == [
        (3, "item: the row names no item."),
        (4, "status: the row has no status."),
        (5, "timestamp: the change has no time."),
        (6, "the same change of A-1 is already on line 2."),
        (7, "status: a status is at most 100 characters."),
    ]


def test_too_many_statuses_is_a_problem_not_a_huge_form():
    rows = "".join(f"A-{i},S{i},2026-10-01 09:00\n" for i in range(d.MAX_STATUSES + 2))
    export = d.read_export("item,status,timestamp\n" + rows)
    columns = {"item": "item", "status": "status", "timestamp": "timestamp"}
    parsed = d.parse_status_changes(export.sheet.rows, columns, UTC_ZONE)
    assert len(parsed.keys) == d.MAX_STATUSES
    assert [p.line for p in parsed.problems] == [d.MAX_STATUSES + 2, d.MAX_STATUSES + 3]
    assert "more than 60 different statuses" in parsed.problems[0].message


# --------------------------------------------------------------------------- two windows
def compared():
    _, found = pr_samples()
    start, end = window(date(2026, 9, 1), date(2026, 10, 31))
    rollout, _ = window(date(2026, 10, 1), date(2026, 10, 1))
    before = d.in_window(found, start, rollout)
    after = d.in_window(found, rollout, end)
    stages = [
        ("gen", "Code generation", 10.0, 2.0),
        ("review", "Code review", 0.0, 0.0),
        ("deploy", "Deploy", 1.0, 30.0),
    ]
    return d.compare(
        stages,
        [],
        d.distributions(before),
        d.distributions(after),
        d.items_in(before),
        d.items_in(after),
    )


def test_two_windows_compare_stage_by_stage():
    comparison = compared()
    gen, review, deploy = comparison.stages
    assert (comparison.items_before, comparison.items_after) == (6, 6)
    # Waiting for review: before 2 4 6 8 10 30 (median 7), after 1 1 2 2 3 3 (median 2).
    assert review.waiting.before.median == 7.0
    assert review.waiting.after.median == 2.0
    assert review.waiting.ratio == 3.5
    assert not review.waiting.overlaps  # 4.5–9.5 h against 1.25–2.75 h
    # Reviewing: before 1 1 2 2 3 5 (median 2), after 0.5 1 1 2 2 2.5 (median 1.5).
    assert review.active.ratio == approx(4 / 3)
    assert review.active.overlaps  # 1.25–2.75 h against 1–2 h
    # Deploy: six before, four after (#205, #206 not deployed): too few to compare.
    assert (deploy.waiting.before.n, deploy.waiting.after.n) == (6, 4)
    assert not deploy.waiting.comparable
    assert deploy.waiting.ratio is None and deploy.waiting.speedup == 1.0
    assert not gen.measured
    assert [s.name for s in comparison.comparable] == ["Code review"]


def test_amdahl_on_the_measured_change():
    result = compared().result
    # Before: generation 10 + 2 (the map's), review 2 + 7, deploy 1 (the map's) + 24 = 46 h.
    # After: review 1.5 + 2 = 3.5 h, the rest unchanged: 12 + 3.5 + 25 = 40.5 h.
    assert result.t_before == approx(46.0)
    assert result.t_after == approx(40.5)
    assert result.speedup == approx(46 / 40.5)  # 1.1358
    assert result.bottleneck.stage.name == "Deploy"
    assert result.bottleneck.share_after == approx(25 / 40.5)


def test_the_comparison_in_true_sentences():
    comparison = compared()
    gen, review, deploy = comparison.stages
    assert d.change_sentence("Code review", "waiting", review.waiting) == (
        "Code review, waiting time: median 7 h → 2 h (n = 6 → 6), 3.5× faster."
    )
    assert d.change_sentence("Code review", "active", review.active) == (
        "Code review, active time: median 2 h → 1.5 h (n = 6 → 6), 1.33× faster; the middle "
        "halves of the two windows overlap, so this may be noise."
    )
    assert d.change_sentence("Deploy", "waiting", deploy.waiting) == (
        "Deploy, waiting time: too few items to compare (n = 6 before, 4 after; at least 5 in "
        "each window are needed)."
    )
    assert d.change_sentence("Code generation", "active", gen.active) == (
        "Code generation, active time: no items in either window."
    )
    assert d.summary_sentences(comparison, "1 Oct 2026") == [
        "6 items ended a measured stage before 1 Oct 2026 and 6 from 1 Oct 2026 on.",
        "Amdahl's law on the medians: the measured change in Code review makes the whole "
        "1.14× faster (46 h → 40.5 h per item on the critical path).",
        "Counted as unchanged (no measured change): Code generation and Deploy.",
        "Deploy was the bottleneck before and still is (62% of the time after).",
    ]


def test_too_few_items_claims_no_speedup():
    few = Distribution.of([10, 10, 10])
    change = d.Change(few, Distribution.of([1, 1, 1, 1, 1]))
    assert not change.comparable and change.speedup == 1.0
    comparison = d.compare([("s", "Review", 0.0, 0.0)], [], {("s", "waiting"): few}, {}, 3, 0)
    sentences = d.summary_sentences(comparison, "1 Oct 2026")
    assert "too few to measure a speed-up, so none is claimed" in sentences[1]
    assert not any("faster" in s for s in sentences)


def test_slower_unchanged_and_instant_stages():
    five = [1.0, 2.0, 3.0, 4.0, 5.0]
    slower = d.Change(Distribution.of(five), Distribution.of([x * 2 for x in five]))
    assert slower.ratio == 0.5
    assert "2× slower" in d.change_sentence("QA", "active", slower)
    same = d.Change(Distribution.of(five), Distribution.of(five))
    assert "no change in the median" in d.change_sentence("QA", "active", same)
    gone = d.Change(Distribution.of(five), Distribution.of([0.0] * 5))
    assert gone.ratio == math.inf and gone.speedup == d.MAX_SPEEDUP
    from_nothing = d.Change(Distribution.of([0.0] * 5), Distribution.of(five))
    assert not from_nothing.comparable
    assert "took no time before" in d.change_sentence("QA", "active", from_nothing)


def test_a_speedup_resting_only_on_overlapping_windows_says_it_may_be_noise():
    before = Distribution.of([20.0, 26.0, 31.0, 35.0, 40.0])
    after = Distribution.of([9.0, 24.0, 25.0, 26.0, 27.0])  # median 25 h, middle halves overlap
    assert d.Change(before, after).overlaps
    comparison = d.compare(
        [("s", "Code", 2.0, 0.0)], [], {("s", "waiting"): before}, {("s", "waiting"): after}, 5, 5
    )
    amdahl = d.summary_sentences(comparison, "1 Oct 2026")[1]
    assert amdahl.startswith("Amdahl's law on the medians: the measured change in Code")
    assert amdahl.endswith(
        "; every change it rests on may be noise (the middle halves of the two windows overlap)."
    )
    apart = Distribution.of([4.0, 5.0, 5.0, 6.0, 6.0])
    clear = d.compare(
        [("s", "Code", 2.0, 0.0)], [], {("s", "waiting"): before}, {("s", "waiting"): apart}, 5, 5
    )
    assert "noise" not in d.summary_sentences(clear, "1 Oct 2026")[1]
