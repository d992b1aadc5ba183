"""Lines on Graphs benchmark.

1. Server render time of a metric page with 50 predictions (committed lines from 5 authors)
   and 10,000 observations: p50/p95 over repeated GETs through Django's test client (full
   middleware, templates, scoring of every line on every observation, chart downsampling),
   plus the SQL query count per render.
2. Scoring time for 100,000 observations: one line's median, band and every per-point score
   (error, inside, percentile, interval score, CRPS) and the summary, log-normal and normal.

Uses the configured database (it must be migrated); the bench team is deleted afterwards.

    .venv/bin/python bench/predictions.py [--renders 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")
os.environ.setdefault("EXPONENT_TESTING", "1")  # plain static storage: no collectstatic needed


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_scoring(n: int = 100_000, repeats: int = 7) -> None:
    from predictions import scoring
    from predictions.trajectory import parse_band, parse_trajectory

    rng = np.random.default_rng(1)
    t = np.arange(n, dtype=np.float64) + date(2000, 1, 1).toordinal()
    for scale, traj_json, band_json in [
        ("log", {"model": "exponential", "baseline_date": "2000-01-01", "baseline_value": 10,
                 "doubling_months": 240}, {"coverage": 0.8, "low": 0.5, "high": 2}),
        ("linear", {"model": "linear", "baseline_date": "2000-01-01", "baseline_value": 10,
                    "change_per_year": 3}, {"coverage": 0.8, "low": -5, "high": 5}),
    ]:  # fmt: skip
        traj, band = parse_trajectory(traj_json, scale), parse_band(band_json, scale)
        truth = traj.median(t)
        y = truth * np.exp(rng.normal(0, 0.4, n)) if scale == "log" else truth + rng.normal(0, 4, n)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            median = traj.median(t)
            low, high = band.bounds(median, t, scale)
            points = scoring.score_points(y, median, low, high, band.coverage, scale == "log")
            summary = scoring.summarise(points, band.coverage)
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"scoring {n:,} observations ({scale:>6}): median {statistics.median(times):6.1f} ms"
            f"  (best {min(times):.1f} ms; coverage {summary.coverage_observed:.0%},"
            f" mean CRPS {summary.mean_crps:.3g})"
        )


def bench_render(renders: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from planning.accounts.models import User
    from planning.teams.models import Membership, Role, Team
    from predictions import services
    from predictions.models import Metric, Observation, Prediction

    tag = uuid.uuid4().hex[:8]
    team = Team.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}")
    users = [User.objects.create_user(f"bench-{tag}-{i}@example.com") for i in range(5)]
    for u in users:
        Membership.objects.create(team=team, user=u, role=Role.EDITOR)
    try:
        metric = Metric.objects.create(team=team, name="Bench metric", unit="minutes", scale="log")
        start = date(1998, 1, 1)
        Observation.objects.bulk_create(
            Observation(metric=metric, observed_at=start + timedelta(days=i),
                        value=60 * 2 ** (i / 213) * (1.1 if i % 7 else 0.9))
            for i in range(10_000)
        )  # fmt: skip
        committed = timezone.now() - timedelta(days=11_000)
        for i in range(50):
            p = Prediction.objects.create(
                team=team, metric=metric, author=users[i % 5], title=f"Line {i}",
                horizon=date(2030, 1, 1), made_at=committed,
                trajectory={"model": "exponential", "baseline_date": "1998-01-01",
                            "baseline_value": 60, "doubling_months": 5 + i % 4},
                band={"coverage": 0.8, "low": 0.5, "high": 2},
            )  # fmt: skip
            services.commit_prediction(p, at=committed)
        client = Client()
        client.force_login(users[0])
        url = metric.get_absolute_url()
        assert client.get(url).status_code == 200  # warm up
        times = []
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        queries = len(ctx.captured_queries)
        for _ in range(renders):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        print(
            f"metric page, 50 predictions × 10,000 observations: p50 {percentile(times, 50):.0f} ms"
            f", p95 {percentile(times, 95):.0f} ms over {renders} renders; {queries} SQL queries;"
            f" {len(response.content) / 1024:.0f} KiB"
        )
    finally:
        team.delete()
        User.objects.filter(pk__in=[u.pk for u in users]).delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    bench_scoring()
    bench_render(args.renders)


if __name__ == "__main__":
    main()
