"""Benchmark of the saturation analysis (pure Python + scipy, no database).

Prints the median wall time of one `analyse()` call — the work done for every form factor
page view and every reading added — for series of 4 to 200 readings on a noisy logistic curve.

    .venv/bin/python bench/saturation.py
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.saturation.analysis import Point, analyse  # noqa: E402


def series(n: int, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    capability = np.linspace(30, 90, n)
    product = 70 / (1 + np.exp(-0.15 * (capability - 35))) + rng.normal(0, 0.8, n)
    start = date(2020, 1, 1)
    return [
        Point(f"m{i}", float(c), float(y), start + timedelta(days=30 * i), "linear", "s", "b")
        for i, (c, y) in enumerate(zip(capability, product, strict=True))
    ]


def main() -> None:
    print(f"{'readings':>8}  {'median ms':>9}  {'p90 ms':>7}  verdict")
    for n in (4, 8, 15, 30, 60, 200):
        points = series(n)
        analyse(points)  # warm up scipy
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            verdict = analyse(points)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p90 = times[int(len(times) * 0.9) - 1]
        print(f"{n:>8}  {statistics.median(times):>9.2f}  {p90:>7.2f}  {verdict.kind}")


if __name__ == "__main__":
    main()
