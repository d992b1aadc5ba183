"""Measuring a map from delivery exports in the browser's place: upload, map the columns and
stages, preview, make a new version (the measured map untouched), compare two windows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planning import csvimport
from planning.bottlenecks.models import (
    BottleneckMap,
    DeliveryMapping,
    DeliveryUpload,
    Measurement,
    Stage,
)
from tests.bottlenecks.maps import FIXTURES, delivery_map

pytestmark = pytest.mark.django_db

PR_CSV = (FIXTURES / "github_prs.csv").read_text()
TRACKER_CSV = (FIXTURES / "tracker_changes.csv").read_text()
SEGMENTS = ["created→first_review", "first_review→approved", "approved→merged", "merged→deployed"]


def url(name, team, **kwargs):
    return reverse(f"bottlenecks:{name}", kwargs={"team": team.slug, **kwargs})


@pytest.fixture
def utc_team(team):
    """The fixtures' hand-checked hours assume naive times in UTC (see test_time_zone…)."""
    team.time_zone = "UTC"
    team.save()
    return team


@pytest.fixture
def bmap(utc_team):
    bmap = delivery_map(utc_team)
    return bmap


def stages(bmap):
    return {st.name: st for st in bmap.stages.all()}


def upload(client, team, bmap, text, source="github", name="prs.csv"):
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    file = SimpleUploadedFile(name, raw, content_type="text/csv")
    return client.post(url("measure_upload", team, pk=bmap.pk), {"source": source, "file": file})


def uploaded(client, team, bmap, text=PR_CSV, source="github"):
    response = upload(client, team, bmap, text, source)
    assert response.status_code == 302, response.content.decode()[:2000]
    return DeliveryUpload.objects.latest("pk")


def pr_data(bmap, **overrides):
    st = stages(bmap)
    data = {
        "col_id": "number",
        "col_created": "createdAt",
        "col_first_review": "firstReviewAt",
        "col_approved": "approvedAt",
        "col_merged": "mergedAt",
        "col_deployed": "deployedAt",
        "window_start": "2026-09-01",
        "window_end": "2026-10-31",
        "rollout": "",
        "name": "Feature delivery (measured)",
        "quarter": "2026-Q4",
    }
    targets = [
        (st["Code review"].pk, "waiting"),
        (st["Code review"].pk, "active"),
        ("", "waiting"),
        (st["Deploy"].pk, "waiting"),
    ]
    for i, (key, (stage, kind)) in enumerate(zip(SEGMENTS, targets, strict=True)):
        data.update({f"key_{i}": key, f"stage_{i}": str(stage), f"kind_{i}": kind})
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- upload
def test_upload_keeps_the_file_and_offers_the_mapping(utc_team, editor_client, bmap):
    page = editor_client.get(url("measure_upload", utc_team, pk=bmap.pk))
    assert page.status_code == 200
    assert "read in the team's time zone, <strong>UTC</strong>" in page.content.decode()
    stored = uploaded(editor_client, utc_team, bmap)
    assert (stored.source, stored.filename, stored.rows) == ("github", "prs.csv", 14)
    response = editor_client.get(url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk))
    body = response.content.decode()
    assert response.status_code == 200
    # The gh-style columns are recognised, each segment is offered with a guessed stage.
    assert '<option value="createdAt" selected>' in body
    assert '<option value="deployedAt" selected>' in body
    assert "created → first review" in body and "merged → deployed" in body
    # The default window is the data's own: 3 Aug (PR #99) to 20 Oct 2026 (PR #207).
    assert 'value="2026-08-03"' in body and 'value="2026-10-20"' in body
    assert "Times without an offset are read in the team's time zone" in body
    # The guesses already give a preview; nothing is saved yet.
    assert 'id="preview"' in body
    assert BottleneckMap.objects.count() == 1


def test_a_preview_shows_hand_checked_medians_with_n_and_spread(utc_team, editor_client, bmap):
    stored = uploaded(editor_client, utc_team, bmap)
    data = pr_data(bmap, preview="1")
    response = editor_client.get(url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk), data)
    body = response.content.decode()
    assert response.status_code == 200, body[:3000]
    # Waiting for review, 12 PRs: median 3 h, p85 8.7 h; middle half 2–6.5 h… see test_delivery.
    assert "<strong>3 h</strong> <small>median</small>" in body
    assert "p85 8.7 h · n = 12" in body
    assert "p85 26 h · n = 10" in body  # waiting for the deploy
    assert "12 items with a measured stage in the window" in body
    assert BottleneckMap.objects.count() == 1


