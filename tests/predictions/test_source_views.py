"""Connected metrics in the browser's views: the source form (hostile mappings are field
errors), "Test the source" (saves nothing), the status on the metric page, the push URL
(shown once, hashed, rotatable, idempotent, rate-limited, clear 4xx) and the look-back."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from predictions import push, secrets
from predictions.models import MetricPush, MetricSource, Observation, ObservationChange
from tests.factories import MetricFactory
from tests.predictions.sourceserver import SourceServer


@pytest.fixture
def metric(team, owner):
    return MetricFactory(team=team, created_by=owner, name="SWE-bench %", unit="%", scale="linear")


@pytest.fixture
def server(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the source listens on 127.0.0.1
    with SourceServer() as s:
        yield s


def _url(metric, name, **kw):
    return reverse(f"predictions:{name}", kwargs={"team": metric.team.slug, "pk": metric.pk, **kw})


def _push(token):
    return reverse("push_receive", kwargs={"token": token})


def _form(url, **over):
    data = {
        "url": url,
        "format": "csv",
        "rows": "",
        "date_field": "date",
        "value_field": "score",
        "filter": 'model == "best"',
        "factor": "100",
        "every_hours": "24",
        "header_name": "",
        "header_value": "",
        "active": "on",
    }
    data.update(over)
    return data


def test_the_source_page_is_for_editors_of_the_team(
    metric, editor_client, viewer_client, outsider_client
):
    assert editor_client.get(_url(metric, "metric_source")).status_code == 200
    assert viewer_client.get(_url(metric, "metric_source")).status_code == 403
    assert outsider_client.get(_url(metric, "metric_source")).status_code == 404
    assert (
        outsider_client.post(_url(metric, "source_test"), _form("https://x.example/")).status_code
        == 404
    )


def test_test_the_source_without_javascript_shows_rows_and_problems_and_saves_nothing(
    metric, editor_client, server
):
    """Without htmx nothing would poll: the plain form post fetches in the request."""
    response = editor_client.post(_url(metric, "source_test"), _form(server.url("/csv")))
    assert response.status_code == 200
    text = response.content.decode()
    assert "2 rows read" in text and "2026-02-01" in text and "62.5%" in text
    assert "Nothing has been saved yet" in text
    assert not MetricSource.objects.exists() and not Observation.objects.exists()

    response = editor_client.post(_url(metric, "source_test"), _form(server.url("/csv"), filter=""))
    text = response.content.decode()
    assert "1 skipped" in text and "Line 3: 2026-01-01 already appears at line 2" in text

    response = editor_client.post(_url(metric, "source_test"), _form(server.url("/fail")))
    assert "The source answered HTTP 500." in response.content.decode()


def test_test_the_source_is_rate_limited_per_user(
    metric, editor_client, owner_client, server, settings
):
    settings.SOURCE_TEST_RATE_LIMIT = "2/m/user"

    def test(client):
        return client.post(_url(metric, "source_test"), _form(server.url("/csv")))

    assert [test(editor_client).status_code for _ in range(2)] == [200, 200]
    limited = test(editor_client)
    assert limited.status_code == 429
    assert (
        "wait a minute" in limited.content.decode()
        and 'id="source-form"' in limited.content.decode()
    )
    assert server.hits["/csv"] == 2  # the limited test fetched nothing
    assert test(owner_client).status_code == 200  # another user has their own limit
    # An invalid form is not a test: its field errors come first.
    bad = editor_client.post(_url(metric, "source_test"), _form("ftp://x"), HTTP_HX_REQUEST="true")
    assert bad.status_code == 400


def test_the_source_page_says_how_long_a_test_can_take(metric, editor_client, settings):
    settings.SOURCE_FETCH_TIMEOUT = 10.0
    page = editor_client.get(_url(metric, "metric_source")).content.decode()
    assert "Fetching the source… this can take up to 10 s." in page
    assert 'hx-disabled-elt="#source-form button"' in page


def test_the_conversion_factor_example_is_in_the_metrics_unit(team, editor_client):
    """'100 turns 0.62 into 62 %' on a metric counted in users: the example carries its unit."""
    users = MetricFactory(team=team, name="Weekly active users", unit="users")
    page = editor_client.get(_url(users, "metric_source")).content.decode()
    assert "100 turns 0.62 into 62 users." in page and "62 %" not in page
    share = MetricFactory(team=team, name="Share", unit="%")
    assert "into 62%." in editor_client.get(_url(share, "metric_source")).content.decode()


def test_saving_a_source_encrypts_the_credential_and_never_shows_it(metric, editor_client, editor):
    response = editor_client.post(
        _url(metric, "metric_source"),
        _form("https://data.example.com/bench.csv", header_name="Authorization",
              header_value="Bearer topsecret"),
    )  # fmt: skip
    assert response.status_code == 302
    source = MetricSource.objects.get()
    assert source.created_by == editor and source.next_fetch_at <= timezone.now()
    assert "topsecret" not in source.header_value_encrypted
    assert secrets.decrypt(source.header_value_encrypted) == "Bearer topsecret"
    page = editor_client.get(_url(metric, "metric_source")).content.decode()
    assert "topsecret" not in page and "A credential is stored" in page
    detail = editor_client.get(metric.get_absolute_url()).content.decode()
    assert (
        "Updated automatically from data.example.com" in detail
        and "Last fetched: not yet" in detail
    )

    # Saving again without typing it keeps it; ticking "remove" removes it.
    editor_client.post(
        _url(metric, "metric_source"),
        _form("https://data.example.com/bench.csv", header_name="Authorization"),
    )
    source.refresh_from_db()
    assert secrets.decrypt(source.header_value_encrypted) == "Bearer topsecret"
    editor_client.post(
        _url(metric, "metric_source"),
        _form("https://data.example.com/bench.csv", header_name="Authorization",
              clear_credential="on"),
    )  # fmt: skip
    source.refresh_from_db()
    assert source.header_value_encrypted == ""


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"url": "http://169.254.169.254/latest"}, "url", "link-local"),
        ({"url": "http://localhost:8000/x"}, "url", "localhost"),
        ({"url": "ftp://example.com/x"}, "url", ""),
        ({"filter": "model = best"}, "filter", "Cannot read"),
        ({"filter": "__import__('os').system('x') == 1"}, "filter", ""),
        ({"filter": 'a == "x" or b == 1'}, "filter", "join conditions with and"),
        ({"format": "json", "rows": "data..x"}, "rows", "Cannot read"),
        ({"format": "json", "value_field": "a[*]"}, "value_field", "wildcard"),
        ({"rows": "data"}, "rows", "Leave this empty for CSV"),
        ({"factor": "0"}, "factor", "non-zero"),
        ({"factor": "1e300"}, "factor", ""),
        ({"value_field": ""}, "value_field", "required"),
        ({"date_field": "x" * 300}, "date_field", ""),
        ({"header_name": "Host", "header_value": "x"}, "header_name", "set by Exponent"),
        ({"header_name": "X-A b", "header_value": "x"}, "header_name", "letters"),
        ({"header_name": "X-Key", "header_value": "a\r\nInjected: 1"}, "header_value", "one line"),
        ({"header_name": "X-Key", "header_value": "ключ"}, "header_value", "ASCII"),
        ({"header_value": "orphan"}, "header_name", "Name the header"),
    ],
)
def test_hostile_mappings_are_field_errors(metric, editor_client, over, field, message):
    for name in ("metric_source", "source_test"):
        response = editor_client.post(
            _url(metric, name), _form(**{"url": "https://data.example.com/x.csv", **over}),
            HTTP_HX_REQUEST="true",
        )  # fmt: skip
        assert response.status_code == 400, (name, over)
        errors = response.context["form"].errors
        assert field in errors, errors
        assert message in " ".join(errors[field])
    assert not MetricSource.objects.exists()


def test_removing_a_source_keeps_its_observations(metric, editor_client):
    MetricSource.objects.create(metric=metric, url="https://x.example/a.csv", date_field="d",
                                value_field="v")  # fmt: skip
    Observation.objects.create(metric=metric, observed_at="2026-01-01", value=1, source="x")
    editor_client.post(_url(metric, "source_delete"))
    assert not MetricSource.objects.exists() and Observation.objects.count() == 1


# --------------------------------------------------------------------------- push
def _make_push(client, metric) -> str:
    response = client.post(_url(metric, "metric_push"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "shown only once" in text
    token = text.split("/push/")[1].split("/")[0]
    assert token.startswith(push.PREFIX)
    return token


def test_the_push_url_is_shown_once_and_stored_hashed(metric, editor_client):
    token = _make_push(editor_client, metric)
    stored = MetricPush.objects.get()
    assert stored.token_hash == push.hash_token(token) and token not in stored.token_hash
    page = editor_client.get(_url(metric, "metric_source")).content.decode()
    assert token not in page and "cannot be shown again" in page


def test_a_push_is_idempotent_on_metric_and_date(metric, editor_client, client):
    url = _push(_make_push(editor_client, metric))
    body = {
        "observations": [{"date": "2026-01-01", "value": 40}, {"date": "2026-02-01", "value": 45}]
    }
    first = client.post(url, json.dumps(body), content_type="application/json")
    assert first.status_code == 200 and first.json()["created"] == 2
    again = client.post(url, json.dumps(body), content_type="application/json")
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "resolved_predictions": []}
    assert Observation.objects.filter(metric=metric).count() == 2
    csv = client.post(url, "date,value\n2026-02-01,46\n", content_type="text/csv")
    assert csv.json()["updated"] == 1
    change = ObservationChange.objects.get()
    assert (change.old_value, change.new_value, change.via) == (45, 46, "push")
    assert Observation.objects.get(observed_at="2026-02-01").source == "push URL"
    assert MetricPush.objects.get().last_received_at is not None


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        ("{", "application/json", 400, "not valid JSON"),
        ('{"observations": 3}', "application/json", 400, "Send {"),
        ('[{"date": "2099-01-01", "value": 1}]', "application/json", 400, "Nothing saved"),
        ('[{"date": "2026-01-01", "value": "x"}]', "application/json", 400, "Nothing saved"),
        ("[1]", "application/json", 400, "not an object"),
        ("date,value\nnope,1\n", "text/csv", 400, "Nothing saved"),
        ("<x/>", "application/xml", 415, "Content-Type"),
    ],
)
def test_bad_pushes_get_clear_4xx_and_save_nothing(
    metric, editor_client, client, body, ctype, status, message
):
    url = _push(_make_push(editor_client, metric))
    response = client.post(url, body, content_type=ctype)
    assert response.status_code == status
    assert message in json.dumps(response.json())
    assert not Observation.objects.exists()


def test_a_rotated_or_wrong_push_url_is_a_404_and_get_a_405(
    metric, editor_client, client, other_team
):
    old = _make_push(editor_client, metric)
    new = _make_push(editor_client, metric)
    body = json.dumps([{"date": "2026-01-01", "value": 1}])
    assert client.post(_push(old), body,
                       content_type="application/json").status_code == 404  # fmt: skip
    assert client.post(_push(new), body,
                       content_type="application/json").status_code == 200  # fmt: skip
    assert client.post(_push(new + "x"), body, content_type="application/json").status_code == 404
    assert client.get(_push(new)).status_code == 405
    editor_client.post(_url(metric, "metric_push"), {"action": "revoke"})
    assert client.post(_push(new), body,
                       content_type="application/json").status_code == 404  # fmt: skip


def test_pushes_are_rate_limited_like_the_api(metric, editor_client, client, settings):
    settings.API_RATE_LIMIT = "3/m"
    url = _push(_make_push(editor_client, metric))
    body = json.dumps([{"date": "2026-01-01", "value": 1}])
    codes = [client.post(url, body, content_type="application/json").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


# --------------------------------------------------------------------------- look-back
def test_the_look_back_names_the_source_and_when_it_was_fetched(metric, owner, team):
    from planning.reviews import sources
    from tests.factories import PredictionFactory

    MetricSource.objects.create(
        metric=metric, url="https://data.example.com/a.csv", date_field="d", value_field="v",
        last_fetched_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    line = sources._source_line(metric, team)
    assert line.startswith("updated automatically from data.example.com, last fetched ")
    other = MetricFactory(team=team, name="manual")
    assert sources._source_line(other, team) == ""
    assert PredictionFactory  # the review page itself is covered in tests/reviews


def test_saving_an_edit_starts_the_source_afresh(metric, editor_client):
    source = MetricSource.objects.create(
        metric=metric, url="https://x.example/a.csv", date_field="date", value_field="score",
        etag='"abc"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT", failures=4,
        failing_since=timezone.now() - timedelta(days=1), last_error="HTTP 500",
        next_fetch_at=timezone.now() + timedelta(hours=20),
    )  # fmt: skip
    editor_client.post(_url(metric, "metric_source"), _form("https://x.example/b.csv"))
    source.refresh_from_db()
    assert (source.url, source.etag, source.last_modified) == ("https://x.example/b.csv", "", "")
    assert (source.failures, source.failing_since, source.last_error) == (0, None, "")
    assert source.next_fetch_at <= timezone.now()


def test_the_source_page_and_a_connected_metric_page_keep_their_query_counts(
    metric, editor_client, django_assert_max_num_queries
):
    from tests.factories import ObservationFactory

    MetricSource.objects.create(
        metric=metric, url="https://x.example/a.csv", date_field="d", value_field="v",
        last_fetched_at=timezone.now(), last_result="2 rows: 2 new, 0 changed, 0 unchanged.",
    )  # fmt: skip
    push.issue(metric, None)
    for i in range(60):
        ObservationFactory(metric=metric, observed_at=date(2025, 1, 1) + timedelta(days=i))
    with django_assert_max_num_queries(12):
        assert editor_client.get(_url(metric, "metric_source")).status_code == 200
    with django_assert_max_num_queries(16):
        page = editor_client.get(metric.get_absolute_url())
    assert "Updated automatically from x.example" in page.content.decode()


# --------------------------------------------------------------------------- the metric list
def _badges(client, team) -> list[str]:
    """Each row's connected badge and its detail, as one line of text ("" for none)."""
    import re

    body = client.get(reverse("predictions:metric_list", kwargs={"team": team.slug}))
    assert body.status_code == 200
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>", body.content.decode(), re.S)
    return [
        " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split()) if m else ""
        for m in (re.search(r'<span class="connected">(.*?)</span>\s*$', row, re.S) for row in rows)
    ]


