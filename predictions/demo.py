"""Demo data for Lines on Graphs (idempotent: running it twice leaves one copy).

- METR's 50% time horizon with public-style data points (approximate figures) and two
  competing committed lines: exponential (doubling every 7 months) and an S-curve.
- ARR with a 10×-a-year line and a conservative 2×-a-year line.
- Share of merged code written by AI (linear) with a threshold call.
- SWE-bench Verified with a threshold that the data have already settled.
- A connected metric: a benchmark feed served by the local fake server (devtools/fakeapi.py,
  which `make run` starts), fetched by Celery beat on its schedule, so the demo shows a live
  source offline.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from planning.accounts.models import User
from planning.notes.models import Note
from planning.teams.models import Membership, Role

from . import services
from .models import Kind, Metric, MetricSource, Prediction

# Approximate public figures (METR's 50% time horizon, minutes) for illustration.
TIME_HORIZON = [
    ("2020-06-01", 0.15, "GPT-3"),
    ("2023-03-14", 5.4, "GPT-4"),
    ("2024-03-04", 6.4, "Claude 3 Opus"),
    ("2024-05-13", 9.2, "GPT-4o"),
    ("2024-06-20", 18.0, "Claude 3.5 Sonnet"),
    ("2024-10-22", 28.0, "Claude 3.5 Sonnet (new)"),
    ("2024-12-05", 39.0, "o1"),
    ("2025-02-24", 54.0, "Claude 3.7 Sonnet"),
    ("2025-04-16", 92.0, "o3"),
    ("2025-05-22", 80.0, "Claude Opus 4"),
    ("2025-08-07", 137.0, "GPT-5"),
    ("2025-11-24", 290.0, "Claude Opus 4.5 (approx.)"),
    ("2026-03-15", 420.0, "illustrative"),
    ("2026-07-15", 700.0, "illustrative"),
    ("2026-10-15", 980.0, "illustrative"),
]

SWE_BENCH = [
    ("2024-03-04", 22.0), ("2024-06-20", 33.4), ("2024-10-22", 49.0), ("2025-02-24", 62.3),
    ("2025-05-22", 72.5), ("2025-08-07", 74.9), ("2025-11-24", 80.9), ("2026-04-01", 84.0),
    ("2026-09-01", 86.5),
]  # fmt: skip


def _utc(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


def _colleague(team) -> User:
    user, created = User.objects.get_or_create(
        email="ada.forecaster@example.com", defaults={"name": "Ada Forecaster"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.EDITOR})
    return user


def _metric(team, user, name, **fields) -> Metric:
    metric, _ = Metric.objects.get_or_create(
        team=team, name=name, defaults={**fields, "created_by": user}
    )
    return metric


def _observe(metric, user, rows, today) -> None:
    rows = [(date.fromisoformat(d) if isinstance(d, str) else d, float(v), s) for d, v, s in rows]
    services.upsert_observations(metric, [r for r in rows if r[0] <= today], user, via="demo")


def _predict(metric, author, title, *, committed_on: str | None, **fields) -> Prediction:
    existing = Prediction.objects.filter(metric=metric, author=author, title=title).first()
    if existing:
        return existing
    made = _utc(committed_on) if committed_on else None
    p = Prediction.objects.create(
        team=metric.team,
        metric=metric,
        author=author,
        title=title,
        definition_version=metric.definition_version,
        **({"made_at": made} if made else {}),
        **fields,
    )
    if made:
        p = services.commit_prediction(p, at=made + timedelta(hours=10))
    return p


def _note(team, obj, user, kind, text) -> None:
    Note.objects.get_or_create(
        team=team,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        kind=kind,
        text=text,
        defaults={"author": user},
    )


@transaction.atomic
def seed(team, user) -> None:
    today = team.today()
    ada = _colleague(team)

    horizon = _metric(
        team,
        user,
        "METR 50% time horizon",
        unit="minutes",
        scale="log",
        description="Length of software tasks (in human-expert minutes) the best model completes "
        "with 50% reliability, as measured by METR. Figures here are approximate.",
    )
    _observe(horizon, user, TIME_HORIZON, today)
    exp = _predict(
        horizon,
        user,
        "Time horizons keep doubling every 7 months",
        committed_on="2025-03-01",
        rationale="METR's six-year trend has held through every model generation. Agents that "
        "work for a day arrive in **2027**; plan the product around multi-hour tasks now.",
        horizon=date(2027, 6, 30),
        trajectory={
            "model": "exponential",
            "baseline_date": "2025-02-24",
            "baseline_value": 54,
            "doubling_months": 7,
        },
        band={"coverage": 0.8, "low": 0.5, "high": 2},
    )
    _predict(
        horizon,
        ada,
        "S-curve: horizons flatten near a working day",
        committed_on="2025-03-10",
        rationale="Long tasks need long-context reliability that is harder to buy with scale; "
        "expect a ceiling around a working day (8 h).",
        horizon=date(2027, 6, 30),
        trajectory={
            "model": "logistic",
            "baseline_date": "2025-02-24",
            "baseline_value": 54,
            "ceiling": 480,
            "midpoint": "2025-12-01",
        },
        band={"coverage": 0.8, "low": 0.6, "high": 1.7},
    )
    _note(team, exp, user, "light", "Multi-hour agent workflows become a product surface.")
    _note(team, exp, user, "shade", "Review and QA become the bottleneck if horizons explode.")

    arr = _metric(
        team,
        user,
        "ARR",
        unit="$",
        scale="log",
        description="Annual recurring revenue at the end of each month.",
    )
    months = []
    d = date(2024, 1, 31)
    for i in range(40):
        noise = 1 + 0.06 * math.sin(i * 1.7)
        months.append((d, round(1.2e6 * 3 ** (i / 12) * noise, -3), "finance dashboard"))
        d = (d.replace(day=1) + timedelta(days=62)).replace(day=1) - timedelta(days=1)
    _observe(arr, user, months, today)
    _predict(
        arr,
        user,
        "10× in a year as agents ship",
        committed_on="2025-01-15",
        rationale="Every model jump has opened a new segment; agents open the enterprise.",
        horizon=date(2026, 12, 31),
        trajectory={
            "model": "exponential",
            "baseline_date": "2024-12-31",
            "baseline_value": 4.2e6,
            "multiple_per_year": 10,
        },
        band={"coverage": 0.8, "low": 0.4, "high": 2.5},
    )
    _predict(
        arr,
        ada,
        "Conservative: doubling each year",
        committed_on="2025-01-20",
        rationale="Sales capacity, not model quality, limits growth.",
        horizon=date(2026, 12, 31),
        trajectory={
            "model": "exponential",
            "baseline_date": "2024-12-31",
            "baseline_value": 4.2e6,
            "multiple_per_year": 2,
        },
        band={"coverage": 0.8, "low": 0.7, "high": 1.4},
    )

    share = _metric(
        team,
        user,
        "Share of merged code written by AI",
        unit="%",
        scale="linear",
        description="Share of merged lines attributed to AI tools, from the repository analytics.",
    )
    share_rows = [
        (date(2024, 6, 30) + timedelta(days=91 * i), 18 + 6.5 * i + (i % 2), "repo analytics")
        for i in range(10)
    ]
    _observe(share, user, share_rows, today)
    _predict(
        share,
        user,
        "AI writes +25 points of our code per year",
        committed_on="2025-04-01",
        horizon=date(2026, 12, 31),
        trajectory={
            "model": "linear",
            "baseline_date": "2025-03-31",
            "baseline_value": 31,
            "change_per_year": 25,
        },
        band={"coverage": 0.8, "low": -8, "high": 8},
    )
    _predict(
        share,
        ada,
        "Half of merged code is AI-written by the end of 2026",
        committed_on="2025-04-02",
        kind=Kind.THRESHOLD,
        horizon=date(2026, 12, 31),
        threshold_value=50,
        probability=0.65,
    )

    swe = _metric(
        team,
        user,
        "Best model's SWE-bench Verified %",
        unit="%",
        scale="linear",
        description="Best published SWE-bench Verified score (approximate public figures).",
    )
    _observe(swe, user, [(d, v, "public leaderboard") for d, v in SWE_BENCH], today)
    _predict(
        swe,
        user,
        "SWE-bench Verified passes 80% by mid-2026",
        committed_on="2025-03-01",
        kind=Kind.THRESHOLD,
        horizon=date(2026, 6, 30),
        threshold_value=80,
        probability=0.7,
    )
    for metric in (horizon, arr, share, swe):
        services.resolve_thresholds(metric)
    _connected(team, user)


DEMO_SOURCE_PATH = "/demo/sources/benchmark.csv"  # devtools/fakeapi.py serves it


def demo_source_url() -> str:
    """Where `make run` serves the demo feed: its fake server's port (PORT + 1010)."""
    port = os.environ.get("FAKE_ANTHROPIC_PORT") or str(int(os.environ.get("PORT", "8000")) + 1010)
    return f"http://127.0.0.1:{port}{DEMO_SOURCE_PATH}"


def _connected(team, user) -> None:
    feed = _metric(
        team,
        user,
        "Frontier benchmark score (live feed)",
        unit="%",
        scale="linear",
        description="Fetched daily from a benchmark's CSV feed (in the demo, the local fake "
        "server): the best model's score, as a fraction, times 100.",
    )
    MetricSource.objects.get_or_create(
        metric=feed,
        defaults={
            "url": demo_source_url(),
            "format": "csv",
            "date_field": "date",
            "value_field": "score",
            "filter": 'model == "best"',
            "factor": 100,
            "created_by": user,
        },
    )
    _predict(
        feed,
        user,
        "The feed's best score climbs 15 points a year",
        committed_on="2025-06-01",
        rationale="Scores on this benchmark rose steadily through 2025; nothing suggests a "
        "ceiling below 90%. Scored against the feed as it arrives.",
        horizon=date(2027, 12, 31),
        trajectory={
            "model": "linear",
            "baseline_date": "2025-06-01",
            "baseline_value": 57,
            "change_per_year": 15,
        },
        band={"coverage": 0.8, "low": -6, "high": 6},
    )