def test_making_the_new_version_leaves_the_measured_map_alone(utc_team, editor_client, bmap):
    stored = uploaded(editor_client, utc_team, bmap)
    before = list(bmap.stages.values_list("name", "active_hours", "waiting_hours"))
    response = editor_client.post(
        url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk), pr_data(bmap)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    new = BottleneckMap.objects.get(name="Feature delivery (measured)")
    assert response.url == new.get_absolute_url()
    assert new.copied_from == bmap
    assert list(bmap.stages.values_list("name", "active_hours", "waiting_hours")) == before
    got = {s.name: (s.active_hours, s.waiting_hours, s.speedup_active) for s in new.stages.all()}
    assert got == {
        "Code generation": (10, 2, 5),  # not mapped: the map's hours and speed-up
        "Code review": (2.0, 3.0, 1),  # medians of the 12 PRs in Sep–Oct
        "Deploy": (1, 24.0, 1),  # active not mapped: the map's 1 h
    }
    m = Measurement.objects.get(map=new)
    assert (m.window_start.isoformat(), m.window_end.isoformat(), m.rollout) == (
        "2026-09-01",
        "2026-10-31",
        None,
    )
    assert (m.items, m.time_zone, m.source, m.filename) == (12, "UTC", "github", "prs.csv")
    review = new.stages.get(name="Code review")
    assert m.stats[str(review.pk)]["waiting"]["n"] == 12
    assert m.stats[str(review.pk)]["waiting"]["p85"] == pytest.approx(8.7)
    # The map page shows where the hours came from, n and the spread.
    body = editor_client.get(new.get_absolute_url()).content.decode()
    assert "Measured from delivery data" in body
    assert "p85 8.7 h · n = 12" in body
    # The team's mapping is remembered, stages by name.
    saved = DeliveryMapping.objects.get(team=utc_team, source="github")
    assert saved.columns["created"] == "createdAt"
    assert saved.stages["merged→deployed"] == {"stage": "Deploy", "kind": "waiting"}
    assert saved.stages["approved→merged"] == {"stage": "", "kind": "waiting"}


