"""The metric page holds a constant number of queries as data grows; its chart is
downsampled while scores use every observation."""

import json
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from predictions.models import Observation, Prediction
from tests.factories import MembershipFactory, MetricFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def add_observations(metric, n, start=date(2000, 1, 1)):
    Observation.objects.bulk_create(
        Observation(metric=metric, observed_at=start + timedelta(days=i),
                    value=60 * 2 ** (i / 213) * (1.1 if i % 7 else 0.9))
        for i in range(n)
    )  # fmt: skip


def add_predictions(metric, n, authors):
    past = timezone.now() - timedelta(days=10_000)  # before every observation
    for i in range(n):
        PredictionFactory(
            metric=metric, author=authors[i % len(authors)], committed_at=past if i % 3 else None,
            committed=False, title=f"Line {i}",
            trajectory={"model": "exponential", "baseline_date": "2000-01-01",
                        "baseline_value": 60, "doubling_months": 6 + i % 5},
            horizon=date(2030, 1, 1),
        )  # fmt: skip


def page_queries(client, metric) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(metric.get_absolute_url())
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_metric_page_query_count_is_constant(team, owner, owner_client, metric,
                                             django_assert_max_num_queries):  # fmt: skip
    add_observations(metric, 20)
    add_predictions(metric, 1, [owner])
    small, _ = page_queries(owner_client, metric)

    authors = [owner] + [MembershipFactory(team=team).user for _ in range(4)]
    add_observations(metric, 10_000, start=date(2000, 2, 1))
    add_predictions(metric, 49, authors)
    assert Prediction.objects.filter(metric=metric).count() == 50
    with django_assert_max_num_queries(small):
        response = owner_client.get(metric.get_absolute_url())
    body = response.content.decode()

    figure = json.loads(
        re.search(r'id="metric-chart"[^>]*data-figure="([^"]*)"', body).group(1)
        .replace("&quot;", '"').replace("&amp;", "&").replace("&#x27;", "'")
        .replace("&lt;", "<").replace("&gt;", ">")
    )  # fmt: skip
    observed = [t for t in figure["data"] if t["name"].startswith("Observed")]
    assert len(observed) == 1 and len(observed[0]["x"]) <= 1000
    assert "of 10020 shown" in observed[0]["name"]
    # medians are drawn for all 50 lines
    assert sum(1 for t in figure["data"] if t.get("legendgroup") and "band" in t["name"]) == 50
    # ... and scores use every observation in a committed line's window
    assert re.search(r'<td class="num">10020</td>', body)


@pytest.mark.parametrize("name", ["quarter_current", "calibration", "metric_list"])
def test_team_pages_query_count_is_constant(team, owner, owner_client, name):
    from django.urls import reverse

    url = reverse(f"predictions:{name}", kwargs={"team": team.slug})
    recent = timezone.now() - timedelta(days=30)

    def grow(n_metrics):
        for i in range(n_metrics):
            m = MetricFactory(team=team, name=f"M{Observation.objects.count()}-{i}")
            add_observations(m, 60, start=recent.date() - timedelta(days=10))
            PredictionFactory(metric=m, author=owner, committed_at=recent, horizon=date(2030, 1, 1),
                            trajectory={"model": "exponential", "baseline_date": "2025-01-01",
                                        "baseline_value": 60, "doubling_months": 7})  # fmt: skip

    grow(1)
    owner_client.get(url)  # the session learns its team once; then no page writes it again
    with CaptureQueriesContext(connection) as small:
        assert owner_client.get(url).status_code == 200
    grow(6)
    with CaptureQueriesContext(connection) as large:
        body = owner_client.get(url).content.decode()
    assert len(large) == len(small), [q["sql"][:80] for q in large.captured_queries]
    assert "M" in body
