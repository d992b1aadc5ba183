from datetime import date, timedelta

import pytest
from django.utils import timezone

from predictions import services
from predictions.models import Metric, Prediction


def make_metric(team, **kw) -> Metric:
    kw.setdefault("name", "METR 50% time horizon")
    kw.setdefault("unit", "minutes")
    kw.setdefault("scale", "log")
    return Metric.objects.create(team=team, **kw)


def make_observations(metric, start: date, values, step_days: int = 30, user=None):
    rows = [(start + timedelta(days=i * step_days), float(v), "") for i, v in enumerate(values)]
    services.upsert_observations(metric, rows, user)
    return rows


def make_prediction(metric, author, *, committed=False, committed_at=None, **kw) -> Prediction:
    kw.setdefault("title", "Horizons double every 7 months")
    kw.setdefault("horizon", date(2027, 1, 1))
    kw.setdefault(
        "trajectory",
        {"model": "exponential", "baseline_date": "2025-01-01", "baseline_value": 60,
         "doubling_months": 7},
    )  # fmt: skip
    kw.setdefault("band", {"coverage": 0.8, "low": 0.5, "high": 2})
    p = Prediction(team=metric.team, metric=metric, author=author, **kw)
    if committed_at is not None:
        p.made_at = committed_at
    p.save()
    if committed or committed_at is not None:
        p = services.commit_prediction(p, at=committed_at)
    return p


@pytest.fixture
def metric(team, owner):
    return make_metric(team, created_by=owner)


@pytest.fixture
def past():
    return timezone.now() - timedelta(days=400)