def test_two_windows_compare_and_the_sliders_start_from_the_measured_values(
    utc_team, editor_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    body = editor_client.get(target, pr_data(bmap, rollout="2026-10-01")).content.decode()
    assert "Code review, waiting time: median 7 h → 2 h (n = 6 → 6), 3.5× faster." in body
    assert "the middle halves of the two windows overlap, so this may be noise" in body
    assert "Deploy, waiting time: too few items to compare (n = 6 before, 4 after" in body
    # Amdahl: before 12 + 9 + 25 = 46 h; after 12 + 3.5 + 25 = 40.5 h (code generation and
    # deploy count as unchanged: nothing measured shows them changing).
    assert "makes the whole 1.14× faster (46 h → 40.5 h per item on the critical path)" in body
    assert "Deploy was the bottleneck before and still is (62% of the time after)." in body
    response = editor_client.post(target, pr_data(bmap, rollout="2026-10-01"))
    assert response.status_code == 302
    new = BottleneckMap.objects.get(name="Feature delivery (measured)")
    got = {
        s.name: (s.active_hours, s.waiting_hours, s.speedup_active, s.speedup_waiting)
        for s in new.stages.all()
    }
    assert got["Code review"] == (2.0, 7.0, pytest.approx(4 / 3), 3.5)
    assert got["Deploy"] == (1, 24.0, 1, 1)
    assert got["Code generation"] == (10, 2, 1, 1)  # no measured change: 1×
    page = editor_client.get(new.get_absolute_url()).content.decode()
    review = new.stages.get(name="Code review")
    assert f'name="w{review.pk}"' in page
    assert f'id="out-w{review.pk}">3.5×</output>' in page  # the slider starts measured
    assert 'id="overall-speedup">1.14×' in page


def test_tracker_export_with_an_unknown_column_name_needs_the_mapping_step(
    utc_team, editor_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap, TRACKER_CSV, "tracker")
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    first = editor_client.get(target).content.decode()
    assert "Choose the column that holds “Changed at”." in first
    assert 'id="preview"' not in first
    st = stages(bmap)
    data = {
        "col_item": "Issue",
        "col_status": "New status",
        "col_timestamp": "When",
        "window_start": "2026-10-01",
        "window_end": "2026-10-31",
        "name": "Feature delivery (tracker)",
        "quarter": "2026-Q4",
    }
    rows = [
        ("To Do", "", "waiting"),
        ("In Progress", st["Code generation"].pk, "active"),
        ("In Review", st["Code review"].pk, "waiting"),
        ("Done", "", "waiting"),
    ]
    # Submitted in another order than the file's: each choice follows its status.
    for i, (key, stage, kind) in enumerate(reversed(rows)):
        data.update({f"key_{i}": key, f"stage_{i}": str(stage), f"kind_{i}": kind})
    body = editor_client.get(target, data).content.decode()
    assert "p85 5.6 h · n = 5" in body  # In Progress: 1 2 3 4 8
    assert "p85 15.4 h · n = 4" in body  # In Review: 1 2 5 24 (15.45 h, shown to 3 figures)
    assert "few items" in body  # n = 4 < 5
    response = editor_client.post(target, data)
    assert response.status_code == 302
    new = BottleneckMap.objects.get(name="Feature delivery (tracker)")
    assert new.stages.get(name="Code generation").active_hours == 3.0
    assert new.stages.get(name="Code review").waiting_hours == 3.5
    # The next upload of this kind starts from the remembered columns and stages.
    again = uploaded(editor_client, utc_team, bmap, TRACKER_CSV, "tracker")
    page = editor_client.get(url("measure", utc_team, pk=bmap.pk, upload_pk=again.pk))
    body = page.content.decode()
    assert '<option value="When" selected>' in body
    assert f'<option value="{st["Code review"].pk}" selected>Code review</option>' in body


def test_time_zone_of_naive_times_is_the_teams(team, editor_client):
    team.time_zone = "Europe/London"
    team.save()
    bmap = BottleneckMap.objects.create(team=team, name="Flow", quarter="2026-Q4")
    Stage.objects.create(map=bmap, name="Code review")
    text = "number,created,merged\n1,2026-10-07 08:00,2026-10-07T10:00:00Z\n"
    stored = uploaded(editor_client, team, bmap, text)
    data = {
        "col_id": "number",
        "col_created": "created",
        "col_merged": "merged",
        "key_0": "created→merged",
        "stage_0": str(bmap.stages.get().pk),
        "kind_0": "waiting",
        "window_start": "2026-10-01",
        "window_end": "2026-10-31",
        "name": "Flow (measured)",
        "quarter": "2026-Q4",
    }
    body = editor_client.get(
        url("measure", team, pk=bmap.pk, upload_pk=stored.pk), data
    ).content.decode()
    # 08:00 in London in October is 07:00 UTC: 3 hours to 10:00 UTC.
    assert "<strong>3 h</strong>" in body
    assert "Europe/London" in body


# --------------------------------------------------------------------------- bad input
def test_bad_rows_are_reported_by_line_and_nothing_is_made(utc_team, editor_client, bmap):
    text = PR_CSV.replace("2026-09-02T12:00:00Z", "2 Sep 2026").replace(
        "2026-10-06T10:00:00Z", "2026-10-05T10:00:00Z"
    )
    stored = uploaded(editor_client, utc_team, bmap, text)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    response = editor_client.post(target, pr_data(bmap))
    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing can be measured from this file yet." in body
    assert "Line 4: firstReviewAt: “2 Sep 2026” is not an ISO 8601 timestamp" in body
    # Line 10 (approved before its first review) is not a bad row: see test_out_of_order….
    assert "Line 10" not in body
    assert BottleneckMap.objects.count() == 1
    assert not Measurement.objects.exists()
    assert not DeliveryMapping.objects.exists()


def test_out_of_order_times_skip_their_stage_and_the_n_says_so(utc_team, editor_client, bmap):
    text = (FIXTURES / "github_prs_out_of_order.csv").read_text()
    stored = uploaded(editor_client, utc_team, bmap, text)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    data = pr_data(bmap, window_start="2026-09-01", window_end="2026-09-30")
    response = editor_client.get(target, {**data, "preview": "1"})
    body = response.content.decode()
    assert response.status_code == 200, body[:3000]
    assert "Nothing can be measured" not in body
    # approved → merged is ignored here, so PR 2's approval after its merge skips nothing;
    # PR 3 (first review before opened) and PR 5 (deployed before merged) skip one each.
    assert "In the file, 2 stage times out of order were skipped" in body
    assert (
        "Line 4: pull request 3: created (2026-09-03 08:00 UTC) is after first review "
        "(2026-09-03 07:00 UTC) — Code review (waiting time) skipped for this pull request."
    ) in body
    assert "Line 6: pull request 5: merged (2026-09-05 16:00 UTC) is after deployed" in body
    assert "Line 3:" not in body
    # Hand-checked in test_delivery: waiting for review 1 2 4 6 (n = 4, PR 3 left out),
    # reviewing 1 1 2 2.0833 3 (n = 5), waiting for the deploy 6 24 24 24 (n = 4).
    assert "<strong>3 h</strong> <small>median</small>" in body
    assert "p85 5.1 h · n = 4" in body
    assert "p85 2.45 h · n = 5" in body
    assert "p85 24 h · n = 4" in body
    assert "5 items with a measured stage in the window" in body
    # The version made from it stores the same n.
    response = editor_client.post(target, data)
    assert response.status_code == 302
    measurement = Measurement.objects.get()
    review = measurement.map.stages.get(name="Code review")
    stats = measurement.stats[str(review.pk)]
    assert (stats["waiting"]["n"], stats["active"]["n"]) == (4, 5)
    assert (review.waiting_hours, review.active_hours) == (3.0, 2.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"number,createdAt\n1,2026-09-01T08:00Z\n2,\xff\xfe\n", "not UTF-8"),
        ("number,createdAt\n1,a\x00b\n", "Line 2: createdat: the cell contains a NUL"),
        ("number,createdAt\n1,\ud800\n", "not UTF-8"),  # a lone surrogate is not UTF-8
        ("a,b\n" + "1,2\n" * (csvimport.MAX_ROWS + 1), "More than 10,000 rows"),
        ("a,b\n" + "x" * (csvimport.MAX_BYTES + 1), "larger than 2 MB"),
        ("", "The file is empty: expected a header row."),  # not "header row ."
        ("a,a\n1,2\n", "A column appears twice"),
        ("a,b\n1,2,3\n", "Line 2: 3 cells but the header has 2."),
        ("number,createdAt\n", "No rows found"),
    ],
)
def test_hostile_uploads_are_refused_with_a_message(
    utc_team, editor_client, bmap, content, message
):
    response = upload(editor_client, utc_team, bmap, content)
    body = response.content.decode()
    assert response.status_code == 400, body[:500]
    assert message in body, body[:3000]
    assert not DeliveryUpload.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"col_created": "no such column"},
        {"col_created": "mergedAt"},  # twice
        {"stage_0": "999999"},
        {"stage_0": "not a number", "kind_0": "sideways"},
        {"window_start": "yesterday"},
        {"window_start": "9999-01-01"},
        {"window_start": "2026-11-01", "window_end": "2026-10-01"},
        {"rollout": "2026-09-01"},  # the window's first day: no "before" window
        {"key_0": "x" * 5000},
        {"key_0": "a\x00b"},  # refused by planning.middleware before the view
        {"name": ""},
        {"name": "Feature delivery", "quarter": "2026-Q4"},  # the measured map's own name
        {"quarter": "1999-Q9"},
        {"window_start": "2030-01-01", "window_end": "2030-12-31"},  # no items
    ],
)
def test_hostile_or_wrong_choices_are_field_errors_not_500(
    utc_team, editor_client, bmap, overrides
):
    stored = uploaded(editor_client, utc_team, bmap)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    data = pr_data(bmap, **overrides)
    assert editor_client.get(target, data).status_code in (200, 400)
    response = editor_client.post(target, data)
    if overrides.get("key_0", "").isalpha():
        # A key the file does not have is no choice at all: the file's own first segment
        # takes its remembered or guessed stage.
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert BottleneckMap.objects.count() == 1
    assert not Measurement.objects.exists()


