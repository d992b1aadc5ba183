"""Benchmark of the saturation analysis (pure Python + numpy/scipy, no database).

1. Detection and false-alarm rates on the issue's synthetic series, 200 fixed seeds each:
   the product logistic in time (ceiling 60, midpoint month 8, scale 2 months), capability
   100 + 4t, 24 monthly readings, Gaussian noise; and linear / exponential growth to the same
   level with the same noise.
2. The median wall time of one `analyse()` call (the work done for every form factor page
   view and every reading added) for series of 5 to 200 readings.

    .venv/bin/python bench/saturation.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.saturation.analysis import Point, analyse  # noqa: E402

MONTHS = np.arange(24)
CAPABILITY = 100.0 + 4.0 * MONTHS
CEILING = 60.0
SHAPES = {
    "logistic": CEILING / (1 + np.exp(-(MONTHS - 8) / 2)),
    "linear": 2.0 + 2.5 * MONTHS,
    "exponential": CEILING * np.exp((MONTHS - 23) / 8),
}
SEEDS = 200


def points(capability, product) -> list[Point]:
    start = date(2024, 1, 1)
    return [
        Point(f"m{i}", float(c), float(y), start + timedelta(days=30 * i), "linear", "s", "b")
        for i, (c, y) in enumerate(zip(capability, product, strict=True))
    ]


def rates() -> None:
    print(f"{'series':<12} {'noise sd':>8}  {'saturating':>10}  verdicts over {SEEDS} seeds")
    for shape, curve in SHAPES.items():
        for share in (1 / 60, 0.02, 0.03):
            kinds: Counter[str] = Counter()
            for seed in range(SEEDS):
                noise = np.random.default_rng(seed).normal(0, share * CEILING, MONTHS.size)
                kinds[analyse(points(CAPABILITY, curve + noise)).kind] += 1
            rate = kinds["saturating"] / SEEDS
            role = "detection" if shape == "logistic" else "false alarm"
            print(
                f"{shape:<12} {share * CEILING:>8.2f}  {rate:>9.1%}   ({role}) "
                + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            )


def series(n: int, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    capability = np.linspace(30, 90, n)
    product = 70 / (1 + np.exp(-0.15 * (capability - 35))) + rng.normal(0, 0.8, n)
    return points(capability, product)


def timings() -> None:
    print(f"\n{'readings':>8}  {'median ms':>9}  {'p90 ms':>7}  verdict")
    for n in (5, 8, 15, 30, 60, 200):
        pts = series(n)
        analyse(pts)  # warm up scipy
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            verdict = analyse(pts)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p90 = times[int(len(times) * 0.9) - 1]
        print(f"{n:>8}  {statistics.median(times):>9.2f}  {p90:>7.2f}  {verdict.kind}")


def main() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rates()
    timings()


if __name__ == "__main__":
    main()