def test_the_metric_list_badges_connected_metrics(team, owner, viewer_client):
    now = timezone.now()
    fresh, never, failing, pushed, unpushed, _manual = (
        MetricFactory(team=team, created_by=owner, name=name)
        for name in ("a fresh", "b never", "c failing", "d pushed", "e unpushed", "f manual")
    )
    source = {"date_field": "d", "value_field": "v"}
    MetricSource.objects.create(
        metric=fresh, url="https://data.example.com/a.csv",
        last_fetched_at=now - timedelta(hours=3), **source,
    )  # fmt: skip
    MetricSource.objects.create(metric=never, url="https://never.example/b.json", **source)
    MetricSource.objects.create(
        metric=failing, url="https://down.example/c.csv", last_fetched_at=now, failures=4,
        failing_since=timezone.make_aware(timezone.datetime(2026, 3, 2, 12)),
        last_error="The source answered HTTP 500.", **source,
    )  # fmt: skip
    push.issue(pushed, owner)
    MetricPush.objects.filter(metric=pushed).update(last_received_at=now - timedelta(days=2))
    push.issue(unpushed, owner)
    assert _badges(viewer_client, team) == [
        "Connected · data.example.com last fetched 3 hours ago",
        "Connected · never.example never fetched yet",
        "Failing since 2 Mar 2026 4 failed fetches in a row",
        "Push URL last push 2 days ago",
        "Push URL nothing pushed yet",
        "",
    ]
    MetricSource.objects.filter(metric=fresh).update(active=False)
    assert _badges(viewer_client, team)[0].endswith("paused, last fetched 3 hours ago")


def test_the_metric_list_query_count_does_not_grow_with_connected_metrics(
    team, owner, owner_client
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("predictions:metric_list", kwargs={"team": team.slug})

    def connect(n: int) -> None:
        for _ in range(n):
            k = MetricSource.objects.count()
            with_source = MetricFactory(team=team, name=f"fetched {k}")
            with_push = MetricFactory(team=team, name=f"pushed {k}")
            MetricSource.objects.create(
                metric=with_source, url="https://data.example.com/a.csv", date_field="d",
                value_field="v", last_fetched_at=timezone.now(),
            )  # fmt: skip
            push.issue(with_push, owner)

    connect(1)
    owner_client.get(url)  # the session learns its team once; then no page writes it again
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get(url).status_code == 200
    connect(4)
    with CaptureQueriesContext(connection) as five:
        body = owner_client.get(url).content.decode()
    assert body.count("Connected · data.example.com") == 5 and body.count(">Push URL<") == 5
    assert len(five) == len(one), [q["sql"][:80] for q in five.captured_queries]