def test_a_mapping_of_nothing_is_refused(utc_team, editor_client, bmap):
    stored = uploaded(editor_client, utc_team, bmap)
    data = pr_data(bmap, stage_0="", stage_1="", stage_3="")
    response = editor_client.post(url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk), data)
    assert response.status_code == 400
    assert "Map at least one segment or status to a stage." in response.content.decode()


# --------------------------------------------------------------------------- tenancy
def test_another_teams_map_and_upload_are_404(
    utc_team, other_team, editor_client, outsider_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap)
    for target in (
        url("measure_upload", utc_team, pk=bmap.pk),
        url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk),
    ):
        assert outsider_client.get(target).status_code == 404
    # Their own map's URL with our upload in it is a 404 too.
    theirs = BottleneckMap.objects.create(team=other_team, name="Theirs", quarter="2026-Q4")
    target = url("measure", other_team, pk=theirs.pk, upload_pk=stored.pk)
    assert outsider_client.get(target).status_code == 404
    assert outsider_client.post(target, pr_data(bmap)).status_code == 404
    # … and our own map with an upload of another of our maps.
    other = BottleneckMap.objects.create(team=utc_team, name="Other", quarter="2026-Q4")
    target = url("measure", utc_team, pk=other.pk, upload_pk=stored.pk)
    assert editor_client.get(target).status_code == 404


def test_a_viewer_may_look_but_not_upload_or_make(utc_team, editor_client, viewer_client, bmap):
    stored = uploaded(editor_client, utc_team, bmap)
    assert viewer_client.get(url("measure_upload", utc_team, pk=bmap.pk)).status_code == 200
    response = upload(viewer_client, utc_team, bmap, PR_CSV)
    assert response.status_code == 403
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    assert viewer_client.post(target, pr_data(bmap)).status_code == 403
    assert BottleneckMap.objects.count() == 1


# --------------------------------------------------------------------------- query counts
def _count(client, target, data=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target, data or {})
    assert response.status_code == 200, response.content.decode()[:2000]
    return len(ctx.captured_queries)


def test_the_pages_hold_a_constant_number_of_queries(utc_team, editor_client, bmap):
    small = uploaded(editor_client, utc_team, bmap)
    rows = "".join(
        f"{1000 + i},2026-10-{1 + i % 28:02d}T08:00:00Z,2026-10-{1 + i % 28:02d}T09:00:00Z,,"
        f"2026-10-{1 + i % 28:02d}T10:00:00Z,\n"
        for i in range(400)
    )
    big = uploaded(editor_client, utc_team, bmap, PR_CSV + rows)
    for data in (None, pr_data(bmap), pr_data(bmap, rollout="2026-10-01")):
        a = _count(editor_client, url("measure", utc_team, pk=bmap.pk, upload_pk=small.pk), data)
        b = _count(editor_client, url("measure", utc_team, pk=bmap.pk, upload_pk=big.pk), data)
        assert a == b
    upload_page = url("measure_upload", utc_team, pk=bmap.pk)
    assert _count(editor_client, upload_page) == _count(editor_client, upload_page)
    # The measured version's page: one query more than a map without a measurement, however
    # many stages it has.
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=small.pk)
    editor_client.post(target, pr_data(bmap))
    measured = BottleneckMap.objects.get(name="Feature delivery (measured)")
    plain = _count(editor_client, bmap.get_absolute_url())
    with_measurement = _count(editor_client, measured.get_absolute_url())
    for i in range(10):
        Stage.objects.create(map=bmap, name=f"Extra {i}", order=10 + i, active_hours=1)
    editor_client.post(target, pr_data(bmap, name="Bigger"))
    bigger = BottleneckMap.objects.get(name="Bigger")
    assert bigger.stages.count() == 13
    assert _count(editor_client, bigger.get_absolute_url()) == with_measurement
    assert with_measurement <= plain + 1


def test_an_upload_can_be_removed_and_its_versions_keep_their_numbers(
    utc_team, editor_client, viewer_client, outsider_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    assert editor_client.post(target, pr_data(bmap)).status_code == 302
    delete = url("measure_delete", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    page = editor_client.get(url("measure_upload", utc_team, pk=bmap.pk)).content.decode()
    assert delete in page
    assert viewer_client.post(delete).status_code == 403
    assert outsider_client.post(delete).status_code == 404
    response = editor_client.post(delete)
    assert response.status_code == 302
    assert response.url == url("measure_upload", utc_team, pk=bmap.pk)
    assert not DeliveryUpload.objects.exists()
    assert editor_client.get(target).status_code == 404
    measured = Measurement.objects.get()
    assert measured.map.stages.get(name="Code review").waiting_hours == 3.0


def test_preview_by_post_saves_nothing_and_an_empty_upload_post_says_why(
    utc_team, editor_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap)
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    response = editor_client.post(target, pr_data(bmap, preview="1"))
    assert response.status_code == 200
    assert "p85 8.7 h · n = 12" in response.content.decode()
    assert BottleneckMap.objects.count() == 1
    assert "csrfmiddlewaretoken" not in response.request.get("QUERY_STRING", "")
    empty = editor_client.post(url("measure_upload", utc_team, pk=bmap.pk))
    assert empty.status_code == 400
    assert "This field is required." in empty.content.decode()


def test_a_fresh_upload_nothing_maps_to_yet_opens_without_an_error(utc_team, editor_client):
    # A new team's map whose one stage no segment's name suggests: nothing is mapped yet,
    # which is the step the page asks for, not a mistake to greet the user with.
    bmap = BottleneckMap.objects.create(team=utc_team, name="Checkout", quarter="2026-Q4")
    bmap.stages.create(name="Code", order=0, active_hours=8)
    text = "number,createdAt,mergedAt\n1,2026-10-01T08:00:00Z,2026-10-01T12:00:00Z\n"
    stored = uploaded(editor_client, utc_team, bmap, text=text)
    response = editor_client.get(url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Map at least one segment or status to a stage." not in body
    assert "created → merged" in body


def _one_pull_request(team, client, bmap) -> tuple[str, dict]:
    """An upload of a single pull request (4 h from created to merged), mapped to code review:
    the measure page's URL and the form's fields."""
    text = "number,createdAt,mergedAt\n1,2026-10-01T08:00:00Z,2026-10-01T12:00:00Z\n"
    stored = uploaded(client, team, bmap, text=text)
    data = {
        "col_id": "number",
        "col_created": "createdAt",
        "col_merged": "mergedAt",
        "window_start": "2026-10-01",
        "window_end": "2026-10-01",
        "rollout": "",
        "name": "One PR",
        "quarter": "2026-Q4",
        "key_0": "created→merged",
        "stage_0": str(stages(bmap)["Code review"].pk),
        "kind_0": "waiting",
    }
    return url("measure", team, pk=bmap.pk, upload_pk=stored.pk), data


def test_a_version_made_from_one_item_says_item(utc_team, editor_client, bmap):
    target, data = _one_pull_request(utc_team, editor_client, bmap)
    response = editor_client.post(target, data, follow=True)
    assert response.status_code == 200
    assert "made from 1 measured item;" in response.text


def test_one_item_shows_its_hours_without_percentiles(utc_team, editor_client, bmap):
    # A p85 and a "middle half 4 h–4 h" of a single pull request are not statistics.
    target, data = _one_pull_request(utc_team, editor_client, bmap)
    preview = editor_client.post(target, {**data, "preview": "1"})
    made = editor_client.post(target, data, follow=True)
    for page in (preview.text, made.text):
        assert "n = 1: no median or spread from one item" in page
        assert "middle half 4 h–4 h" not in page and "p85 4 h" not in page


def test_choosing_the_columns_offers_the_datas_window_instead_of_requiring_one(
    utc_team, editor_client, bmap
):
    stored = uploaded(editor_client, utc_team, bmap, TRACKER_CSV, "tracker")
    target = url("measure", utc_team, pk=bmap.pk, upload_pk=stored.pk)
    # On arrival the columns are unknown: that is what the page asks, not the dates.
    first = editor_client.get(target).text
    assert "Choose the column that holds “Changed at”." in first
    assert "This field is required." not in first
    # The columns chosen, the window left empty: the data's own span, 1 to 7 Oct 2026.
    data = {
        "col_item": "Issue",
        "col_status": "New status",
        "col_timestamp": "When",
        "window_start": "",
        "window_end": "",
        "rollout": "",
        "name": "Feature delivery (tracker)",
        "quarter": "2026-Q4",
        "preview": "1",
    }
    body = editor_client.post(target, data).text
    assert "This field is required." not in body
    assert 'value="2026-10-01"' in body and 'value="2026-10-07"' in body
